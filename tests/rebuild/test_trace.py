"""trace_model / trace_input: running the rebuilt model on dummy inputs; what a run
confirms, what it only shows consistent with the rebuild's own hypothesis, and what it
refutes."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from torch import nn

from pthforensics.core import (
    InputGuess,
    InputHypothesis,
    InputKind,
    InputStatus,
    RebuildInfo,
    RebuildPart,
    TraceError,
    TraceResult,
    TraceStatus,
)
from pthforensics.rebuild import REBUILD_ATTR, rebuild_model, trace_input, trace_model
from tests._helpers import to_state
from tests._models import analyse_state, build, gm, hypothesis_with_truth, real_error, zoo


def traced(
    name: str, *, input_shape: tuple[int, ...] | None = None, device: str = "meta"
) -> tuple[nn.Module, InputGuess, TraceResult]:
    model, _ = build(name)
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    module = rebuild_model(groups, guesses, guess, state)
    return module, guess, trace_model(module, guess, input_shape=input_shape, device=device)


@pytest.mark.parametrize("name", ["mlp", "text_lstm", "text_gru", "tiny_gpt", "encoder_prenorm"])
def test_models_with_nothing_assumed_are_confirmed(name: str) -> None:
    """Linear/RNN/attention models store every size that decides their input."""
    module, guess, result = traced(name)
    assert result.status == TraceStatus.CONFIRMED, result.detail
    assert result.input_shape == guess.shape and result.tried[0] == (guess.shape, "ok")
    assert not getattr(module, REBUILD_ATTR).assumptions and not result.assumptions


@pytest.mark.parametrize("name", ["lenet_seq", "cifar_net", "atari_dqn", "resnet_like", "tiny_vit"])
def test_a_rebuild_confirming_its_own_hypothesis_is_never_confirmed(name: str) -> None:
    """The input was solved under the padding/stride/pool hypothesis the rebuild embeds:
    that it runs only shows the two agree."""
    module, guess, result = traced(name)
    info = getattr(module, REBUILD_ATTR)
    assert info.part == RebuildPart.WHOLE and result.tried[0] == (guess.shape, "ok")
    assert result.status == TraceStatus.PARTIAL
    assert "not confirmed" in result.detail and info.assumptions
    assert result.assumptions == info.assumptions
    # even a shape of the user's own is only as sure as the hypothesis it runs under
    _, _, user = traced(name, input_shape=guess.shape)
    assert user.status == TraceStatus.PARTIAL and "given shape" in user.detail


MODELS = sorted({*gm.BUILDERS, *gm.STRUCTURES, *zoo.ZOO} - {"hf_llama"})


@pytest.mark.parametrize("name", MODELS)
def test_confirmed_means_whole_loaded_nothing_assumed_and_the_real_model_runs_it(
    name: str,
) -> None:
    model, _ = build(name)
    module, guess, result = traced(name)
    info = getattr(module, REBUILD_ATTR)
    if result.status == TraceStatus.CONFIRMED:
        assert info.part == RebuildPart.WHOLE and not info.assumptions and not info.unused
        assert result.input_shape is not None
        assert real_error(model, result.input_shape, guess.dtype) is None
    assert result.status != TraceStatus.SKIPPED


def test_layers_whose_sizes_are_assumed_are_marked() -> None:
    _, _, result = traced("resnet_like")
    marked = {layer.name: layer.hypothetical for layer in result.layers}
    assert marked["conv1"] and marked["layer1.0.conv1"] and marked["fc<flatten"]
    assert not marked["bn1"] and not marked["fc"]


def test_per_layer_shapes_follow_the_hypothesis_strides() -> None:
    """Nature DQN (8x8/4, 4x4/2, 3x3/1 on 84x84): each layer's map is the one its
    stride gives, as in the real model."""
    model, _ = build("atari_dqn")
    _, _, result = traced("atari_dqn")
    sizes = {layer.name: layer.output_shape for layer in result.layers}
    assert sizes["conv1"] == (1, 8, 20, 20)
    assert sizes["conv2"] == (1, 16, 9, 9)
    assert sizes["conv3"] == (1, 16, 7, 7)
    assert real_error(model, (1, 4, 84, 84)) is None


def test_trace_records_every_leaf_in_order() -> None:
    _, _, result = traced("lenet_seq")
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
    _, guess, result = traced("cifar_net")
    assert guess.valid_sizes and guess.shape is not None
    top = max(guess.valid_sizes)
    ends = {(1, 3, s, s) for s in (min(guess.valid_sizes), top)} - {guess.shape}
    assert [s for s, _ in result.tried] == [guess.shape, *sorted(ends), (1, 3, top + 1, top + 1)]
    assert result.tried[-1][1].startswith("RuntimeError")
    assert "fails as expected" in result.detail
    assert real_error(model, (1, 3, top + 1, top + 1)) is not None


def test_user_shape_that_fails_is_refuted_with_the_error_and_where() -> None:
    _, _, wrong = traced("cifar_net", input_shape=(1, 3, 64, 64))
    assert wrong.status == TraceStatus.REFUTED
    assert wrong.tried == (((1, 3, 64, 64), wrong.tried[0][1]),)
    assert "RuntimeError" in wrong.tried[0][1] and "(at fc1" in wrong.detail
    _, _, right = traced("cifar_net", input_shape=(1, 3, 33, 33))
    assert right.status == TraceStatus.PARTIAL and right.output_shape == (1, 10)


def test_a_position_table_refutes_too_many_tokens() -> None:
    _, _, result = traced("tiny_gpt", input_shape=(1, 65))
    assert result.status == TraceStatus.REFUTED and "IndexError" in result.detail


def test_refuted_guess_reports_what_runs() -> None:
    module, _, _ = traced("mlp")
    bad = InputGuess(InputStatus.FIXED, InputKind.VECTOR, (1, 21), (21, 20), "float32")
    object.__setattr__(module, REBUILD_ATTR, RebuildInfo(RebuildPart.WHOLE, (1, 21)))
    result = trace_model(module, bad)
    assert result.status == TraceStatus.REFUTED
    assert result.tried[0][1] != "ok"
    assert result.detail.startswith("[1, 21] fails: RuntimeError")


def test_every_hypothesis_is_traced_and_reported() -> None:
    """LeNet's stored shapes fit padding 2 at 28x28 and no padding at 32x32: both run,
    each at its own size; a hypothesis whose size fails is reported refuted."""
    model, _ = build("lenet_seq")
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    said = ("paddings and pools",)
    padded = InputHypothesis("padding 2", guess.plan, guess.shape, guess.valid_sizes, 0.0,
                             assumptions=said)  # fmt: skip
    valid = tuple((m, t, (("padding", 0), ("stride", 1))) if t == "Conv2d" else (m, t, a)
                  for m, t, a in guess.plan)  # fmt: skip
    unpadded = InputHypothesis("no padding", valid, (1, 1, 32, 32), (32, 33), 1.0,
                               assumptions=said)  # fmt: skip
    wrong = InputHypothesis("no padding at 28", valid, (1, 1, 28, 28), (28,), 2.0,
                            assumptions=said)  # fmt: skip
    guess = replace(guess, hypotheses=(padded, unpadded, wrong))
    result = trace_input(groups, guesses, guess, state)
    assert [(n, s) for n, s, _ in result.hypotheses] == [
        ("padding 2", TraceStatus.PARTIAL),
        ("no padding", TraceStatus.PARTIAL),
        ("no padding at 28", TraceStatus.REFUTED),
    ]
    assert result.input_shape == guess.shape
    assert real_error(model, (1, 1, 28, 28)) is None


def test_a_hypothesis_claiming_to_assume_nothing_is_not_believed_for_a_state_dict() -> None:
    """A state_dict stores no padding or stride: a plan setting them is assumed whatever
    the hypothesis says, so the trace is not confirmed."""
    model, _ = build("lenet_seq")
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    bold = InputHypothesis("bold", guess.plan, guess.shape, guess.valid_sizes)
    result = trace_input(groups, guesses, replace(guess, hypotheses=(bold,)), state)
    assert result.status == TraceStatus.PARTIAL and result.assumptions


def test_skipped_without_a_shape() -> None:
    result = trace_model(nn.Linear(2, 2), InputGuess(InputStatus.UNKNOWN))
    assert result.status == TraceStatus.SKIPPED and "input" in result.detail


def test_trace_error_for_a_non_module() -> None:
    with pytest.raises(TraceError):
        trace_model("not a module", InputGuess(InputStatus.FIXED, shape=(1, 2)))  # type: ignore[arg-type]


def test_trace_error_for_an_unusable_device() -> None:
    module, guess, _ = traced("mlp")
    with pytest.raises(TraceError, match="cannot use device"):
        trace_model(module, guess, device="no-such-device")


def test_cpu_device_for_small_models() -> None:
    _, _, result = traced("mlp", device="cpu")
    assert result.status == TraceStatus.CONFIRMED and result.output_shape == (1, 3)


def test_large_checkpoint_is_fast() -> None:
    """BERT-base (110 M parameters, 440 MB of float32) from groups to trace in seconds."""
    model, _ = build("hf_bert_base_cls")
    state = to_state(model.state_dict())
    start = time.perf_counter()
    groups, guesses, guess = analyse_state(state)
    result = trace_input(groups, guesses, guess, state)
    elapsed = time.perf_counter() - start
    assert sum(t.nbytes for t in state.tensors) > 350_000_000
    assert result.status == TraceStatus.CONFIRMED and result.part == RebuildPart.WHOLE
    assert elapsed < 5.0


def test_a_failing_guess_in_an_assumed_rebuild_is_not_refuted() -> None:
    """The best hypothesis's own size fails under its own plan: that hypothesis is
    refuted, but the input is not (the rebuild rests on paddings and pools the file does
    not store): the trace is partial and says why; the real model takes the shape that
    ran under the other hypothesis."""
    model, _ = build("lenet_seq")
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    said = ("paddings and pools",)
    valid = tuple((m, t, (("padding", 0), ("stride", 1))) if t == "Conv2d" else (m, t, a)
                  for m, t, a in guess.plan)  # fmt: skip
    wrong = InputHypothesis("no padding at 28", valid, (1, 1, 28, 28), (28,), 0.0,
                            assumptions=said)  # fmt: skip
    unpadded = InputHypothesis("no padding", valid, (1, 1, 32, 32), (32, 33), 1.0,
                               assumptions=said)  # fmt: skip
    result = trace_input(groups, guesses, replace(guess, hypotheses=(wrong, unpadded)), state)
    assert [(n, s) for n, s, _ in result.hypotheses] == [
        ("no padding at 28", TraceStatus.REFUTED),
        ("no padding", TraceStatus.PARTIAL),
    ]
    assert result.status == TraceStatus.PARTIAL and result.tried[0][1] != "ok"
    assert "not refuted" in result.detail and "runs under: no padding" in result.detail
    # a shape of the user's own that fails is still refuted, with PyTorch's error
    user = trace_input(groups, guesses, replace(guess, hypotheses=(wrong,)), state,
                       input_shape=(1, 1, 28, 28))  # fmt: skip
    assert user.status == TraceStatus.REFUTED and "RuntimeError" in user.detail


class _ChannelLengthNorm(nn.Module):
    """SincNet's front: a LayerNorm over a Conv1d's [C, L] as it is, channels first."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5)
        self.ln = nn.LayerNorm([4, 60])
        self.fc = nn.Linear(240, 3)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.fc(self.ln(self.conv(x)).flatten(1))


def test_a_layernorm_over_channels_and_steps_reads_the_map_as_it_is() -> None:
    model = _ChannelLengthNorm()
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    result = trace_input(groups, guesses, guess, state)
    assert result.input_shape is not None and real_error(model, result.input_shape) is None
    assert result.tried[0][1] == "ok" and result.output_shape == (1, 3), result.detail
    ln = next(layer for layer in result.layers if layer.name == "ln")
    assert ln.input_shape == (1, 4, 60)


def test_a_sequence_sweep_changes_the_axis_the_valid_sizes_are_on() -> None:
    """[N, 1, 48] read by a LayerNorm([1, 48]) then a Conv1d: the guess runs, and the sweep
    goes one past the length (not the channels), where the real model fails too."""
    model, truth = build("layernorm_front")
    _, guess, result = traced("layernorm_front")
    assert guess.shape == tuple(truth["input_shape"]) and result.tried[0][1] == "ok"
    past = result.tried[-1][0]
    assert past[:2] == guess.shape[:2] and past[2] == max(guess.valid_sizes or ()) + 1
    assert result.tried[-1][1] != "ok" and real_error(model, past) is not None


@pytest.mark.parametrize("name", ["column_signal", "tiny_detector"])
def test_an_input_the_hypothesis_lays_out_is_unflattened_before_the_first_module(
    name: str,
) -> None:
    """Frames [N, L] that forward() makes [N, 1, L, 1] (CREPE), one [C, H, W] image a
    detector batches: the hypothesis's '-<module>' step runs as an added Unflatten, so
    the true input runs through the rebuild from the first module on (it was a head-only
    trace before); the real model takes that input."""
    model, truth = build(name)
    state = to_state(model.state_dict())
    groups, guesses, guess = analyse_state(state)
    rank = hypothesis_with_truth(guess, tuple(truth["input_shape"]))
    assert rank is not None
    h = guess.hypotheses[rank]
    one = replace(guess, shape=h.shape, valid_sizes=h.valid_sizes, plan=h.plan, hypotheses=(h,))
    result = trace_input(groups, guesses, one, state, input_shape=tuple(truth["input_shape"]))
    assert result.part in (RebuildPart.WHOLE, RebuildPart.PREFIX) and result.tried[0][1] == "ok"
    first = result.layers[0]
    assert first.type == "Unflatten" and first.hypothetical
    assert first.input_shape == tuple(truth["input_shape"])
    step = next(attrs for module, type_, attrs in h.plan if module.startswith("-"))
    dim, sizes = dict(step)["dim"], tuple(dict(step)["unflattened_size"])
    shape = first.input_shape
    assert first.output_shape == (*shape[:dim], *sizes, *shape[dim + 1 :])
    if name == "column_signal":
        assert result.part is RebuildPart.WHOLE
        assert result.output_shape == tuple(truth["output_shape"])
    assert real_error(model, tuple(truth["input_shape"])) is None
