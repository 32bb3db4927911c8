"""A fully convolutional body whose last convolution scores the whole remaining map.

No Linear reads the features, but the last layer is a convolution with a window larger
than 1 that reduces many channels to a few scores (DCGAN's discriminator ends with
``Conv2d(8 * ndf, 1, 4, 1, 0)`` on a 4x4 map and ``view(-1)``: Radford et al., 2016,
pytorch/examples dcgan; ICLabel's ``Conv2d(712, 7, 4)`` on the 4x4 map its three branches
concatenate).  With PyTorch's default padding the window covers the map exactly, the
output is 1x1 and the input size is fixed by it: the solver walks the window back to the
input, as it walks a flatten head.  The same weights also run sliding over a larger map
(a PatchGAN-style discriminator averages a map of scores), so that reading stays as the
next hypothesis.

Only a scorer is read so: the window is larger than 1 on every axis the kernels move
along, the scores are few (at most a quarter of the channels read, and not the input's
own channel count: an image-to-image net ends with a convolution back to its input's
channels), no transposed convolution decodes anything, and the fixed reading downsamples
on the way (a body that keeps the size would make the input as small as the window).

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace

from pthforensics.core import InputGuess
from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.layer_types import layer_type

from .context import Entry, InputContext
from .fixed import fixed_guess, valid_of
from .hypotheses import hypotheses_of, undecided_note
from .op_options import downsamples
from .solver import solve
from .solver_records import Choice, OpKind, SolveContext, SpatialOp

__all__ = ["scorer_input"]

_SCORE_SHARE = 4
"""The last convolution keeps at most ``1/_SCORE_SHARE`` of the channels it reads."""


def scorer_input(
    ctx: InputContext, entry: Entry, ops: list[SpatialOp], sctx: SolveContext, free: InputGuess
) -> InputGuess | None:
    """The fixed reading of a body ending in a scoring convolution (``free``: the guess
    of the sliding reading, kept as the next hypothesis); ``None`` when the last layer is
    no scorer."""
    last = _scoring_conv(ctx, entry, sctx)
    if last is None:
        return None
    kernel = tuple(ctx.guesses[last.name].attrs["kernel_size"])
    names = [op.name for op in ops]
    if last.name in names:
        body = ops[: names.index(last.name)]
    else:  # the scorer reads the path's last map (and other branches concatenated to it)
        ends = [i for i, op in enumerate(ops) if op.kind is not OpKind.GAP]
        body = ops[: ends[-1] + 1] if ends else []
    if not body or len(kernel) != entry.dims:
        return None
    window = [(tuple((k, k) for k in kernel), 0.0)]
    solutions = [s for s in solve(body, window, sctx) if downsamples(body, s.choices)]
    if not solutions:
        return None
    rest = ops[len(body) :]
    tail = tuple(
        Choice(pool=None)
        if op.kind is OpKind.GAP
        else Choice(tuple(0 for _ in kernel), tuple(1 for _ in kernel))
        for op in rest
    )
    full = [replace(s, choices=(*s.choices, *tail)) for s in solutions]
    hyps = hypotheses_of(full, [*body, *rest], entry, valid_of)
    top = hyps[0]
    best = solutions[0]
    ev = [
        f"{entry.link.name} takes {entry.channels} channels: {entry.kind} input",
        f"no Linear reads the features; the last layer {last.name} ({last.type}) reduces "
        f"{last.in_dim} channels to {last.out_dim} score(s) with a "
        f"{'x'.join(map(str, kernel))} window: with padding 0 it covers the map exactly "
        "(DCGAN's discriminator, ICLabel), so the map before it is "
        f"{'x'.join(map(str, kernel))} and the input is fixed",
        f"hypothesis: {top.name}",
    ]
    note = undecided_note(hyps)
    if note:
        ev.append(note)
    ev.append(
        "the same weights also slide over a larger map (a PatchGAN-style map of scores): "
        f"free sizes from {free.min_size} on, the next hypothesis"
    )
    return fixed_guess(entry, hyps, best, ev, free.hypotheses[:1])


def _scoring_conv(ctx: InputContext, entry: Entry, sctx: SolveContext) -> ChainLink | None:
    """The model's last layer with weights, when it is a scoring convolution."""
    if entry.link.relation is not Relation.START or any(
        layer_type(lk.type).is_transposed for lk in ctx.links
    ):
        return None  # a further input's branch does not end in the model's last layer
    weighted = [lk for lk in ctx.links if lk.in_dim is not None or lk.out_dim is not None]
    last = weighted[-1] if weighted else None
    while last is not None and layer_type(last.type).passes_through:
        i = weighted.index(last)
        last = weighted[i - 1] if i else None
    if last is None or layer_type(last.type).conv_dims != entry.dims or last is entry.link:
        return None
    kernel = tuple(ctx.guesses[last.name].attrs.get("kernel_size", ()))
    active = sctx.active or tuple(True for _ in kernel)
    if len(kernel) != len(active) or any(k <= 1 for k, a in zip(kernel, active, strict=True) if a):
        return None
    if not last.in_dim or not last.out_dim or last.out_dim * _SCORE_SHARE > last.in_dim:
        return None
    return None if last.out_dim == entry.channels else last
