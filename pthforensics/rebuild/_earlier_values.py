"""Earlier values a module reads (a private part of :mod:`.wiring`): the stream
concatenated with earlier values of its size (DenseNet, Inception, U-Net), and the
nearest earlier value of a width (a second head on a trunk).

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from .sizes import is_map
from .values import Affine, Layout, OpKind, Value

if TYPE_CHECKING:
    from .walk import Scope, Walker

__all__ = ["concatenation", "earlier", "same_size"]

_MAX_CONCAT = 64
"""Values a concatenation may join at most (DenseNet-201's last block has 33)."""


def same_size(a: Value, b: Value) -> bool:
    if a.layout != b.layout and not (is_map(a) and is_map(b)):
        return False
    return a.extent == b.extent


def _visible(w: Walker, stream: Value) -> list[tuple[Value | None, list[Value]]]:
    """Earlier values a module may read, nearest group first, each ``(block input,
    values)``: pending branches, then per open scope its input and children's outputs,
    then the last closed scope's."""
    groups: list[tuple[Value | None, list[Value]]] = [(None, list(w.pending))]
    scopes = [*reversed(w.scopes), *([w.last_closed] if w.last_closed else [])]
    for scope in scopes:
        values = ([scope.input] if scope.input else []) + scope.outputs
        groups.append((scope.input, values))
    return [(i, [v for v in g if v.id != stream.id]) for i, g in groups]


def concatenation(w: Walker, stream: Value, need: int, *, early: bool) -> Value | None:
    """The stream concatenated with earlier values of its size summing to ``need``:
    pending branch outputs first (inception, fire modules), else the inputs and outputs of
    the open blocks (dense blocks, U-Net skips)."""
    target = need - (stream.features or 0)
    if target <= 0 or stream.layout not in (Layout.MAP, Layout.SEQ, Layout.LAST):
        return None
    if early:
        stream = w.apply_deferred(stream)

    def fits(v: Value) -> bool:
        return bool(v.features) and v.layout == stream.layout and same_size(v, stream)

    pending = [p for p in w.pending if fits(p)]
    chosen: list[Value] | None
    chosen = _subset(pending, target) if pending else None
    if chosen is None and pending:
        chosen = _unchain(w, pending, target, fits)
    if chosen is None and pending:
        chosen = _pooled_input(w, stream, pending, target)
    if chosen is None:
        superseded = _superseded(w)
        for block_input, group in _visible(w, stream)[1:]:
            pool = sorted(
                {
                    v.id: v
                    for v in group
                    if fits(v) and (v.id not in superseded or v is block_input)
                }.values(),
                key=lambda v: v.id,
            )[-_MAX_CONCAT:]
            chosen = _subset(pool, target) if pool else None
            if chosen is not None:
                break
    if chosen is None:
        return None
    parts = sorted([*chosen, stream], key=lambda v: v.id)
    w.pending = [p for p in w.pending if p not in chosen]
    out = w.derive(stream, features=need, producer="concatenation")
    dim = 1 if stream.layout is Layout.MAP else -1
    return w.emit(OpKind.CAT, tuple(parts), out, "", (("dim", dim),))


def _pooled_input(
    w: Walker, stream: Value, pending: list[Value], target: int
) -> list[Value] | None:
    """A reduction block's branches and its own input, pooled to their size (torchvision
    InceptionB/D: ``max_pool2d(x, 3, 2)`` concatenated with strided branches; no module
    stores the pool, so it is assumed)."""
    block = w.last_closed
    x = block.input if block is not None else None
    if x is None or x.layout is not Layout.MAP or x in pending or not x.features:
        return None
    chosen = _subset(pending, target - x.features)
    window = _pool_window(x, stream)
    if chosen is None or window is None:
        return None
    k, s, p = window
    spec_attrs = {"kernel_size": k, "stride": s, "padding": p}
    from .sizes import resized

    extent, sizes = resized(x, f"MaxPool{x.dims}d", spec_attrs)
    pooled = w.derive(x, extent=extent, sizes=sizes)
    where = block.node.path if block is not None else ""
    pooled = w.insert(where, "pool", f"MaxPool{x.dims}d", spec_attrs, x, pooled,
                      "the block input pooled to its branches' size (no module stores it)",
                      True)  # fmt: skip
    return [*chosen, pooled]


def _pool_window(x: Value, target: Value) -> tuple[int, int, int] | None:
    """(kernel, stride, padding) of a max pool taking ``x``'s extent to ``target``'s."""
    for k, s, p in ((3, 2, 0), (2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)):
        ext = tuple(a.conv(k, s, p) for a in x.extent if isinstance(a, Affine))
        if ext == target.extent:
            return k, s, p
    return None


_UNCHAIN_WINDOW = 32
"""Closed containers looked back at for branches read as a chain."""


def _unchain(
    w: Walker, pending: list[Value], target: int, fits: Callable[[Value], bool]
) -> list[Value] | None:
    """Branches outputs a concatenation needs that the walk took for a chain: block B
    registered after block A of the same width, which read A's output, may as well read
    A's input (Inception-v3's branch3x3_2a and _2b both read branch3x3_1).  When the
    concatenation needs A's output, B is rewired to A's input."""
    recent = w.closed[-_UNCHAIN_WINDOW:]
    by_input = {s.input.id: s for s in recent if s.input is not None}
    extra: list[tuple[Value, Scope, Scope]] = []
    for a in recent:
        va, b = a.result, by_input.get(a.result.id) if a.result is not None else None
        if va is None or b is None or a.input is None or b.result is None:
            continue
        if va in pending or b.result not in pending or not fits(va):
            continue
        if a.input.features == va.features == b.result.features and a.input.extent == va.extent:
            extra.append((va, a, b))
    if not extra:
        return None
    chosen = _subset(sorted([*pending, *(e[0] for e in extra)], key=lambda v: v.id), target)
    if chosen is None:
        return None
    for va, a, b in extra:
        if va in chosen and a.input is not None and b.result is not None:
            for i, op in enumerate(w.ops):
                if b.start <= op.output <= b.result.id and va.id in op.inputs:
                    new = tuple(a.input.id if x == va.id else x for x in op.inputs)
                    w.ops[i] = replace(op, inputs=new)
    return chosen


def _superseded(w: Walker) -> set[int]:
    """Values a shape-keeping module (activation, norm) turned into the next one: the
    later value stands for them."""
    out = set()
    for op in w.ops:
        if op.kind is OpKind.CALL and len(op.inputs) == 1:
            a, b = w.values.get(op.inputs[0]), w.values.get(op.output)
            if (
                a is not None
                and b is not None
                and a.features == b.features
                and a.extent == b.extent
                and a.layout == b.layout
            ):
                out.add(a.id)
    return out


def _subset(pool: list[Value], target: int) -> list[Value] | None:
    """Values summing to ``target``: all of the latest run if they do, else the most
    recent ones found by a subset sum (preferring recent values)."""
    total = 0
    for i in range(len(pool) - 1, -1, -1):
        total += pool[i].features or 0
        if total == target:
            return pool[i:]
        if total > target:
            break
    reach: dict[int, tuple[int, ...]] = {0: ()}
    for i in range(len(pool) - 1, -1, -1):
        f = pool[i].features or 0
        for s, idx in list(reach.items()):
            if s + f <= target and s + f not in reach:
                reach[s + f] = (*idx, i)
        if target in reach:
            return [pool[i] for i in sorted(reach[target])]
    return None


def earlier(w: Walker, stream: Value, need: int) -> Value | None:
    """The nearest earlier value of width ``need`` (read off the main path): in the open
    blocks first, else anywhere before (a concatenation made inside a block that closed:
    GoogLeNet's second auxiliary head reads inception4d's output)."""
    for _, group in _visible(w, stream):
        for v in reversed(group):
            if v.features == need:
                return replace(v, side=True)
    superseded = _superseded(w)
    for op in reversed(w.ops):
        made = w.values.get(op.output)
        if made is None or made.features != need or made.id in superseded:
            continue
        if made.id != stream.id:
            return replace(made, side=True)
    return None
