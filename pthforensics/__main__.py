"""``python -m pthforensics``."""

from .cli import run

run()
