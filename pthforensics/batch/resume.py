"""Reports of an earlier run, so a batch can skip the files it already scanned.

An earlier ``--jsonl`` output (one :meth:`FileReport.to_dict` per line) is read back with
:meth:`FileReport.from_dict`; a file is skipped when its path, size and modification time
all match (a remote object: its URL, size and ETag).  A line that is not a report (the
last line of an interrupted run) is ignored with a warning.

When the new reports are appended to the same file, :func:`compact_resume` first rewrites
it to one line per path: a file that changed since is scanned again, and its old line is
dropped rather than left beside the new one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable

from pthforensics.core import Candidate, FileReport

__all__ = ["ResumeKey", "compact_resume", "read_resume", "resume_key"]

logger = logging.getLogger(__name__)

ResumeKey = tuple[str, int | None, float | None, str | None]
"""Path, size, modification time and ETag: what must match for a file to be skipped."""


def resume_key(item: Candidate | FileReport) -> ResumeKey:
    """The key of a file found (a candidate) or scanned (its report)."""
    return (item.path, item.size, item.mtime, item.etag)


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


def compact_resume(path: str | os.PathLike[str], files: Iterable[Candidate]) -> int:
    """Rewrite the JSONL file ``path`` to one line per path before new reports are
    appended to it: for a path among ``files``, only a report that still matches it (same
    size and mtime: it is not scanned again); for any other path, its last report.  Lines
    that are not reports go too.  The file is replaced atomically; returns the number of
    lines dropped."""
    current = {c.path: resume_key(c) for c in files}
    kept: dict[str, str] = {}
    dropped = 0
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below, before replace
    except FileNotFoundError:
        return 0
    with handle:
        for line in handle:
            try:
                report = FileReport.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError, AttributeError):
                dropped += 1
                continue
            want = current.get(report.path)
            if want is not None and want != resume_key(report):
                dropped += 1  # stale: the file changed, its new report comes later
                continue
            dropped += report.path in kept
            kept[report.path] = line if line.endswith("\n") else line + "\n"
    if dropped:
        import tempfile  # noqa: PLC0415 - ~3 ms (shutil, random) a scan without --resume never needs

        folder = os.path.dirname(os.path.abspath(path))
        fd, temp = tempfile.mkstemp(prefix=".pthforensics-", suffix=".jsonl", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(kept.values())
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
        logger.info("%s: %d stale or duplicate line(s) dropped", path, dropped)
    return dropped
