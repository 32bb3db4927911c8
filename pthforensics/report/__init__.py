"""The last stage: reports assembled from the records, and rendered.

- :mod:`.assemble`: the verdict, error reports, ``BatchReport`` and its exit code, the
  entries of sharded models.
- :mod:`.context`: what a checkpoint says about its training run (epoch, optimizer...).
- :mod:`.serialize`: the JSON document, JSONL lines, the CSV summary; :mod:`.schema` their
  JSON Schema; :mod:`.sarif` the SARIF 2.1.0 log, with :mod:`.rules`' help per rule.
- :mod:`.text`: the scan table, the inspect text and the batch summary, for people, with
  every string from a file escaped (:mod:`.escape`).

The renderings a scan writing JSON never uses (SARIF and its rule help, the JSON Schema,
the text for people) are imported on first use of their names, not with the package:
their module-level records and patterns would cost every worker-pool run ~3 ms of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from .serialize import SCHEMA_VERSION, batch_json, csv_text, report_json, report_jsonl_line

if TYPE_CHECKING:
    from .rules import RULE_HELP, RuleHelp, rule_help
    from .sarif import sarif_json, sarif_log
    from .schema import json_schema
    from .text import batch_summary, inspect_text, scan_table

#: Names imported on first use, and the module of each.
_LAZY = {
    "RULE_HELP": "rules",
    "RuleHelp": "rules",
    "rule_help": "rules",
    "sarif_json": "sarif",
    "sarif_log": "sarif",
    "json_schema": "schema",
    "batch_summary": "text",
    "inspect_text": "text",
    "scan_table": "text",
}

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


def __getattr__(name: str) -> Any:
    """A lazily imported name of :data:`_LAZY` (PEP 562), kept once imported."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
