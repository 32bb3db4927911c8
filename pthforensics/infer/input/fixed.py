"""A flatten head fixes the input size: solve for it.

``in_features = C x positions`` of the first Linear after the convolutions fixes the
final feature map (``positions`` factored into a square, a near-square pair, or frames x
a square grid); the solver (:mod:`.solver`) walks the hypotheses back to the input.  A
family whose head reads an adaptive pool of that size (:data:`~..knowledge.ADAPTIVE_HEADS`)
leaves the size free instead.

Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pthforensics.core import InputGuess, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink
from pthforensics.infer.knowledge import ADAPTIVE_HEADS

from .context import Entry, Plan
from .free import free_result
from .maps import describe, plan_entries
from .solver import OpKind, PoolHint, Solution, SpatialOp, preimage, solve

__all__ = ["fixed_input", "preimage_ok"]

_MAX_LISTED = 64
"""Sizes listed in ``valid_sizes`` at most (the interval's start and on)."""
_MAX_ASPECT = 4
"""Non-square final maps considered: at most this elongated."""
_NON_SQUARE_FINAL = 1.0
"""Prior cost of a non-square final map (square inputs and maps are the rule)."""
_MAX_FINAL_FRAMES = 64
_FRAMES_STEP = 0.2
"""Prior cost per frame count tried, in increasing order, for a 3-d final map."""
_MAX_VOLUME_FINALS = 4
_ALTERNATIVE_MARGIN = 1.0
"""Another hypothesis within this cost of the best is mentioned in the evidence."""
_IMAGENET_SCALE = 200
"""An input at least this large ending on a 6x6/7x7 map is read as ImageNet-style with
an adaptive pool (torchvision's avgpool) even without the family's naming."""


def fixed_input(entry: Entry, ops: list[SpatialOp], head: ChainLink) -> InputGuess:
    """The input under the best hypothesis reaching the map the head stores."""
    first, d, kind, c, dtype = entry.link, entry.dims, entry.kind, entry.channels, entry.dtype
    assert head.in_dim is not None
    channels = head.in_dim // head.factor
    finals = _finals(head.factor, d)
    ev = [
        f"{first.name} takes {c} channels: {kind} input",
        f"{head.name} takes {head.in_dim} = {channels} channels x {head.factor} positions: "
        "a flatten head fixes the final feature map",
    ]
    if not finals:
        why = f"{head.factor} positions do not factor into a plausible {d}-d map"
        return InputGuess(InputStatus.UNKNOWN, kind, None, None, dtype, (*ev, why))
    solutions = solve(ops, finals, kind=kind, channels=c)
    if not solutions:
        why = "no padding/stride/pooling hypothesis reaches that map from a plausible size"
        return InputGuess(InputStatus.UNKNOWN, kind, None, None, dtype, (*ev, why))
    best = solutions[0]
    final = next(f for f, _ in finals if preimage_ok(ops, best, f))
    plan = plan_entries(ops, best.choices, d)
    ev.append(
        f"final map {'x'.join(map(str, final))}; hypothesis ({best.style} padding): "
        + "; ".join(describe(p) for p in plan if p[1] not in ("ReLU", "Identity"))
    )
    if _adaptive_head(ops, first, head, kind, final, best):
        return _adaptive(entry, ops, best, final, plan, head, ev)
    ev.append(
        f"input sizes {_span(best.intervals)} give that map; "
        f"{'x'.join(map(str, best.sizes))} is the commonest"
    )
    for alt in solutions[1:3]:
        if alt.sizes != best.sizes and alt.cost - best.cost < _ALTERNATIVE_MARGIN:
            ev.append(f"also possible under another hypothesis: {'x'.join(map(str, alt.sizes))}")
            break
    return InputGuess(
        InputStatus.FIXED,
        kind,
        (1, c, *best.sizes),
        _valid(best.intervals),
        dtype,
        tuple(ev),
        min_size=best.intervals[0][0],
        plan=tuple(plan),
    )


def _adaptive_head(
    ops: Sequence[SpatialOp],
    first: ChainLink,
    head: ChainLink,
    kind: InputKind,
    final: tuple[int, ...],
    best: Solution,
) -> bool:
    """Whether an adaptive pool to ``final`` sits before the head: a module says so, or
    (no module information) the map and the naming or input scale match a family's."""
    last_gap = ops[-1] if ops and ops[-1].kind is OpKind.GAP else None
    if last_gap is None:
        return False
    if last_gap.pool_hint is PoolHint.ADAPTIVE:
        return True
    if last_gap.pool_hint not in (PoolHint.UNKNOWN, PoolHint.EMPTY) or kind != InputKind.IMAGE:
        return False
    return any(
        final[0] in convention.output_sizes
        and len(set(final)) == 1
        and (
            best.sizes[0] >= _IMAGENET_SCALE
            or (
                first.name.startswith(convention.body_prefix)
                and head.name.startswith(convention.head_prefix)
            )
        )
        for convention in ADAPTIVE_HEADS
    )


def _adaptive(
    entry: Entry,
    ops: Sequence[SpatialOp],
    best: Solution,
    final: tuple[int, ...],
    plan: Plan,
    head: ChainLink,
    ev: list[str],
) -> InputGuess:
    """The size is free: an adaptive pool to ``final`` replaces the last gap's pool."""
    d = entry.dims
    last_gap = ops[-1]
    pre = preimage(ops[:-1], best.choices[:-1], [(1, 10**6)] * d)
    min_size = pre[0][0] if pre else None
    target = last_gap.pool_module or "+" + last_gap.name
    plan = [p for p in plan if p[0] not in (target, "+" + last_gap.name)]
    plan.append((target, f"AdaptiveAvgPool{d}d", (("output_size", final),)))
    ev.append(
        f"an adaptive average pool to {'x'.join(map(str, final))} sits before "
        f"{head.name} (torchvision avgpool convention): the size is free"
    )
    return free_result(entry, ev, plan, min_size, None)


def preimage_ok(ops: Sequence[SpatialOp], sol: Solution, final: tuple[int, ...]) -> bool:
    """Whether ``sol``'s sizes map onto ``final`` under its choices."""
    pre = preimage(ops, sol.choices, [(f, f) for f in final])
    return pre is not None and all(
        lo <= s <= hi for s, (lo, hi) in zip(sol.sizes, pre, strict=True)
    )


def _finals(m: int, d: int) -> list[tuple[tuple[int, ...], float]]:
    """Final maps of ``m`` positions in ``d`` dims, each with a prior cost."""
    if d == 1:
        return [((m,), 0.0)]
    if d == 2:
        r = math.isqrt(m)
        out: list[tuple[tuple[int, ...], float]] = [((r, r), 0.0)] if r * r == m else []
        pairs = [(h, m // h) for h in range(1, r + 1) if m % h == 0 and h != m // h]
        pairs = [p for p in pairs if p[1] <= _MAX_ASPECT * p[0]][-2:]
        for h, w in reversed(pairs):
            out.extend([((h, w), _NON_SQUARE_FINAL), ((w, h), _NON_SQUARE_FINAL)])
        return out
    out = []
    for t in range(1, min(m, _MAX_FINAL_FRAMES) + 1):
        if m % t == 0:
            r = math.isqrt(m // t)
            if r * r == m // t:
                out.append(((t, r, r), _FRAMES_STEP * len(out)))
    return out[:_MAX_VOLUME_FINALS]


def _valid(intervals: tuple[tuple[int, int], ...]) -> tuple[Any, ...]:
    """``valid_sizes``: every size of a shared interval (up to :data:`_MAX_LISTED`), or
    the two corners when the axes differ."""
    if len(set(intervals)) == 1:
        lo, hi = intervals[0]
        return tuple(range(lo, min(hi, lo + _MAX_LISTED - 1) + 1))
    corners = [tuple(iv[0] for iv in intervals), tuple(iv[1] for iv in intervals)]
    return tuple(dict.fromkeys(corners))


def _span(intervals: tuple[tuple[int, int], ...]) -> str:
    return " x ".join(f"{lo}" if lo == hi else f"{lo}..{hi}" for lo, hi in intervals)
