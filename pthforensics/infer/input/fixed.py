"""A flatten head fixes the input size: solve for it, under every reading that fits.

``in_features = C x positions`` of the first Linear after the convolutions fixes the
final feature map (``positions`` factored into a square, a near-square pair, a line along
the only axis the kernels move on, or frames x a square grid); the solver (:mod:`.solver`)
walks the hypotheses back to the input.  Each distinct set of input sizes becomes an
:class:`~pthforensics.core.InputHypothesis`, best first.  A head that reads an adaptive pool
of that size leaves the size free instead: a module in the file says so (``avgpool`` in
``_metadata``), or, when the file lists no modules at all, the naming and scale of a family
known to do it (:data:`~..knowledge.ADAPTIVE_HEADS`); a file that lists its modules without
one is evidence against.  An attention that reads the whole map with one bias per offset
(LeViT's ``attention_biases``, :func:`~.patches.attention_grid`) fixes that map the same
way (:func:`grid_input`): a constraint the solver must meet, not a prior.

Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pthforensics.core import InputGuess, InputHypothesis, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink
from pthforensics.infer.knowledge import ADAPTIVE_HEADS
from pthforensics.infer.priors import SPECTROGRAM_KIND

from .context import Entry, Plan
from .free import free_result
from .hypotheses import hypotheses_of, undecided_note
from .maps import plan_entries
from .preimage import preimage
from .solver import solve
from .solver_records import Choice, OpKind, PoolHint, Solution, SolveContext, SpatialOp

__all__ = ["fixed_guess", "fixed_input", "grid_input", "preimage_ok", "span", "valid_of"]

_MAX_LISTED = 64
"""Sizes listed in ``valid_sizes`` at most (the interval's start and on)."""
_MAX_ASPECT = 4
"""Non-square final maps considered: at most this elongated."""
_NON_SQUARE_FINAL = 1.0
"""Prior cost of a non-square final map (square inputs and maps are the rule)."""
_LESS_SQUARE_STEP = 0.2
"""Prior cost per step away from the most nearly square factoring of a non-square map."""
_LINE_FINAL = 0.5
"""Prior cost of a final map that is a line (``1 x m``) when kernels are anisotropic
(EEG nets: a ``(C, 1)`` kernel consumes the electrode axis)."""
_MAX_FINAL_FRAMES = 64
_FRAMES_STEP = 0.2
"""Prior cost per frame count tried, in increasing order, for a 3-d final map."""
_MAX_VOLUME_FINALS = 4
_IMPLAUSIBLE_GRID_INPUT = 4096
"""An input side above this, reached through assumed pools, means they are not 2x pools."""
_IMAGENET_SCALE = 200
"""An input at least this large ending on a 6x6/7x7 map is read as ImageNet-style with
an adaptive pool (torchvision's avgpool) even without the family's naming."""


def fixed_input(
    entry: Entry, ops: list[SpatialOp], head: ChainLink, sctx: SolveContext
) -> InputGuess:
    """The input under the best hypotheses reaching the map the head stores."""
    first, d, kind, c = entry.link, entry.dims, entry.kind, entry.channels
    assert head.in_dim is not None
    channels = head.in_dim // head.factor
    finals = _finals(
        head.factor, d, sctx.active, _anisotropic(ops), square=sctx.kind != SPECTROGRAM_KIND
    )
    ev = [
        f"{first.name} takes {c} channels: {kind} input",
        f"{head.name} takes {head.in_dim} = {channels} channels x {head.factor} positions: "
        "a flatten head fixes the final feature map",
    ]
    if not finals:
        why = f"{head.factor} positions do not factor into a plausible {d}-d map"
        return InputGuess(InputStatus.UNKNOWN, kind, None, None, entry.dtype, (*ev, why))
    return solved_input(entry, ops, finals, sctx, ev, head)


def grid_input(
    entry: Entry, ops: list[SpatialOp], sides: tuple[int, ...], sctx: SolveContext, why: str
) -> InputGuess:
    """The input whose map reaches ``sides`` (one per axis) where a table over the whole
    grid of tokens is read (``why`` says which table)."""
    ev = [f"{entry.link.name} takes {entry.channels} channels: {entry.kind} input", why]
    sctx = replace(sctx, stride_priors=True)
    finals = [(_point(sides), 0.0)]
    convs = [i for i, op in enumerate(ops) if op.kind is not OpKind.GAP]
    if len(convs) == 1:  # one convolution straight into attention: a patch embedding
        ops = [replace(op, patch=True) if i == convs[0] else op for i, op in enumerate(ops)]
    last = ops[-1] if ops else None
    if last is not None and last.kind is OpKind.GAP and last.pool_hint is not PoolHint.POOL:
        # the attention reads the map flattened into tokens: no pool module, no pool
        ops = [*ops[:-1], replace(last, known=last.known or Choice(pool=None))]
    best = solve(ops, finals, sctx, limit=1)
    if best and max(best[0].sizes) > _IMPLAUSIBLE_GRID_INPUT:
        # typed pools whose stride is not stored (PoolFormer/EfficientFormer token mixers,
        # AvgPool2d(3, 1, 1), keep the size): read as 2x pools they demand absurd inputs
        ops = [
            replace(op, known=Choice(pool=None))
            if op.kind is OpKind.GAP and op.known is None and op.pool_hint is PoolHint.POOL
            else op
            for op in ops
        ]
        ev.append(
            f"read as 2x pools, the pool modules would demand {max(best[0].sizes)} pixels: "
            "they keep the size (their windows are not stored)"
        )
    return solved_input(entry, ops, finals, sctx, ev, None)


def solved_input(
    entry: Entry,
    ops: list[SpatialOp],
    finals: Sequence[_Final],
    sctx: SolveContext,
    ev: list[str],
    head: ChainLink | None,
) -> InputGuess:
    """The best hypotheses reaching one of ``finals`` (before a flatten ``head``, an
    adaptive pool may leave the size free instead)."""
    first, d, kind, dtype = entry.link, entry.dims, entry.kind, entry.dtype
    solutions = solve(ops, finals, sctx)
    if not solutions:
        why = "no padding/stride/pooling hypothesis reaches that map from a plausible size"
        return InputGuess(InputStatus.UNKNOWN, kind, None, None, dtype, (*ev, why))
    best = solutions[0]
    plan = plan_entries(ops, best.choices, d)
    if head is not None and _adaptive_head(ops, first, head, kind, best):
        return _adaptive(entry, ops, best, plan, head, ev)
    hyps = hypotheses_of(solutions, ops, entry, valid_of)
    top = hyps[0]
    ev.append(f"final map {'x'.join(map(str, best.final))}; hypothesis: {top.name}")
    ev.append(
        f"input sizes {span(best.intervals)} give that map; "
        f"{'x'.join(map(str, best.sizes))} is "
        + ("stored in the file" if best.stored_size else "the likeliest under the priors")
    )
    note = undecided_note(hyps)
    if note:
        ev.append(note)
    return fixed_guess(entry, hyps, best, ev)


def fixed_guess(
    entry: Entry,
    hyps: Sequence[InputHypothesis],
    best: Solution,
    ev: Sequence[str],
    more: Sequence[InputHypothesis] = (),
) -> InputGuess:
    """A fixed input: the best-ranked hypothesis's shape, sizes and plan, the smallest size
    of the ``best`` solution, and every hypothesis listed (``more`` after them)."""
    top = hyps[0]
    return InputGuess(
        InputStatus.FIXED,
        entry.kind,
        top.shape,
        top.valid_sizes,
        entry.dtype,
        tuple(ev),
        min_size=best.intervals[0][0],
        plan=top.plan,
        hypotheses=(*hyps, *more),
    )


def _anisotropic(ops: Sequence[SpatialOp]) -> bool:
    """Some kernel is 1 along one axis and larger along another (``(1, 64)``, ``(22, 1)``)."""
    return any(
        op.kind is not OpKind.GAP and min(op.kernel) == 1 and max(op.kernel) > 1 for op in ops
    )


def _adaptive_head(
    ops: Sequence[SpatialOp],
    first: ChainLink,
    head: ChainLink,
    kind: InputKind,
    best: Solution,
) -> bool:
    """Whether an adaptive pool to the final map sits before the head: a module says so,
    or (the file lists no modules) the map and the naming or input scale match a family
    known to do it.  A file that lists its modules without one is evidence against."""
    last_gap = ops[-1] if ops and ops[-1].kind is OpKind.GAP else None
    if last_gap is None:
        return False
    if last_gap.pool_hint is PoolHint.ADAPTIVE:
        return True
    if last_gap.pool_hint is not PoolHint.UNKNOWN or kind != InputKind.IMAGE:
        return False
    final = best.final
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
    plan: Plan,
    head: ChainLink,
    ev: list[str],
) -> InputGuess:
    """The size is free: an adaptive pool to the final map replaces the last gap's pool."""
    d = entry.dims
    last_gap = ops[-1]
    final = best.final
    pre = preimage(ops[:-1], best.choices[:-1], [(1, 10**6)] * d)
    min_size = pre[0][0] if pre else None
    target = last_gap.pool_module or "+" + last_gap.name
    plan = [p for p in plan if p[0] not in (target, "+" + last_gap.name)]
    plan.append((target, f"AdaptiveAvgPool{d}d", (("output_size", final),)))
    how = (
        f"{last_gap.pool_module} is an adaptive pool"
        if last_gap.pool_hint is PoolHint.ADAPTIVE
        else "the file lists no modules; the naming/scale is torchvision's avgpool convention"
    )
    ev.append(
        f"an adaptive average pool to {'x'.join(map(str, final))} sits before "
        f"{head.name} ({how}): the size is free"
    )
    return free_result(entry, ev, plan, min_size, None)


def preimage_ok(ops: Sequence[SpatialOp], sol: Solution, final: tuple[int, ...]) -> bool:
    """Whether ``sol``'s sizes map onto ``final`` under its choices."""
    pre = preimage(ops, sol.choices, [(f, f) for f in final])
    return pre is not None and all(
        lo <= s <= hi for s, (lo, hi) in zip(sol.sizes, pre, strict=True)
    )


_Final = tuple[tuple[tuple[int, int], ...], float]


def _point(sizes: Sequence[int]) -> tuple[tuple[int, int], ...]:
    return tuple((s, s) for s in sizes)


def _finals(
    m: int, d: int, active: tuple[bool, ...], anisotropic: bool, *, square: bool = True
) -> list[_Final]:
    """Final maps of ``m`` positions in ``d`` dims, each with a prior cost (``square``:
    the input is square by nature, an image; a spectrogram's bins x frames is not)."""
    if d == 1:
        return [(_point((m,)), 0.0)]
    if active and sum(active) == 1:  # kernels move along one axis only: a line
        return [(_point(tuple(m if a else 1 for a in active)), 0.0)]
    if d == 2:
        return _finals_2d(m, anisotropic, square)
    out: list[_Final] = []
    for t in range(1, min(m, _MAX_FINAL_FRAMES) + 1):
        if m % t == 0:
            r = math.isqrt(m // t)
            if r * r == m // t:
                out.append((_point((t, r, r)), _FRAMES_STEP * len(out)))
    return out[:_MAX_VOLUME_FINALS]


def _finals_2d(m: int, anisotropic: bool, square: bool = True) -> list[_Final]:
    """Every ``h x w`` factoring of ``m`` positions at most :data:`_MAX_ASPECT` elongated
    (both orientations), the square first and each next less square one a step dearer
    (unless the input is not ``square`` by nature): a flatten width fixes the map's area,
    not its shape (a 40 x 101 spectrogram ends on
    12 x 28, not on the more nearly square 14 x 24 or 16 x 21)."""
    r = math.isqrt(m)
    out: list[_Final] = [(_point((r, r)), 0.0)] if r * r == m else []
    pairs = [(h, m // h) for h in range(1, r + 1) if m % h == 0 and h != m // h]
    near = [p for p in pairs if p[1] <= _MAX_ASPECT * p[0]]
    for rank, (h, w) in enumerate(reversed(near)):
        cost = _NON_SQUARE_FINAL + (_LESS_SQUARE_STEP * rank if square else 0.0)
        out.extend([(_point((h, w)), cost), (_point((w, h)), cost)])
    if anisotropic and m > 1:
        out.extend([(_point((1, m)), _LINE_FINAL), (_point((m, 1)), _LINE_FINAL)])
    return out


def valid_of(
    intervals: tuple[tuple[int, int], ...], sizes: tuple[int, ...] = ()
) -> tuple[Any, ...]:
    """``valid_sizes``: every size of a shared interval, or one list of sizes per axis when
    the axes differ; of a longer interval :data:`_MAX_LISTED` sizes, from its start or,
    given the chosen ``sizes``, around them (the reported shape is always listed)."""
    if len(set(intervals)) == 1:
        return _listed(intervals[0], sizes[0] if sizes else None)
    return tuple(
        _listed(iv, sizes[axis] if len(sizes) == len(intervals) else None)
        for axis, iv in enumerate(intervals)
    )


def _listed(iv: tuple[int, int], size: int | None) -> tuple[int, ...]:
    """Up to :data:`_MAX_LISTED` sizes of ``iv``: from its start, or a window holding
    ``size`` (half of it before the size when the interval allows)."""
    lo, hi = iv
    start = lo
    if size is not None and lo <= size <= hi:
        start = max(lo, min(size - _MAX_LISTED // 2, hi - _MAX_LISTED + 1))
    return tuple(range(start, min(hi, start + _MAX_LISTED - 1) + 1))


def span(intervals: tuple[tuple[int, int], ...]) -> str:
    """``28..31 x 28..31``: the intervals of input sizes, per axis."""
    return " x ".join(f"{lo}" if lo == hi else f"{lo}..{hi}" for lo, hi in intervals)
