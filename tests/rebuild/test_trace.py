"""trace_model: running the rebuilt model on dummy inputs; what it confirms and refutes."""

from __future__ import annotations

import time

import pytest
from torch import nn

from pthforensics.core import (
    InputGuess,
    InputKind,
    InputStatus,
    RebuildInfo,
    RebuildPart,
    TraceError,
    TraceResult,
    TraceStatus,
)
from pthforensics.rebuild import REBUILD_ATTR, rebuild_sequential, trace_model
from tests._helpers import to_state
from tests._models import analyse_state, build, real_error


def traced(
    name: str, *, input_shape: tuple[int, ...] | None = None, device: str = "meta"
) -> tuple[nn.Module, str, InputGuess, TraceResult]:
    model, _ = build(name)
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    module, note = rebuild_sequential(groups, guesses, guess, state)
    return module, note, guess, trace_model(module, guess, input_shape=input_shape, device=device)


@pytest.mark.parametrize("name", ["lenet_seq", "cifar_net", "audio_m5", "text_lstm", "mlp"])
def test_chain_models_are_confirmed(name: str) -> None:
    _, _, guess, result = traced(name)
    assert result.status == TraceStatus.CONFIRMED, result.detail
    assert result.input_shape == guess.shape
    assert result.tried[0] == (guess.shape, "ok")


@pytest.mark.parametrize("name", ["resnet_like", "unet_tiny", "tiny_vit", "tiny_gpt"])
def test_partial_rebuilds_are_partial(name: str) -> None:
    _, _, _, result = traced(name)
    assert result.status == TraceStatus.PARTIAL, result.detail
    assert result.layers


def test_resnet_prefix_runs_the_guessed_shape_which_the_real_model_accepts() -> None:
    model, _ = build("resnet_like")
    _, note, guess, result = traced("resnet_like")
    assert note.endswith("a branch at layer2.0.downsample.0")
    assert result.layers[0].name == "conv1"
    assert guess.shape is not None and result.layers[0].input_shape == guess.shape
    assert real_error(model, guess.shape) is None


@pytest.mark.parametrize("name", ["tiny_vit", "tv_vit_b_16", "timm_vit_small"])
def test_vit_prefix_checks_the_position_table(name: str) -> None:
    """Patch convolution + class token + position table: the guessed size makes exactly
    the stored number of tokens, a wrong size fails on the addition."""
    module, note, guess, result = traced(name)
    assert "meet the position table" in note
    assert result.status == TraceStatus.PARTIAL and result.tried[0][1] == "ok"
    tokens = next(layer for layer in result.layers if layer.type == "Tokens")
    assert guess.shape is not None
    n = (guess.shape[-1] // 16 if name != "tiny_vit" else 4) ** 2 + 1
    assert tokens.output_shape is not None and tokens.output_shape[1] == n
    wrong = trace_model(module, guess, input_shape=(1, 3, 2 * guess.shape[-1], 2 * guess.shape[-1]))
    assert wrong.status == TraceStatus.REFUTED


def test_trace_records_every_leaf_in_order() -> None:
    _, _, _, result = traced("lenet_seq")
    names = [(layer.name, layer.type) for layer in result.layers]
    assert names[0] == ("features.0", "Conv2d")
    assert ("features.2", "MaxPool2d") in names
    assert names[-1] == ("classifier.5", "Linear")
    flat = next(layer for layer in result.layers if layer.name == "classifier.1")
    assert flat.input_shape == (1, 400)


def test_fixed_input_sweep_shows_the_edge_the_real_model_has() -> None:
    """The sweep runs the guess, the ends of valid_sizes and one past them; the real
    model fails one past the end too."""
    model, _ = build("cifar_net")
    _, _, guess, result = traced("cifar_net")
    assert guess.valid_sizes and guess.shape is not None
    top = max(guess.valid_sizes)
    ends = {(1, 3, s, s) for s in (min(guess.valid_sizes), top)} - {guess.shape}
    assert [s for s, _ in result.tried] == [guess.shape, *sorted(ends), (1, 3, top + 1, top + 1)]
    assert result.tried[-1][1].startswith("RuntimeError")
    assert "fails as expected" in result.detail
    assert real_error(model, (1, 3, top + 1, top + 1)) is not None


def test_user_shape() -> None:
    _, _, _, wrong = traced("cifar_net", input_shape=(1, 3, 64, 64))
    assert wrong.status == TraceStatus.REFUTED
    assert wrong.tried == (((1, 3, 64, 64), wrong.tried[0][1]),)
    assert "RuntimeError" in wrong.tried[0][1]
    _, _, _, right = traced("cifar_net", input_shape=(1, 3, 33, 33))
    assert right.status == TraceStatus.CONFIRMED and right.output_shape == (1, 10)


def test_user_shape_on_a_head_only_rebuild() -> None:
    _, note, _, result = traced("tiny_gpt", input_shape=(1, 8))
    assert note.startswith("head only")
    assert result.status == TraceStatus.PARTIAL
    assert "cannot be checked" in result.detail
    assert [msg == "ok" for _, msg in result.tried] == [False, True]


def test_refuted_guess_reports_what_runs() -> None:
    module, _, _, _ = traced("mlp")
    bad = InputGuess(InputStatus.FIXED, InputKind.VECTOR, (1, 21), (21, 20), "float32")
    object.__setattr__(module, REBUILD_ATTR, RebuildInfo(RebuildPart.WHOLE, (1, 21)))
    result = trace_model(module, bad)
    assert result.status == TraceStatus.REFUTED
    assert result.tried[0][1] != "ok"
    assert result.detail.startswith("[1, 21] fails: RuntimeError")


def test_skipped_without_a_shape() -> None:
    result = trace_model(nn.Linear(2, 2), InputGuess(InputStatus.UNKNOWN))
    assert result.status == TraceStatus.SKIPPED and "input" in result.detail


def test_trace_error_for_a_non_module() -> None:
    with pytest.raises(TraceError):
        trace_model("not a module", InputGuess(InputStatus.FIXED, shape=(1, 2)))  # type: ignore[arg-type]


def test_trace_error_for_an_unusable_device() -> None:
    module, _, guess, _ = traced("mlp")
    with pytest.raises(TraceError, match="cannot use device"):
        trace_model(module, guess, device="no-such-device")


def test_cpu_device_for_small_models() -> None:
    _, _, _, result = traced("mlp", device="cpu")
    assert result.status == TraceStatus.CONFIRMED and result.output_shape == (1, 3)


def test_large_checkpoint_is_fast() -> None:
    """BERT-base (110 M parameters, 440 MB of float32) from groups to trace in seconds."""
    model, _ = build("hf_bert_base_cls")
    state = to_state(model.state_dict())
    start = time.perf_counter()
    groups, guesses, guess = analyse_state(state)
    module, _ = rebuild_sequential(groups, guesses, guess, state)
    result = trace_model(module, guess)
    elapsed = time.perf_counter() - start
    assert sum(t.nbytes for t in state.tensors) > 350_000_000
    assert result.status == TraceStatus.PARTIAL
    assert elapsed < 5.0
