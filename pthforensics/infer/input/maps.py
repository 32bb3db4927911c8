"""The main path of a convolutional model as size-changing ops, and the plan it yields.

``spatial_ops`` lists the convolutions of the main path (those that start, follow or
concatenate into the chain) and the gaps between them, each gap with what its
parameter-less modules say about a pool there.  What the file stores goes in as well: a
full-model pickle's padding/stride/dilation and pool windows replace the hypotheses
(``SpatialOp.known``), and a ``LayerNorm([C, L])`` reading a convolution's output pins
that output's size (``SpatialOp.pin``).  ``plan_entries`` turns a hypothesis (one
:class:`~.solver_records.Choice` per op) into :attr:`~pthforensics.core.InputGuess.plan`.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pthforensics.core import LayerGroup
from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.knowledge import AUX_HEAD_NAME, NOT_POOL_NAME
from pthforensics.infer.layer_types import LayerFamily, layer_type

from .context import InputContext, Plan, PlanEntry
from .costs import Pool
from .solver_records import Choice, OpKind, PoolHint, SpatialOp

__all__ = ["describe", "find_head", "plan_entries", "spatial_ops"]

#: Relations of a convolution on the main path (not a branch or a side input).
_MAIN_PATH = (Relation.START, Relation.FOLLOWS, Relation.CONCAT)


def find_head(ctx: InputContext, first: ChainLink) -> ChainLink | None:
    """The first layer after ``first`` that reads features as a vector or a sequence; a
    head inside an auxiliary classifier (:data:`~..knowledge.AUX_HEAD_NAME`) is passed
    over when a later head exists."""
    start = ctx.links.index(first)
    heads = [
        lk
        for lk in ctx.links[start + 1 :]
        if layer_type(lk.type).is_linear or layer_type(lk.type).reads_sequence
    ]
    main = [lk for lk in heads if not AUX_HEAD_NAME.matches(lk.name.lower())]
    pick = main or heads
    return pick[0] if pick else None


def spatial_ops(ctx: InputContext, first: ChainLink, head: ChainLink | None) -> list[SpatialOp]:
    """Main-path convolutions and the gaps between them, in order."""
    lo = ctx.position.get(first.name, 0)
    hi = ctx.position.get(head.name, len(ctx.groups)) if head else len(ctx.groups)
    ops: list[SpatialOp] = []
    gap: list[str] = []
    anchor = first.name
    prev_conv = None
    off = _off_path(ctx, first)
    for group in ctx.groups[lo:hi]:
        link = ctx.link.get(group.name)
        lt = layer_type(link.type) if link is not None else None
        if group.name in off:
            continue
        if link is not None and lt is not None and lt.conv_dims and link.relation in _MAIN_PATH:
            if prev_conv is not None:
                ops.append(_gap(ctx, anchor, gap, prev_conv, group.name))
            kind = OpKind.CONV_TRANSPOSE if lt.is_transposed else OpKind.CONV
            kernel = tuple(ctx.guesses[group.name].attrs["kernel_size"])
            known = stored_conv(group, len(kernel))
            widens = (
                None
                if link is first or not link.in_dim or not link.out_dim
                else link.out_dim > link.in_dim
            )
            ops.append(
                SpatialOp(kind, group.name, kernel, first=link is first, known=known, widens=widens)
            )
            prev_conv, gap = group.name, []
        elif not group.tensors:
            gap.append(group.name)
        elif ops and (pin := _norm_pin(ctx, group, ops[-1])) is not None:
            ops[-1] = replace(ops[-1], pin=pin)
        anchor = group.name
    if prev_conv is not None:
        ops.append(_gap(ctx, anchor, gap, prev_conv, head.name if head else None))
    branches = {lk.name for lk in ctx.links if lk.relation is Relation.CONCAT}
    return _collapse_pins(_mark_unpooled(ops, branches))


def _mark_unpooled(ops: list[SpatialOp], branches: set[str]) -> list[SpatialOp]:
    """Mark the convolutions after a gap whose modules are listed and none is a pool
    (not those of concatenated branches: an Inception branch widens without striding)."""
    out = list(ops)
    for i in range(1, len(out)):
        gap = out[i - 1]
        if (
            out[i].kind is OpKind.CONV
            and out[i].name not in branches
            and gap.kind is OpKind.GAP
            and gap.pool_hint in (PoolHint.NONE, PoolHint.EMPTY)
            and not gap.modules
            and not gap.functional
        ):
            out[i] = replace(out[i], unpooled=True)
    return out


def _collapse_pins(ops: list[SpatialOp]) -> list[SpatialOp]:
    """A 2-d convolution that is the only one whose window spans an axis, as a ``(C, 1)``
    window after other convolutions moved along the other axis, consumes that axis: its
    output there is 1 (EEGNet's and ShallowConvNet's spatial filter over all electrodes:
    Lawhern et al., 2018; Schirrmeister et al., 2017), so the axis is exactly its window
    and no pool acts on it afterwards."""
    convs = [i for i, op in enumerate(ops) if op.kind is OpKind.CONV and len(op.kernel) == 2]
    if len(convs) < 2 or len(convs) != sum(1 for op in ops if op.kind is not OpKind.GAP):
        return ops
    out = list(ops)
    for axis in range(2):
        other = 1 - axis
        along = [i for i in convs if ops[i].kernel[axis] > 1]
        moving = [i for i in convs if ops[i].kernel[other] > 1]
        if len(along) != 1 or not moving or along[0] in moving or along[0] == convs[0]:
            continue  # (the first convolution reads the raw input: a filter, not a collapse)
        for j in range(along[0], len(out)):  # 1 from the collapse on
            pin = list(out[j].pin or (None, None))
            pin[axis] = 1
            out[j] = replace(out[j], pin=tuple(pin))
        out[along[0]] = replace(out[along[0]], consumes=(*out[along[0]].consumes, axis))
    return out


def _off_path(ctx: InputContext, first: ChainLink) -> set[str]:
    """Layers of chains that a break starts after ``first``: a convolution taking no
    earlier output (another input's branch, a second registration of the same layers,
    ICLabel's ``sequential`` copy) and the layers that follow it, until a layer merges
    streams again (a concatenation, a residual branch, a head)."""
    off: set[str] = set()
    broken = False
    started = False
    for lk in ctx.links:
        if lk is first:
            started = True
            continue
        if not started or (lk.in_dim is None and lk.out_dim is None):
            continue
        if lk.relation is Relation.BREAK and layer_type(lk.type).conv_dims:
            broken = True
        elif lk.relation is not Relation.FOLLOWS:
            broken = False
        if broken:
            off.add(lk.name)
    return off


def _ints(value: Any, n: int) -> tuple[int, ...] | None:
    """A stored hyper-parameter as ``n`` ints (an int repeats), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return tuple(value for _ in range(n))
    if isinstance(value, tuple) and len(value) == n and all(isinstance(v, int) for v in value):
        return value
    return None


def stored_conv(group: LayerGroup, n: int) -> Choice | None:
    """The padding/stride/dilation a full-model pickle stored on a convolution (torch's
    ``_ConvNd`` attributes; ``padding='same'`` is the exact same-size padding)."""
    a = group.attrs
    stride = _ints(a.get("stride"), n)
    dilation = _ints(a.get("dilation", 1), n) or tuple(1 for _ in range(n))
    kernel = _ints(a.get("kernel_size"), n)
    if stride is None or kernel is None:
        return None
    padding = a.get("padding")
    if padding == "same":
        pads = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel, strict=True))
        extra = tuple(d * (k - 1) % 2 for d, k in zip(dilation, kernel, strict=True))
        return Choice(pads, stride, dilation, stored=True, extra=extra)
    if padding == "valid":
        return Choice(tuple(0 for _ in range(n)), stride, dilation, stored=True)
    stored = _ints(padding, n)
    if stored is None:
        return None
    return Choice(stored, stride, dilation, stored=True)


def stored_pool(group: LayerGroup, n: int) -> Pool | None:
    """The window a full-model pickle stored on a ``MaxPool*d``/``AvgPool*d``."""
    a = group.attrs
    kernel = _ints(a.get("kernel_size"), n)
    if kernel is None:
        return None
    stride = _ints(a.get("stride"), n) or kernel  # torch: stride=None means the kernel
    padding = _ints(a.get("padding", 0), n) or tuple(0 for _ in range(n))
    return Pool(kernel, stride, padding, bool(a.get("ceil_mode", False)))


def _norm_pin(
    ctx: InputContext, group: LayerGroup, last: SpatialOp
) -> tuple[int | None, ...] | None:
    """A LayerNorm over ``[C, *sizes]`` right after a convolution of ``C`` channels fixes
    that convolution's output size (SincNet's ``LayerNorm([40, 2950])``)."""
    g = ctx.guesses.get(group.name)
    if (
        g is None
        or last.kind is OpKind.GAP
        or layer_type(g.type).family is not (LayerFamily.LAYER_NORM)
    ):
        return None
    shape = g.attrs.get("normalized_shape")
    conv = ctx.guesses.get(last.name)
    if not isinstance(shape, tuple) or conv is None or len(shape) != len(last.kernel) + 1:
        return None
    if shape[0] != conv.attrs.get("out_channels"):
        return None
    return tuple(shape[1:])


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
    known = None
    pool_type = ctx.guesses[pool_module].type if pool_module else ""
    if pool_module and hint is PoolHint.POOL:
        group = ctx.groups[ctx.position[pool_module]]
        pool = stored_pool(group, len(ctx.guesses[before].attrs.get("kernel_size", (1,))))
        if pool is not None:
            known = Choice(pool=pool, stored=True)
    return SpatialOp(
        OpKind.GAP,
        anchor,
        modules=tuple(unknown),
        pool_hint=hint,
        pool_module=pool_module,
        members=tuple(members),
        known=known,
        pool_type=pool_type,
        functional=ctx.functional,
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


def _one(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else values


def _conv_entry(op: SpatialOp, ch: Choice, d: int) -> PlanEntry:
    type_ = f"ConvTranspose{d}d" if op.kind is OpKind.CONV_TRANSPOSE else f"Conv{d}d"
    attrs: list[tuple[str, Any]] = [("padding", _one(ch.padding)), ("stride", _one(ch.stride))]
    if ch.dilation and max(ch.dilation) > 1:
        attrs.append(("dilation", _one(ch.dilation)))
    if ch.extra and max(ch.extra) > 0:
        attrs[0] = ("padding", "same")
    return (op.name, type_, tuple(attrs))


def pool_attrs(pool: Pool) -> tuple[tuple[str, Any], ...]:
    """A pool's constructor arguments, defaults left out (``kernel_size`` always)."""
    attrs: list[tuple[str, Any]] = [("kernel_size", _one(pool.kernel))]
    if pool.stride != pool.kernel:
        attrs.append(("stride", _one(pool.stride)))
    if any(pool.pads):
        attrs.append(("padding", _one(pool.pads)))
    if pool.ceil_mode:
        attrs.append(("ceil_mode", True))
    return tuple(attrs)


def _gap_entries(op: SpatialOp, ch: Choice, d: int) -> Plan:
    plan: Plan = []
    mods = list(op.modules)
    if ch.pooled and ch.pool is not None:
        target = op.pool_module or (mods.pop() if mods else "+" + op.name)
        # a typed pool module keeps its type (AvgPool2d), as does a functional pool of a
        # known kind; an assumed one is a MaxPool
        type_ = op.pool_type or f"MaxPool{d}d"
        plan.append((target, type_, pool_attrs(ch.pool)))
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
        inner = ", ".join(
            str(v) if k in ("kernel_size", "output_size") else f"{k}={v}" for k, v in a.items()
        )
        return f"{type_}({inner}) {at}"
    text = f"{where}: padding={a.get('padding')} stride={a.get('stride')}"
    if "dilation" in a:
        text += f" dilation={a['dilation']}"
    return text
