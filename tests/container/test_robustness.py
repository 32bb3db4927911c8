"""Hostile bytes: truncations and byte flips of real checkpoints never crash the scanner.

Every mutated file must give a FileReport (ok or error), never an uncaught exception, and
an error report must carry a one-line message.  Seeds are fixed so a failure reproduces.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import torch

from pthforensics.core import Limits, Status
from pthforensics.pipeline import analyze_file

_LIMITS = Limits(max_seconds=20)


def _sources(tmp_path: Path) -> list[Path]:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    sd = model.state_dict()
    paths = []
    for name, kwargs in (("zip.pth", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        path = tmp_path / name
        torch.save({"state_dict": sd, "epoch": 1}, path, **kwargs)
        paths.append(path)
    full = tmp_path / "full.pt"
    torch.save(model, full)
    paths.append(full)
    gz = tmp_path / "zip.pth.gz"
    gz.write_bytes(gzip.compress(paths[0].read_bytes()))
    paths.append(gz)
    from safetensors.torch import save_file

    st = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, st)
    paths.append(st)
    return paths


def _check(path: Path) -> None:
    report = analyze_file(str(path), limits=_LIMITS)
    assert report.status in (Status.OK, Status.ERROR)
    if report.status is Status.ERROR:
        assert report.error is not None and report.error.message
        assert "\n" not in report.error.message
        assert report.error.stage != "internal", report.error
    else:
        assert report.verdict is not None


def test_truncations(tmp_path: Path) -> None:
    rng = random.Random(1234)
    for src in _sources(tmp_path):
        data = src.read_bytes()
        cuts = sorted(
            {0, 1, 7, 8, 9, len(data) - 1, *(rng.randrange(len(data)) for _ in range(25))}
        )
        for cut in cuts:
            mutated = tmp_path / f"cut-{cut}-{src.name}"
            mutated.write_bytes(data[:cut])
            _check(mutated)


def test_byte_flips(tmp_path: Path) -> None:
    rng = random.Random(99)
    for src in _sources(tmp_path):
        data = src.read_bytes()
        for i in range(60):
            buf = bytearray(data)
            for _ in range(rng.choice((1, 2, 8))):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            mutated = tmp_path / f"flip-{i}-{src.name}"
            mutated.write_bytes(bytes(buf))
            _check(mutated)


def test_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(7)
    for i in range(100):
        head = rng.choice(
            [b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x05\x95", b"\x1f\x8b", b"BZh", b"(", b"c"]
        )
        path = tmp_path / f"rand-{i}.bin"
        path.write_bytes(head + rng.randbytes(rng.randrange(0, 300)))
        _check(path)


def test_deeply_nested_pickle(tmp_path: Path) -> None:
    path = tmp_path / "deep.pkl"
    path.write_bytes(b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b".")
    _check(path)


def test_huge_declared_shape(tmp_path: Path) -> None:
    path = tmp_path / "huge.pkl"
    # _rebuild_tensor_v2(storage-pid, 0, (10**15, 10**15), (1, 1), False, OrderedDict())
    path.write_bytes(
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x07\x00\x00\x00storagectorch\n"
        b"FloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x04tQK\x00\x8a\x07\x00\x80\xc6"
        b"\xa4~\x8d\x03\x8a\x07\x00\x80\xc6\xa4~\x8d\x03\x86K\x01K\x01\x86\x89ccollections\n"
        b"OrderedDict\n)RtR."
    )
    report = analyze_file(str(path), limits=_LIMITS)
    assert report.status is Status.OK
