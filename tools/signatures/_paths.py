"""Make the matcher's pure modules importable from the build venv.

The build runs in a Python with torch and the three libraries but without pthforensics'
own dependencies; ``pthforensics.infer.signatures._keys`` and ``_formula`` (which the data
must agree with) import only the standard library and ``pthforensics.core.vocab``, so the
packages on their way are registered as bare namespaces instead of being executed.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def setup() -> None:
    """Register the bare packages and put this folder on ``sys.path``."""
    for name, path in (
        ("pthforensics", ROOT / "pthforensics"),
        ("pthforensics.infer", ROOT / "pthforensics" / "infer"),
        ("pthforensics.infer.signatures", ROOT / "pthforensics" / "infer" / "signatures"),
    ):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(path)]
            sys.modules[name] = module
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
