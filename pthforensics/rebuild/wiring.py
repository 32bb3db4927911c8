"""Which value a module reads: the candidates, most likely first.

How the candidates are told apart follows from how layers shape tensors:

- *Parallel projections*: two Linear layers applied one after the other with nothing
  between compose into one linear map, which nobody stores; sibling projections of the
  same input width registered back to back read one input (q/k/v; gate/up).  Three of
  them followed by a layer taking the query's width are an attention (Vaswani et al.
  2017), two of equal width a gated unit (Dauphin et al. 2017; LLaMA's SwiGLU).  One
  projection giving three times the width the next layer takes is a packed q/k/v.
- *Residual*: a branch left pending with the stream's width and size is added back when
  the next module reads that width (He et al. 2016); a projected shortcut (a convolution
  reading the block input and giving the stream's width) takes the stride that makes its
  output the size of the stream it is added to.
- *Concatenation*: a module taking more channels than the stream reads the stream
  concatenated with earlier values of the same size (DenseNet, Inception, U-Net).
- *Branch*: otherwise the input of the enclosing block, or the nearest earlier value of
  the right width (a second head on a trunk).

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from pthforensics.infer import LayerFamily, layer_type

from .accept import LINEAR_TYPES, added_table, layer_dims_of
from .inputs import input_value
from .sizes import is_map
from .values import Affine, Layout, ModuleSpec, OpKind, Value

if TYPE_CHECKING:
    from .tree import Node
    from .walk import Scope, Walker

__all__ = ["candidates", "input_value", "shortcut_stride"]

_Make = Callable[[], Value | None]
_MAX_PARALLEL = 3
"""Projections that read one input at most (query, key, value)."""
_MAX_CONCAT = 64
"""Values a concatenation may join at most (DenseNet-201's last block has 33)."""


def candidates(
    w: Walker, node: Node, spec: ModuleSpec, *, relaxed: bool = False
) -> list[tuple[str, _Make]]:
    """``(source, make)`` pairs, best first; ``make`` emits what joins the values and
    returns the one to feed (``None`` when it does not apply).  ``relaxed``: the last
    resorts, once the others failed (the stream read as groups, coordinate channels)."""
    need, _ = layer_dims_of(spec)
    if w.stream is None:
        if not relaxed:
            return [("input", lambda: input_value(w, spec))]
        if not (need and layer_type(spec.type).conv_dims):
            return []
        return [("coords", lambda: _with_channels(w, input_value(w, spec), need, spec.path))]
    stream = w.stream
    if layer_type(spec.type).family is LayerFamily.EMBEDDING and not added_table(spec):
        return [] if relaxed else [("input", lambda: input_value(w, spec, again=True))]
    if relaxed:
        out_relaxed: list[tuple[str, _Make]] = [("stream", lambda: _fold(w, stream))]
        if need and layer_type(spec.type).conv_dims:
            out_relaxed.append(("coords", lambda: _with_channels(w, stream, need, spec.path)))
        return out_relaxed
    out: list[tuple[str, _Make]] = []
    if need and _reads_packed(spec, stream, need):
        width = need
        out.append(("packed", lambda: _attend_packed(w, stream, width)))
    if _joins_parallel(w, node, spec):
        out.append(("parallel", lambda: w.parallel[-1][1]))
    elif len(w.parallel) >= 2:
        out.append(("group", lambda: _close_group(w)))
    out.append(("stream", lambda: _fold(w, stream)))
    if w.pending:
        out.append(("stream", lambda: stream))
    block = next((s.input for s in reversed(w.scopes) if s.input is not None), None)
    branch: list[tuple[str, _Make]] = []
    if block is not None and block.id != stream.id and need is not None:
        branch.append(("branch", lambda: block if block.features == need else None))
    if need is not None:
        # waiting pools or upsamplings go before the join (a U-Net upsamples, then joins
        # the skip) or after it (a global pool after the last inception block)
        concat: list[tuple[str, _Make]] = [
            ("concat", lambda: _concat(w, stream, need, early=True)),
            ("concat", lambda: _concat(w, stream, need, early=False)),
        ]
        # an upsampled map is made to be read: a decoder concatenates it with its skip
        out.extend([*concat, *branch] if _upsampled(w) else [*branch, *concat])
        if w.weak:
            out.append(("earlier", lambda: _earlier(w, stream, need)))
    return out


def _upsampled(w: Walker) -> bool:
    """The stream comes from an upsampling layer (a transposed convolution, Upsample)."""
    family = layer_type(w.last_type).family
    spec = w.specs.get(w.stream.producer) if w.stream is not None else None
    return family is LayerFamily.CONV_TRANSPOSE or (
        spec is not None and layer_type(spec.type).family is LayerFamily.UPSAMPLE
    )


def _reads_packed(spec: ModuleSpec, stream: Value, need: int) -> bool:
    """An output projection (width back to width) after one giving three times that
    width: the packed q/k/v of an attention (timm ``qkv``/``proj``, GPT-2 ``c_attn``/
    ``c_proj``)."""
    return (
        spec.type in LINEAR_TYPES
        and spec.attrs.get("out_features") == need
        and stream.features == 3 * need
        and stream.layout in (Layout.SEQ, Layout.LAST)
    )


def _joins_parallel(w: Walker, node: Node, spec: ModuleSpec) -> bool:
    """A Linear registered right after a sibling Linear of the same input width."""
    prev = w.prev
    if prev is None or not w.parallel or spec.type not in LINEAR_TYPES:
        return False
    if len(w.parallel) >= _MAX_PARALLEL:
        return False  # q, k, v: a fourth projection reads the attention
    last_spec = w.parallel[-1][0]
    return (
        last_spec.path == prev.path
        and last_spec.type in LINEAR_TYPES
        and prev.path.rpartition(".")[0] == node.path.rpartition(".")[0]
        and last_spec.attrs.get("in_features") == spec.attrs.get("in_features")
        and w.stream is not None
        and w.stream.id == w.parallel[-1][2].id
    )


def _close_group(w: Walker) -> Value | None:
    """Attention over three parallel projections, or a gated unit over two."""
    outs = [out for _, _, out in w.parallel]
    if len(outs) >= 3:
        q, k, v = outs[:3]
        if not (q.features and k.features and v.features) or q.features % k.features:
            return None
        feats = v.features * q.features // k.features
        return w.emit(
            OpKind.ATTEND,
            (q, k, v),
            w.derive(q, features=feats, producer="attention"),
            _where(w, "attend"),
        )
    a, b = outs[:2]
    if a.features != b.features:
        return None
    return w.emit(OpKind.MUL, (a, b), w.derive(b, producer="gated unit"))


def _attend_packed(w: Walker, stream: Value, need: int) -> Value:
    """Attention over a packed q/k/v projection."""
    out = w.derive(stream, features=need, producer="attention")
    return w.emit(OpKind.ATTEND, (stream,), out, _where(w, "attend"), (("packed", 3),))


def _where(w: Walker, what: str) -> str:
    return f"{w.scopes[-1].node.path}<{what}" if w.scopes else f"<{what}"


def _same_size(a: Value, b: Value) -> bool:
    if a.layout != b.layout and not (is_map(a) and is_map(b)):
        return False
    return a.extent == b.extent


def _fold(w: Walker, stream: Value) -> Value:
    """The stream with pending branches of its width and size added back (residuals)."""
    keep: list[Value] = []
    for p in w.pending:
        if p.features == stream.features and p.id != stream.id and _same_size(p, stream):
            if p.layout != stream.layout:
                p = w.permute(p, stream.layout, stream.producer, "align layouts for the sum")
            stream = w.emit(OpKind.ADD, (stream, p), w.derive(stream, producer="residual"))
        else:
            keep.append(p)
    w.pending = keep
    return stream


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


def _concat(w: Walker, stream: Value, need: int, *, early: bool) -> Value | None:
    """The stream concatenated with earlier values of its size summing to ``need``:
    pending branch outputs first (inception, fire modules), else the inputs and outputs of
    the open blocks (dense blocks, U-Net skips)."""
    target = need - (stream.features or 0)
    if target <= 0 or stream.layout not in (Layout.MAP, Layout.SEQ, Layout.LAST):
        return None
    if early:
        stream = w.apply_deferred(stream)

    def fits(v: Value) -> bool:
        return bool(v.features) and v.layout == stream.layout and _same_size(v, stream)

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


def _with_channels(w: Walker, stream: Value | None, need: int, where: str) -> Value | None:
    """Channels appended to a map (CoordConv, Liu et al. 2018: the position of each pixel
    as extra input channels): a map the enclosing block stores whose channels are the
    ones missing (broadcast over the other axes), else computed coordinates."""
    if stream is None or stream.layout is not Layout.MAP:
        return None
    extra = need - (stream.features or 0)
    stored = _stored_map(w, stream, extra)
    if stored is not None:
        w.unused.pop(stored, None)  # the stored map has its role now
        out = w.derive(stream, features=need, producer=stored)
        return w.emit(OpKind.APPEND, (stream,), out, stored)
    return _coords(w, stream, need, where)


def _stored_map(w: Walker, stream: Value, extra: int) -> str | None:
    """Key of a tensor held by an open block, shaped ``(1, extra, ...)`` with one size per
    axis of ``stream`` that is 1 or the map's (a stored coordinate map)."""
    for scope in reversed(w.scopes):
        group = scope.node.group
        for t in group.tensors if group is not None and group in w.held else ():
            shape = t.shape
            if len(shape) != stream.dims + 2 or shape[0] != 1 or shape[1] != extra:
                continue
            sizes = stream.sizes or (None,) * stream.dims
            if all(s == 1 or s == n for s, n in zip(shape[2:], sizes, strict=True)):
                return t.key
    return None


def _coords(w: Walker, stream: Value, need: int, where: str) -> Value | None:
    """One or two computed coordinate channels appended to a map."""
    extra = need - (stream.features or 0)
    if stream.layout is not Layout.MAP or extra not in (1, 2) or extra > stream.dims:
        return None
    out = w.derive(stream, features=need)
    return w.insert(
        where,
        "coords",
        "AddCoords",
        {"channels": extra},
        stream,
        out,
        f"{extra} coordinate channel(s) appended (no module stores them)",
        False,
    )


def _earlier(w: Walker, stream: Value, need: int) -> Value | None:
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


def shortcut_stride(w: Walker, spec: ModuleSpec, v: Value) -> None:
    """A convolution reading an earlier value and giving the stream's width, with no
    stride of its own from the file or the hypothesis: the stride that makes its output
    the size of the stream it is added to."""
    stream = w.stream
    lt = layer_type(spec.type)
    if (
        stream is None
        or not lt.conv_dims
        or lt.is_transposed
        or not spec.assumed.startswith("stride 1")
        or spec.attrs.get("out_channels") != stream.features
        or not (is_map(v) and is_map(stream))
        or v.dims != stream.dims
        or v.extent == stream.extent
    ):
        return
    strides = []
    for a, b in zip(v.extent, stream.extent, strict=True):
        if not (isinstance(a, Affine) and isinstance(b, Affine)) or not b.scale:
            return
        r = a.scale / b.scale
        if r.denominator != 1 or r < 1:
            return
        strides.append(int(r))
    if all(s == 1 for s in strides):
        return
    k = spec.attrs.get("kernel_size", (1,) * v.dims)
    spec.attrs["stride"] = tuple(strides) if len(set(strides)) > 1 else strides[0]
    spec.attrs["padding"] = tuple((x - 1) // 2 for x in k)
    spec.assumed = (
        f"stride {spec.attrs['stride']} so that its output matches {stream.producer} "
        "it is added to (not stored)"
    )
