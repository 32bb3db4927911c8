"""Many files at once: which files (discovery), those already done (resume), and a pool
of worker processes that reads the rest, each file under its own time and memory cap.

The work done on each file is passed in (``pipeline.analyze_candidate``): ``batch`` comes
before ``pipeline`` and never imports it.
"""

from __future__ import annotations

from .discover import discover, model_name
from .resume import ResumeKey, read_resume, resume_key
from .tree import TreeScan, start_tree_scan
from .workers import BatchOptions, Work, run_batch

__all__ = [
    "BatchOptions",
    "ResumeKey",
    "TreeScan",
    "Work",
    "discover",
    "model_name",
    "read_resume",
    "resume_key",
    "run_batch",
    "start_tree_scan",
]
