"""The named family's documented input, where the weights leave the input open.

When :mod:`pthforensics.infer.signatures` names the constructor, its library documents the
input the model takes (``architecture.input_convention``: timm's ``pretrained_cfg``,
torchvision's transforms, ...).  Two facts there are not in the weights:

- ``fixed_input_size``: the model checks the input size in ``forward()`` (a Swin, a
  MaxViT or a ViT built for one resolution, AST's position table over 1024 frames), so
  the size is **fixed** at the documented shape even when no stored table fixes it
  (timm's ``pretrained_cfg`` says so; for torchvision and transformers audio models it
  is measured when the data is built, ``fixed_input_size_source`` saying how); measured
  ``false``, it makes an input the weights left unknown **free**;
- the documented ``shape``: one input the library's own transforms (or feature
  extractor) produce, a better answer than a size prior when the weights leave the size
  free or unknown, with the convention's ``kind`` when the weights read the input at
  another rank; and the documented smallest size (torchvision's ``min_size``), which
  bounds a free size.

The weights stay the first witness: a size they fix that the convention does not match is
kept, and the disagreement is said.  Pure: no torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pthforensics.core import (
    Architecture,
    ArchitectureStatus,
    InputGuess,
    InputKind,
    InputStatus,
    thaw,
)

__all__ = ["with_convention"]


def with_convention(guess: InputGuess, architecture: Architecture | None) -> InputGuess:
    """``guess`` completed by the named family's documented input (unchanged when the
    architecture is not named or documents no shape)."""
    convention = _convention(architecture)
    if convention is None or guess.status is InputStatus.SKIPPED:
        return guess
    shape = tuple(int(n) for n in convention["shape"])
    source = str(convention.get("source") or "the library's documented input")
    if guess.status is InputStatus.FIXED and guess.shape is not None:
        if _fits(shape, guess):
            return _with_evidence(guess, f"{source} documents {_dims(shape)}: it agrees")
        return _with_evidence(
            guess, f"{source} documents {_dims(shape)}, which the stored shapes do not give"
        )
    if convention.get("fixed_input_size") is True:
        how = convention.get("fixed_input_size_source")
        return replace(
            guess,
            status=InputStatus.FIXED,
            kind=_kind(guess, convention, shape),
            shape=shape,
            valid_sizes=_sizes(shape, convention),
            min_size=None,
            multiple_of=None,
            evidence=(
                *guess.evidence,
                f"{source}: fixed_input_size, the model checks its input is "
                f"{_dims(shape)} (not stored in the weights)" + (f"; {how}" if how else ""),
            ),
        )
    evidence = (*guess.evidence, f"shape {_dims(shape)}: the input {source} documents")
    if guess.status is InputStatus.UNKNOWN and convention.get("fixed_input_size") is False:
        # the weights left the input open; the library's measurement says other sizes run
        how = convention.get("fixed_input_size_source") or "not fixed_input_size"
        guess = replace(
            guess,
            status=InputStatus.FREE,
            valid_sizes=_sizes(shape, convention),
            evidence=(*evidence, f"{source}: the size is free ({how})"),
        )
        return replace(guess, kind=_kind(guess, convention, shape), shape=shape)
    documented = convention.get("min_size")
    if guess.status is InputStatus.FREE and isinstance(documented, list | tuple) and documented:
        smallest = min(int(n) for n in documented)
        if smallest > (guess.min_size or 0):
            evidence = (*evidence, f"{source}: smallest size {smallest}")
            guess = replace(
                guess,
                min_size=smallest,
                valid_sizes=_at_least(guess.valid_sizes, smallest, shape),
            )
    return replace(guess, kind=_kind(guess, convention, shape), shape=shape, evidence=evidence)


def _at_least(sizes: tuple[Any, ...] | None, smallest: int, shape: tuple[int, ...]) -> Any:
    """``valid_sizes`` without the sizes below the documented ``smallest`` (the documented
    shape's when none is left)."""
    if sizes is None or any(isinstance(s, tuple) for s in sizes):
        return sizes
    kept = tuple(n for n in sizes if isinstance(n, int) and n >= smallest)
    return kept or _sizes(shape)


def _convention(architecture: Architecture | None) -> dict[str, Any] | None:
    if architecture is None or architecture.status is not ArchitectureStatus.NAMED:
        return None
    if architecture.input_convention is None:
        return None
    convention = thaw(architecture.input_convention)
    shape = convention.get("shape")
    if not isinstance(shape, list | tuple) or not shape:
        return None
    if not all(isinstance(n, int) and n > 0 for n in shape):
        return None
    return convention


def _fits(shape: tuple[int, ...], guess: InputGuess) -> bool:
    """Whether the documented ``shape`` is among the sizes the weights fix."""
    if guess.shape is None or len(shape) != len(guess.shape):
        return False
    if guess.valid_sizes is None:
        return shape == guess.shape
    spatial = shape[2:] if len(shape) > 2 else shape[1:]
    sizes = guess.valid_sizes
    if sizes and all(isinstance(s, tuple) for s in sizes):
        return len(sizes) == len(spatial) and all(
            n in axis for n, axis in zip(spatial, sizes, strict=True)
        )
    return all(n in sizes for n in spatial)


def _sizes(shape: tuple[int, ...], convention: dict[str, Any] | None = None) -> tuple[Any, ...]:
    """``valid_sizes`` of one documented shape: one size shared by every spatial axis, or
    one per axis.  An audio model's documented input (``signal``: what its feature
    extractor gives, frames x mel bins for AST) has no channel axis: every axis after the
    batch is listed."""
    audio = convention is not None and bool(convention.get("signal"))
    spatial = shape[2:] if len(shape) > 2 and not audio else shape[1:]
    if len(set(spatial)) == 1:
        return (spatial[0],)
    return tuple((n,) for n in spatial)


def _kind(guess: InputGuess, convention: dict[str, Any], shape: tuple[int, ...]) -> InputKind:
    """The guess's kind, or the convention's when the guess has none or read the input
    with another rank (AST's patch convolution reads an image its forward makes from a
    frames x mel-bins spectrogram)."""
    try:
        documented = InputKind(str(convention.get("kind", "unknown")))
    except ValueError:
        documented = InputKind.UNKNOWN
    if guess.kind is InputKind.UNKNOWN:
        return documented
    same_rank = guess.shape is not None and len(guess.shape) == len(shape)
    return guess.kind if same_rank or documented is InputKind.UNKNOWN else documented


def _with_evidence(guess: InputGuess, sentence: str) -> InputGuess:
    return replace(guess, evidence=(*guess.evidence, sentence))


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"
