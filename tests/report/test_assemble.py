"""The verdict, error reports, the batch exit code (findings outrank errors), sharded-model
entries."""

from __future__ import annotations

import pytest

from pthforensics.core import (
    ContainerError,
    ErrorInfo,
    FileReport,
    Finding,
    Location,
    ModelGroup,
    Severity,
    Status,
    TensorSummary,
    Verdict,
)
from pthforensics.report import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    BatchReport,
    error_report,
    model_entries,
    verdict_of,
)


def _finding(severity: Severity) -> Finding:
    return Finding("r", severity, Location("m"), "d")


def _ok(path: str, *severities: Severity, tensors: int = 1) -> FileReport:
    findings = tuple(_finding(s) for s in severities)
    return FileReport(
        path,
        Status.OK,
        verdict=verdict_of(findings),
        findings=findings,
        tensors=TensorSummary(tensors, 1, 4, (("float32", tensors),)),
    )


def _error(path: str) -> FileReport:
    return FileReport(path, Status.ERROR, error=ErrorInfo("container", "ContainerError", "bad"))


def test_verdict_is_the_worst_finding() -> None:
    assert verdict_of(()) is Verdict.CLEAN
    assert verdict_of((_finding(Severity.INFO),)) is Verdict.CLEAN
    assert (
        verdict_of((_finding(Severity.INFO), _finding(Severity.SUSPICIOUS))) is Verdict.SUSPICIOUS
    )
    assert verdict_of((_finding(Severity.MALICIOUS),)) is Verdict.MALICIOUS


@pytest.mark.parametrize(
    ("reports", "fail_on", "code"),
    [
        ([], Severity.SUSPICIOUS, EXIT_CLEAN),
        (["clean"], Severity.SUSPICIOUS, EXIT_CLEAN),
        (["suspicious"], Severity.SUSPICIOUS, EXIT_FINDINGS),
        (["suspicious"], Severity.MALICIOUS, EXIT_CLEAN),
        (["error"], Severity.SUSPICIOUS, EXIT_ERROR),
        (["error", "malicious"], Severity.MALICIOUS, EXIT_FINDINGS),  # findings outrank errors
        (["error", "suspicious"], Severity.MALICIOUS, EXIT_ERROR),
    ],
)
def test_exit_code(reports: list[str], fail_on: Severity, code: int) -> None:
    made = {
        "clean": _ok("c"),
        "suspicious": _ok("s", Severity.SUSPICIOUS),
        "malicious": _ok("m", Severity.MALICIOUS),
        "error": _error("e"),
    }
    batch = BatchReport(tuple(made[r] for r in reports), fail_on)
    assert batch.exit_code() == code
    assert batch.summary()["exit_code"] == code


def test_summary_counts() -> None:
    batch = BatchReport((_ok("a"), _ok("b", Severity.MALICIOUS), _error("c")))
    summary = batch.summary()
    assert (summary["files"], summary["ok"], summary["errors"]) == (3, 2, 1)
    assert summary["verdicts"] == {"clean": 1, "error": 1, "malicious": 1}
    assert summary["formats"] == {"unknown": 3}


def test_error_report_says_where() -> None:
    exc = ContainerError("truncated", member="archive/data.pkl")
    report = error_report("x.pt", exc, seconds=0.5)
    assert report.status is Status.ERROR and report.verdict is None
    assert report.error == ErrorInfo(exc.stage, "ContainerError", "archive/data.pkl: truncated")
    internal = error_report("y.pt", KeyError("k"))
    assert internal.error is not None and internal.error.stage == "internal"


def test_model_entries() -> None:
    reports = [_ok("m/1.safetensors", tensors=3), _ok("m/2.safetensors", Severity.MALICIOUS)]
    group = ModelGroup("acme/m", "m/index.json", ("m/1.safetensors", "m/2.safetensors"), (), 4)
    missing = ModelGroup("acme/n", "n/index.json", ("n/1.safetensors",), ("n/1.safetensors",), 1)
    ok, gone = model_entries([group, missing], reports)
    assert ok["verdict"] == "malicious" and ok["status"] == "ok" and ok["shard_tensors"] == 4
    assert ok["shards"] == [
        {"path": "m/1.safetensors", "verdict": "clean"},
        {"path": "m/2.safetensors", "verdict": "malicious"},
    ]
    assert gone["status"] == "error" and gone["verdict"] is None
    assert gone["error"] == "1 shard(s) named by the index are missing"
    assert model_entries([], reports) == []
