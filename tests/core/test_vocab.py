"""The torch vocabulary: one answer to "is this a parameter", checked against torch itself.

``scan`` (the tensor summary) and ``inspect`` (per-layer counts) must both give
``sum(p.numel() for p in model.parameters())``, buffers excluded, on the layers whose
buffers share names with parameters elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from pthforensics.core import TensorRecord
from pthforensics.core.vocab import (
    ITEM_SIZES,
    SAFETENSORS_DTYPES,
    STORAGE_DTYPES,
    buffer_keys,
    dtype_name,
    itemsize,
    learnable_keys,
)
from pthforensics.pipeline import analyze_file, inspect_file


def _spectral() -> nn.Module:
    return nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(3, 4, 3)), nn.Linear(4, 2))


def _weight_norm() -> nn.Module:
    return nn.Sequential(nn.utils.weight_norm(nn.Linear(5, 4)), nn.Linear(4, 2))


def _parametrized() -> nn.Module:
    return nn.Sequential(
        nn.utils.parametrizations.spectral_norm(nn.Linear(6, 5)),
        nn.utils.parametrizations.weight_norm(nn.Linear(5, 3)),
    )


def _norms() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(2, 4, 3),
        nn.BatchNorm1d(4),
        nn.InstanceNorm1d(4, affine=True, track_running_stats=True),
        nn.Flatten(),
        nn.LazyLinear(3),
    )


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch deprecates old weight_norm
@pytest.mark.parametrize(
    "build",
    [_spectral, _weight_norm, _parametrized, _norms],
    ids=["spectral_norm", "weight_norm", "parametrize", "norm_buffers"],
)
def test_scan_and_inspect_count_what_torch_counts(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = build()
    if any(isinstance(m, nn.LazyLinear) for m in model.modules()):
        model(torch.zeros(1, 2, 8))
    truth = sum(p.numel() for p in model.parameters())
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path)
    scanned = analyze_file(str(path))
    assert scanned.tensors is not None
    assert scanned.tensors.parameters == truth
    inspected = inspect_file(str(path), trace=False)
    assert inspected.layers is not None
    assert sum(g.parameters for g in inspected.layers) == truth


def test_weight_v_is_a_buffer_only_beside_weight_orig() -> None:
    keys = ["a.weight_orig", "a.weight_u", "a.weight_v", "b.weight_g", "b.weight_v", "weight_v"]
    assert buffer_keys(keys) == {"a.weight_u", "a.weight_v"}


def test_full_model_flags_decide() -> None:
    tensors = [
        TensorRecord("w", (2, 2), "float32", is_parameter=True),
        TensorRecord("frozen_bn.weight", (2,), "float32"),
        TensorRecord("running_mean", (2,), "float32"),
    ]
    assert learnable_keys(tensors) == {"w"}
    assert learnable_keys(tensors[1:]) == {"frozen_bn.weight"}


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_tables_agree_with_torch() -> None:
    for name, size in ITEM_SIZES.items():
        dtype = getattr(torch, name, None)
        if isinstance(dtype, torch.dtype):
            assert dtype.itemsize == size, name
    for alias in ("float", "half", "double", "long", "int", "short", "cfloat", "cdouble"):
        assert str(getattr(torch, alias)) == f"torch.{dtype_name(alias)}"
    for storage, dtype in STORAGE_DTYPES.items():
        cls = getattr(torch, storage, None)
        if cls is not None and storage != "UntypedStorage":
            assert str(cls(0).dtype) == f"torch.{dtype}", storage
    for torch_name, _bits in SAFETENSORS_DTYPES.values():
        assert torch_name == "float6" or itemsize(torch_name) >= 1
