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

Pure arithmetic: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum, unique

from pthforensics.core import InputKind
from pthforensics.infer.priors import (
    PRIOR_TABLES,
    TEXT_LINE_KIND,
    UNLISTED_COST,
    prior_table,
    round_size_bonus,
)

from .costs import (
    IRREGULAR_POOLING,
    NO_DOWNSAMPLING,
    GapSituation,
    PaddingStyle,
    Pool,
    conv_options,
    gap_options,
)

__all__ = [
    "MAX_SIZE",
    "Choice",
    "OpKind",
    "PaddingStyle",
    "Pool",
    "PoolHint",
    "Solution",
    "SpatialOp",
    "cheapest_plan",
    "common_sizes",
    "options",
    "pool_out",
    "preimage",
    "size_cost",
    "solve",
]

MAX_SIZE = 8192 * 4
"""Largest input size considered (per axis): 2 s of 16 kHz audio fits."""
_BEAM = 96
"""Hypotheses kept per op..."""
_BEAM_DEEP = 48
"""... and for models deeper than :data:`_DEEP_OPS` ops (time grows with the beam)."""
_DEEP_OPS = 24
_NON_SQUARE = 0.5
"""A non-square input (the same size on every axis is the rule)."""
SIZE_PRIOR_WEIGHT = 1.0
"""Weight of the size priors against the hypothesis costs."""
_STORED_SIZE = -2.0
"""A size the file stores as a hyper-parameter (``dim_in=272``) inside the interval:
evidence, so it beats every prior."""


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
    known: Choice | None = None
    """What the file stores for this op (a full-model pickle's padding/stride/dilation,
    or its pool module's window): then the only option, at no cost."""
    pin: tuple[int | None, ...] | None = None
    """A size the op's *output* must have per axis (``None``: any), fixed by a table or
    a norm reading that map (``LayerNorm([C, L])`` after it)."""
    pool_type: str = ""
    """The type of :attr:`pool_module` (``AvgPool2d``), when typed."""
    functional: bool = False
    """The model registers no parameter-less module at all (its pools, if any, are
    functional)."""
    consumes: tuple[int, ...] = ()
    """Axes this convolution's window spans whole (its output is 1 there): unpadded."""
    widens: bool | None = None
    """A convolution taking fewer channels than it gives (``None``: unknown, or the
    model's first convolution, which reads the input's channels)."""
    unpooled: bool = False
    """The gap before this convolution is known to hold no pool (its modules are listed,
    none a pool)."""
    patch: bool = False
    """The only convolution before attention over its tokens: a patch embedding."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A hypothesis for one op: padding/stride/dilation of a convolution, or the pool of a
    gap (``pool=None``: no pool)."""

    padding: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    pool: Pool | None = None
    stored: bool = False
    """Read from the file, not assumed."""
    extra: tuple[int, ...] = ()
    """One more padding on the right per axis (``padding='same'`` with an even total)."""

    @property
    def pooled(self) -> bool:
        """A gap choice with a pool that changes sizes."""
        return self.pool is not None and (max(self.pool.kernel) > 1 or max(self.pool.stride) > 1)

    def describe(self) -> str:
        """Short text: ``padding=1 stride=2`` or ``pool 2`` / ``no pool``."""
        if not self.padding and not self.stride:
            return "pool " + self.pool.describe() if self.pooled and self.pool else "no pool"
        pad = self.padding[0] if len(set(self.padding)) == 1 else self.padding
        st = self.stride[0] if len(set(self.stride)) == 1 else self.stride
        text = f"padding={pad} stride={st}"
        if self.dilation and max(self.dilation) > 1:
            dil = self.dilation[0] if len(set(self.dilation)) == 1 else self.dilation
            text += f" dilation={dil}"
        return text


@dataclass(frozen=True, slots=True)
class Solution:
    """An input size (per spatial dim), the interval of sizes that work, and the plan."""

    cost: float
    sizes: tuple[int, ...]
    intervals: tuple[tuple[int, int], ...]
    choices: tuple[Choice, ...]
    style: PaddingStyle
    final: tuple[int, ...] = ()
    """The final map this solution reaches."""
    prior_cost: float = 0.0
    """The part of ``cost`` that is hypothesis (not input-size prior)."""
    stored_size: bool = False
    """The size is one the file stores as a hyper-parameter."""


@dataclass(frozen=True, slots=True)
class SolveContext:
    """What ranks sizes and options besides the ops: the input kind, its channels, which
    axes are active (an axis whose every kernel is 1 is never pooled), the padding style
    costs and sizes the file stores."""

    kind: str
    channels: int | None
    active: tuple[bool, ...] = ()
    """Per axis: some kernel is larger than 1 there."""
    style_costs: tuple[tuple[PaddingStyle, float], ...] = (
        (PaddingStyle.VALID, 0.0),
        (PaddingStyle.SAME, 0.0),
    )
    stored_sizes: frozenset[int] = field(default_factory=frozenset)
    long_axes: tuple[int, ...] = ()
    """Axes along which only ``(1, k)``-shaped kernels move (an anisotropic model: EEG
    temporal convolutions); pools there may be ``(1, k)``."""
    min_input: tuple[int, ...] = ()
    """Per axis, the smallest plausible input: the first convolution's kernel fits in
    it without padding (nobody designs a filter longer than its signal)."""
    exact_axes: tuple[int, ...] = ()
    """Axes whose size a convolution consuming them fixes (EEG electrodes): evidence, so
    no size prior is charged on them."""
    normed: bool = False
    """Most main-path convolutions are followed by a norm (conv-BN-act blocks)."""
    stride_priors: bool = False
    """Apply the conv-norm stride priors (:data:`~.costs.STRIDE2_NORMED`,
    :data:`~.costs.WIDEN_KEEPS_SIZE`).  Only where a stored table fixes a map inside the
    body (:func:`.fixed.grid_input`): elsewhere they would move the plans of adaptive and
    free-size models (an Inception body's branch convolutions read as strided, its minimum
    size as 1) without evidence to check them against."""


def options(
    op: SpatialOp,
    style: PaddingStyle,
    ndim: int,
    active: tuple[bool, ...] = (),
    long_axes: tuple[int, ...] = (),
    *,
    normed: bool = False,
) -> list[tuple[Choice, float]]:
    """Every hypothesis for ``op`` with its cost under a padding ``style``."""
    if op.known is not None:
        return [(op.known, 0.0)]
    active = active or tuple(True for _ in range(ndim))
    if op.kind is not OpKind.GAP:
        return [
            (Choice(padding=p, stride=s, extra=extra if max(extra) else ()), c)
            for p, extra, s, c in conv_options(
                op.kernel,
                style,
                first=op.first,
                transposed=op.kind is OpKind.CONV_TRANSPOSE,
                normed=normed,
                widens_unpooled=normed and bool(op.widens) and op.unpooled,
                patch=op.patch,
            )
            if not any(p[a] or (extra and extra[a]) for a in op.consumes)
        ]
    return [
        (Choice(pool=pool), c)
        for pool, c in gap_options(
            _situation(op), ndim, active, adaptive=_adaptive(op), long_axes=long_axes
        )
    ]


def _adaptive(op: SpatialOp) -> bool:
    return op.pool_hint is PoolHint.ADAPTIVE


def _situation(op: SpatialOp) -> GapSituation:
    if op.functional and not op.members:
        return GapSituation.FUNCTIONAL
    if op.pool_hint is PoolHint.POOL:
        return GapSituation.POOL
    if op.pool_hint is PoolHint.UNKNOWN:
        return GapSituation.UNKNOWN
    if len(op.modules) >= 2:
        return GapSituation.SEVERAL
    if len(op.modules) == 1:
        return GapSituation.ONE
    return GapSituation.NONE


def pool_out(p: Pool, axis: int, n: int) -> int:
    """Output size of a pool on one axis, as torch computes it (aten pooling_output_shape:
    ``(n + 2p - k [+ s - 1 in ceil mode]) // s + 1``, then in ceil mode a last window
    starting past the input and its left padding is dropped)."""
    k, s, pad = p.kernel[axis], p.stride[axis], p.pads[axis]
    out = (n + 2 * pad - k + (s - 1 if p.ceil_mode else 0)) // s + 1
    if p.ceil_mode and (out - 1) * s >= n + pad:
        out -= 1
    return out


def _pool_pre(p: Pool, axis: int, a: int, b: int) -> tuple[int, int]:
    """Input sizes a pool maps into ``[a, b]`` on one axis (the inverse of
    :func:`pool_out`)."""
    k, s, pad = p.kernel[axis], p.stride[axis], p.pads[axis]
    if not p.ceil_mode:
        return (a - 1) * s + k - 2 * pad, (b - 1) * s + k - 2 * pad + s - 1
    lo = (a - 2) * s + k - 2 * pad + 1
    hi = (b - 1) * s + k - 2 * pad
    # the dropped-window rule can only lower an output by one: widen, then trim by the
    # forward formula (a few steps at most)
    hi += s
    while hi >= lo and pool_out(p, axis, hi) > b:
        hi -= 1
    while lo <= hi and pool_out(p, axis, lo) < a:
        lo += 1
    return lo, hi


def _conv_pre(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int]:
    k, s = op.kernel[axis], c.stride[axis]
    p2 = 2 * c.padding[axis] + (c.extra[axis] if c.extra else 0)
    d = c.dilation[axis] if c.dilation else 1
    span = d * (k - 1) + 1
    if op.kind is OpKind.CONV:
        return (a - 1) * s + span - p2, (b - 1) * s + span - p2 + s - 1
    # ConvTranspose: out = (in - 1) * s - 2p + span
    return -((-(a - span + p2)) // s) + 1, (b - span + p2) // s + 1


def _pre_one(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int] | None:
    """Input sizes on one axis that ``op`` under ``c`` maps into ``[a, b]``."""
    if op.pin is not None and op.pin[axis] is not None:
        a, b = max(a, op.pin[axis] or a), min(b, op.pin[axis] or b)
        if a > b:
            return None
    if op.kind is OpKind.GAP:
        if not c.pooled or c.pool is None:
            lo, hi = a, b
        else:
            lo, hi = _pool_pre(c.pool, axis, a, b)
    else:
        lo, hi = _conv_pre(op, c, axis, a, b)
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
    ops: Sequence[SpatialOp],
    ndim: int,
    style: PaddingStyle = PaddingStyle.SAME,
    active: tuple[bool, ...] = (),
) -> tuple[Choice, ...]:
    """The zero-evidence hypothesis: each op's cheapest option (used when size is free)."""
    return tuple(min(options(op, style, ndim, active), key=lambda oc: oc[1])[0] for op in ops)


_State = tuple[float, tuple[tuple[int, int], ...], tuple[Choice, ...]]


def _step_back(
    states: list[_State], op: SpatialOp, style: PaddingStyle, ndim: int, ctx: SolveContext
) -> list[_State]:
    """Every state extended by every option of ``op``; the cheapest per interval."""
    best: dict[tuple[tuple[int, int], ...], tuple[float, tuple[Choice, ...]]] = {}
    active = ctx.active or tuple(True for _ in range(ndim))
    opts = options(op, style, ndim, active, ctx.long_axes, normed=ctx.normed and ctx.stride_priors)
    for cost, iv, chosen in states:
        for choice, c in opts:
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
            for op in reversed(ops):
                states = _step_back(states, op, style, ndim, ctx)[:beam]
            for cost0, iv0, chosen in states:
                cost = cost0 + _irregularity(ops, chosen)
                iv = _at_least(iv0, ctx.min_input)
                if iv is None:
                    continue
                sizes, size_part, stored = _best_sizes(iv, ctx)
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


def _irregularity(ops: Sequence[SpatialOp], choices: Sequence[Choice]) -> float:
    """:data:`IRREGULAR_POOLING` per extra kind of pool among alike gaps (the same
    situation and as many modules; only gaps whose pool is assumed count), and per extra
    kind of padding/stride among alike convolutions (the same kernel, and all widening the
    channels or all keeping them: DCGAN's four 4x4 convolutions that double the channels
    are written alike; ResNet's first convolution of a stage widens and strides, the
    others keep and do not)."""
    kinds: dict[tuple[GapSituation, int], set[Pool | None]] = {}
    convs: dict[tuple[tuple[int, ...], bool], set[tuple[tuple[int, ...], ...]]] = {}
    for op, ch in zip(ops, choices, strict=True):
        if op.kind is OpKind.GAP and op.known is None and not _adaptive(op):
            key = (_situation(op), len(op.members))
            kinds.setdefault(key, set()).add(ch.pool if ch.pooled else None)
        elif op.kind is OpKind.CONV and op.known is None and op.widens is not None:
            convs.setdefault((op.kernel, op.widens), set()).add(
                (ch.padding, ch.stride, ch.dilation, ch.extra)
            )
    extra_kinds = sum(len(v) - 1 for v in kinds.values()) + sum(len(v) - 1 for v in convs.values())
    irregular = IRREGULAR_POOLING * extra_kinds
    downsamples = any(
        ch.pooled or (op.kind is OpKind.CONV and ch.stride and max(ch.stride) > 1)
        for op, ch in zip(ops, choices, strict=True)
    )
    return irregular + (0.0 if downsamples or not ops else NO_DOWNSAMPLING)


def _at_least(
    iv: tuple[tuple[int, int], ...], low: tuple[int, ...]
) -> tuple[tuple[int, int], ...] | None:
    """``iv`` cut to sizes at least ``low`` per axis (``None`` when nothing is left)."""
    if not low:
        return iv
    out = tuple((max(lo, m), hi) for (lo, hi), m in zip(iv, low, strict=True))
    return out if all(lo <= hi for lo, hi in out) else None


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


def _best_sizes(
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
    if len(set(free)) > 1:
        cost += _NON_SQUARE
    return cost
