"""Reports as text for people: the ``scan`` table, the ``inspect`` report and the closing
summary of a batch.  Pure: records in, text out (tables by tabulate, imported lazily:
40 ms that JSON output does not need)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pthforensics.core import FileReport, InputGuess, Severity, TraceResult, jsonable

from .assemble import BatchReport
from .table import layer_table

__all__ = ["batch_summary", "inspect_text", "scan_table"]

#: Longest location in the summary's table of flagged files.
_WHERE_WIDTH = 60
#: Longest error message in the summary's table of errors.
_MESSAGE_WIDTH = 90


def _human_count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def scan_table(reports: Iterable[FileReport], min_severity: Severity = Severity.INFO) -> str:
    """The human table of ``scan``: one row per file, then each error and each finding at
    or above ``min_severity``."""
    from tabulate import tabulate  # noqa: PLC0415 - 40 ms import, not needed for JSON

    rows = []
    details = []
    for r in reports:
        rows.append(_scan_row(r))
        if r.error:
            details.append(f"{r.path}: error in {r.error.stage}: {r.error.message}")
        details.extend(f"{r.path}: {f}" for f in r.findings if f.severity >= min_severity)
    table = tabulate(
        rows,
        headers=["file", "format", "verdict", "worst findings", "tensors", "params"],
        tablefmt="simple",
    )
    return str(table) + ("\n\n" + "\n".join(details) if details else "")


def _scan_row(r: FileReport) -> list[object]:
    worst = max((f.severity for f in r.findings), default=None)
    return [
        r.path,
        r.format.value if r.format else "-",
        (r.verdict.value if r.verdict else "ERROR"),
        len([f for f in r.findings if worst and f.severity == worst]) if worst else 0,
        r.tensors.count if r.tensors else "-",
        _human_count(r.tensors.parameters) if r.tensors else "-",
    ]


def inspect_text(r: FileReport, *, width: int | None = None, wide: bool = False) -> str:
    """The human report of ``inspect``: the scan table, the layer table (fitted to
    ``width`` columns unless ``wide``; :mod:`.table`), the input verdict with its evidence,
    and the trace."""
    parts = [scan_table([r])]
    if r.layers:
        parts.append(layer_table(r.layers, r.trace, r.tensors, width=width, wide=wide))
    if r.input:
        parts.append(_input_text(r.input))
    if r.trace:
        parts.append(_trace_text(r.trace))
    return "\n\n".join(parts)


def _input_text(i: InputGuess) -> str:
    text = f"input: {i.status} {i.kind} dtype={i.dtype}"
    if i.shape:
        text += f" shape={list(i.shape)}"
    if i.valid_sizes:
        text += f" valid={jsonable(i.valid_sizes)}"
    return "\n".join([text, *(f"  - {e}" for e in i.evidence)])


def _trace_text(t: TraceResult) -> str:
    text = f"trace: {t.status}"
    if t.input_shape:
        text += f" input={list(t.input_shape)}"
    if t.output_shape:
        text += f" output={list(t.output_shape)}"
    if t.detail:
        text += f" ({t.detail})"
    return text


def batch_summary(
    batch: BatchReport,
    models: Sequence[dict[str, Any]],
    seconds: float,
    *,
    slowest: int = 5,
    listed: int = 50,
) -> str:
    """The closing human summary of a batch: counts, files with findings (``listed`` at
    most), errors, sharded models and the ``slowest`` files."""
    summary = batch.summary()
    rate = len(batch.reports) / seconds if seconds > 0 else 0.0
    parts = [
        f"{len(batch.reports)} file(s) in {seconds:.1f} s ({rate:.1f} files/s); exit code "
        f"{summary['exit_code']}",
        _counts(summary),
        _flagged(batch, listed),
        _errors(batch.reports, listed),
        _models(models),
        _slowest(batch.reports, slowest),
    ]
    return "\n\n".join(part for part in parts if part)


def _counts(summary: dict[str, Any]) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    counts = [[k, v] for k, v in summary["verdicts"].items()]
    formats = [[k, v] for k, v in summary["formats"].items()]
    return str(
        tabulate(counts, headers=["verdict", "files"])
        + "\n\n"
        + tabulate(formats, headers=["format", "files"])
    )


def _flagged(batch: BatchReport, listed: int) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    flagged = [r for r in batch.reports if r.findings and r.findings[0].severity >= batch.fail_on]
    if not flagged:
        return ""
    rows = [
        [
            r.path,
            r.verdict.value if r.verdict else "",
            r.findings[0].rule_id,
            str(r.findings[0].location)[:_WHERE_WIDTH],
        ]
        for r in flagged[:listed]
    ]
    more = f"\n(+{len(flagged) - listed} more)" if len(flagged) > listed else ""
    table = tabulate(rows, headers=["file with findings", "verdict", "worst rule", "where"])
    return str(table) + more


def _errors(reports: Sequence[FileReport], listed: int) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    rows = [
        [r.path, r.error.stage, r.error.message[:_MESSAGE_WIDTH]]
        for r in reports
        if r.error is not None
    ][:listed]
    return str(tabulate(rows, headers=["file with errors", "stage", "message"])) if rows else ""


def _models(models: Sequence[dict[str, Any]]) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    if not models:
        return ""
    rows = [
        [
            str(m["model"]),
            str(m["verdict"] or "-"),
            str(len(m["shards"])),
            str(m["shard_tensors"]),
            str(m["error"] or ""),
        ]
        for m in models
    ]
    headers = ["sharded model", "verdict", "shards", "tensors", "problem"]
    return str(tabulate(rows, headers=headers))


def _slowest(reports: Sequence[FileReport], slowest: int) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    timed = sorted(
        (r for r in reports if r.seconds is not None), key=lambda r: -(r.seconds or 0.0)
    )[:slowest]
    if not timed:
        return ""
    rows = [[r.path, f"{r.seconds:.3f}"] for r in timed]
    return str(tabulate(rows, headers=["slowest files", "seconds"]))
