"""A convolution reads the input: an image, a signal, a volume or embedded tokens.

The head after the convolutions decides the rule: a patch embedding feeding a position
table (:mod:`.patches`), a flatten head (:mod:`.fixed`), global pooling or none at all
(:mod:`.free`; unless the last convolution scores the whole remaining map,
:mod:`.scorer`), or a recurrent layer reading the map as a sequence (a CRNN: the height is
solved, the width is time).  The solution is then laid out as the model's ``forward()``
most likely takes it (:mod:`.layouts`): a one-channel ``Conv2d`` whose kernels all have
width 1 reads a signal reshaped to ``[N, 1, L, 1]``; a flatten head feeding an RNN runs
per frame.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace

from pthforensics.core import InputGuess, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.knowledge import AUX_HEAD_NAME, DETECTOR_HEADS, WAVEFORM_ENCODER_NAME
from pthforensics.infer.layer_types import layer_type

from .clues import axis_norm, coordinate_channels, table_input, with_coordinates
from .context import Entry, InputContext
from .fixed import fixed_input, grid_input, valid_of
from .free import free_input
from .head_pool import head_pool_input
from .hypotheses import hypotheses_of
from .layouts import TEXT_LINE, image_list, per_frame, signal_layout, waveform_layout
from .maps import find_head, spatial_ops
from .patches import attention_grid, axis_tables, patch_input, window_mask_grid
from .scorer import scorer_input
from .setting import solve_context
from .solver import solve
from .solver_records import SolveContext, SpatialOp

__all__ = ["spatial_input"]

_KINDS = {1: InputKind.SEQUENCE, 2: InputKind.IMAGE, 3: InputKind.VOLUME}
_UNBOUNDED = 10**6


def spatial_input(
    ctx: InputContext, first: ChainLink, d: int, entry: Entry | None = None
) -> InputGuess:
    """The input of the convolution ``first`` (``entry`` overrides what it reads: the
    embedded tokens of a character CNN)."""
    entry = entry or Entry(first, d, _KINDS[d], first.in_dim or 1, ctx.dtype(first.name))
    coords = coordinate_channels(ctx, first, d) or axis_norm(ctx, first, d)
    if coords is not None:
        entry = replace(entry, channels=max(1, entry.channels - coords[0]))
    head = find_head(ctx, first)
    ops = spatial_ops(ctx, first, head)
    sctx = solve_context(ctx, entry, ops)
    if d == 1 and head is not None:
        table = table_input(ctx, entry, ops, head, sctx)
        if table is not None:
            return table
    axes = axis_tables(ctx, first, d)
    if axes is not None:
        return grid_input(entry, ops, axes[0], sctx, axes[1])
    vit = patch_input(ctx, entry)
    if vit is not None:
        return vit
    detector = _detector(ctx) if d == 2 and entry.kind is InputKind.IMAGE else None
    if detector is not None:
        return image_list(free_input(ctx, entry, ops, None, [], sctx), first.name, detector)
    signal = entry.kind is InputKind.IMAGE and entry.channels == 1 and sum(sctx.active) == 1
    if signal:
        entry = replace(entry, kind=InputKind.SEQUENCE)
        sctx = replace(sctx, kind=InputKind.SEQUENCE)
    guess = _by_head(ctx, entry, ops, head, sctx)
    if signal:
        guess = signal_layout(guess, sctx.active)
    elif d == 1 and entry.channels == 1 and WAVEFORM_ENCODER_NAME.matches(first.name.lower()):
        guess = waveform_layout(guess, WAVEFORM_ENCODER_NAME.meaning)
    if head is not None and guess.status is InputStatus.FIXED and _feeds_recurrent(ctx, head):
        guess = per_frame(ctx, guess, head, entry)
    if coords is not None:
        guess = with_coordinates(guess, coords)
    return guess


def _by_head(
    ctx: InputContext,
    entry: Entry,
    ops: list[SpatialOp],
    head: ChainLink | None,
    sctx: SolveContext,
) -> InputGuess:
    if head is None:
        ev = [
            "no Linear after the convolutions: fully convolutional, any size "
            "above the minimum works"
        ]
        free = free_input(ctx, entry, ops, None, ev, sctx)
        return scorer_input(ctx, entry, ops, sctx, free) or free
    if layer_type(head.type).reads_sequence:
        return _crnn(entry, ops, head, sctx)
    if head.relation is Relation.POOL or (head.in_dim == head.channels):
        grid = attention_grid(ctx, head) or window_mask_grid(ctx, head)
        if grid is not None:
            return grid_input(entry, ops, (grid[0],) * entry.dims, sctx, grid[1])
        ev = [
            f"{head.name} takes {head.in_dim} = the channels of the last "
            "convolution: global pooling before the head, so the size is free"
        ]
        return head_pool_input(ctx, entry, ops, head, sctx, ev)
    if head.relation is Relation.FLATTEN and head.in_dim:
        return fixed_input(entry, ops, head, sctx)
    concat = _concatenated(ctx, head)
    if concat:
        ev = [
            f"{head.name} takes {head.in_dim} = the concatenated channels of "
            f"{', '.join(concat[:4])}{'...' if len(concat) > 4 else ''}: global pooling "
            "of the last block's branches before the head, so the size is free"
        ]
        return free_input(ctx, entry, ops, head, ev, sctx)
    return _unknown(
        entry,
        f"{head.name} takes {head.in_dim} features, which is no multiple of the "
        f"{head.channels} channels before it: the path to the head is not a chain",
    )


def _detector(ctx: InputContext) -> str | None:
    """The modules marking a torchvision detector (:data:`DETECTOR_HEADS`), or ``None``."""
    names = [g.name for g in ctx.groups if g.name]
    for patterns in DETECTOR_HEADS:
        found = [next((n for n in names if p.search(n)), None) for p in patterns]
        if all(found):
            return " and ".join(f"{n.rsplit('.', 1)[0]}" for n in found if n)
    return None


_CONCAT_WINDOW = 12
"""Convolutions before the head whose outputs may be concatenated (an Inception block has
four branches, each ending in one convolution)."""


def _concatenated(ctx: InputContext, head: ChainLink) -> tuple[str, ...]:
    """Convolutions just before ``head`` (auxiliary classifiers left out) whose outputs
    sum to its ``in_features``: the branches of an Inception block, concatenated and
    pooled (torchvision googlenet.py, inception.py)."""
    target = head.in_dim or 0
    convs = [
        lk
        for lk in ctx.links[: ctx.links.index(head)]
        if layer_type(lk.type).conv_dims and lk.out_dim and not AUX_HEAD_NAME.matches(lk.name)
    ][-_CONCAT_WINDOW:]
    reach: dict[int, tuple[str, ...]] = {0: ()}
    for lk in reversed(convs):
        for total, names in list(reach.items()):
            s = total + (lk.out_dim or 0)
            if s <= target and s not in reach:
                reach[s] = (lk.name, *names)
        if target in reach and len(reach[target]) > 1:
            return reach[target]
    return ()


def _feeds_recurrent(ctx: InputContext, head: ChainLink) -> bool:
    """The flatten head's output is read by a recurrent layer: the convolutions run once
    per time step (BeatNet: ``Conv1d`` over each frame's 272 features, then an LSTM)."""
    i = ctx.links.index(head)
    nxt = next(
        (lk for lk in ctx.links[i + 1 :] if lk.in_dim is not None or lk.out_dim is not None),
        None,
    )
    return (
        nxt is not None
        and layer_type(nxt.type).is_recurrent
        and nxt.in_dim is not None
        and nxt.in_dim == head.out_dim
    )


def _crnn(entry: Entry, ops: list[SpatialOp], head: ChainLink, sctx: SolveContext) -> InputGuess:
    """A recurrent/attention layer reads the map as a sequence: ``input_size = C x h``
    fixes the height the map ends with; the width is time (CRNN, Shi et al., 2016)."""
    c = head.channels or 0
    why = f"{head.name} ({head.type}) reads the convolutional features as a sequence"
    if entry.dims != 2 or not c or not head.in_dim or head.in_dim % c:
        return _unknown(
            entry,
            f"{why} ({head.in_dim} features): one spatial axis is fixed, the other free; "
            "the split is not determinable from the weights",
        )
    h = head.in_dim // c
    finals = [(((h, h), (1, _UNBOUNDED)), 0.0)]
    text = replace(sctx, kind=TEXT_LINE)
    solutions = solve(ops, finals, text)
    if not solutions:
        return _unknown(entry, f"{why}; no hypothesis reaches a height of {h}")
    hyps = hypotheses_of(solutions, ops, entry, valid_of)
    top = hyps[0]
    best = solutions[0]
    ev = [
        f"{entry.link.name} takes {entry.channels} channels: {entry.kind} input",
        f"{why}: {head.in_dim} = {c} channels x height {h}, so the map ends {h} high "
        "and its width is the sequence (free)",
        f"hypothesis: {top.name}; heights {best.intervals[0][0]}..{best.intervals[0][1]} "
        "end that high",
    ]
    return InputGuess(
        InputStatus.FREE,
        entry.kind,
        top.shape,
        (tuple(range(best.intervals[0][0], best.intervals[0][1] + 1))[:64], top.shape[-1:])
        if top.shape
        else None,
        entry.dtype,
        tuple(ev),
        min_size=best.intervals[1][0],
        plan=top.plan,
        hypotheses=hyps,
    )


def _unknown(entry: Entry, why: str) -> InputGuess:
    return InputGuess(InputStatus.UNKNOWN, entry.kind, None, None, entry.dtype, (why,))
