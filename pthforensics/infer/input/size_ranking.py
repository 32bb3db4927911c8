"""How plausible an input size is: the size priors (:mod:`pthforensics.infer.priors`)
read per kind of input and axis, and the sizes chosen from an interval of sizes that work.

Pure arithmetic: no torch.
"""

from __future__ import annotations

from pthforensics.core import InputKind
from pthforensics.infer.priors import (
    PRIOR_TABLES,
    SPECTROGRAM_KIND,
    TEXT_LINE_KIND,
    UNLISTED_COST,
    prior_table,
    round_size_bonus,
)

from .solver_records import SolveContext

__all__ = ["SIZE_PRIOR_WEIGHT", "best_size", "best_sizes", "common_sizes", "size_cost"]

_NON_SQUARE = 0.5
"""A non-square input (the same size on every axis is the rule)."""
SIZE_PRIOR_WEIGHT = 1.0
"""Weight of the size priors against the hypothesis costs."""
_STORED_SIZE = -2.0
"""A size the file stores as a hyper-parameter (``dim_in=272``) inside the interval:
evidence, so it beats every prior."""


def size_cost(size: int, kind: str, channels: int | None, axis: int = 0) -> float:
    """How unusual an input size is (0 = the commonest) for this kind of input: its entry
    in the prior tables, else :data:`UNLISTED_COST` less a bonus for round sizes."""
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    if size in table:
        return table[size]
    return UNLISTED_COST - round_size_bonus(size)


def common_sizes(kind: str, channels: int | None, axis: int = 0) -> list[int]:
    """Known sizes for this kind of input, commonest first."""
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    return sorted(table, key=lambda s: (table[s], s))


_ROUND_CANDIDATES = 64
"""Sizes of an interval scanned for the roundest one (an interval's start and on)."""


def best_size(lo: int, hi: int, kind: str, channels: int | None, axis: int = 0) -> int:
    """The most plausible size in ``[lo, hi]`` under the priors (listed sizes, then round
    ones, then the smallest)."""
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    listed = [s for s in table if lo <= s <= hi]
    scan = list(range(lo, min(hi, lo + _ROUND_CANDIDATES) + 1))
    return min([*listed, *scan], key=lambda s: (size_cost(s, kind, channels, axis), s))


def best_sizes(
    iv: tuple[tuple[int, int], ...], ctx: SolveContext
) -> tuple[tuple[int, ...], float, bool]:
    """(sizes, their prior cost, whether they are stored in the file) for an interval."""
    kind, channels = ctx.kind, ctx.channels
    stored = [s for s in sorted(ctx.stored_sizes) if all(lo <= s <= hi for lo, hi in iv)]
    if stored:
        return tuple(stored[0] for _ in iv), _STORED_SIZE, True
    sizes = tuple(best_size(lo, hi, kind, channels, axis) for axis, (lo, hi) in enumerate(iv))
    return sizes, SIZE_PRIOR_WEIGHT * _sizes_cost(sizes, iv, ctx), False


def _sizes_cost(
    sizes: tuple[int, ...], iv: tuple[tuple[int, int], ...], ctx: SolveContext
) -> float:
    kind, channels = ctx.kind, ctx.channels
    active = ctx.active or tuple(True for _ in sizes)
    if kind == TEXT_LINE_KIND:
        return sum(size_cost(s, kind, channels, axis) for axis, s in enumerate(sizes))
    if kind == InputKind.VOLUME:
        return size_cost(sizes[0], kind, channels, 0) + max(
            size_cost(s, kind, channels, 1) for s in sizes[1:]
        )
    free = [
        s
        for axis, (s, a, (lo, hi)) in enumerate(zip(sizes, active, iv, strict=True))
        if (a or lo != hi) and axis not in ctx.exact_axes
    ]
    if not free:
        return 0.0
    cost = max(size_cost(s, kind, channels) for s in free)
    if len(set(free)) > 1 and kind != SPECTROGRAM_KIND:  # bins x frames: never square
        cost += _NON_SQUARE
    return cost
