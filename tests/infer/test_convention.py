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
