"""The one vocabulary of layer types, checked against torch.nn's own classes."""

from __future__ import annotations

import pytest
from torch import nn

from pthforensics.infer import LayerFamily, layer_type
from pthforensics.infer.layer_types import FAMILY_TABLE

F = LayerFamily


def nn_classes(base: type[nn.Module]) -> list[str]:
    return sorted(
        n
        for n in dir(nn)
        if isinstance(getattr(nn, n), type)
        and issubclass(getattr(nn, n), base)
        and getattr(nn, n) is not base
    )


@pytest.mark.parametrize(
    ("base", "family"),
    [
        (nn.modules.conv._ConvNd, None),  # Conv*d and ConvTranspose*d, told apart below
        (nn.modules.batchnorm._BatchNorm, F.BATCH_NORM),
        (nn.modules.instancenorm._InstanceNorm, F.INSTANCE_NORM),
        (nn.RNNBase, None),
        (nn.RNNCellBase, None),
    ],
)
def test_torch_classes_get_their_family(base: type[nn.Module], family: LayerFamily | None) -> None:
    names = [n for n in nn_classes(base) if not n.startswith(("Lazy", "Sync"))]
    assert names
    for name in names:
        lt = layer_type(name)
        if base is nn.modules.conv._ConvNd:
            expected = F.CONV_TRANSPOSE if "Transpose" in name else F.CONV
            assert (lt.family, lt.conv_dims) == (expected, int(name[-2])), name
        elif base in (nn.RNNBase, nn.RNNCellBase):
            expected = F.RNN if base is nn.RNNBase else F.RNN_CELL
            assert lt.family is expected and lt.is_recurrent and lt.reads_sequence, name
        else:
            assert lt.family is family, name
            assert lt.dims == int(name[-2]) and lt.passes_through, name


def test_pools_by_kind_and_dimension() -> None:
    for name in nn_classes(nn.Module):
        if "Pool" not in name or "Unpool" in name:
            continue
        lt = layer_type(name)
        expected = F.ADAPTIVE_POOL if name.startswith("Adaptive") else F.POOL
        assert lt.family is expected, name
        assert lt.dims == int(name[-2]) and not lt.conv_dims, name


def test_linear_like_and_the_transposed_linear_of_gpt2() -> None:
    for name in ("Linear", "Bilinear", "LazyLinear", "NonDynamicallyQuantizableLinear", "Conv1D"):
        lt = layer_type(name)
        assert lt.is_linear and not lt.conv_dims and not lt.passes_through, name


@pytest.mark.parametrize(
    ("name", "family", "dims"),
    [
        ("LayerNorm", F.LAYER_NORM, 0),
        ("LayerNorm2d", F.LAYER_NORM, 2),
        ("GroupNorm", F.GROUP_NORM, 0),
        ("RMSNorm", F.RMS_NORM, 0),
        ("PReLU", F.PRELU, 0),
        ("Embedding", F.EMBEDDING, 0),
        ("EmbeddingBag", F.EMBEDDING, 0),
        ("MultiheadAttention", F.ATTENTION, 0),
        ("Upsample", F.UPSAMPLE, 0),
        ("Flatten", F.FLATTEN, 0),
        ("Softmax", F.SOFTMAX, 0),
        ("ReLU", F.ELEMENTWISE, 0),
        ("DropPath", F.ELEMENTWISE, 0),
        ("Dropout2d", F.ELEMENTWISE, 2),
        ("Conv2dSame", F.CONV, 0),  # a Conv class without a dimension suffix
        ("VisionTransformer", F.OTHER, 0),
        ("unknown", F.OTHER, 0),
    ],
)
def test_named_types(name: str, family: LayerFamily, dims: int) -> None:
    lt = layer_type(name)
    assert (lt.family, lt.dims) == (family, dims)


def test_norms_and_prelu_pass_maps_through_and_nothing_else_does() -> None:
    for name in ("BatchNorm2d", "InstanceNorm1d", "GroupNorm", "LayerNorm", "RMSNorm"):
        assert layer_type(name).passes_through and layer_type(name).is_norm
    for name in ("ReLU", "Linear", "Conv2d", "MaxPool2d"):
        assert not layer_type(name).passes_through


def test_every_table_row_has_a_source_and_is_reachable() -> None:
    for pattern, family, source in FAMILY_TABLE:
        assert source.strip(), pattern.pattern
        assert family is not F.OTHER
