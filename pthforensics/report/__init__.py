"""The last stage: reports assembled from the records, and rendered.

- :mod:`.assemble`: the verdict, error reports, ``BatchReport`` and its exit code, the
  entries of sharded models.
- :mod:`.context`: what a checkpoint says about its training run (epoch, optimizer...).
- :mod:`.serialize`: the JSON document, JSONL lines, the CSV summary; :mod:`.schema` their
  JSON Schema; :mod:`.sarif` the SARIF 2.1.0 log, with :mod:`.rules`' help per rule.
- :mod:`.text`: the scan table, the inspect text and the batch summary, for people, with
  every string from a file escaped (:mod:`.escape`).
"""

from __future__ import annotations

from .assemble import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    BatchReport,
    complete_inspect,
    error_report,
    model_entries,
    verdict_of,
)
from .context import checkpoint_context
from .escape import escape, escape_record
from .rules import RULE_HELP, RuleHelp, rule_help
from .sarif import sarif_json, sarif_log
from .schema import json_schema
from .serialize import SCHEMA_VERSION, batch_json, csv_text, report_json, report_jsonl_line
from .text import batch_summary, inspect_text, scan_table

__all__ = [
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "RULE_HELP",
    "SCHEMA_VERSION",
    "BatchReport",
    "RuleHelp",
    "complete_inspect",
    "batch_json",
    "batch_summary",
    "checkpoint_context",
    "csv_text",
    "error_report",
    "escape",
    "escape_record",
    "json_schema",
    "inspect_text",
    "model_entries",
    "report_json",
    "report_jsonl_line",
    "rule_help",
    "sarif_json",
    "sarif_log",
    "scan_table",
    "verdict_of",
]
