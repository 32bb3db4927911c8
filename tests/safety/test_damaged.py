"""Damaged copies of benign checkpoints are never malicious (issue 9: "of 1,500 damaged
copies of benign checkpoints, none is malicious and each appears once in the output").

A copy of a benign corpus file gets one bit flip, one byte replaced, or is cut, inside its
pickle bytes (``data.pkl`` of a zip, the head of a legacy or raw pickle).  Loading such a
file runs nothing: malicious is a claim of capability.  Each copy is scanned alone (the
full opcode pass) and all of them in one folder scan (batch workers, the fast path).
The default run damages 240 copies; ``-m property`` the full 1,500.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import pytest

from pthforensics.pipeline import analyze_file
from tests.safety.oracle.measure import _scan_json

_BENIGN = Path(__file__).resolve().parents[2] / "corpus" / "benign"
_HEAD = 1 << 16


def _pickle_span(data: bytes) -> tuple[int, int]:
    """Where the pickle bytes lie: a zip's stored data.pkl, else the file's head."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.filename.endswith("data.pkl") and info.compress_type == zipfile.ZIP_STORED:
                    at = info.header_offset
                    start = at + 30 + int.from_bytes(data[at + 26 : at + 28], "little")
                    start += int.from_bytes(data[at + 28 : at + 30], "little")
                    return start, start + info.compress_size
    return 0, min(len(data), _HEAD)


def _damage(count: int, seed: int, folder: Path) -> list[Path]:
    samples = sorted(p for p in _BENIGN.iterdir() if p.is_file() and not p.name.endswith(".json"))
    rng = random.Random(seed)
    paths: list[Path] = []
    for i in range(count):
        source = rng.choice(samples)
        data = bytearray(source.read_bytes())
        start, end = _pickle_span(bytes(data))
        pos = rng.randrange(start, end) if end > start else 0
        kind = rng.choice(("bit", "byte", "bit", "cut"))
        if kind == "bit":
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "byte":
            data[pos] = rng.randrange(256)
        else:
            del data[max(pos, 1) :]
        path = folder / f"{i:04d}-{kind}-{source.name}"
        path.write_bytes(bytes(data))
        paths.append(path)
    return paths


def _check(count: int, seed: int, folder: Path) -> None:
    paths = _damage(count, seed, folder)
    single = {p.name: analyze_file(str(p)) for p in paths}
    malicious = [
        f"{name}: {[str(f) for f in r.findings if f.severity == 3][:2]}"
        for name, r in single.items()
        if r.verdict is not None and r.verdict.value == "malicious"
    ]
    assert not malicious, "\n".join(malicious)
    doc = _scan_json(["-j", "2", str(folder)])
    reports = doc.get("reports") or []
    names = [Path(r["path"]).name for r in reports]
    assert sorted(names) == sorted(single), "each damaged copy appears exactly once"
    assert not [r["path"] for r in reports if r.get("verdict") == "malicious"]
    verdicts = {Path(r["path"]).name: r.get("verdict") for r in reports}
    differ = {
        n: (r.verdict.value if r.verdict else None, verdicts[n])
        for n, r in single.items()
        if (r.verdict.value if r.verdict else None) != verdicts[n]
    }
    assert not differ, json.dumps(differ, indent=1)


def test_damaged_copies_are_never_malicious(tmp_path: Path) -> None:
    _check(240, 0, tmp_path)


@pytest.mark.property
def test_fifteen_hundred_damaged_copies(tmp_path: Path) -> None:
    _check(1500, 1, tmp_path)
