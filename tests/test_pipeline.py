"""The chained stages: fast and slow paths agree, stacked and nested pickles are scanned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pthforensics.batch import BatchOptions
from pthforensics.core import Candidate, Status
from pthforensics.pipeline import analyze_candidate, analyze_file, inspect_file
from tests._helpers import CORPUS

SAMPLES = sorted(
    p
    for folder in ("benign", "malicious", "broken")
    for p in (CORPUS / folder).iterdir()
    if p.suffix != ".json" and p.with_name(p.name + ".truth.json").exists()
)


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


def _load_from_bytes_pickle(inner: bytes) -> bytes:
    """``torch.storage._load_from_bytes(inner)`` assembled from opcodes (never loaded)."""
    return (
        b"\x80\x03ctorch.storage\n_load_from_bytes\n"
        + b"B"
        + len(inner).to_bytes(4, "little")
        + inner
        + b"\x85R."
    )


def test_plain_pickled_state_dict_is_suspicious_not_malicious(tmp_path: Path) -> None:
    import pickle

    import torch

    path = tmp_path / "plain.pkl"
    # trusted data we create ourselves; this is how pickle.dump stores tensors
    path.write_bytes(pickle.dumps(dict(torch.nn.Linear(3, 2).state_dict())))
    for fast in (False, True):
        report = analyze_file(str(path), fast=fast)
        assert report.verdict is not None and report.verdict.value == "suspicious"


def test_archive_embedded_in_load_from_bytes_is_scanned(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R.")
    path = tmp_path / "storage.pkl"
    path.write_bytes(_load_from_bytes_pickle(buf.getvalue()))
    for fast in (False, True):
        report = analyze_file(str(path), fast=fast)
        assert report.verdict is not None and report.verdict.value == "malicious"
        assert any("(bytes)!archive/data.pkl" in str(f.location) for f in report.findings)


@pytest.mark.parametrize(
    "text",
    [
        b"import os\nimport sys\nprint(1)\n",
        b"col1,col2\n1,2\n",
        b"class A:\n    pass\n",
        b"cat\ndog\nmore text here\n",
        b"(see the notes)\n",
        b"# Title\n\ntext\n",
    ],
)
def test_text_files_are_not_pickles(tmp_path: Path, text: bytes) -> None:
    from pthforensics.safety.opcodes import looks_like_pickle

    assert not looks_like_pickle(text)
    path = tmp_path / "notes.txt"
    path.write_bytes(text)
    assert analyze_file(str(path)).status is Status.ERROR


def test_padding_before_payload_is_still_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "padded.pkl"
    # 10 000 POP-free NONE opcodes (torch.load's legacy path runs all of them), then a call.
    path.write_bytes(b"N" * 10_000 + b"cos\nsystem\n(S'echo pthforensics-test'\ntR.")
    report = analyze_file(str(path))
    assert report.verdict is not None and report.verdict.value == "malicious"


def test_a_batch_candidate_carries_what_discovery_found() -> None:
    """Size and mtime as discovery saw them (``--resume`` matches on them), the model it
    belongs to, and with ``deep`` the layers and input guess without a trace."""
    path = str(CORPUS / "models" / "mlp.pt")
    candidate = Candidate(path, 123, 456.5, model="acme/mlp")
    report = analyze_candidate(candidate, BatchOptions())
    assert (report.size, report.mtime) == (123, 456.5)
    assert dict(report.extra)["model"] == "acme/mlp" and report.layers is None
    deep = analyze_candidate(candidate, BatchOptions(deep=True))
    assert deep.layers and deep.input is not None and deep.trace is None
    assert dict(deep.extra)["model"] == "acme/mlp"


def test_timings_are_rounded_as_reports_show_them() -> None:
    for report in (
        analyze_file(str(CORPUS / "benign" / "state_dict.pt")),
        inspect_file(str(CORPUS / "models" / "mlp.pt"), trace=False),
        analyze_file(str(CORPUS / "broken" / "empty.pt")),
    ):
        assert report.seconds is not None and report.seconds == round(report.seconds, 4)
