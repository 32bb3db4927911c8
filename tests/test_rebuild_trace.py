"""rebuild_sequential + trace_model: chain models are confirmed, others partly rebuilt.

Everything runs on the meta device: the checkpoint's tensor shapes are loaded strictly
into the rebuilt modules and no weight value exists.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from pthforensics import infer
from pthforensics.core import (
    InputGuess,
    RebuildError,
    RebuildInfo,
    StateDict,
    TensorRecord,
    TraceError,
)
from pthforensics.rebuild.build import REBUILD_ATTR, rebuild_sequential
from pthforensics.rebuild.trace import trace_model
from pthforensics.structure.layers import group_layers
from tests._helpers import to_state

MODELS_DIR = Path(__file__).resolve().parent.parent / "corpus" / "models"
sys.path.insert(0, str(MODELS_DIR))
import generate_models as gm  # type: ignore[import-not-found]  # noqa: E402
import zoo  # type: ignore[import-not-found]  # noqa: E402

CHAINS = [
    "lenet_seq",
    "mnist_net",
    "cifar_net",
    "keras_style_cnn",
    "atari_dqn",
    "vgg_like",
    "mobilenet_like",
    "audio_m5",
    "video_c3d",
    "dcgan_generator",
    "norm_zoo",
    "text_lstm",
    "text_gru",
    "mlp",
]
NOT_CHAINS = {
    "resnet_like": "prefix",
    "unet_tiny": "prefix",
    "tiny_vit": "prefix",
    "tiny_gpt": "head",
}
ZOO_CHAINS = [
    "tv_mobilenet_v2",
    "tv_efficientnet_b0",
    "tv_alexnet",
    "cifar_cnn",
    "lenet5_padded",
    "ecg_net",
    "char_rnn",
    "fixed_len_text",
    "sensor_lstm_flat",
]


def inspect(
    model: nn.Module, *, sort: bool = False, input_shape: tuple[int, ...] | None = None
) -> tuple[nn.Module, str, InputGuess, Any, StateDict]:
    state = to_state(model.state_dict(), sort=sort, metadata=not sort)
    groups = group_layers(state)
    guesses = infer.infer_layers(groups)
    guess = infer.infer_input(groups, guesses)
    module, note = rebuild_sequential(groups, guesses, guess, state)
    return module, note, guess, trace_model(module, guess, input_shape=input_shape), state


@functools.cache
def build(name: str) -> tuple[nn.Module, dict[str, Any]]:
    built: tuple[nn.Module, dict[str, Any]] = (
        zoo.build_zoo(name) if name in zoo.ZOO else gm.build(name)
    )
    return built


@pytest.mark.parametrize("sort", [False, True], ids=["metadata", "sorted"])
@pytest.mark.parametrize("name", CHAINS + ZOO_CHAINS)
def test_chain_models_are_confirmed(name: str, sort: bool) -> None:
    model, truth = build(name)
    module, note, guess, result, state = inspect(model, sort=sort)
    assert note == "whole model is a chain"
    assert result.status == "confirmed", result.detail
    assert result.input_shape == guess.shape
    assert list(result.output_shape or ()) == truth["output_shape"]
    assert result.tried[0] == (guess.shape, "ok")
    # every checkpoint tensor was loaded (strict) into the rebuilt modules, on meta
    assert len(list(module.state_dict())) == len(state.tensors)
    assert all(p.device.type == "meta" for p in module.parameters())


@pytest.mark.parametrize("name", sorted(NOT_CHAINS))
def test_other_models_are_partly_rebuilt(name: str) -> None:
    model, _ = build(name)
    module, note, _, result, _ = inspect(model)
    info = getattr(module, REBUILD_ATTR)
    assert isinstance(info, RebuildInfo)
    assert info.part == NOT_CHAINS[name]
    assert note.startswith(("prefix up to", "head only")) and " at " in note
    assert result.status == "partial", result.detail
    assert result.layers


def test_resnet_prefix_stops_at_the_downsample_branch() -> None:
    model, _ = build("resnet_like")
    _, note, _, result, _ = inspect(model)
    assert note.endswith("a branch at layer2.0.downsample.0")
    assert result.layers[0].name == "conv1"
    assert result.layers[0].input_shape == (1, 3, 224, 224)


@pytest.mark.parametrize("name", ["tiny_vit", "tv_vit_b_16", "timm_vit_small"])
def test_vit_prefix_checks_the_position_table(name: str) -> None:
    """Patch convolution + class token + position table: the guessed size makes exactly
    the stored number of tokens, a wrong size fails on the addition."""
    model, _ = build(name)
    module, note, guess, result, _ = inspect(model)
    assert "meet the position table" in note
    assert result.status == "partial" and result.tried[0][1] == "ok"
    tokens = next(layer for layer in result.layers if layer.type == "Tokens")
    assert guess.shape is not None
    n = (guess.shape[-1] // 16 if name != "tiny_vit" else 4) ** 2 + 1
    assert tokens.output_shape is not None and tokens.output_shape[1] == n
    wrong = trace_model(module, guess, input_shape=(1, 3, 2 * guess.shape[-1], 2 * guess.shape[-1]))
    assert wrong.status == "refuted"


def test_trace_records_every_leaf_in_order() -> None:
    model, _ = build("lenet_seq")
    _, _, _, result, _ = inspect(model)
    names = [(layer.name, layer.type) for layer in result.layers]
    assert names[0] == ("features.0", "Conv2d")
    assert ("features.2", "MaxPool2d") in names
    assert names[-1] == ("classifier.5", "Linear")
    flat = next(layer for layer in result.layers if layer.name == "classifier.1")
    assert flat.input_shape == (1, 400)


def test_fixed_input_sweep_shows_the_edge() -> None:
    model, _ = build("cifar_net")
    _, _, _, result, _ = inspect(model)
    assert [s for s, _ in result.tried] == [(1, 3, 32, 32), (1, 3, 35, 35), (1, 3, 36, 36)]
    assert result.tried[-1][1].startswith("RuntimeError")
    assert "fails as expected" in result.detail


def test_user_shape() -> None:
    model, _ = build("cifar_net")
    _, _, _, wrong, _ = inspect(model, input_shape=(1, 3, 64, 64))
    assert wrong.status == "refuted"
    assert wrong.tried == (((1, 3, 64, 64), wrong.tried[0][1]),)
    assert "RuntimeError" in wrong.tried[0][1]
    _, _, _, right, _ = inspect(model, input_shape=(1, 3, 33, 33))
    assert right.status == "confirmed" and right.output_shape == (1, 10)


def test_user_shape_on_a_head_only_rebuild() -> None:
    model, _ = build("tiny_gpt")
    _, note, _, result, _ = inspect(model, input_shape=(1, 8))
    assert note.startswith("head only")
    assert result.status == "partial"
    assert "cannot be checked" in result.detail
    assert [msg == "ok" for _, msg in result.tried] == [False, True]


def test_refuted_guess_reports_what_runs() -> None:
    model, _ = build("mlp")
    module, _, _, _, _ = inspect(model)
    bad = InputGuess("fixed", "vector", (1, 21), (21, 20), "float32")
    object.__setattr__(module, REBUILD_ATTR, RebuildInfo("whole", (1, 21)))
    result = trace_model(module, bad)
    assert result.status == "refuted"
    assert result.tried[0][1] != "ok"


def test_skipped_without_a_shape() -> None:
    result = trace_model(nn.Linear(2, 2), InputGuess("unknown"))
    assert result.status == "skipped" and "input" in result.detail


def test_trace_error_for_a_non_module() -> None:
    with pytest.raises(TraceError):
        trace_model("not a module", InputGuess("fixed", shape=(1, 2)))  # type: ignore[arg-type]


def test_cpu_device_for_small_models() -> None:
    model, _ = build("mlp")
    state = to_state(model.state_dict())
    groups = group_layers(state)
    guesses = infer.infer_layers(groups)
    guess = infer.infer_input(groups, guesses)
    module, _ = rebuild_sequential(groups, guesses, guess, state)
    result = trace_model(module, guess, device="cpu")
    assert result.status == "confirmed" and result.output_shape == (1, 3)


def test_rebuild_error_when_nothing_is_typed() -> None:
    state = StateDict("", (TensorRecord("cls_token", (1, 1, 8), "float32"),))
    groups = group_layers(state)
    guesses = infer.infer_layers(groups)
    with pytest.raises(RebuildError, match="nothing to rebuild"):
        rebuild_sequential(groups, guesses, infer.infer_input(groups, guesses), state)


def test_half_precision_checkpoint() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    ).to(torch.bfloat16)
    module, _, guess, result, _ = inspect(model)
    assert guess.dtype == "bfloat16"
    assert result.status == "confirmed"
    assert next(module.parameters()).dtype == torch.bfloat16


def test_weight_norm_conv_is_rebuilt() -> None:
    model = nn.Sequential(
        nn.utils.parametrizations.weight_norm(nn.Conv1d(1, 4, 5)),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    _, _, _, result, _ = inspect(model)
    assert result.status == "confirmed"


def test_large_checkpoint_is_fast() -> None:
    """BERT-base (110 M parameters, 440 MB of float32) from groups to trace in seconds."""
    model, _ = build("hf_bert_base_cls")
    start = time.perf_counter()
    _, _, _, result, state = inspect(model)
    elapsed = time.perf_counter() - start
    assert sum(t.nbytes for t in state.tensors) > 350_000_000
    assert result.status == "partial"
    assert elapsed < 5.0


def test_rebuild_is_importable_without_loading_torch_at_import() -> None:
    import pthforensics.rebuild.build as rebuild_module

    assert "torch" not in rebuild_module.__dict__
