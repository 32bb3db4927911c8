"""pthforensics: what a PyTorch checkpoint is, what input it expects, and whether opening
it runs someone else's code, from the file alone.

The static path (``analyze_file``) never imports torch and never reads tensor bytes.
"""

from __future__ import annotations

from .core import (
    DEFAULT_LIMITS,
    ContainerError,
    FileReport,
    Finding,
    LimitExceeded,
    Limits,
    PthForensicsError,
    Severity,
    Verdict,
)
from .pipeline import analyze_file, inspect_file
from .report.assemble import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, BatchReport

__all__ = [
    "DEFAULT_LIMITS",
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "BatchReport",
    "ContainerError",
    "FileReport",
    "Finding",
    "LimitExceeded",
    "Limits",
    "PthForensicsError",
    "Severity",
    "Verdict",
    "__version__",
    "analyze_file",
    "inspect_file",
]

__version__ = "0.1.0"
