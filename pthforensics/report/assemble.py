"""Per-file and per-batch reports, the verdict, and the exit code.

``BatchReport.exit_code`` is the one place that decides precedence (black's
``Report.return_code``): an interrupted run gives 130; otherwise any finding at or above
``fail_on`` gives 1; otherwise any error gives 2; otherwise 0.  Findings outrank errors
so that a detected payload is never reported as "the tool broke".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from pthforensics.core import (
    ErrorInfo,
    FileReport,
    Finding,
    InputGuess,
    InputKind,
    InputStatus,
    ModelGroup,
    PthForensicsError,
    Severity,
    Status,
    TraceResult,
    TraceStatus,
    Verdict,
)

__all__ = [
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "BatchReport",
    "complete_inspect",
    "error_report",
    "model_entries",
    "verdict_of",
]

EXIT_CLEAN: Final = 0
"""No finding at or above ``--fail-on`` and no error."""
EXIT_FINDINGS: Final = 1
"""At least one finding at or above ``--fail-on``."""
EXIT_ERROR: Final = 2
"""No verdict possible for at least one file (and no findings to report)."""
EXIT_INTERRUPTED: Final = 130
"""Stopped by Ctrl-C (128 + SIGINT, as shells report it): what was written is valid, for
the files it lists."""


def verdict_of(findings: tuple[Finding, ...]) -> Verdict:
    """The verdict the worst finding gives."""
    worst = max((f.severity for f in findings), default=None)
    return Verdict.from_severity(worst)


def error_report(
    path: str,
    exc: BaseException,
    *,
    stage: str | None = None,
    seconds: float | None = None,
    size: int | None = None,
) -> FileReport:
    """A report for a file that could not be analysed."""
    if isinstance(exc, PthForensicsError):
        info = ErrorInfo(
            stage or exc.stage,
            type(exc).__name__,
            exc.message if not exc.member else f"{exc.member}: {exc.message}",
        )
    else:
        info = ErrorInfo(stage or "internal", type(exc).__name__, str(exc) or type(exc).__name__)
    return FileReport(path=path, status=Status.ERROR, error=info, seconds=seconds, size=size)


def complete_inspect(report: FileReport, *, trace: bool) -> FileReport:
    """An ``inspect`` report with every part filled: ``layers``, ``input`` and ``trace``
    it did not produce become ``[]`` and ``"status": "skipped"`` with the reason, never
    ``null`` (contract).  ``trace``: whether the trace was asked for."""
    why = (
        f"no verdict: {report.error.message}"
        if report.error is not None
        else "no state_dict in the file"
        if report.tensors is None or not report.tensors.count
        else "layer inference did not run"
    )
    guess = report.input
    if guess is None:
        guess = InputGuess(
            InputStatus.SKIPPED, InputKind.UNKNOWN, evidence=(f"not inferred: {why}",)
        )
    traced = report.trace
    if traced is None:
        detail = "not requested" if not trace else f"not rebuilt: {why}"
        traced = TraceResult(TraceStatus.SKIPPED, detail=detail)
    layers = report.layers if report.layers is not None else ()
    if (layers, guess, traced) == (report.layers, report.input, report.trace):
        return report
    return replace(report, layers=layers, input=guess, trace=traced)


@dataclass(frozen=True, slots=True)
class BatchReport:
    """All file reports of one run."""

    reports: tuple[FileReport, ...]
    fail_on: Severity = Severity.SUSPICIOUS
    skipped: tuple[tuple[str, int], ...] = ()
    """Entries of the folders walked that were not scanned, counted by reason."""
    interrupted: bool = False
    """Whether Ctrl-C stopped the run before every file was read."""
    not_scanned: tuple[str, ...] = ()
    """Files found but not read because the run was interrupted."""

    def exit_code(self) -> int:
        """130 interrupted, else 1 findings at or above ``fail_on``, 2 errors, 0 clean
        (findings outrank errors)."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if any(f.severity >= self.fail_on for r in self.reports for f in r.findings):
            return EXIT_FINDINGS
        if any(r.status is Status.ERROR for r in self.reports):
            return EXIT_ERROR
        return EXIT_CLEAN

    def summary(self) -> dict[str, object]:
        """The JSON ``summary`` (and the CLI's closing counts): files reported, ``ok`` and
        ``errors``; counts per verdict (``error`` for no verdict) and per format; other
        paths of files reported (``aliases``); entries skipped by reason; whether the run
        was interrupted and the files it did not read; the exit code."""
        verdicts: dict[str, int] = {}
        formats: dict[str, int] = {}
        for r in self.reports:
            key = r.verdict.value if r.verdict else "error"
            verdicts[key] = verdicts.get(key, 0) + 1
            fmt = r.format.value if r.format else "unknown"
            formats[fmt] = formats.get(fmt, 0) + 1
        return {
            "files": len(self.reports),
            "ok": sum(r.status is Status.OK for r in self.reports),
            "errors": sum(r.status is Status.ERROR for r in self.reports),
            "verdicts": dict(sorted(verdicts.items())),
            "formats": dict(sorted(formats.items())),
            "aliases": sum(len(r.aliases) for r in self.reports),
            "skipped": dict(self.skipped),
            "interrupted": self.interrupted,
            "not_scanned": list(self.not_scanned),
            "exit_code": self.exit_code(),
            **self.bytes(),
        }

    def bytes(self) -> dict[str, int]:
        """``bytes_read`` (from the files or objects, range requests for remote ones) and
        ``bytes_total`` (their sizes), over the reports that know both."""
        known = [r for r in self.reports if r.bytes_read is not None and r.size is not None]
        return {
            "bytes_read": sum(r.bytes_read or 0 for r in known),
            "bytes_total": sum(r.size or 0 for r in known),
        }


def model_entries(
    groups: Sequence[ModelGroup], reports: Sequence[FileReport]
) -> list[dict[str, object]]:
    """One entry per sharded model: its shards' verdicts, missing shards, tensor counts."""
    if not groups:
        return []
    by_path = {os.path.abspath(r.path): r for r in reports}  # string work, no file system
    by_real: dict[str, FileReport] = {}

    def report_of(shard: str) -> FileReport | None:
        found = by_path.get(os.path.abspath(shard))
        if found is None:  # reached through a link: compare resolved paths (lstat calls)
            if not by_real:
                by_real.update((os.path.realpath(r.path), r) for r in reports)
            found = by_real.get(os.path.realpath(shard))
        return found

    out: list[dict[str, object]] = []
    for g in groups:
        shard_reports = [None if p in g.missing else report_of(p) for p in g.shards]
        verdicts = [r.verdict if r is not None else None for r in shard_reports]
        known = [v for v in verdicts if v is not None]
        worst = max(known, key=list(Verdict).index) if known else None
        tensors = sum(r.tensors.count for r in shard_reports if r is not None and r.tensors)
        error = g.error or (
            f"{len(g.missing)} shard(s) named by the index are missing" if g.missing else None
        )
        out.append(
            {
                "model": g.name,
                "index": g.index,
                "status": "error" if error or None in verdicts else "ok",
                "verdict": worst.value if worst else None,
                "shards": [
                    {"path": p, "verdict": v.value if v else None}
                    for p, v in zip(g.shards, verdicts, strict=True)
                ],
                "missing_shards": list(g.missing),
                "index_tensors": g.tensors,
                "shard_tensors": tensors,
                "error": error,
            }
        )
    return out
