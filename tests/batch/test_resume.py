"""Resume: an earlier JSONL read back into reports, keyed by path, size and mtime; lines
that are not reports (an interrupted write) are skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pthforensics.batch import read_resume, resume_key
from pthforensics.core import Candidate, FileReport
from pthforensics.pipeline import analyze_file
from tests._helpers import CORPUS


def test_reports_read_back_whole(tmp_path: Path) -> None:
    reports = [analyze_file(str(CORPUS / "malicious" / "os_system.pkl")), analyze_file(__file__)]
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in reports))
    done = read_resume(jsonl)
    assert list(done.values()) == reports  # structured locations included
    assert list(done) == [resume_key(r) for r in reports]


BAD_LINES = [
    '{"trunc',
    "5",
    '{"path": "x"}',
    '{"path": "x", "status": "ok", "findings": [{"severity": 3}]}',
    '{"schema_version": 2, "path": "x", "status": "ok"}',
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_lines_that_are_not_reports_are_skipped(
    bad: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    error = {"stage": "container", "type": "ContainerError", "message": "truncated"}
    good = FileReport.from_dict(
        {"path": "a.pt", "status": "error", "error": error, "size": 3, "mtime": 1.5}
    )
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text(bad + "\n" + json.dumps(good.to_dict()) + "\n")
    assert read_resume(jsonl) == {("a.pt", 3, 1.5, None): good}
    assert "run.jsonl:1: not a report line" in caplog.text


def test_missing_file_is_nothing_to_resume(tmp_path: Path) -> None:
    assert read_resume(tmp_path / "nope.jsonl") == {}


def test_candidates_and_reports_share_the_key() -> None:
    candidate = Candidate("m.pt", 10, 2.5, model="acme/tiny")
    assert resume_key(candidate) == ("m.pt", 10, 2.5, None)


def test_old_lines_without_structured_locations(tmp_path: Path) -> None:
    """A line written before findings had ``where`` keeps its location text."""
    line = {
        "schema_version": 1,
        "path": "old.pkl",
        "status": "ok",
        "format": "pickle",
        "verdict": "malicious",
        "findings": [
            {
                "rule_id": "dangerous-global",
                "severity": "malicious",
                "location": "pickle@2 (os.system)",
                "detail": "d",
            }
        ],
        "tensors": None,
        "error": None,
    }
    jsonl = tmp_path / "old.jsonl"
    jsonl.write_text(json.dumps(line) + "\n")
    [report] = read_resume(jsonl).values()
    assert str(report.findings[0].location) == "pickle@2 (os.system)"
    assert report.to_dict()["findings"][0]["location"] == "pickle@2 (os.system)"


def test_compact_resume_keeps_one_line_per_path(tmp_path: Path) -> None:
    """Stale lines of files found again (changed) go, as do duplicates and junk; a path
    this run did not find keeps its last line."""
    from pthforensics.batch import compact_resume
    from pthforensics.core import Candidate

    error = {"stage": "container", "type": "ContainerError", "message": "truncated"}

    def line(path: str, size: int) -> str:
        report = {"path": path, "status": "error", "error": error, "size": size, "mtime": 1.0}
        return json.dumps(FileReport.from_dict(report).to_dict())

    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text(
        "\n".join([line("a", 1), line("b", 1), "junk", line("b", 2), line("c", 1), line("a", 1)])
        + "\n{"
    )
    dropped = compact_resume(jsonl, [Candidate("a", 1, 1.0), Candidate("c", 5, 1.0)])
    kept = [(r["path"], r["size"]) for r in map(json.loads, jsonl.read_text().splitlines())]
    assert kept == [("a", 1), ("b", 2)] and dropped == 5
    assert compact_resume(tmp_path / "none.jsonl", []) == 0
