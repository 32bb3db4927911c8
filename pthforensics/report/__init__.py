"""The last stage: reports assembled from the records, and rendered.

- :mod:`.assemble`: the verdict, error reports, ``BatchReport`` and its exit code, the
  entries of sharded models.
- :mod:`.serialize`: the JSON document, JSONL lines, the CSV summary.
- :mod:`.text`: the scan table, the inspect text and the batch summary, for people.
"""

from __future__ import annotations

from .assemble import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    BatchReport,
    error_report,
    model_entries,
    verdict_of,
)
from .serialize import SCHEMA_VERSION, batch_json, csv_text, report_json, report_jsonl_line
from .text import batch_summary, inspect_text, scan_table

__all__ = [
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "SCHEMA_VERSION",
    "BatchReport",
    "batch_json",
    "batch_summary",
    "csv_text",
    "error_report",
    "inspect_text",
    "model_entries",
    "report_json",
    "report_jsonl_line",
    "scan_table",
    "verdict_of",
]
