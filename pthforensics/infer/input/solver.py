"""Solve for input sizes from what the weights fix: the size arithmetic, walked backwards.

A ``Linear`` after convolutions with ``in_features = C*H'*W'`` fixes the final feature
map; a table or a norm may pin a map in between.  The weights do not store padding,
stride, dilation or pooling, so each op of the main path has a few *options*, each with a
cost (:mod:`.costs`: PyTorch's defaults cost nothing, every departure costs what its
comment there says); what a full-model pickle stored replaces the options by the one
stored value.  Every op is monotone in its input size, so the sizes mapping onto one output
size form an interval (pytorch: torch/nn/modules/conv.py and pooling.py shape formulas),
and a beam over the ops keeps the cheapest hypotheses.  A hypothesis + input size is ranked
by its cost plus the size prior (:mod:`pthforensics.infer.priors`).

This module holds the beam; the records are in :mod:`.solver_records`, each op's options
and the plan-wide costs in :mod:`.op_options`, the backward size arithmetic in
:mod:`.preimage` and the size priors in :mod:`.size_ranking`.

Pure arithmetic: no torch.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from pthforensics.infer.priors import EEG_KIND, SPECTROGRAM_KIND, raw_signal

from .costs import PaddingStyle
from .op_options import irregularity, options
from .preimage import axis_preimage
from .size_ranking import best_sizes
from .solver_records import Choice, Solution, SolveContext, SpatialOp

__all__ = ["solve"]

_BEAM = 96
"""Hypotheses kept per op..."""
_BEAM_DEEP = 48
"""... and for models deeper than :data:`_DEEP_OPS` ops (time grows with the beam)."""
_DEEP_OPS = 24

_State = tuple[float, tuple[tuple[int, int], ...], tuple[Choice, ...]]


def _step_back(
    states: list[_State], op: SpatialOp, style: PaddingStyle, ndim: int, ctx: SolveContext
) -> list[_State]:
    """Every state extended by every option of ``op``; the cheapest per interval."""
    best: dict[tuple[tuple[int, int], ...], tuple[float, tuple[Choice, ...]]] = {}
    active = ctx.active or tuple(True for _ in range(ndim))
    opts = options(
        op,
        style,
        ndim,
        active,
        ctx.long_axes,
        normed=ctx.normed and ctx.stride_priors,
        raw_signal=raw_signal(ctx.kind, ctx.channels),
        time_frequency=ctx.kind == SPECTROGRAM_KIND,
        eeg=ctx.kind == EEG_KIND,
    )
    for cost, iv, chosen in states:
        for choice, c in opts:
            pre = []
            for axis, (a, b) in enumerate(iv):
                one = axis_preimage(op, choice, axis, a, b)
                if one is None:
                    break
                pre.append(one)
            else:
                key = tuple(pre)
                nc = cost + c
                if key not in best or best[key][0] > nc:
                    best[key] = (nc, (choice, *chosen))
    return sorted(((c, iv, ch) for iv, (c, ch) in best.items()), key=lambda s: s[0])


def solve(
    ops: Sequence[SpatialOp],
    finals: Sequence[tuple[tuple[tuple[int, int], ...], float]],
    ctx: SolveContext,
    *,
    limit: int = 12,
) -> list[Solution]:
    """Best hypotheses under which the input maps onto one of ``finals`` (an interval per
    dim with a prior cost), cheapest first."""
    results: list[Solution] = []
    beam = _BEAM if len(ops) <= _DEEP_OPS else _BEAM_DEEP
    for final, final_cost in finals:
        ndim = len(final)
        for style, style_cost in ctx.style_costs:
            states: list[_State] = [(final_cost + style_cost, tuple(final), ())]
            for op in reversed(ops[1:]):
                states = _step_back(states, op, style, ndim, ctx)[:beam]
            for cost, iv, chosen in _inputs(states, ops, style, ndim, ctx, beam):
                sizes, size_part, stored = best_sizes(iv, ctx)
                results.append(
                    Solution(
                        round(cost + size_part, 3),
                        sizes,
                        iv,
                        chosen,
                        style,
                        tuple(lo for lo, _ in final),
                        round(cost, 3),
                        stored,
                    )
                )
    results.sort(key=lambda s: (s.cost, s.sizes))
    return results[:limit]


def _inputs(
    states: list[_State],
    ops: Sequence[SpatialOp],
    style: PaddingStyle,
    ndim: int,
    ctx: SolveContext,
    beam: int,
) -> list[_State]:
    """The ``beam`` cheapest states stepped back through the first op, as whole
    hypotheses: with their plan-wide cost (:func:`.op_options.irregularity`) and cut to
    the plausible input sizes *before* the beam keeps the cheapest, so that readings too
    small for the first kernel or irregular ones do not crowd out those that hold.  The
    plan-wide cost is never negative, so the walk (cheapest first) stops at the first
    state that cannot enter the beam."""
    if ops:
        states = _step_back(states, ops[0], style, ndim, ctx)
    kept: list[tuple[float, int, _State]] = []  # (-total, -order, state): a max-heap
    for order, (cost, iv0, chosen) in enumerate(states):
        if len(kept) >= beam and cost >= -kept[0][0]:
            break
        iv = _at_least(iv0, ctx.min_input)
        if iv is None:
            continue
        total = cost + irregularity(ops, chosen)
        item = (-total, -order, (total, iv, chosen))
        if len(kept) < beam:
            heapq.heappush(kept, item)
        elif item > kept[0]:
            heapq.heapreplace(kept, item)
    return [state for _, _, state in sorted(kept, key=lambda k: (-k[0], -k[1]))]


def _at_least(
    iv: tuple[tuple[int, int], ...], low: tuple[int, ...]
) -> tuple[tuple[int, int], ...] | None:
    """``iv`` cut to sizes at least ``low`` per axis (``None`` when nothing is left)."""
    if not low:
        return iv
    out = tuple((max(lo, m), hi) for (lo, hi), m in zip(iv, low, strict=True))
    return out if all(lo <= hi for lo, hi in out) else None
