"""``FileReport.to_dict()`` is the JSON contract and ``from_dict()`` reads it back whole:
the scan and inspect reports of every corpus file survive a trip through JSON text, with
enums as enums and findings' structured locations."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from pthforensics.core import (
    Finding,
    Format,
    InputGuess,
    InputHypothesis,
    InputKind,
    InputStatus,
    LayerGuess,
    Location,
    Severity,
    Status,
    TraceLayer,
    TraceResult,
    TraceStatus,
    Verdict,
)
from pthforensics.core.reports import SCHEMA_VERSION, FileReport
from pthforensics.pipeline import analyze_file, inspect_file
from tests._helpers import CORPUS, ROOT

SAMPLES = sorted(
    Path(folder, name)
    for folder, _dirs, files in os.walk(CORPUS)
    for name in files
    if not name.endswith((".json", ".py", ".md"))
)


@functools.cache
def _reports(sample: Path) -> tuple[FileReport, FileReport]:
    """The scan and the inspect report of ``sample`` (made once per test session)."""
    return analyze_file(str(sample)), inspect_file(str(sample))


def _through_json(report: FileReport) -> FileReport:
    return FileReport.from_dict(json.loads(json.dumps(report.to_dict())))


def _enums_are_enums(r: FileReport) -> None:
    assert type(r.status) is Status
    assert r.verdict is None or type(r.verdict) is Verdict
    assert r.format is None or type(r.format) is Format
    assert all(type(f.severity) is Severity for f in r.findings)
    if r.input is not None:
        assert type(r.input.status) is InputStatus and type(r.input.kind) is InputKind
    if r.trace is not None:
        assert type(r.trace.status) is TraceStatus


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_scan_and_inspect_reports_round_trip(sample: Path) -> None:
    for report in _reports(sample):
        back = _through_json(report)
        assert back == report
        _enums_are_enums(back)
        assert [f.location for f in back.findings] == [f.location for f in report.findings]
        assert back.to_dict() == report.to_dict()


def test_inspect_round_trip_covers_every_part() -> None:
    """The corpus exercises what the round trip must carry: layers, an input plan, a
    confirmed trace, findings at a byte offset and a global."""
    reports = [_reports(s)[1] for s in SAMPLES]
    assert any(r.layers for r in reports)
    assert any(r.input is not None and r.input.plan for r in reports)
    assert any(r.input is not None and r.input.valid_sizes for r in reports)
    assert any(r.trace is not None and r.trace.status is TraceStatus.CONFIRMED for r in reports)
    assert any(r.trace is not None and r.trace.tried for r in reports)
    located = [f.location for r in reports for f in r.findings]
    assert any(loc.offset is not None and loc.global_name for loc in located)
    assert any(loc.key for loc in located)
    assert any(r.extra for r in reports) and any(r.metadata for r in reports)


def test_to_dict_is_the_contract_layout() -> None:
    report = inspect_file(str(CORPUS / "models" / "lenet_seq.pt"))
    d = report.to_dict()
    assert list(d)[:12] == [
        "schema_version", "path", "status", "format", "verdict", "findings", "tensors",
        "error", "wrappers", "size", "mtime", "seconds",
    ]  # fmt: skip
    assert d["schema_version"] == SCHEMA_VERSION and d["status"] == "ok"
    assert set(d["tensors"]) == {
        "status", "count", "parameters", "bytes", "dtypes", "buffers", "trainable"
    }  # fmt: skip
    assert {"name", "type", "attributes", "confidence", "evidence"} <= set(d["layers"][0])
    assert {"status", "kind", "shape", "valid_sizes", "dtype", "evidence"} <= set(d["input"])
    assert {"status", "output_shape", "layers"} <= set(d["trace"])
    json.dumps(d)  # plain JSON data, nothing to convert


def test_cli_json_is_to_dict(capsys: pytest.CaptureFixture[str]) -> None:
    from pthforensics.cli import main

    path = str(CORPUS / "malicious" / "zip_extra_member.pt")
    main(["inspect", "--json", path])
    printed = json.loads(capsys.readouterr().out)
    expected = inspect_file(path).to_dict()
    printed.pop("seconds"), expected.pop("seconds")
    assert printed == expected


def test_a_hand_made_report_round_trips() -> None:
    """Values the corpus does not produce: an empty trace shape, nested attribute tuples,
    every location part, a report made outside the pipeline."""
    report = FileReport(
        path=str(ROOT / "x.pt"),
        status=Status.OK,
        format=Format.TORCH_ZIP,
        verdict=Verdict.SUSPICIOUS,
        findings=(
            Finding("r", Severity.SUSPICIOUS, Location("a/data.pkl", 12, "m.f", "k.v"), "d"),
            Finding("s", Severity.INFO, Location(), ""),
        ),
        layers=(LayerGuess("l", "Conv2d", (("k", ((1, 2), (3,))), ("b", None)), 0.123456),),
        input=InputGuess(
            InputStatus.FREE,
            InputKind.IMAGE,
            (1, 3, 8, 8),
            ((8, 8), (16, 16)),
            min_size=8,
            multiple_of=4,
            plan=(("+l", "MaxPool2d", (("kernel_size", (2, 2)),)),),
            hypotheses=(
                InputHypothesis(
                    "valid padding; MaxPool2d(2) after l",
                    (("+l", "MaxPool2d", (("kernel_size", (2, 2)),)),),
                    (1, 3, 8, 8),
                    ((8, 9), (8, 9)),
                    1.25,
                    ("stored",),
                    ("a pool applied in forward()",),
                ),
                InputHypothesis("frames [N, L]", (), (1, 64), (64,)),
            ),
            others=(InputGuess(InputStatus.FIXED, InputKind.VECTOR, (1, 4), (4,)),),
        ),
        trace=TraceResult(
            TraceStatus.PARTIAL,
            (),
            (TraceLayer("l", "Conv2d", (1, 3, 8, 8), ()),),
            (1, 3, 8, 8),
            "why",
            (((1, 3, 8, 8), "ok"),),
        ),
        wrappers=("gzip",),
        size=10,
        mtime=1234.5678901234,
        seconds=0.123456789,
        metadata=(("epoch", "3"),),
        extra=(("model", "acme/tiny"), ("state_dict", {"others": ["a"], "kind": "wrapped"})),
    )
    assert _through_json(report) == report


def test_schema_version_is_checked() -> None:
    with pytest.raises(ValueError, match="schema_version"):
        FileReport.from_dict({"schema_version": 2, "path": "x", "status": "ok"})


def test_where_holds_every_part_of_a_location() -> None:
    """A field added to ``Location`` must be added to ``where`` too (or the round trip of
    such a finding would lose it)."""
    from dataclasses import fields

    where = FileReport(
        "x",
        Status.OK,
        verdict=Verdict.CLEAN,
        findings=(Finding("r", Severity.INFO, Location(), "d"),),
    ).to_dict()["findings"][0]["where"]
    assert list(where) == [f.name for f in fields(Location)]
