"""group_layers: module grouping, registration order, parameter-less modules.

State dicts are built with torch.nn (trusted, in memory) and turned into the records the
tensors stage produces; no file is read.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pthforensics.core import StateDict, TensorRecord
from pthforensics.structure import group_layers, module_and_leaf, natural_module_key
from tests._helpers import to_state


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, 4))
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)
        )
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(12)])
        self.fc = nn.Linear(4, 2)


def _names(groups: Any) -> list[str]:
    return [g.name for g in groups]


def test_module_and_leaf() -> None:
    assert module_and_leaf("features.0.weight") == ("features.0", "weight")
    assert module_and_leaf("cls_token") == ("", "cls_token")
    assert module_and_leaf("conv.parametrizations.weight.original0") == (
        "conv",
        "parametrizations.weight.original0",
    )
    assert module_and_leaf("rnn.weight_ih_l0_reverse") == ("rnn", "weight_ih_l0_reverse")


def test_metadata_order_and_parameterless_modules() -> None:
    groups = group_layers(to_state(Net().state_dict()))
    names = _names(groups)
    assert names[:6] == ["", "features.0", "features.1", "features.2", "features.3", "features.4"]
    assert names[6:18] == [f"layers.{i}" for i in range(12)]
    assert names[-1] == "fc"
    by = {g.name: g for g in groups}
    assert by["features.1"].tensors == () and by["features.1"].source == "metadata"
    assert by["features.4"].version == 2  # BatchNorm: _NormBase._version
    assert by[""].has_children and not by["fc"].has_children
    assert "features" not in by  # containers owning nothing are left out
    assert [g.index for g in groups] == list(range(len(groups)))
    assert all(g.order == "metadata" for g in groups)


def test_groups_partition_the_keys() -> None:
    state = to_state(Net().state_dict())
    groups = group_layers(state)
    keys = [t.key for g in groups for t in g.tensors]
    assert sorted(keys) == sorted(t.key for t in state.tensors)
    assert len(keys) == len(set(keys))


def test_sorted_keys_get_natural_order() -> None:
    """safetensors sorts keys: layers.10 before layers.2, bn1 before conv1, fc before
    layer1.  Without _metadata the natural order is restored."""

    class ResNetish(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3)
            self.bn1 = nn.BatchNorm2d(4)
            self.layer1 = nn.Sequential(*[nn.Conv2d(4, 4, 3) for _ in range(11)])
            self.layer2 = nn.Sequential(nn.Conv2d(4, 4, 3))
            self.fc = nn.Linear(4, 2)

    state = to_state(ResNetish().state_dict(), sort=True, metadata=False)
    assert state.tensors[0].key.startswith("bn1")  # really sorted
    groups = group_layers(state)
    names = _names(groups)
    assert names[:2] == ["conv1", "bn1"]
    assert names[2:13] == [f"layer1.{i}" for i in range(11)]
    assert names[13:] == ["layer2.0", "fc"]
    assert all(g.order == "restored" for g in groups)


def test_sorted_per_dtype_runs_count_as_sorted() -> None:
    """safetensors writes int64 counters first, then float32, each run sorted by name."""
    sd = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4)
    ).state_dict()
    items = sorted(sd.items(), key=lambda kv: (kv[1].dtype != torch.int64, kv[0]))
    tensors = tuple(
        TensorRecord(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in items
    )
    names = _names(group_layers(StateDict("", tensors)))
    assert names == ["0", "1", "2", "3"]


def test_transformer_block_order_restored() -> None:
    keys = [
        "layers.0.attn.weight",
        "layers.0.mlp.weight",
        "layers.0.norm1.weight",
        "layers.0.norm2.weight",
        "norm.weight",
        "lm_head.weight",
        "embed_tokens.weight",
    ]
    tensors = tuple(TensorRecord(k, (4, 4), "float32") for k in sorted(keys))
    names = _names(group_layers(StateDict("", tensors)))
    assert names == [
        "embed_tokens",
        "layers.0.norm1",
        "layers.0.attn",
        "layers.0.norm2",
        "layers.0.mlp",
        "norm",
        "lm_head",
    ]


def test_root_output_is_a_head_outside_blocks() -> None:
    """``output`` ranks late inside a BERT layer but is a head at the root of a LeNet."""
    tensors = tuple(
        TensorRecord(k, (4, 4), "float32")
        for k in sorted(["c1.weight", "c3.weight", "f5.weight", "output.weight"])
    )
    assert _names(group_layers(StateDict("", tensors))) == ["c1", "c3", "f5", "output"]


def test_index_gaps_without_metadata() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    groups = group_layers(to_state(model.state_dict(), metadata=False))
    assert _names(groups) == ["0", "1", "2", "3", "4", "5"]
    assert [g.source for g in groups] == [
        "tensors",
        "index-gap",
        "index-gap",
        "tensors",
        "index-gap",
        "tensors",
    ]
    assert all(g.order == "stored" for g in groups)


def test_parametrizations_belong_to_their_module() -> None:
    conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 4, 3))
    model = nn.Sequential(conv, nn.ReLU())
    groups = group_layers(to_state(model.state_dict()))
    assert _names(groups) == ["0", "1"]
    leaves = sorted(t.key for t in groups[0].tensors)
    assert leaves == [
        "0.bias",
        "0.parametrizations.weight.original0",
        "0.parametrizations.weight.original1",
    ]


def test_metadata_with_stripped_wrapper_prefix() -> None:
    """DataParallel: keys lost ``module.`` but the _metadata paths still carry it."""
    sd = nn.DataParallel(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))).state_dict()
    tensors = tuple(
        TensorRecord(k.removeprefix("module."), tuple(v.shape), "float32") for k, v in sd.items()
    )
    versions = tuple((k, v.get("version")) for k, v in sd._metadata.items())  # type: ignore[attr-defined]
    state = StateDict("", tensors, stripped_prefixes=("module.",), module_versions=versions)
    groups = group_layers(state)
    assert _names(groups) == ["0", "1", "2"]
    assert groups[1].source == "metadata"


def test_class_names_give_parameterless_modules() -> None:
    classes = (
        ("0", "torch.nn.modules.conv.Conv2d"),
        ("1", "torch.nn.modules.activation.ReLU"),
        ("2", "torch.nn.modules.linear.Linear"),
    )
    tensors = (
        TensorRecord("0.weight", (4, 3, 3, 3), "float32"),
        TensorRecord("2.weight", (2, 4), "float32"),
    )
    groups = group_layers(StateDict("", tensors, class_names=classes))
    assert _names(groups) == ["0", "1", "2"]
    assert groups[1].class_name == "torch.nn.modules.activation.ReLU"


def test_natural_key_orders_numbers_and_roles() -> None:
    paths = ["layer10", "layer2", "bn1", "conv1", "fc", "conv2", "bn2"]
    assert sorted(paths, key=natural_module_key) == [
        "conv1",
        "bn1",
        "conv2",
        "bn2",
        "layer2",
        "layer10",
        "fc",
    ]


def test_empty_state() -> None:
    assert group_layers(StateDict("", ())) == ()
