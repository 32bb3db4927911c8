"""The chained stages: fast and slow paths agree, stacked and nested pickles are scanned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pthforensics.pipeline import analyze_file
from pthforensics.records import Status

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SAMPLES = sorted(p for folder in ("benign", "malicious", "broken")
                 for p in (CORPUS / folder).iterdir()
                 if p.suffix != ".json" and p.with_name(p.name + ".truth.json").exists())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fast_and_slow_paths_agree(sample: Path) -> None:
    """The C-unpickler fast path may skip the opcode walk only when it changes nothing."""
    truth = json.loads(sample.with_name(sample.name + ".truth.json").read_text())
    slow = analyze_file(str(sample), fast=False)
    fast = analyze_file(str(sample), fast=True)
    assert slow.status == fast.status
    assert slow.verdict == fast.verdict
    if truth["status"] == "ok":
        assert slow.verdict is not None
        assert slow.verdict.value in truth.get("verdict_in", [truth["verdict"]])
    assert (slow.tensors is None) == (fast.tensors is None)
    if slow.tensors and fast.tensors:
        assert slow.tensors == fast.tensors


def test_stacked_pickles_are_all_scanned(tmp_path: Path) -> None:
    path = tmp_path / "two.pkl"
    path.write_bytes(b"\x80\x02N." + b"\x80\x02cos\nsystem\nq\x00.")
    for fast in (False, True):
        report = analyze_file(str(path), fast=fast)
        rules = {f.rule_id for f in report.findings}
        assert report.status is Status.OK
        assert {"trailing-bytes", "dangerous-global"} <= rules, rules
