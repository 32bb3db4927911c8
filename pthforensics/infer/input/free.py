"""A free input size: global pooling or a fully convolutional body.

The size is left to the caller above a minimum (what the cheapest hypothesis needs to
keep every map non-empty); skip connections that concatenate across downsamplings make it
a multiple (UNet).  The shape reported takes the commonest size above the minimum
(:mod:`..priors`).

Nothing here imports torch.
"""

from __future__ import annotations

from pthforensics.core import InputGuess, InputHypothesis, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.defaults import DEFAULT_FREE_SIZES
from pthforensics.infer.layer_types import layer_type

from .context import Entry, InputContext, Plan
from .maps import plan_entries
from .op_options import cheapest_plan
from .preimage import preimage
from .size_ranking import common_sizes
from .solver_records import Choice, OpKind, SolveContext, SpatialOp

__all__ = ["free_input", "free_result"]

_LISTED = 4
"""Sizes listed in ``valid_sizes`` for a free input."""
_UNBOUNDED = 10**6
"""An output size no input reaches: the preimage of ``[1, this]`` is "any size that runs"."""

_AXES = {InputKind.IMAGE: 2, InputKind.SEQUENCE: 1, InputKind.VOLUME: 3}
_IMPLAUSIBLE_MIN = 1024
"""A minimum above this means the assumed pools are wrong (no free-size model needs it)."""
_FREE_MAP_MULTIPLE = 32
"""A free image size is shown as the commonest multiple of 32: strided stages and skip
connections of unknown depth all divide it (torchvision's detection and segmentation
transforms pad to 32; 224, 64, 128 are all such), where MNIST's 28 would not."""


def free_input(
    ctx: InputContext,
    entry: Entry,
    ops: list[SpatialOp],
    head: ChainLink | None,
    ev: list[str],
    sctx: SolveContext | None = None,
) -> InputGuess:
    """Free size under the zero-evidence hypothesis (an adaptive pool before ``head``)."""
    d = entry.dims
    choices = cheapest_plan(ops, d, active=sctx.active if sctx else ())
    plan = plan_entries(ops, choices, d)
    if head is not None and ops and ops[-1].kind is OpKind.GAP:
        gap = ops[-1]
        target = gap.pool_module or (gap.modules[-1] if gap.modules else "+" + gap.name)
        plan = [p for p in plan if p[0] not in (target, "+" + gap.name)]
        plan.append((target, f"AdaptiveAvgPool{d}d", (("output_size", 1),)))
    pre = preimage(ops, choices, [(1, _UNBOUNDED)] * d)
    min_size = pre[0][0] if pre else None
    if min_size is None or min_size > _IMPLAUSIBLE_MIN:
        # typed pools whose stride is not stored (PoolFormer's AvgPool2d(3, 1, 1) token
        # mixers keep the size): read as 2x pools they would demand absurd inputs
        choices = tuple(
            Choice(pool=None) if op.kind is OpKind.GAP and op.known is None else ch
            for op, ch in zip(ops, choices, strict=True)
        )
        pre = preimage(ops, choices, [(1, _UNBOUNDED)] * d)
        min_size = pre[0][0] if pre else None
        ev.append("the pool modules cannot all halve the map: their windows are not stored")
    multiple = _skip_multiple(ctx, ops, choices, ev)
    ev.insert(0, f"{entry.link.name} takes {entry.channels} channels: {entry.kind} input")
    return free_result(entry, ev, plan, min_size, multiple)


def _skip_multiple(
    ctx: InputContext, ops: list[SpatialOp], choices: tuple[Choice, ...], ev: list[str]
) -> int | None:
    """Each upsampling of a UNet decoder meets a skip of the matching encoder level: the
    size must survive as many halvings as there are upsamplings."""
    downs = sum(
        1
        for op, ch in zip(ops, choices, strict=True)
        if ch.pooled or (op.kind is OpKind.CONV and max(ch.stride) > 1)
    )
    ups = sum(1 for lk in ctx.links if layer_type(lk.type).is_transposed)
    unet = any(
        lk.relation is Relation.CONCAT and i and layer_type(ctx.links[i - 1].type).is_transposed
        for i, lk in enumerate(ctx.links)
    )
    pools = max(downs, ups)
    multiple = 2**pools if unet and pools else None
    if multiple:
        ev.append(
            f"skip connections concatenate across {pools} downsampling(s): sizes must "
            f"be multiples of {multiple}"
        )
    return multiple


def free_result(
    entry: Entry, ev: list[str], plan: Plan, min_size: int | None, multiple: int | None
) -> InputGuess:
    """The guess for a free size at least ``min_size`` (and a multiple of ``multiple``)."""
    kind, c = entry.kind, entry.channels
    lo = max(min_size or 1, multiple or 1)
    shape: tuple[int, ...]
    if kind == InputKind.VOLUME:
        side = _pick(common_sizes(kind, c, 1), lo, multiple)
        frames = _pick(common_sizes(kind, c, 0), 1, None)
        shape = (1, c, frames, side, side)
    else:
        image = kind == InputKind.IMAGE
        side = _pick(common_sizes(kind, c), lo, multiple or (_FREE_MAP_MULTIPLE if image else None))
        shape = (1, c, *([side] * _AXES[kind]))
    listed = (s for s in DEFAULT_FREE_SIZES if s >= lo and (not multiple or s % multiple == 0))
    sizes = tuple(sorted({side, lo, *listed}))[:_LISTED]
    if min_size:
        ev.append(f"smallest size that runs under this hypothesis: {lo}")
    hypothesis = InputHypothesis(
        "any size above the minimum" + (f", a multiple of {multiple}" if multiple else ""),
        tuple(plan),
        shape,
        sizes,
        0.0,
        assumptions=("padding/stride/pooling as the cheapest reading (the size is free)",)
        if plan
        else (),
    )
    return InputGuess(
        InputStatus.FREE,
        kind,
        shape,
        sizes,
        entry.dtype,
        tuple(ev),
        min_size=lo,
        multiple_of=multiple,
        plan=tuple(plan),
        hypotheses=(hypothesis,),
    )


def _pick(common: list[int], lo: int, multiple: int | None) -> int:
    """The commonest size at least ``lo`` (and a multiple of ``multiple``)."""
    for s in common:
        if s >= lo and (not multiple or s % multiple == 0):
            return s
    return lo if not multiple else -(-lo // multiple) * multiple
