"""The named family's documented input completes what the weights leave open."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pthforensics.core import (
    Architecture,
    ArchitectureStatus,
    InputGuess,
    InputKind,
    InputStatus,
    freeze,
)
from pthforensics.infer import with_convention


def _named(**convention: Any) -> Architecture:
    return Architecture(
        ArchitectureStatus.NAMED,
        library="timm",
        name="some_model",
        input_convention=freeze({"source": "timm pretrained_cfg x", **convention}),
    )


_FREE = InputGuess(
    InputStatus.FREE,
    InputKind.IMAGE,
    shape=(1, 3, 64, 64),
    valid_sizes=(32, 64, 224),
    min_size=32,
)


def test_fixed_input_size_makes_the_size_fixed() -> None:
    arch = _named(shape=[1, 3, 224, 224], fixed_input_size=True, kind="image")
    guess = with_convention(_FREE, arch)
    assert guess.status is InputStatus.FIXED
    assert guess.shape == (1, 3, 224, 224)
    assert guess.valid_sizes == (224,)
    assert guess.min_size is None
    assert any("fixed_input_size" in e for e in guess.evidence)


def test_a_non_square_documented_shape_gives_sizes_per_axis() -> None:
    arch = _named(shape=[1, 3, 256, 128], fixed_input_size=True)
    guess = with_convention(_FREE, arch)
    assert guess.valid_sizes == ((256,), (128,))


def test_a_free_size_takes_the_documented_shape_and_smallest_size() -> None:
    arch = _named(shape=[1, 3, 224, 224], min_size=[224, 224])
    guess = with_convention(_FREE, arch)
    assert guess.status is InputStatus.FREE
    assert guess.shape == (1, 3, 224, 224)
    assert guess.min_size == 224
    assert guess.valid_sizes == (224,)


def test_sizes_the_weights_fix_win_over_the_convention() -> None:
    fixed = InputGuess(InputStatus.FIXED, InputKind.IMAGE, shape=(1, 3, 32, 32), valid_sizes=(32,))
    guess = with_convention(fixed, _named(shape=[1, 3, 224, 224], fixed_input_size=True))
    assert (guess.status, guess.shape, guess.valid_sizes) == (
        InputStatus.FIXED,
        (1, 3, 32, 32),
        (32,),
    )
    assert "do not give" in guess.evidence[-1]
    agreeing = _with_sizes(fixed, (224, 225))
    said = with_convention(agreeing, _named(shape=[1, 3, 224, 224]))
    assert said.shape == agreeing.shape
    assert said.evidence[-1].endswith("it agrees")


def test_nothing_changes_without_a_named_documented_input() -> None:
    family = Architecture(
        ArchitectureStatus.FAMILY, input_convention=freeze({"shape": [1, 3, 224, 224]})
    )
    assert with_convention(_FREE, family) is _FREE
    assert with_convention(_FREE, None) is _FREE
    assert with_convention(_FREE, _named(mean=[0.5, 0.5, 0.5])) is _FREE


def _with_sizes(guess: InputGuess, sizes: tuple[int, ...]) -> InputGuess:
    return replace(guess, shape=(1, 3, sizes[0], sizes[0]), valid_sizes=sizes)


_UNKNOWN = InputGuess(
    InputStatus.UNKNOWN,
    InputKind.IMAGE,
    evidence=("1214 positions do not form a square grid",),
)


def test_an_unknown_input_takes_a_fixed_documented_shape_and_its_kind() -> None:
    # AST: the patch convolution reads an image, the model takes frames x mel bins
    how = "measured: forward runs on [1, 1024, 128] and raises on [1, 1056, 128]"
    arch = _named(
        shape=[1, 1024, 128], fixed_input_size=True, kind="sequence", fixed_input_size_source=how
    )
    guess = with_convention(_UNKNOWN, arch)
    assert (guess.status, guess.shape, guess.kind) == (
        InputStatus.FIXED,
        (1, 1024, 128),
        InputKind.SEQUENCE,
    )
    assert how in guess.evidence[-1] and guess.evidence[0] == _UNKNOWN.evidence[0]


def test_an_unknown_input_measured_free_becomes_free_at_the_documented_shape() -> None:
    arch = _named(shape=[1, 16000], fixed_input_size=False, kind="sequence")
    guess = with_convention(replace(_UNKNOWN, kind=InputKind.UNKNOWN), arch)
    assert (guess.status, guess.shape, guess.kind) == (
        InputStatus.FREE,
        (1, 16000),
        InputKind.SEQUENCE,
    )
    assert "the size is free" in guess.evidence[-1]


def test_an_unknown_input_without_a_measurement_stays_unknown_with_the_shape() -> None:
    guess = with_convention(_UNKNOWN, _named(shape=[1, 3, 224, 224], kind="image"))
    assert (guess.status, guess.shape, guess.kind) == (
        InputStatus.UNKNOWN,
        (1, 3, 224, 224),
        InputKind.IMAGE,
    )


def test_the_guess_keeps_its_kind_when_the_convention_has_none_valid() -> None:
    guess = with_convention(_FREE, _named(shape=[1, 3, 224, 224], kind="images"))
    assert guess.kind is InputKind.IMAGE


def test_an_audio_models_documented_input_lists_every_axis_after_the_batch() -> None:
    # AST's extractor gives [1, frames, mel bins]: no channel axis, both axes fixed
    arch = _named(shape=[1, 1024, 128], fixed_input_size=True, signal="features")
    guess = with_convention(_FREE, arch)
    assert (guess.status, guess.valid_sizes) == (InputStatus.FIXED, ((1024,), (128,)))
