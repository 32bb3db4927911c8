"""The main path of a convolutional model as size-changing ops, and the plan it yields.

``spatial_ops`` lists the convolutions of the main path (those that start, follow or
concatenate into the chain) and the gaps between them, each gap with what its
parameter-less modules say about a pool there.  ``plan_entries`` turns a hypothesis (one
:class:`~.solver.Choice` per op) into :attr:`~pthforensics.core.InputGuess.plan`.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.knowledge import NOT_POOL_NAME
from pthforensics.infer.layer_types import LayerFamily, layer_type

from .context import InputContext, Plan, PlanEntry
from .solver import Choice, OpKind, PoolHint, SpatialOp

__all__ = ["describe", "find_head", "plan_entries", "spatial_ops"]

#: Relations of a convolution on the main path (not a branch or a side input).
_MAIN_PATH = (Relation.START, Relation.FOLLOWS, Relation.CONCAT)


def find_head(ctx: InputContext, first: ChainLink) -> ChainLink | None:
    """The first layer after ``first`` that reads features as a vector or a sequence."""
    start = ctx.links.index(first)
    return next(
        (
            lk
            for lk in ctx.links[start + 1 :]
            if layer_type(lk.type).is_linear or layer_type(lk.type).reads_sequence
        ),
        None,
    )


def spatial_ops(ctx: InputContext, first: ChainLink, head: ChainLink | None) -> list[SpatialOp]:
    """Main-path convolutions and the gaps between them, in order."""
    lo = ctx.position.get(first.name, 0)
    hi = ctx.position.get(head.name, len(ctx.groups)) if head else len(ctx.groups)
    ops: list[SpatialOp] = []
    gap: list[str] = []
    anchor = first.name
    prev_conv = None
    for group in ctx.groups[lo:hi]:
        link = ctx.link.get(group.name)
        lt = layer_type(link.type) if link is not None else None
        if link is not None and lt is not None and lt.conv_dims and link.relation in _MAIN_PATH:
            if prev_conv is not None:
                ops.append(_gap(ctx, anchor, gap, prev_conv, group.name))
            kind = OpKind.CONV_TRANSPOSE if lt.is_transposed else OpKind.CONV
            kernel = tuple(ctx.guesses[group.name].attrs["kernel_size"])
            ops.append(SpatialOp(kind, group.name, kernel, first=link is first))
            prev_conv, gap = group.name, []
        elif not group.tensors:
            gap.append(group.name)
        anchor = group.name
    if prev_conv is not None:
        ops.append(_gap(ctx, anchor, gap, prev_conv, head.name if head else None))
    return ops


def _numbered_parent(name: str | None) -> str | None:
    if not name:
        return None
    parent, _, last = name.rpartition(".")
    return parent if last.isdigit() else None


def _gap(
    ctx: InputContext, anchor: str, members: list[str], before: str, after: str | None
) -> SpatialOp:
    """The gap between ``before`` and ``after`` (``None``: the head) and its modules."""
    final = after is None or (after in ctx.link and layer_type(ctx.link[after].type).is_linear)
    unknown, hint, pool_module = _typed_members(ctx, members, final)
    if hint is PoolHint.EMPTY:
        hint = _untyped_hint(ctx, members, unknown, before, after)
    return SpatialOp(
        OpKind.GAP,
        anchor,
        modules=tuple(unknown),
        pool_hint=hint,
        pool_module=pool_module,
        members=tuple(members),
    )


def _typed_members(
    ctx: InputContext, members: list[str], final: bool
) -> tuple[list[str], PoolHint, str]:
    """(untyped members that could be a pool, the hint the typed ones give, the pool)."""
    unknown: list[str] = []
    hint = PoolHint.EMPTY
    pool_module = ""
    for name in members:
        g = ctx.guesses.get(name)
        family = layer_type(g.type).family if g is not None else None
        if g is None:
            if not NOT_POOL_NAME.matches(name.rsplit(".", 1)[-1].lower()):
                unknown.append(name)
        elif family is LayerFamily.ADAPTIVE_POOL:
            if final:  # mid-body adaptive pools squeeze-and-excite and broadcast back
                hint, pool_module = PoolHint.ADAPTIVE, name
        elif family is LayerFamily.POOL and hint is not PoolHint.ADAPTIVE:
            hint, pool_module = PoolHint.POOL, name
    return unknown, hint, pool_module


def _untyped_hint(
    ctx: InputContext, members: list[str], unknown: list[str], before: str, after: str | None
) -> PoolHint:
    """Without a typed pool: is the gap's content known (``_metadata``, or index gaps in
    one numbered container), and are all its modules no pool?"""
    known = ctx.meta or (
        ctx.index_gaps
        and _numbered_parent(before) is not None
        and _numbered_parent(before) == _numbered_parent(after)
    )
    if not known:
        return PoolHint.UNKNOWN
    if members and not unknown:
        return PoolHint.NONE
    return PoolHint.EMPTY


def plan_entries(ops: Sequence[SpatialOp], choices: Sequence[Choice], d: int) -> Plan:
    """The plan of a hypothesis: padding/stride per convolution, a pool (or Identity) in
    each gap, and its untyped modules as activations."""
    plan: Plan = []
    for op, ch in zip(ops, choices, strict=True):
        if op.kind is not OpKind.GAP:
            plan.append(_conv_entry(op, ch, d))
        else:
            plan.extend(_gap_entries(op, ch, d))
    return plan


def _conv_entry(op: SpatialOp, ch: Choice, d: int) -> PlanEntry:
    pad = ch.padding if len(set(ch.padding)) > 1 else ch.padding[0]
    st = ch.stride if len(set(ch.stride)) > 1 else ch.stride[0]
    type_ = f"ConvTranspose{d}d" if op.kind is OpKind.CONV_TRANSPOSE else f"Conv{d}d"
    return (op.name, type_, (("padding", pad), ("stride", st)))


def _gap_entries(op: SpatialOp, ch: Choice, d: int) -> Plan:
    plan: Plan = []
    pooled = max(ch.pool) > 1
    k = ch.pool if len(set(ch.pool)) > 1 else ch.pool[0]
    mods = list(op.modules)
    if pooled:
        target = op.pool_module or (mods.pop() if mods else "+" + op.name)
        plan.append((target, f"MaxPool{d}d", (("kernel_size", k),)))
    elif op.pool_module and op.pool_hint is PoolHint.POOL:
        plan.append((op.pool_module, "Identity", ()))
    for i, name in enumerate(mods):
        plan.append((name, "ReLU" if i == 0 else "Identity", ()))
    return plan


def describe(entry: PlanEntry) -> str:
    """One plan entry as text: ``conv1: padding=1 stride=1`` or ``MaxPool2d(2) at pool``."""
    name, type_, attrs = entry
    where = f"after {name[1:]}" if name.startswith("+") else name
    a = dict(attrs)
    if layer_type(type_).family in (LayerFamily.POOL, LayerFamily.ADAPTIVE_POOL):
        at = where if name.startswith("+") else f"at {name}"
        return f"{type_}({a.get('kernel_size', a.get('output_size', ''))}) {at}"
    return f"{where}: padding={a.get('padding')} stride={a.get('stride')}"
