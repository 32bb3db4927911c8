"""Reports of an earlier run, so a batch can skip the files it already scanned.

An earlier ``--jsonl`` output (one :meth:`FileReport.to_dict` per line) is read back with
:meth:`FileReport.from_dict`; a file is skipped when its path, size and modification time
all match.  A line that is not a report (the last line of an interrupted run) is ignored
with a warning.
"""

from __future__ import annotations

import json
import logging
import os

from pthforensics.core import Candidate, FileReport

__all__ = ["ResumeKey", "read_resume", "resume_key"]

logger = logging.getLogger(__name__)

ResumeKey = tuple[str, int | None, float | None]
"""Path, size and modification time: what must match for a file to be skipped."""


def resume_key(item: Candidate | FileReport) -> ResumeKey:
    """The key of a file found (a candidate) or scanned (its report)."""
    return (item.path, item.size, item.mtime)


def read_resume(path: str | os.PathLike[str]) -> dict[ResumeKey, FileReport]:
    """Reports of an earlier ``--jsonl`` run, by :func:`resume_key`; empty when ``path``
    does not exist yet."""
    done: dict[ResumeKey, FileReport] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    report = FileReport.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    logger.warning(
                        "%s:%d: not a report line (an interrupted write?); ignored", path, number
                    )
                    continue
                done[resume_key(report)] = report
    except FileNotFoundError:
        logger.info("%s does not exist yet: nothing to resume", path)
    return done
