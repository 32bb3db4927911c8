"""Tensor records, state_dict discovery through wrappers, and integrity checks."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pthforensics.container import read_container
from pthforensics.core import Checkpoint
from pthforensics.safety import unpickle_stream
from pthforensics.structure import check_integrity, extract_checkpoint, summarize


def _model():  # type: ignore[no-untyped-def]
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    )


def _load(path: Path) -> tuple[Checkpoint, tuple]:  # type: ignore[type-arg]
    container = read_container(str(path))
    stream = next(s for s in container.streams if s.role == "object")
    checkpoint, findings = extract_checkpoint(unpickle_stream(stream).root, container)
    return checkpoint, findings + check_integrity(checkpoint, container)


def test_plain_state_dict_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "sd.pth"
    model = _model()
    torch.save(model.state_dict(), path)
    checkpoint, findings = _load(path)
    main = checkpoint.main
    assert main is not None and checkpoint.kind == "state_dict" and not findings
    assert [t.key for t in main.tensors] == list(model.state_dict())
    for t in main.tensors:
        assert t.shape == tuple(model.state_dict()[t.key].shape)
    assert main.module_versions is not None
    assert [p for p, _ in main.module_versions] == ["", "0", "1", "2", "3", "4"]
    summary = summarize(main.tensors)
    assert summary.parameters == sum(p.numel() for p in model.parameters())
    assert summary.count == len(model.state_dict())


@pytest.mark.parametrize(
    ("wrap", "path", "prefixes"),
    [
        (
            lambda sd: {
                "state_dict": {f"model.{k}": v for k, v in sd.items()},
                "epoch": 3,
                "global_step": 10,
                "hyper_parameters": {"lr": 0.1},
            },
            "state_dict",
            ("model.",),
        ),
        (
            lambda sd: {
                "model": {f"module.{k}": v for k, v in sd.items()},
                "optimizer": {
                    "state": {0: {"exp_avg": torch.zeros(8, 3, 3, 3)}},
                    "param_groups": [{"lr": 0.1, "params": [0]}],
                },
            },
            "model",
            ("module.",),
        ),
        (
            lambda sd: {
                "ema": dict(sd),
                "state_dict": {f"_orig_mod.{k}": v for k, v in sd.items()},
            },
            "state_dict",
            ("_orig_mod.",),
        ),
        (
            lambda sd: {
                "args": argparse.Namespace(lr=0.1, arch="x"),
                "net": dict(sd),
                "best": np.float64(0.9),
            },
            "net",
            (),
        ),
    ],
)
def test_wrapped_checkpoints(tmp_path: Path, wrap, path: str, prefixes: tuple) -> None:  # type: ignore[no-untyped-def, type-arg]
    file = tmp_path / "ckpt.pth"
    sd = _model().state_dict()
    torch.save(wrap(sd), file)
    checkpoint, _ = _load(file)
    assert checkpoint.main is not None
    assert checkpoint.main.path == path
    assert checkpoint.main.stripped_prefixes == prefixes
    assert [t.key for t in checkpoint.main.tensors] == list(sd)


def test_lightning_metadata_reported(tmp_path: Path) -> None:
    file = tmp_path / "l.ckpt"
    torch.save({"epoch": 7, "global_step": 70, "state_dict": _model().state_dict()}, file)
    checkpoint, _ = _load(file)
    assert ("epoch", "7") in checkpoint.metadata and ("global_step", "70") in checkpoint.metadata


def test_full_model_pickle(tmp_path: Path) -> None:
    file = tmp_path / "full.pt"
    model = _model()
    torch.save(model, file)
    checkpoint, _ = _load(file)
    main = checkpoint.main
    assert checkpoint.kind == "full_model" and main is not None
    assert sorted(t.key for t in main.tensors) == sorted(model.state_dict())
    assert dict(main.class_names)["1"] == "torch.nn.modules.batchnorm.BatchNorm2d"


def test_dtypes_and_v3(tmp_path: Path) -> None:
    file = tmp_path / "d.pth"
    torch.save(
        {
            "h": torch.zeros(2, dtype=torch.float16),
            "b": torch.zeros(3, dtype=torch.bfloat16),
            "i": torch.zeros(4, dtype=torch.int8),
        },
        file,
    )
    checkpoint, _ = _load(file)
    assert {t.key: (t.dtype, t.itemsize) for t in checkpoint.main.tensors} == {
        "h": ("float16", 2),
        "b": ("bfloat16", 2),
        "i": ("int8", 1),
    }


def test_shared_storage_counted_once(tmp_path: Path) -> None:
    file = tmp_path / "tied.pth"
    w = torch.zeros(10, 4)
    torch.save({"emb.weight": w, "head.weight": w}, file)
    checkpoint, _ = _load(file)
    assert summarize(checkpoint.main.tensors).bytes == 160


def _drop_member(src: Path, dst: Path, suffix: str) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith(suffix):
                zout.writestr(info.filename, zin.read(info.filename))


def test_missing_storage_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "sd.pth"
    torch.save(_model().state_dict(), src)
    dst = tmp_path / "missing.pth"
    _drop_member(src, dst, "/data/0")
    _, findings = _load(dst)
    assert "storage-missing" in {f.rule_id for f in findings}


def test_short_storage_is_caught(tmp_path: Path) -> None:
    src = tmp_path / "sd.pth"
    torch.save(_model().state_dict(), src)
    dst = tmp_path / "short.pth"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, data[:8] if info.filename.endswith("/data/0") else data)
    _, findings = _load(dst)
    assert "storage-truncated" in {f.rule_id for f in findings}


def test_legacy_truncated_download(tmp_path: Path) -> None:
    src = tmp_path / "legacy.pt"
    torch.save(_model().state_dict(), src, _use_new_zipfile_serialization=False)
    data = src.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:-100])
    _, findings = _load(cut)
    assert {"storage-truncated", "storage-missing"} & {f.rule_id for f in findings}
