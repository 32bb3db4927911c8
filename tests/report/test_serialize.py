"""The JSON document, JSONL lines and the CSV summary."""

from __future__ import annotations

import csv
import io
import json

from pthforensics.core import ModelGroup, Severity
from pthforensics.pipeline import analyze_file, inspect_file
from pthforensics.report import (
    SCHEMA_VERSION,
    BatchReport,
    batch_json,
    csv_text,
    model_entries,
    report_json,
    report_jsonl_line,
)
from tests._helpers import CORPUS

PATHS = [
    str(CORPUS / "benign" / "state_dict.pt"),
    str(CORPUS / "malicious" / "os_system.pkl"),
    str(CORPUS / "broken" / "empty.pt"),
]


def test_batch_document() -> None:
    reports = tuple(analyze_file(p) for p in PATHS)
    group = ModelGroup("m", "i.json", (PATHS[0],), (), 9)
    models = model_entries([group], reports)
    doc = json.loads(batch_json(BatchReport(reports, Severity.SUSPICIOUS), models))
    assert list(doc) == ["schema_version", "reports", "summary"]
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["reports"] == [r.to_dict() for r in reports]
    assert doc["summary"]["files"] == 3 and doc["summary"]["exit_code"] == 1
    assert doc["summary"]["verdicts"] == {"clean": 1, "error": 1, "malicious": 1}
    assert doc["summary"]["models"] == models
    without = json.loads(batch_json(BatchReport(reports)))
    assert "models" not in without["summary"]


def test_jsonl_line_and_inspect_document() -> None:
    report = inspect_file(str(CORPUS / "models" / "mlp.pt"))
    line = report_jsonl_line(report)
    assert "\n" not in line and json.loads(line) == report.to_dict()
    text = report_json(report)
    assert text.startswith('{\n  "schema_version": 1,') and json.loads(text) == report.to_dict()


def test_csv_summary() -> None:
    reports = [analyze_file(p) for p in PATHS]
    rows = list(csv.DictReader(io.StringIO(csv_text(reports))))
    assert [r["path"] for r in rows] == PATHS
    clean, evil, broken = rows
    assert (clean["status"], clean["verdict"], clean["tensors"], clean["parameters"]) == (
        "ok",
        "clean",
        "9",
        "330",
    )
    assert evil["worst_rule"] == "dangerous-global" and evil["format"] == "pickle"
    assert broken["status"] == "error" and broken["verdict"] == "" and "empty" in broken["error"]
    assert all(float(r["seconds"]) >= 0 for r in rows)
