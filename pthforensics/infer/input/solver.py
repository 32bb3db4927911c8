"""Solve for input sizes from what a flatten head stores.

A ``Linear`` after convolutions with ``in_features = C*H'*W'`` fixes the final feature
map.  The weights do not store padding, stride, dilation or pooling, so we enumerate
hypotheses (padding 0 or k//2, stride 1/2/k/2/k, a 2x pool or not at each gap between
convolutions), each with a cost saying how unusual it is, and walk the size arithmetic of
``torch.nn.Conv*d``/``MaxPool*d`` backwards (pytorch: torch/nn/modules/conv.py shape
formulas): every op is monotone in its input size, so the sizes mapping onto one output
size form an interval, and a beam over the ops keeps the cheapest hypotheses.  The
winner is the hypothesis + input size with the lowest cost + the size prior
(:mod:`pthforensics.infer.priors`: 224, 32, 28...).

The hypothesis costs below are priors on *how models are written*: PyTorch's defaults
(``padding=0`` within the chosen style, ``stride=1``, no pool) cost nothing, and each
departure costs what its comment says.

Pure arithmetic: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum, unique

from pthforensics.core import InputKind
from pthforensics.infer.priors import (
    PRIOR_TABLES,
    UNLISTED_COST,
    UNLISTED_COST_PER_UNIT,
    prior_table,
)

__all__ = [
    "MAX_SIZE",
    "Choice",
    "OpKind",
    "PaddingStyle",
    "PoolHint",
    "Solution",
    "SpatialOp",
    "cheapest_plan",
    "common_sizes",
    "options",
    "preimage",
    "size_cost",
    "solve",
]

MAX_SIZE = 8192
"""Largest input size considered (per axis)."""
_BEAM = 128
"""Hypotheses kept per op..."""
_BEAM_DEEP = 64
"""... and for models deeper than :data:`_DEEP_OPS` ops (time grows with the beam)."""
_DEEP_OPS = 24

# --- hypothesis costs ---------------------------------------------------------------------

_OTHER_STYLE_PADDING = 1.0
"""A padding of the other style than the one assumed for the whole model: code uses one
convention throughout."""
_HALF_PADDING = 0.4
"""``k//2`` padding of an even kernel: nearly as common as ``(k-1)//2``."""
_STRIDE2_STEM_OR_EVEN = 0.3
"""Stride 2 of a large stem (ResNet's 7x7/2) or of an even kernel (DCGAN's 4x4/2)."""
_STRIDE2_OTHER = 1.2
"""Stride 2 of an odd small kernel: a little dearer than a 2x pool (classic nets pool)."""
_STRIDE_SPATIAL_ONLY = 0.6
"""A 3-d convolution striding space but not time (torchvision video stems, (1, 2, 2))."""
_STRIDE_HALF_KERNEL = 0.6
"""Stride k/2 of a large kernel (Nature DQN: 8x8 stride 4)."""
_STRIDE4_LARGE_KERNEL = 0.6
"""Stride 4 of a very large kernel (AlexNet: 11x11 stride 4)."""
_STRIDE_KERNEL = 1.5
"""Stride = kernel (non-overlapping patches): possible, but a patchify layer is rare."""
_CONVT_NO_UPSAMPLE = 0.2
"""A transposed convolution with stride 1 (it does not upsample)."""
_CONVT_ODD_STRIDE_EXTRA = 0.3
"""A transposed convolution upsampling by other than 2 (decoders double)."""
_STEM_KERNEL = 7
_EVEN_KERNEL_MIN = 4
_HALF_KERNEL_MIN = 6
_STRIDE4_KERNEL_MIN = 9
_UNSEEN = 9.0
"""Placeholder above every cost, for the first padding of its kind."""

_POOL_SPATIAL_ONLY_EXTRA = 0.3
"""A 3-d pool over space only ((1, 2, 2), as in C3D's first pool)."""
_NON_SQUARE = 0.5
"""A non-square input (the same size on every axis is the rule)."""


@unique
class OpKind(StrEnum):
    """What a :class:`SpatialOp` is."""

    CONV = "conv"
    CONV_TRANSPOSE = "convT"
    GAP = "gap"
    """Between two convolutions, or before the head: a pool may sit there."""


@unique
class PoolHint(StrEnum):
    """What the modules in a gap say about a pool there."""

    POOL = "pool"
    """A module named/typed as a pool is there."""
    ADAPTIVE = "adaptive"
    """An adaptive pool before the head."""
    NONE = "none"
    """The gap's modules are named activations/dropouts: only a functional pool."""
    UNKNOWN = "unknown"
    """No module information."""
    EMPTY = ""
    """Modules are known, none in the gap."""


@unique
class PaddingStyle(StrEnum):
    """The padding convention assumed for a whole model."""

    VALID = "valid"
    SAME = "same"
    HALF = "half"


#: (cost of a 2x pool, cost of no pool) in a gap, by what its modules say.
_GAP_COSTS: dict[str, tuple[float, float]] = {
    "pool": (0.0, 3.0),  # a pool module is there: pooling is all but certain
    "unknown": (0.5, 0.0),  # nothing known: PyTorch's default, no pool, is cheaper
    "several": (0.0, 1.0),  # two+ untyped modules (act + pool is the classic pattern)
    "one": (0.6, 0.2),  # one untyped module: most likely an activation
    "none": (1.0, 0.0),  # known modules, none a pool: only a functional pool could be
}


@dataclass(frozen=True, slots=True)
class SpatialOp:
    """One op of the main path that changes sizes (or may): a convolution or a gap."""

    kind: OpKind
    name: str
    """The convolution's module path; for a gap the last module before it (anchor)."""
    kernel: tuple[int, ...] = ()
    first: bool = False
    """The first convolution of the model (stems often use stride 2)."""
    modules: tuple[str, ...] = ()
    """Parameter-less modules of unknown type sitting in the gap (candidates for a pool)."""
    pool_hint: PoolHint = PoolHint.EMPTY
    pool_module: str = ""
    """The module named/typed as a pool (or adaptive pool) in the gap, if any."""
    members: tuple[str, ...] = ()
    """Every parameter-less module in the gap, typed or not."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A hypothesis for one op: padding/stride of a convolution, or a pool factor."""

    padding: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    pool: tuple[int, ...] = ()

    def describe(self) -> str:
        """Short text: ``padding=1 stride=2`` or ``pool 2``."""
        if self.pool:
            return "pool " + "x".join(map(str, self.pool)) if max(self.pool) > 1 else "no pool"
        pad = self.padding[0] if len(set(self.padding)) == 1 else self.padding
        st = self.stride[0] if len(set(self.stride)) == 1 else self.stride
        return f"padding={pad} stride={st}"


@dataclass(frozen=True, slots=True)
class Solution:
    """An input size (per spatial dim), the interval of sizes that work, and the plan."""

    cost: float
    sizes: tuple[int, ...]
    intervals: tuple[tuple[int, int], ...]
    choices: tuple[Choice, ...]
    style: PaddingStyle


def _padding_options(k: tuple[int, ...], style: PaddingStyle) -> dict[tuple[int, ...], float]:
    pads: dict[tuple[int, ...], float] = {}
    same = tuple((x - 1) // 2 for x in k)
    for mode, pad in (
        (PaddingStyle.VALID, tuple(0 for _ in k)),
        (PaddingStyle.SAME, same),
        (PaddingStyle.HALF, tuple(x // 2 for x in k)),
    ):
        if mode is PaddingStyle.HALF and pad == same:
            continue  # only even kernels have a distinct k//2 padding
        cost = (
            0.0
            if mode == style
            else (_HALF_PADDING if mode is PaddingStyle.HALF else _OTHER_STYLE_PADDING)
        )
        pads[pad] = min(pads.get(pad, _UNSEEN), cost)
    return pads


def _stride_options(op: SpatialOp) -> dict[tuple[int, ...], float]:
    k = op.kernel
    kmax = max(k)
    strides: dict[tuple[int, ...], float] = {tuple(1 for _ in k): 0.0}
    stem = op.first and kmax >= _STEM_KERNEL
    even = kmax % 2 == 0 and kmax >= _EVEN_KERNEL_MIN
    strides[tuple(2 if x > 1 or len(k) == 1 else 1 for x in k)] = (
        _STRIDE2_STEM_OR_EVEN if stem or even else _STRIDE2_OTHER
    )
    if len(k) == 3:
        strides.setdefault((1, 2, 2), _STRIDE_SPATIAL_ONLY)
    if kmax >= _HALF_KERNEL_MIN:
        strides.setdefault(tuple(max(1, x // 2) for x in k), _STRIDE_HALF_KERNEL)
    if kmax >= _STRIDE4_KERNEL_MIN:
        strides.setdefault(tuple(4 if x > 1 else 1 for x in k), _STRIDE4_LARGE_KERNEL)
    if kmax >= 2:
        strides.setdefault(k, _STRIDE_KERNEL)
    if op.kind is OpKind.CONV_TRANSPOSE:
        strides = {
            s: (0.0 if max(s) == 2 else c + _CONVT_ODD_STRIDE_EXTRA)
            if max(s) > 1
            else _CONVT_NO_UPSAMPLE
            for s, c in strides.items()
        }
    return strides


def _conv_options(op: SpatialOp, style: PaddingStyle) -> list[tuple[Choice, float]]:
    pads = _padding_options(op.kernel, style)
    strides = _stride_options(op)
    return [
        (Choice(padding=p, stride=s), pc + sc)
        for p, pc in pads.items()
        for s, sc in strides.items()
    ]


def _gap_situation(op: SpatialOp) -> str:
    if op.pool_hint is PoolHint.POOL:
        return "pool"
    if op.pool_hint is PoolHint.UNKNOWN:
        return "unknown"
    if len(op.modules) >= 2:
        return "several"
    if len(op.modules) == 1:
        return "one"
    return "none"


def _gap_options(op: SpatialOp, ndim: int) -> list[tuple[Choice, float]]:
    one = tuple(1 for _ in range(ndim))
    two = tuple(2 for _ in range(ndim))
    if op.pool_hint is PoolHint.ADAPTIVE:
        return [(Choice(pool=one), 0.0)]
    pooled, unpooled = _GAP_COSTS[_gap_situation(op)]
    options = [(Choice(pool=two), pooled), (Choice(pool=one), unpooled)]
    if ndim == 3:
        options.append((Choice(pool=(1, 2, 2)), pooled + _POOL_SPATIAL_ONLY_EXTRA))
    return options


def options(op: SpatialOp, style: PaddingStyle, ndim: int) -> list[tuple[Choice, float]]:
    """Every hypothesis for ``op`` with its cost under a padding ``style``."""
    return _conv_options(op, style) if op.kind is not OpKind.GAP else _gap_options(op, ndim)


def _pre_one(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int] | None:
    """Input sizes on one axis that ``op`` under ``c`` maps into ``[a, b]``."""
    if op.kind is OpKind.GAP:
        f = c.pool[axis]
        lo, hi = a * f, b * f + f - 1
    else:
        k, p, s = op.kernel[axis], c.padding[axis], c.stride[axis]
        if op.kind is OpKind.CONV:
            lo = (a - 1) * s + k - 2 * p
            hi = (b - 1) * s + k - 2 * p + s - 1
        else:  # ConvTranspose: out = (in - 1) * s - 2p + k
            lo = -((-(a - k + 2 * p)) // s) + 1
            hi = (b - k + 2 * p) // s + 1
    lo = max(lo, 1)
    if hi < lo or lo > MAX_SIZE:
        return None
    return lo, min(hi, 10 * MAX_SIZE)


def preimage(
    ops: Sequence[SpatialOp], choices: Sequence[Choice], final: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...] | None:
    """Input sizes (an interval per dim) that give ``final`` under ``choices``."""
    intervals = list(final)
    for op, choice in zip(reversed(ops), reversed(choices), strict=True):
        for axis, (a, b) in enumerate(intervals):
            pre = _pre_one(op, choice, axis, a, b)
            if pre is None:
                return None
            intervals[axis] = pre
    return tuple(intervals)


def cheapest_plan(
    ops: Sequence[SpatialOp], ndim: int, style: PaddingStyle = PaddingStyle.SAME
) -> tuple[Choice, ...]:
    """The zero-evidence hypothesis: each op's cheapest option (used when size is free)."""
    return tuple(min(options(op, style, ndim), key=lambda oc: oc[1])[0] for op in ops)


_State = tuple[float, tuple[tuple[int, int], ...], tuple[Choice, ...]]


def _step_back(states: list[_State], op: SpatialOp, style: PaddingStyle, ndim: int) -> list[_State]:
    """Every state extended by every option of ``op``; the cheapest per interval."""
    best: dict[tuple[tuple[int, int], ...], tuple[float, tuple[Choice, ...]]] = {}
    for cost, iv, chosen in states:
        for choice, c in options(op, style, ndim):
            pre = []
            for axis, (a, b) in enumerate(iv):
                one = _pre_one(op, choice, axis, a, b)
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
    finals: Sequence[tuple[tuple[int, ...], float]],
    *,
    kind: str,
    channels: int | None,
    limit: int = 8,
) -> list[Solution]:
    """Best hypotheses under which the input maps onto one of ``finals`` (final sizes per
    dim with a prior cost), cheapest first."""
    results: list[Solution] = []
    beam = _BEAM if len(ops) <= _DEEP_OPS else _BEAM_DEEP
    for final, final_cost in finals:
        ndim = len(final)
        for style in (PaddingStyle.VALID, PaddingStyle.SAME):
            states: list[_State] = [(final_cost, tuple((f, f) for f in final), ())]
            for op in reversed(ops):
                states = _step_back(states, op, style, ndim)[:beam]
            for cost, iv, chosen in states:
                sizes = tuple(
                    _best_size(lo, hi, kind, channels, axis) for axis, (lo, hi) in enumerate(iv)
                )
                total = cost + _sizes_cost(sizes, kind, channels)
                results.append(Solution(round(total, 3), sizes, iv, chosen, style))
    results.sort(key=lambda s: (s.cost, s.sizes))
    return results[:limit]


def size_cost(size: int, kind: str, channels: int | None, axis: int = 0) -> float:
    """How unusual an input size is (0 = the commonest) for this kind of input."""
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    if size in table:
        return table[size]
    return UNLISTED_COST + UNLISTED_COST_PER_UNIT * size


def common_sizes(kind: str, channels: int | None, axis: int = 0) -> list[int]:
    """Known sizes for this kind of input, commonest first."""
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    return sorted(table, key=lambda s: (table[s], s))


def _best_size(lo: int, hi: int, kind: str, channels: int | None, axis: int) -> int:
    # Sizes outside the table cost more the larger they are, so ``lo`` is the best of them.
    table = PRIOR_TABLES[prior_table(kind, channels, axis)]
    candidates = [s for s in table if lo <= s <= hi] + [lo]
    return min(candidates, key=lambda s: (size_cost(s, kind, channels, axis), s))


def _sizes_cost(sizes: tuple[int, ...], kind: str, channels: int | None) -> float:
    if kind == InputKind.VOLUME:
        return size_cost(sizes[0], kind, channels, 0) + max(
            size_cost(s, kind, channels, 1) for s in sizes[1:]
        )
    cost = max(size_cost(s, kind, channels) for s in sizes)
    if len(set(sizes)) > 1:
        cost += _NON_SQUARE
    return cost
