"""Stored tensors that fix a size, besides the layers' own weights.

- **Coordinate channels** (CoordConv, Liu et al., 2018): a module holding a constant map of
  shape ``(1, 1, H, 1)`` (or ``(1, 1, 1, W)``, ``(1, 1, H, W)``) whose convolution takes one
  channel more than the stream carries concatenates that map to its input, so the input
  has ``H`` rows (batdetect2's ``ConvBlockDownCoordF.coords``) and one channel less than
  the convolution reads.
- **A norm over another axis before the entry**: a ``BatchNorm2d(n)`` registered before a
  convolution of 1-4 input channels, with ``n`` not those channels, normalises the input's
  last axis (PANNs' ``bn0`` over 64 mel bins after ``x.transpose(1, 3)``; Kong et al.,
  2020), so that axis is ``n`` long.
- **A position table after a 1-d convolutional front end** (Whisper's ``embed_positions``
  of 1500 rows after two ``Conv1d``; Radford et al., 2022): the front end's output length
  equals the table's rows, and the solver walks it back to the input length.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pthforensics.core import InputGuess
from pthforensics.infer.chain import ChainLink

from .context import Entry, InputContext
from .fixed import fixed_guess, valid_of
from .hypotheses import hypotheses_of, undecided_note
from .solver import solve
from .solver_records import SolveContext, SpatialOp

__all__ = ["axis_norm", "coordinate_channels", "table_input", "with_coordinates"]

#: (channels the coordinate maps add, the size they fix per axis or ``None``).
Coordinates = tuple[int, tuple[int | None, ...], str]


def coordinate_channels(ctx: InputContext, first: ChainLink, d: int) -> Coordinates | None:
    """Constant maps held by the module around the entry convolution that it concatenates
    to its input (see the module docstring)."""
    parent = first.name.rpartition(".")[0]
    i = ctx.position.get(parent)
    if not parent or i is None or not first.in_dim:
        return None
    maps = [
        t
        for t in ctx.groups[i].tensors
        if len(t.shape) == d + 2 and t.shape[:2] == (1, 1) and max(t.shape[2:]) > 1
    ]
    if not maps or len(maps) >= first.in_dim:
        return None
    sizes = tuple(s if s > 1 else None for s in maps[0].shape[2:])
    why = (
        f"{maps[0].key} {tuple(maps[0].shape)} is a coordinate map concatenated to the "
        f"input of {first.name} (CoordConv): the input has {first.in_dim - len(maps)} "
        "channel(s) and "
        + ", ".join(f"{s} along axis {a}" for a, s in enumerate(sizes) if s is not None)
    )
    return len(maps), sizes, why


def with_coordinates(guess: InputGuess, coords: Coordinates) -> InputGuess:
    """The guess with the sizes the coordinate maps fix."""
    _, sizes, why = coords
    if guess.shape is None or len(guess.shape) != len(sizes) + 2:
        return replace(guess, evidence=(*guess.evidence, why))
    shape = list(guess.shape)
    for axis, size in enumerate(sizes):
        if size is not None:
            shape[2 + axis] = size
    valid: list[Any] = []
    listed = guess.valid_sizes or ()
    for axis, size in enumerate(sizes):
        if size is not None:
            valid.append((size,))
        elif listed and not all(isinstance(v, int) for v in listed):
            valid.append(tuple(listed[axis]))
        else:
            valid.append(tuple(listed) or (shape[2 + axis],))
    hyps = tuple(replace(h, shape=tuple(shape)) for h in guess.hypotheses[:1])
    return replace(
        guess,
        shape=tuple(shape),
        valid_sizes=tuple(valid),
        evidence=(guess.evidence[0], why, *guess.evidence[1:]),
        hypotheses=(*hyps, *guess.hypotheses[1:]),
    )


def table_input(
    ctx: InputContext,
    entry: Entry,
    ops: list[SpatialOp],
    head: ChainLink,
    sctx: SolveContext,
) -> InputGuess | None:
    """A 1-d front end whose output feeds a position table of its width: the table's rows
    are the output length; ``None`` when no table has that width."""
    width = next(
        (ctx.link[op.name].out_dim for op in reversed(ops) if op.name in ctx.link and op.kernel),
        None,
    )
    pos = ctx.pos_embedding(width) if width else None
    if pos is None:
        return None
    rows, prefix, name = pos
    tokens = rows - prefix
    solutions = solve(ops, [(((tokens, tokens),), 0.0)], sctx)
    if not solutions:
        return None
    hyps = hypotheses_of(solutions, ops, entry, valid_of)
    top = hyps[0]
    ev = [
        f"{entry.link.name} takes {entry.channels} channels: {entry.kind} input",
        f"{name} holds {rows} positions of width {width}: the convolutions' output is "
        f"{tokens} long; hypothesis: {top.name}",
    ]
    note = undecided_note(hyps)
    if note:
        ev.append(note)
    return fixed_guess(entry, hyps, solutions[0], ev)


def axis_norm(ctx: InputContext, first: ChainLink, d: int) -> Coordinates | None:
    """A 2-d batch norm registered just before the entry convolution whose width is not the
    input's channels: it normalises the last axis (see the module docstring)."""
    i = ctx.position.get(first.name)
    if i is None or d != 2 or not first.in_dim:
        return None
    before = [g for g in ctx.groups[:i] if g.tensors]
    if not before:
        return None
    guess = ctx.guesses.get(before[-1].name)
    n = guess.attrs.get("num_features") if guess is not None else None
    if guess is None or not guess.type.startswith("BatchNorm2d") or not isinstance(n, int):
        return None
    if n == first.in_dim or len(before) > 1:
        return None
    why = (
        f"{guess.name} ({guess.type}) of {n} features comes before {first.name}, which takes "
        f"{first.in_dim} channel(s): it normalises the input's last axis, {n} long"
    )
    return 0, (None, n), why
