"""The options of each op (:mod:`.costs` prices them) and the plan-wide costs that
compare ops with one another: the hypotheses the solver enumerates.

Pure arithmetic: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from .costs import (
    IRREGULAR_POOLING,
    NO_DOWNSAMPLING,
    GapSituation,
    PaddingStyle,
    Pool,
    conv_options,
    gap_options,
)
from .solver_records import Choice, OpKind, PoolHint, SpatialOp

__all__ = ["cheapest_plan", "downsamples", "irregularity", "options"]


def options(
    op: SpatialOp,
    style: PaddingStyle,
    ndim: int,
    active: tuple[bool, ...] = (),
    long_axes: tuple[int, ...] = (),
    *,
    normed: bool = False,
    raw_signal: bool = False,
    time_frequency: bool = False,
    eeg: bool = False,
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
                raw_signal=raw_signal,
                eeg=eeg,
            )
            if not any(p[a] or (extra and extra[a]) for a in op.consumes)
        ]
    return [
        (Choice(pool=pool), c)
        for pool, c in gap_options(
            _situation(op),
            ndim,
            active,
            adaptive=_adaptive(op),
            long_axes=long_axes,
            time_frequency=time_frequency,
            eeg=eeg,
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


def cheapest_plan(
    ops: Sequence[SpatialOp],
    ndim: int,
    style: PaddingStyle = PaddingStyle.SAME,
    active: tuple[bool, ...] = (),
) -> tuple[Choice, ...]:
    """The zero-evidence hypothesis: each op's cheapest option (used when size is free)."""
    return tuple(min(options(op, style, ndim, active), key=lambda oc: oc[1])[0] for op in ops)


def irregularity(ops: Sequence[SpatialOp], choices: Sequence[Choice]) -> float:
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
    return irregular + (0.0 if downsamples(ops, choices) or not ops else NO_DOWNSAMPLING)


def downsamples(ops: Sequence[SpatialOp], choices: Sequence[Choice]) -> bool:
    """Whether the plan pools or strides somewhere."""
    return any(
        ch.pooled or (op.kind is OpKind.CONV and bool(ch.stride) and max(ch.stride) > 1)
        for op, ch in zip(ops, choices, strict=True)
    )
