"""Per-file and per-batch reports, the verdict, and the exit code.

``BatchReport.exit_code`` is the one place that decides precedence (black's
``Report.return_code``): any finding at or above ``fail_on`` gives 1; otherwise any
error gives 2; otherwise 0.  Findings outrank errors so that a detected payload is
never reported as "the tool broke".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .errors import PthForensicsError
from .records import ErrorInfo, FileReport, Finding, Severity, Status, Verdict

__all__ = ["EXIT_CLEAN", "EXIT_ERROR", "EXIT_FINDINGS", "BatchReport", "error_report",
           "verdict_of"]

EXIT_CLEAN: Final = 0
"""No finding at or above ``--fail-on`` and no error."""
EXIT_FINDINGS: Final = 1
"""At least one finding at or above ``--fail-on``."""
EXIT_ERROR: Final = 2
"""No verdict possible for at least one file (and no findings to report)."""


def verdict_of(findings: tuple[Finding, ...]) -> Verdict:
    """The verdict the worst finding gives."""
    worst = max((f.severity for f in findings), default=None)
    return Verdict.from_severity(worst)


def error_report(path: str, exc: BaseException, *, stage: str | None = None,
                 seconds: float | None = None, size: int | None = None) -> FileReport:
    """A report for a file that could not be analysed."""
    if isinstance(exc, PthForensicsError):
        info = ErrorInfo(stage or exc.stage, type(exc).__name__, exc.message if not exc.member
                         else f"{exc.member}: {exc.message}")
    else:
        info = ErrorInfo(stage or "internal", type(exc).__name__, str(exc) or type(exc).__name__)
    return FileReport(path=path, status=Status.ERROR, error=info, seconds=seconds, size=size)


@dataclass(frozen=True, slots=True)
class BatchReport:
    """All file reports of one run."""

    reports: tuple[FileReport, ...]
    fail_on: Severity = Severity.SUSPICIOUS

    def exit_code(self) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 errors (findings outrank errors)."""
        if any(f.severity >= self.fail_on for r in self.reports for f in r.findings):
            return EXIT_FINDINGS
        if any(r.status is Status.ERROR for r in self.reports):
            return EXIT_ERROR
        return EXIT_CLEAN

    def summary(self) -> dict[str, object]:
        """Counts per status, verdict and format, for the JSON ``summary`` and the CLI."""
        verdicts: dict[str, int] = {}
        formats: dict[str, int] = {}
        for r in self.reports:
            key = r.verdict.value if r.verdict else "error"
            verdicts[key] = verdicts.get(key, 0) + 1
            fmt = r.format or "unknown"
            formats[fmt] = formats.get(fmt, 0) + 1
        return {
            "files": len(self.reports),
            "ok": sum(r.status is Status.OK for r in self.reports),
            "errors": sum(r.status is Status.ERROR for r in self.reports),
            "verdicts": dict(sorted(verdicts.items())),
            "formats": dict(sorted(formats.items())),
            "exit_code": self.exit_code(),
        }
