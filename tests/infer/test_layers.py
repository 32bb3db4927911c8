"""infer_layers against models of known architecture: types, attributes, parameters."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest
import torch
from torch import nn

from pthforensics import infer
from pthforensics.core import InferenceError, LayerGuess, StateDict, TensorRecord
from tests._helpers import to_state
from tests._models import NAMEABLE, analyse, analyse_state, build, gm, zoo


def type_misses(guesses: tuple[LayerGuess, ...], truth: dict[str, str]) -> list[tuple[str, ...]]:
    """(module, guessed, true) for every module owning tensors whose type is nameable."""
    return [
        (g.name, g.type, truth[g.name])
        for g in guesses
        if g.tensor_keys and truth.get(g.name) in NAMEABLE and g.type != truth[g.name]
    ]


def owners(guesses: tuple[LayerGuess, ...], truth: dict[str, str]) -> int:
    return sum(1 for g in guesses if g.tensor_keys and truth.get(g.name) in NAMEABLE)


# --- the small reference models --------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(gm.BUILDERS))
def reference(request: pytest.FixtureRequest) -> tuple[str, nn.Module, dict[str, Any]]:
    model, truth = build(request.param)
    return request.param, model, truth


def test_types_with_metadata(reference: tuple[str, nn.Module, dict[str, Any]]) -> None:
    _, model, truth = reference
    _, guesses, _ = analyse(model)
    assert type_misses(guesses, truth["layers"]) == []
    assert all(0.0 <= g.confidence <= 1.0 and g.evidence for g in guesses)


def test_types_from_sorted_keys(reference: tuple[str, nn.Module, dict[str, Any]]) -> None:
    """Without _metadata an affine InstanceNorm looks like a GroupNorm; nothing else moves."""
    name, model, truth = reference
    _, guesses, _ = analyse(model, sort=True, metadata=False)
    misses = type_misses(guesses, truth["layers"])
    allowed = [("norm2", "GroupNorm", "InstanceNorm2d")] if name == "norm_zoo" else []
    assert misses == allowed


def test_parameter_counts(reference: tuple[str, nn.Module, dict[str, Any]]) -> None:
    """Learnable elements only (running stats, counters excluded), like torchinfo."""
    _, model, _ = reference
    _, guesses, _ = analyse(model)
    assert sum(g.parameters for g in guesses) == sum(p.numel() for p in model.parameters())


# --- replicas of real zoos (meta device) ---------------------------------------------------


@pytest.fixture(scope="module", params=sorted(zoo.ZOO))
def replica(request: pytest.FixtureRequest) -> tuple[str, nn.Module, dict[str, Any]]:
    model, truth = build(request.param)
    return request.param, model, truth


@pytest.mark.parametrize("sort", [False, True], ids=["metadata", "sorted"])
def test_zoo_replica_types(replica: tuple[str, nn.Module, dict[str, Any]], sort: bool) -> None:
    name, model, truth = replica
    _, guesses, _ = analyse(model, sort=sort, metadata=not sort)
    misses = type_misses(guesses, truth["layers"])
    if sort and name == "tv_densenet121":
        # pre-activation blocks (norm before conv) cannot be told from sorted names
        assert len(misses) <= 0.3 * owners(guesses, truth["layers"])
    else:
        assert misses == []


def test_zoo_type_accuracy_overall() -> None:
    """Over every module owning tensors (custom containers included): >= 97%."""
    total = right = 0
    for name in zoo.ZOO:
        model, truth = build(name)
        _, guesses, _ = analyse(model)
        for g in guesses:
            if g.tensor_keys:
                total += 1
                right += g.type == truth["layers"].get(g.name)
    assert right / total >= 0.97


# --- specific layouts -----------------------------------------------------------------------


def attrs_of(model: nn.Module, name: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    _, guesses, _ = analyse(model, **kw)
    g = next(g for g in guesses if g.name == name)
    return g.type, g.attrs


def test_lstm_attributes() -> None:
    lstm = nn.LSTM(8, 16, num_layers=3, bidirectional=True, proj_size=4)
    t, a = attrs_of(nn.Sequential(nn.Embedding(10, 8), lstm), "1")
    assert t == "LSTM"
    assert a == {
        "input_size": 8,
        "hidden_size": 16,
        "bias": True,
        "num_layers": 3,
        "bidirectional": True,
        "proj_size": 4,
    }


@pytest.mark.parametrize(
    ("cell", "gates"), [(nn.RNNCell, "RNNCell"), (nn.GRUCell, "GRUCell"), (nn.LSTMCell, "LSTMCell")]
)
def test_cells(cell: type[nn.Module], gates: str) -> None:
    t, a = attrs_of(nn.Sequential(cell(6, 10)), "0")
    assert t == gates and a["input_size"] == 6 and a["hidden_size"] == 10


def test_rnn_and_gru() -> None:
    assert attrs_of(nn.Sequential(nn.RNN(4, 8)), "0")[0] == "RNN"
    t, a = attrs_of(nn.Sequential(nn.GRU(4, 8, bias=False)), "0")
    assert t == "GRU" and a["bias"] is False and a["bidirectional"] is False


def test_recurrent_weights_with_an_impossible_gate_count_are_unknown() -> None:
    """weight_hh rows must be 1/3/4 x hidden (RNN/GRU/LSTM); 2 x hidden is none of them."""
    tensors = (
        TensorRecord("rnn.weight_ih_l0", (16, 4), "float32"),
        TensorRecord("rnn.weight_hh_l0", (16, 8), "float32"),
    )
    _, guesses, _ = analyse_state(StateDict("", tensors))
    assert (guesses[0].type, guesses[0].confidence) == ("unknown", 0.2)


def test_multihead_attention_variants() -> None:
    t, a = attrs_of(nn.Sequential(nn.MultiheadAttention(16, 4)), "0")
    assert t == "MultiheadAttention" and a["embed_dim"] == 16
    t, a = attrs_of(
        nn.Sequential(nn.MultiheadAttention(16, 2, kdim=8, vdim=6, add_bias_kv=True)), "0"
    )
    assert (a["kdim"], a["vdim"], a["add_bias_kv"]) == (8, 6, True)
    assert (
        attrs_of(nn.Sequential(nn.MultiheadAttention(16, 4)), "0.out_proj")[0]
        == "NonDynamicallyQuantizableLinear"
    )


def test_convtranspose_told_apart_by_bias_and_chain() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ConvTranspose2d(8, 4, 3, groups=2), nn.Conv2d(4, 4, 3)
    )
    t, a = attrs_of(model, "1")
    assert t == "ConvTranspose2d"
    assert (a["in_channels"], a["out_channels"], a["groups"]) == (8, 4, 2)
    model = nn.Sequential(
        nn.Conv3d(3, 8, 3), nn.ConvTranspose3d(8, 4, 2, bias=False), nn.BatchNorm3d(4)
    )
    assert attrs_of(model, "1")[0] == "ConvTranspose3d"
    assert attrs_of(model, "2")[0] == "BatchNorm3d"


def test_convtranspose_named_like_an_upsampling_layer() -> None:
    """Without bias and without neighbours, only the name speaks for ConvTranspose."""
    model = nn.Sequential()
    model.add_module("deconv", nn.ConvTranspose2d(8, 4, 4, bias=False))
    assert attrs_of(model, "deconv")[0] == "ConvTranspose2d"
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(8, 4, 4, bias=False))
    assert attrs_of(model, "conv")[0] == "Conv2d"


def test_grouped_and_depthwise_convolutions() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3),
        nn.BatchNorm2d(32),
        nn.Conv2d(32, 32, 3, groups=32),
        nn.Conv2d(32, 64, 1),
        nn.Conv2d(64, 128, 3, groups=8),
    )
    assert attrs_of(model, "2")[1]["groups"] == 32
    assert attrs_of(model, "3")[1]["groups"] == 1
    _, a = attrs_of(model, "4")
    assert (a["in_channels"], a["groups"]) == (64, 8)


def test_batchnorm_dimension_from_neighbours() -> None:
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6)
    )
    assert attrs_of(model, "1")[0] == "BatchNorm1d"
    assert attrs_of(model, "4")[0] == "BatchNorm1d"
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, affine=False))
    t, a = attrs_of(model, "1")
    assert t == "BatchNorm2d" and a["affine"] is False


def test_norms_and_activations() -> None:
    model = nn.Sequential(
        nn.Linear(4, 8),
        nn.LayerNorm(8),
        nn.Linear(8, 8),
        nn.RMSNorm(8),
        nn.LayerNorm((2, 4)),
        nn.PReLU(),
    )
    types = [g.type for g in analyse(model)[1]]
    assert types == ["Linear", "LayerNorm", "Linear", "RMSNorm", "LayerNorm", "PReLU"]
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.GroupNorm(2, 8),
        nn.Conv2d(8, 8, 3),
        nn.InstanceNorm2d(8, affine=True),
        nn.Conv2d(8, 8, 3),
        nn.PReLU(8),
    )
    types = [g.type for g in analyse(model)[1]]
    assert types == ["Conv2d", "GroupNorm", "Conv2d", "InstanceNorm2d", "Conv2d", "PReLU"]


class _Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class _ConformerConv(nn.Module):
    """A Conformer convolution module (Gulati et al., 2020) as torchfcpe writes it:
    LayerNorm over channels-last frames, transposes, pointwise/depthwise Conv1d."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            _Transpose(),
            nn.Conv1d(dim, 2 * dim, 1),
            nn.GLU(dim=1),
            nn.Conv1d(dim, dim, 7, padding=3, groups=dim),
            nn.SiLU(),
            nn.Conv1d(dim, dim, 1),
            _Transpose(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _ConformerLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conformer = _ConformerConv(dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.norm(x + self.conformer(x)))


class _ConformerTagger(nn.Module):
    """A frame tagger: a Conv1d/GroupNorm front end, conformer layers on channels-last
    frames, a final LayerNorm and a frame-wise Linear (torchfcpe's CFNaiveMelPE layout)."""

    def __init__(self, mels: int = 16, dim: int = 12, layers: int = 3) -> None:
        super().__init__()
        self.input_stack = nn.Sequential(
            nn.Conv1d(mels, dim, 3, padding=1),
            nn.GroupNorm(4, dim),
            nn.LeakyReLU(),
            nn.Conv1d(dim, dim, 3, padding=1),
        )
        self.encoder_layers = nn.ModuleList(_ConformerLayer(dim) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.output_proj = nn.Linear(dim, 5)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.input_stack(mel.transpose(1, 2)).transpose(1, 2)
        for layer in self.encoder_layers:
            x = layer(x)
        return self.output_proj(self.norm(x))


def _norm_types(model: nn.Module, **kw: Any) -> dict[str, str]:
    return {g.name: g.type for g in analyse(model, **kw)[1] if g.type in ("GroupNorm", "LayerNorm")}


def test_norms_sharing_a_stream_or_a_block_place_share_their_type() -> None:
    """Each conformer layer's pre-norm follows the previous layer's post-norm with no
    layer between (one tensor); the post-norms of sibling layers share a class with the
    last one, which a Linear reads: every conformer norm is a LayerNorm; the front end's
    norm between two convolutions stays a GroupNorm.  (Sorted keys lose the adjacency:
    only the ``_metadata`` order is checked.)"""
    model = _ConformerTagger()
    truth = {n: type(m).__name__ for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    truth["input_stack.1"] = "GroupNorm"
    assert _norm_types(model) == truth


class _TimeResBlock(nn.Module):
    """A diffusion ResBlock: GroupNorm, conv, a time-embedding Linear, GroupNorm, conv."""

    def __init__(self, ch: int = 16, temb: int = 24) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(4, ch)
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, ch)
        self.norm2 = nn.GroupNorm(4, ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)


class _DownsampleAfterLinear(nn.Module):
    """HF ConvNeXt: a block ending in a Linear (pwconv2), then a channels-first
    LayerNorm and a 2x2 strided convolution downsampling the map."""

    def __init__(self, ch: int = 8) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(ch, ch, 7, padding=3, groups=ch)
        self.layernorm = nn.LayerNorm(ch)
        self.pwconv1 = nn.Linear(ch, 4 * ch)
        self.pwconv2 = nn.Linear(4 * ch, ch)
        self.down_norm = nn.LayerNorm(ch)
        self.down_conv = nn.Conv2d(ch, 2 * ch, 2, stride=2)


def test_a_norm_reading_a_chain_linear_is_a_layernorm_a_side_projection_says_nothing() -> None:
    assert _norm_types(_DownsampleAfterLinear())["down_norm"] == "LayerNorm"
    types = _norm_types(_TimeResBlock())
    assert types == {"norm1": "GroupNorm", "norm2": "GroupNorm"}


def test_convnext_norms_outside_blocks_are_layernorm2d() -> None:
    """torchvision ConvNeXt: stem/downsample norms are LayerNorm2d, block norms LayerNorm."""
    model, truth = build("tv_convnext_tiny")
    _, guesses, _ = analyse(model, sort=True, metadata=False)
    types = {g.name: g.type for g in guesses}
    norm2d = [n for n, t in truth["layers"].items() if t == "LayerNorm2d"]
    assert norm2d and all(types[n] == "LayerNorm2d" for n in norm2d)
    assert types["features.1.0.block.2"] == truth["layers"]["features.1.0.block.2"] == "LayerNorm"


def test_embeddings_and_bilinear() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok_embeddings = nn.Embedding(100, 8)
            self.embedding_bag = nn.EmbeddingBag(50, 8)
            self.bilinear = nn.Bilinear(8, 6, 4)

    _, guesses, _ = analyse(M())
    assert [g.type for g in guesses] == ["Embedding", "EmbeddingBag", "Bilinear"]
    assert guesses[0].attrs == {"num_embeddings": 100, "embedding_dim": 8}


def test_weight_norm_parametrization() -> None:
    model = nn.Sequential(nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 4, 3)))
    _, guesses, _ = analyse(model)
    assert guesses[0].type == "Conv2d"
    assert guesses[0].attrs["out_channels"] == 4
    assert any("weight_norm" in e for e in guesses[0].evidence)


def test_gpt2_conv1d() -> None:
    model, _ = build("hf_gpt2")
    _, guesses, _ = analyse(model)
    g = next(g for g in guesses if g.name == "transformer.h.0.attn.c_attn")
    assert g.type == "Conv1D" and (g.attrs["nx"], g.attrs["nf"]) == (768, 2304)
    assert next(g for g in guesses if g.name == "transformer.h.0.attn.c_proj").type == "Conv1D"


def test_class_names_win() -> None:
    sd = nn.Sequential(nn.Linear(4, 4), nn.ReLU()).state_dict()
    classes = (("0", "mylib.layers.FancyLinear"), ("1", "torch.nn.modules.activation.GELU"))
    _, guesses, _ = analyse_state(to_state(sd, class_names=classes))
    assert [(g.name, g.type, g.confidence) for g in guesses] == [
        ("0", "FancyLinear", 1.0),
        ("1", "GELU", 1.0),
    ]
    assert guesses[0].attrs["in_features"] == 4


def test_bare_parameters_get_roles_and_a_low_confidence_class() -> None:
    model, _ = build("tiny_vit")
    _, guesses, _ = analyse(model)
    root = next(g for g in guesses if g.name == "")
    assert root.type == "VisionTransformer" and root.confidence < 0.5  # timm layout
    assert any("class/extra token" in e for e in root.evidence)
    assert root.attrs["num_positions"] == 17 and root.attrs["prefix_tokens"] == 1
    assert root.parameters == 18 * 32


def test_unrecognised_bare_parameters_are_unknown() -> None:
    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.temperature = nn.Parameter(torch.ones(1))
            self.fc = nn.Linear(4, 2)

    root = analyse(Custom())[1][0]
    assert (root.name, root.type, root.confidence) == ("", "unknown", 0.2)


def test_parameterless_rows_only_with_a_real_guess() -> None:
    model = nn.Sequential()
    model.add_module("conv", nn.Conv2d(3, 4, 3))
    model.add_module("relu", nn.ReLU())
    model.add_module("1", nn.Tanh())
    model.add_module("maxpool", nn.MaxPool2d(2))
    names = {g.name: g.type for g in analyse(model)[1]}
    assert names == {"conv": "Conv2d", "relu": "ReLU", "maxpool": "MaxPool2d"}


def test_parameterless_pools_take_the_dimension_of_the_convolution_before() -> None:
    model = nn.Sequential()
    model.add_module("conv", nn.Conv1d(1, 4, 3))
    model.add_module("maxpool", nn.MaxPool1d(2))
    model.add_module("conv3d", nn.Conv3d(4, 4, 3))
    model.add_module("pool", nn.MaxPool3d(2))
    names = {g.name: g.type for g in analyse(model)[1]}
    assert (names["maxpool"], names["pool"]) == ("MaxPool1d", "MaxPool3d")


# --- robustness ------------------------------------------------------------------------------


def test_random_shapes_never_crash() -> None:
    rng = random.Random(7)
    leaves = [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "weight_ih_l0",
        "weight_hh_l0",
        "in_proj_weight",
        "cls_token",
        "pos_embed",
        "weight_hr_l0",
    ]
    for _ in range(300):
        tensors = []
        for m in range(rng.randint(1, 6)):
            for leaf in rng.sample(leaves, rng.randint(1, 3)):
                shape = tuple(rng.choice([0, 1, 2, 3, 4, 12, 64]) for _ in range(rng.randint(0, 5)))
                tensors.append(
                    TensorRecord(
                        f"m{m}.{leaf}", shape, rng.choice(["float32", "int64", "bfloat16"])
                    )
                )
        with contextlib.suppress(InferenceError):
            analyse_state(StateDict("", tuple(tensors)))


def test_layer_dims_reads_attributes() -> None:
    lstm = LayerGuess(
        "l", "LSTM", (("input_size", 8), ("hidden_size", 16), ("bidirectional", True))
    )
    assert infer.layer_dims(lstm) == (8, 32)
    emb = LayerGuess("e", "Embedding", (("num_embeddings", 10), ("embedding_dim", 4)))
    assert infer.layer_dims(emb) == (None, 4)
    assert infer.layer_dims(LayerGuess("u", "unknown", (("in_features", 3),))) == (None, None)
