"""Scan every corpus sample through the CLI and compare with its ``*.truth.json``.

The corpus (``corpus/benign``, ``corpus/malicious``, ``corpus/broken``) is produced by
``python corpus/generate.py``; ``corpus/README.md`` describes the truth format.  Samples
are only ever read by ``pthforensics`` itself: no test here unpickles a corpus file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FOLDERS = ("benign", "malicious", "broken")
TRUTHS = sorted(p for folder in FOLDERS for p in (CORPUS / folder).glob("*.truth.json"))
MAX_SAMPLE_BYTES = 1 << 20

FORMATS = {"torch-zip", "torch-legacy", "torch-tar", "pickle", "safetensors", "torchscript",
           "zip", "7z", "unknown"}  # fmt: skip
WRAPPERS = {"gzip", "bz2", "xz", "zip", "7z"}
VERDICT_RANK = {"clean": 0, "suspicious": 1, "malicious": 2}
REQUIRED_KEYS = {"status", "verdict", "exit_code", "format", "wrappers", "tensor_count",
                 "technique", "reference"}  # fmt: skip
OPTIONAL_KEYS = {
    "exit_code_in",
    "status_in",
    "verdict_in",
    "format_in",
    "min_verdict",
    "sha256",
    "payload_runs",
}


def _sample(truth_path: Path) -> Path:
    return truth_path.with_name(truth_path.name.removesuffix(".truth.json"))


def _id(truth_path: Path) -> str:
    return str(_sample(truth_path).relative_to(CORPUS))


def _load(truth_path: Path) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads(truth_path.read_text())
    return truth


def test_corpus_is_generated() -> None:
    counts = Counter(p.parent.name for p in TRUTHS)
    assert counts["malicious"] >= 25, counts
    assert counts["benign"] >= 15, counts
    assert counts["broken"] >= 1, counts
    for truth_path in TRUTHS:
        size = _sample(truth_path).stat().st_size
        assert size < MAX_SAMPLE_BYTES, f"{_id(truth_path)} is {size} bytes"


def test_every_sample_has_a_truth() -> None:
    samples = {p for folder in FOLDERS for p in (CORPUS / folder).iterdir()
               if not p.name.endswith(".truth.json")}  # fmt: skip
    assert samples == {_sample(p) for p in TRUTHS}


@pytest.mark.parametrize("truth_path", TRUTHS, ids=_id)
def test_truth_is_well_formed(truth_path: Path) -> None:
    """The truth files follow the documented format and match the bytes next to them."""
    truth = _load(truth_path)
    folder = truth_path.parent.name
    assert REQUIRED_KEYS <= truth.keys() <= REQUIRED_KEYS | OPTIONAL_KEYS
    assert truth["status"] in ("ok", "error")
    assert truth["format"] in FORMATS
    assert set(truth["wrappers"]) <= WRAPPERS
    assert truth["technique"]
    assert truth["exit_code"] in (0, 1, 2)
    if truth["status"] == "error":
        assert truth["verdict"] is None
        assert truth["exit_code"] == 2
    else:
        assert truth["verdict"] in VERDICT_RANK
        assert truth["exit_code"] == (0 if truth["verdict"] == "clean" else 1)
    if folder == "malicious":
        # (an attack that cannot run under torch.load in a fresh interpreter: suspicious)
        expected = "suspicious" if truth.get("payload_runs") is False else "malicious"
        assert (truth["verdict"], truth["exit_code"]) == (expected, 1)
    if folder == "benign":
        assert "malicious" not in [truth["verdict"], *truth.get("verdict_in", [])]
    if "sha256" in truth:
        digest = hashlib.sha256(_sample(truth_path).read_bytes()).hexdigest()
        assert digest == truth["sha256"], "stale sample: run python corpus/generate.py"


@pytest.mark.parametrize("truth_path", TRUTHS, ids=_id)
def test_scan_matches_truth(truth_path: Path, tmp_path: Path) -> None:
    from pthforensics.cli import main

    truth = _load(truth_path)
    out = tmp_path / "out.json"
    code = main(["scan", "--json", "-o", str(out), str(_sample(truth_path))])

    assert code in truth.get("exit_code_in", [truth["exit_code"]])
    document = json.loads(out.read_text())
    assert document["schema_version"] == 1
    assert isinstance(document["summary"], dict)
    assert len(document["reports"]) == 1
    report = document["reports"][0]

    assert report["status"] in truth.get("status_in", [truth["status"]])
    if report["status"] == "error":
        assert report["verdict"] is None
        return

    assert report["verdict"] in truth.get("verdict_in", [truth["verdict"]])
    if "min_verdict" in truth:
        assert VERDICT_RANK[report["verdict"]] >= VERDICT_RANK[truth["min_verdict"]]
    assert report["format"] in truth.get("format_in", [truth["format"]])
    assert list(report.get("wrappers", [])) == truth["wrappers"]
    if truth["tensor_count"] is not None:
        assert report["tensors"]["count"] == truth["tensor_count"]
    if truth["verdict"] == "malicious":
        severities = [finding["severity"] for finding in report["findings"]]
        assert "malicious" in severities, report["findings"]
