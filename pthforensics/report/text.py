"""Reports as text for people: the ``scan`` table, the ``inspect`` report and the closing
summary of a batch.  Pure: records in, text out (tables by tabulate, imported lazily:
40 ms that JSON output does not need).  Each entry point escapes the records it is given
(:func:`.escape.escape_record`): no string from a file reaches a terminal raw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pthforensics.core import (
    CheckpointContext,
    FileReport,
    InputGuess,
    Severity,
    TraceResult,
    jsonable,
)

from .assemble import BatchReport
from .escape import escape_record
from .table import layer_table

__all__ = ["batch_summary", "inspect_text", "scan_table"]

#: Bytes in a MiB (the remote summary line).
_MiB = 1 << 20

#: Longest location in the summary's table of flagged files.
_WHERE_WIDTH = 60
#: Longest error message in the summary's table of errors.
_MESSAGE_WIDTH = 90


def _human_count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def scan_table(
    reports: Iterable[FileReport], min_severity: Severity = Severity.INFO, *, inputs: bool = False
) -> str:
    """The human table of ``scan``: one row per file, then each error and each finding at
    or above ``min_severity``, and each other path of a file; ``inputs``: a column with
    the input guess (``scan --deep``)."""
    from tabulate import tabulate  # noqa: PLC0415 - 40 ms import, not needed for JSON

    reports = [escape_record(r) for r in reports]
    deep = inputs
    rows = []
    details = []
    for r in reports:
        rows.append(_scan_row(r) + ([_input_cell(r.input)] if deep else []))
        if r.error:
            details.append(f"{r.path}: error in {r.error.stage}: {r.error.message}")
        details.extend(f"{r.path}: {f}" for f in r.findings if f.severity >= min_severity)
        details.extend(f"{r.path}: same file as {alias}" for alias in r.aliases)
    headers = ["file", "format", "verdict", "worst findings", "tensors", "params"]
    table = tabulate(rows, headers=headers + (["input"] if deep else []), tablefmt="simple")
    return str(table) + ("\n\n" + "\n".join(details) if details else "")


def _input_cell(i: InputGuess | None) -> str:
    """The input guess in one cell of ``scan --deep``'s table."""
    if i is None:
        return "-"
    text = f"{i.status} {i.kind}"
    if i.shape and i.status != "skipped":
        text += " " + "x".join(map(str, i.shape))
    return text


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
    r = escape_record(r)
    parts = [scan_table([r])]
    if r.checkpoint is not None:
        parts.append(_checkpoint_text(r.checkpoint))
    if r.layers:
        parts.append(layer_table(r.layers, r.trace, r.tensors, width=width, wide=wide))
    if r.input:
        parts.append(_input_text(r.input))
    if r.trace:
        parts.append(_trace_text(r.trace))
    return "\n\n".join(parts)


def _checkpoint_text(c: CheckpointContext) -> str:
    """One line on what the checkpoint says of its training run."""
    where = f"state_dict under {c.wrapper!r}" if c.wrapper else "the state_dict itself"
    parts = [f"checkpoint: {where} ({c.kind})"]
    if c.framework:
        parts.append(f"framework {c.framework}")
    parts.extend(f"{key} {value}" for key, value in c.versions)
    parts.extend(f"{k} {v}" for k, v in (("epoch", c.epoch), ("step", c.step)) if v is not None)
    if c.optimizer is not None:
        o = c.optimizer
        parts.append(
            f"optimizer {o.family or 'state'} at {o.path or '<root>'!r} "
            f"({o.param_groups} param group(s), {o.states} state(s))"
        )
    if c.prefixes_stripped:
        parts.append("prefixes stripped: " + " ".join(c.prefixes_stripped))
    if c.others:
        parts.append("other state_dicts: " + " ".join(c.others))
    return ", ".join(parts)


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
    models = escape_record(list(models))  # reports are escaped as they are listed
    summary = batch.summary()
    rate = len(batch.reports) / seconds if seconds > 0 else 0.0
    parts = [
        f"{len(batch.reports)} file(s) in {seconds:.1f} s ({rate:.1f} files/s); exit code "
        f"{summary['exit_code']}",
        _coverage(summary),
        _counts(summary),
        _remote_bytes(batch),
        _flagged(batch, listed),
        _errors(batch.reports, listed),
        _models(models),
        _slowest(batch.reports, slowest),
    ]
    return "\n\n".join(part for part in parts if part)


def _coverage(summary: dict[str, Any]) -> str:
    """What else the run found: paths of files already reported, entries skipped by
    reason, files an interruption left unread."""
    lines = []
    if summary["aliases"]:
        lines.append(f"{summary['aliases']} other path(s) of files reported (aliases in JSON)")
    if summary["skipped"]:
        counts = ", ".join(f"{reason} {n}" for reason, n in summary["skipped"].items())
        lines.append(f"not scanned: {counts}")
    if summary["interrupted"]:
        lines.append(f"interrupted: {len(summary['not_scanned'])} file(s) found were not read")
    return "\n".join(lines)


def _remote_bytes(batch: BatchReport) -> str:
    """Bytes read against the objects' sizes, for a batch that read URLs (for local files
    it is in the JSON summary only)."""
    if not any("://" in r.path for r in batch.reports):
        return ""
    counts = batch.bytes()
    read, total = counts["bytes_read"], counts["bytes_total"]
    share = f" ({100 * read / total:.2f}%)" if total else ""
    return f"read {read / _MiB:.1f} MiB of {total / _MiB:.1f} MiB{share}"


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
    shown = [escape_record(r) for r in flagged[:listed]]
    rows = [
        [
            r.path,
            r.verdict.value if r.verdict else "",
            r.findings[0].rule_id,
            str(r.findings[0].location)[:_WHERE_WIDTH],
        ]
        for r in shown
    ]
    more = f"\n(+{len(flagged) - listed} more)" if len(flagged) > listed else ""
    table = tabulate(rows, headers=["file with findings", "verdict", "worst rule", "where"])
    return str(table) + more


def _errors(reports: Sequence[FileReport], listed: int) -> str:
    from tabulate import tabulate  # noqa: PLC0415

    failed = [escape_record(r) for r in [r for r in reports if r.error is not None][:listed]]
    rows = [[r.path, r.error.stage, r.error.message[:_MESSAGE_WIDTH]] for r in failed if r.error]
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
    rows = [[escape_record(r.path), f"{r.seconds:.3f}"] for r in timed]
    return str(tabulate(rows, headers=["slowest files", "seconds"]))
