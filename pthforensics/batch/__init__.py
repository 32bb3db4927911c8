"""Many files at once: which files (discovery, local folders and remote prefixes), those
already done (resume), and a pool of worker processes that reads the rest, each file under
its own time and memory cap (or the same work spread over a Dask cluster: :mod:`.cluster`).

The work done on each file is passed in (``pipeline.analyze_candidate``): ``batch`` comes
before ``pipeline`` and never imports it.
"""

from __future__ import annotations

from .cluster import DaskExecutor, Executor, parse_dask_address
from .discover import (
    CHECKPOINT_EXTENSIONS,
    SKIP_REASONS,
    Discovery,
    discover,
    discover_tree,
    has_checkpoint_name,
    model_name,
    skip_reason,
)
from .resume import ResumeKey, compact_resume, read_resume, resume_key
from .tree import TreeScan, start_tree_scan
from .workers import BatchOptions, Work, run_batch

__all__ = [
    "CHECKPOINT_EXTENSIONS",
    "SKIP_REASONS",
    "BatchOptions",
    "Discovery",
    "DaskExecutor",
    "Executor",
    "ResumeKey",
    "TreeScan",
    "Work",
    "compact_resume",
    "discover",
    "discover_tree",
    "has_checkpoint_name",
    "model_name",
    "parse_dask_address",
    "read_resume",
    "resume_key",
    "run_batch",
    "skip_reason",
    "start_tree_scan",
]
