"""Reports as data: the JSON document of ``scan --json`` and ``inspect --json``, one JSONL
line per file, and a CSV summary (``aliases``: the other paths of the file, as a JSON
list).  Pure: records in, text out.

Each report's layout is :meth:`FileReport.to_dict` (the JSON contract); this module only
wraps reports into documents and lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from pthforensics.core import SCHEMA_VERSION, FileReport

from .assemble import BatchReport

__all__ = ["SCHEMA_VERSION", "batch_json", "csv_text", "report_json", "report_jsonl_line"]

#: Columns of the CSV summary, in order.
_CSV_COLUMNS = (
    "path",
    "status",
    "format",
    "verdict",
    "findings",
    "worst_rule",
    "tensors",
    "parameters",
    "bytes",
    "seconds",
    "error",
    "aliases",
)


def report_json(r: FileReport) -> str:
    """The ``inspect --json`` document: one report, indented (no trailing newline)."""
    return json.dumps(r.to_dict(), indent=2)


def report_jsonl_line(r: FileReport) -> str:
    """One line of ``--jsonl`` output (no trailing newline)."""
    return json.dumps(r.to_dict(), separators=(",", ":"))


def batch_json(batch: BatchReport, models: Sequence[dict[str, object]] | None = None) -> str:
    """The ``scan --json`` document (sharded models listed under ``summary.models``)."""
    summary = batch.summary()
    if models:
        summary["models"] = list(models)
    # Compact: json's C encoder only runs without indent (a zoo's document is large).
    return json.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "reports": [r.to_dict() for r in batch.reports],
            "summary": summary,
        },
        separators=(",", ":"),
    )


def csv_text(reports: Iterable[FileReport]) -> str:
    """A CSV summary: a header, then one row per file."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    out = io.StringIO()
    # Every cell quoted: a file name holding a carriage return stays one cell (minimal
    # quoting only quotes the line terminator's characters).
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(_CSV_COLUMNS)
    writer.writerows(_csv_row(r) for r in reports)
    return out.getvalue()


def _csv_row(r: FileReport) -> list[object]:
    worst = r.findings[0] if r.findings else None
    return [
        r.path,
        r.status.value,
        r.format.value if r.format else "",
        r.verdict.value if r.verdict else "",
        len(r.findings),
        worst.rule_id if worst else "",
        r.tensors.count if r.tensors else "",
        r.tensors.parameters if r.tensors else "",
        r.tensors.bytes if r.tensors else "",
        f"{r.seconds:.4f}" if r.seconds is not None else "",
        r.error.message if r.error else "",
        json.dumps(list(r.aliases)) if r.aliases else "",
    ]
