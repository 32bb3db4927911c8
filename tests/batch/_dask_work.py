"""Units of work for the Dask tests, importable by the cluster's worker processes.

Each wraps the real one (:func:`pthforensics.pipeline.analyze_candidate`): it leaves a
marker naming the Dask worker that started the file (the parent of the per-task worker
process), then sleeps, hangs or allocates as a test needs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pthforensics.batch import BatchOptions
from pthforensics.core import Candidate, FileReport
from pthforensics.pipeline import analyze_candidate


def slow(markers: Path, seconds: float, candidate: Candidate, options: BatchOptions) -> FileReport:
    """``analyze_candidate`` after ``seconds``, leaving ``<name>@<dask worker pid>``."""
    (markers / f"{Path(candidate.path).name}@{os.getppid()}").touch()
    time.sleep(seconds)
    return analyze_candidate(candidate, options)


def misbehave(candidate: Candidate, options: BatchOptions) -> FileReport:
    """Hang on files named ``hang*``, allocate 2 GiB on ``hog*``, else scan."""
    name = Path(candidate.path).name
    if name.startswith("hang"):
        time.sleep(600)
    if name.startswith("hog"):
        hog = bytearray(2 << 30)
        hog[-1] = 1
    return analyze_candidate(candidate, options)
