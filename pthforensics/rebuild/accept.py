"""Feeding one module: can this value be its input, and what comes out.

``accept(w, spec, v)`` checks the layout and feature count a module of ``spec.type``
needs against value ``v``, inserts what a forward() does between modules without a module
of its own (a flatten before a head, global pooling before a Linear reading channels, a
permute into a channels-last block, the first token of a sequence before a classifier,
the columns of a map read as a sequence by an RNN), emits the call and returns its output
value -- or the reason ``v`` cannot be its input.  What it inserts is marked as assumed.

Layouts follow torch.nn: convolutions and batch-statistics norms read channels first,
Linear/LayerNorm/attention the last dim (pytorch: torch/nn/modules/*.py).

Pure: no torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pthforensics.infer import LayerFamily, layer_type

from .accept_common import (
    CELL_TYPES,
    LINEAR_TYPES,
    RECURRENT_TYPES,
    layer_dims_of,
    same,
    to_channels_first,
)
from .accept_tokens import attention, embedding, recurrent
from .sizes import is_map, resized
from .values import Layout, ModuleSpec, Value

if TYPE_CHECKING:
    from .walk import Walker

__all__ = ["accept", "paramless"]

_CHANNELS_FIRST_NORMS = (LayerFamily.BATCH_NORM, LayerFamily.INSTANCE_NORM)


def accept(w: Walker, spec: ModuleSpec, v: Value, *, relaxed: bool = False) -> Value | str:
    """Feed ``v`` to the module of ``spec``; its output, or why it cannot take ``v``
    (``relaxed``: a convolution may read a multiple of its channels as groups)."""
    t = spec.type
    lt = layer_type(t)
    if lt.conv_dims:
        return _conv(w, spec, v, relaxed)
    if t in LINEAR_TYPES:
        return _linear(w, spec, v, relaxed)
    if lt.family in _CHANNELS_FIRST_NORMS or lt.family is LayerFamily.GROUP_NORM:
        return _stat_norm(w, spec, v)
    if t == "LayerNorm2d":
        return same(w, spec, v, _need(spec)) if v.layout is Layout.MAP else "not a map"
    if lt.family in (LayerFamily.LAYER_NORM, LayerFamily.RMS_NORM):
        return _layer_norm(w, spec, v)
    if lt.family is LayerFamily.EMBEDDING:
        return embedding(w, spec, v)
    if t in RECURRENT_TYPES or t in CELL_TYPES:
        return recurrent(w, spec, v)
    if t == "MultiheadAttention":
        return attention(w, spec, v)
    if lt.family is LayerFamily.PRELU:
        n = spec.attrs.get("num_parameters", 1)
        if n > 1 and v.features != n:
            return f"a PReLU of {n} channels after {v.features}"
        return same(w, spec, v, None)
    return f"{t} layers are not rebuilt"


def _need(spec: ModuleSpec) -> int | None:
    din, _ = layer_dims_of(spec)
    return din


# --- convolutions -------------------------------------------------------------------------


def _conv(w: Walker, spec: ModuleSpec, v: Value, relaxed: bool) -> Value | str:
    lt = layer_type(spec.type)
    d = lt.conv_dims
    need = spec.attrs.get("in_channels")
    if v.layout is Layout.FLAT and d == 1 and need == 1 and v.features:
        v = w.permute(v, Layout.MAP, spec.path, "a vector read as a one-channel signal")
    if v.features != need and relaxed and not _regroup(spec, v):
        return f"takes {need} channels but gets {v.features}"
    if v.features != need and not relaxed:
        return f"takes {need} channels but gets {v.features}"
    if v.layout is Layout.LAST:
        v = to_channels_first(w, v, spec.path)
    elif v.layout is Layout.SEQ and d == 1:
        v = w.permute(v, Layout.MAP, spec.path, "the sequence read by a Conv1d as (N, C, L)")
    if v.layout is not Layout.MAP or v.dims != d:
        return f"a {spec.type} after a {v.layout} value ({v.dims}-d)"
    extent, sizes = resized(v, spec.type, spec.attrs)
    if sizes is not None and min(sizes) < 1:
        sizes = tuple(max(s, 0) for s in sizes)
    out = w.derive(
        v,
        features=spec.attrs["out_channels"],
        extent=extent,
        sizes=sizes,
        pooled=False,
        producer=spec.path,
    )
    return w.call(spec, v, out)


def _regroup(spec: ModuleSpec, v: Value) -> bool:
    """A convolution whose kernels see fewer channels than the stream carries, read as a
    grouped convolution: ``groups = C / (in_channels / groups)`` when both the stream's and
    its output channels divide (the weights store channels per group, not the groups)."""
    a = spec.attrs
    if layer_type(spec.type).is_transposed:
        return False  # its weight is stored (in, out / groups, k...): in is not per group
    per_group = (a.get("in_channels") or 0) // max(a.get("groups", 1), 1)
    c, out = v.features or 0, a.get("out_channels") or 0
    if not per_group or not c or c % per_group or out % (c // per_group):
        return False
    a["groups"], a["in_channels"] = c // per_group, c
    spec.assumed = spec.assumed or f"groups={c // per_group} from the {c} channels it reads"
    return True


# --- Linear-like ------------------------------------------------------------------------------


def _linear(w: Walker, spec: ModuleSpec, v: Value, relaxed: bool) -> Value | str:
    need = spec.attrs.get("in_features")
    if need is None:
        return "no in_features"
    if v.layout is Layout.MAP:
        got = _map_to_vectors(w, spec, v, need, relaxed)
        if isinstance(got, str):
            return got
        v = got
    elif v.layout is Layout.SEQ:
        got = _sequence_to_head(w, spec, v, need)
        if isinstance(got, str):
            return got
        v = got
    elif v.layout is Layout.LAST and v.features != need:
        merged = _merge(w, spec, v, need)
        if merged is None:
            return f"takes {need} features but the map carries {v.features}"
        v = merged
    if v.layout is Layout.IDS:
        return "a Linear reading token ids"
    if v.layout is Layout.FLAT and v.features is None:
        v = replace(v, features=need)  # a flatten of a map whose size is not known here
    if v.features != need:
        return f"takes {need} features but gets {v.features}"
    out = w.derive(v, features=spec.attrs.get("out_features"), producer=spec.path)
    return w.call(spec, v, out)


def _map_to_vectors(w: Walker, spec: ModuleSpec, v: Value, need: int, relaxed: bool) -> Value | str:
    """A Linear after a channels-first map: channels-last inside a block, pooled or
    flattened into a head.  A flatten whose positions do not make ``in_features`` at the
    planned input is tried last (``relaxed``): another value may fit; if none does, the
    run shows the input wrong."""
    c = v.features or 0
    if need == c and not v.pooled and w.ctx.maps_later(spec.path):
        return w.permute(v, Layout.LAST, spec.path, "a Linear over the channels of a map")
    if need == c:
        if not v.pooled:
            v = w.insert_pool(v, spec.path, 1, "global pooling before a Linear reading channels")
        return w.flatten(v, spec.path, c)
    merged = _merge(w, spec, v, need)
    if merged is not None:
        return merged
    if c == 0 or need % c:
        return f"takes {need} features; {c} channels do not flatten into it"
    m = need // c
    if v.positions is not None and v.positions != m and not relaxed and not v.side:
        return f"takes {need} = {c} channels x {m} positions; the map has {v.positions}"
    if v.positions is not None and v.positions != m and v.side:
        side = _grid(m, v.dims)
        if side is None:
            return f"{m} positions are no {v.dims}-d grid"
        v = w.insert_pool(v, spec.path, side, f"an adaptive pool to {m} positions on a side branch")
    return w.flatten(v, spec.path, need)


def _grid(m: int, d: int) -> int | None:
    side = round(m ** (1 / d)) if d else 0
    return side if d and side**d == m else None


def _merge(w: Walker, spec: ModuleSpec, v: Value, need: int) -> Value | None:
    """Space-to-depth before a layer taking ``2^d`` times the channels (Swin's patch
    merging: Liu et al. 2021, sec. 3.1)."""
    if not is_map(v) or not v.features or need != v.features * 2**v.dims:
        return None
    return w.merge(v, spec.path)


def _sequence_to_head(w: Walker, spec: ModuleSpec, v: Value, need: int) -> Value | str:
    """A Linear after a sequence: per token, or the head of a classifier reading one, or
    across the tokens."""
    if v.features != need:
        v = _token_mixing(w, spec, v, need)
    if v.features == need:
        how = _head_select(w, spec, v)
        return w.select(v, how, spec.path) if how else v
    length = v.sizes[0] if v.sizes else None
    if v.features and length and need == v.features * length:
        return w.flatten(v, spec.path, need)
    return f"takes {need} features but the sequence carries {v.features}"


def _token_mixing(w: Walker, spec: ModuleSpec, v: Value, need: int) -> Value:
    """A Linear as wide as the sequence is long reads it along the tokens (MLP-Mixer's
    token-mixing MLP, Tolstikhin et al. 2021); the features come back for a layer as
    wide as they are."""
    key = v.extent[0] if v.extent else None
    if isinstance(key, tuple) and key[:1] == ("tokens-mixed",) and key[1] == need:
        return w.swap_axes(v, spec.path)
    if (
        v.sizes
        and v.sizes[0] == need
        and not (isinstance(key, tuple) and key[:1] == ("tokens-mixed",))
    ):
        return w.swap_axes(v, spec.path)
    return v


def _head_select(w: Walker, spec: ModuleSpec, v: Value) -> str:
    """What a classifier head reads of a sequence: the last step after an RNN, the class
    token of a ViT or a BERT pooler, the mean of patch tokens; ``""``: every token (a
    language-model head back onto the vocabulary, a per-token classifier)."""
    ctx = w.ctx
    if not ctx.in_head(spec.path) or (ctx.vocab and spec.attrs.get("out_features") == ctx.vocab):
        return ""
    if w.last_type in RECURRENT_TYPES:
        return "last"
    if ctx.prefix_tokens:
        return "first"
    if any(i.layout is Layout.IDS for i in w.inputs):
        # a pooler (a width-keeping Linear in the head) reads the first token, unless
        # the head maps back onto the vocabulary (a masked-LM transform)
        head = [ctx.guesses[p] for p in ctx.head if p in ctx.guesses]
        dims = [
            (g.attrs.get("in_features"), g.attrs.get("out_features"))
            for g in head
            if g.type in LINEAR_TYPES
        ]
        pooler = any(i == o for i, o in dims)
        to_vocab = any(o == ctx.vocab for _, o in dims)
        return "first" if pooler and not to_vocab else ""
    if v.extent and isinstance(v.extent[0], tuple) and v.extent[0][:1] == ("patches",):
        return "mean"
    return ""


# --- norms --------------------------------------------------------------------------------


def _stat_norm(w: Walker, spec: ModuleSpec, v: Value) -> Value | str:
    need = _need(spec)
    if v.features != need:
        return f"normalises {need} features but gets {v.features}"
    if v.layout is Layout.LAST:
        v = to_channels_first(w, v, spec.path)
    lt = layer_type(spec.type)
    if v.layout is Layout.MAP and lt.family in _CHANNELS_FIRST_NORMS and lt.dims != v.dims:
        spec.type = spec.type[:-2] + f"{max(v.dims, 1)}d"
    elif v.layout is Layout.FLAT and lt.family is LayerFamily.BATCH_NORM and lt.dims != 1:
        spec.type = spec.type[:-2] + "1d"
    elif v.layout in (Layout.SEQ, Layout.IDS) or (
        v.layout is Layout.FLAT and lt.family is LayerFamily.INSTANCE_NORM
    ):
        return f"a {spec.type} after a {v.layout} value"
    return w.call(spec, v, w.derive(v, producer=spec.path))


def _layer_norm(w: Walker, spec: ModuleSpec, v: Value) -> Value | str:
    need = _need(spec)
    if v.features != need and v.layout is Layout.SEQ and need is not None:
        v = _token_mixing(w, spec, v, need)
    if v.features != need:
        merged = _merge(w, spec, v, need) if need else None
        if merged is None:
            return f"normalises {need} features but gets {v.features}"
        v = merged
    if _over_the_map(spec, v):
        if v.layout is Layout.SEQ:
            v = w.permute(v, Layout.MAP, spec.path, "a LayerNorm over channels and steps")
    elif v.layout is Layout.MAP:
        v = w.permute(v, Layout.LAST, spec.path, "a LayerNorm over the channels of a map")
    if v.layout is Layout.IDS:
        return "a LayerNorm reading token ids"
    return w.call(spec, v, w.derive(v, producer=spec.path))


def _over_the_map(spec: ModuleSpec, v: Value) -> bool:
    """A LayerNorm whose ``normalized_shape`` is the channels and every axis of a map
    (``nn.LayerNorm([C, L])`` after a Conv1d: it normalises the trailing dims as they
    are, channels first, so the map is not turned channels-last)."""
    ns = spec.attrs.get("normalized_shape")
    if not isinstance(ns, tuple) or len(ns) < 2 or v.layout not in (Layout.MAP, Layout.SEQ):
        return False
    dims = v.dims if v.layout is Layout.MAP else 1
    return len(ns) == dims + 1 and (not v.sizes or tuple(v.sizes) == tuple(ns[1:]))


# --- parameter-less modules -------------------------------------------------------------------


def paramless(w: Walker, spec: ModuleSpec, v: Value) -> Value:
    """A parameter-less module applied to ``v`` (an Identity where its type cannot
    apply)."""
    family = layer_type(spec.type).family
    if family in (LayerFamily.POOL, LayerFamily.ADAPTIVE_POOL, LayerFamily.UPSAMPLE):
        if v.layout is Layout.LAST:
            v = to_channels_first(w, v, spec.path)
        if v.layout is not Layout.MAP:
            return _identity(w, spec, v)
        d = layer_type(spec.type).dims
        if d and d != v.dims:
            spec.type = spec.type[:-2] + f"{v.dims}d"
        extent, sizes = resized(v, spec.type, spec.attrs)
        pooled = family is LayerFamily.ADAPTIVE_POOL and all(s == 1 for s in sizes or (2,))
        out = w.derive(v, extent=extent, sizes=sizes, pooled=pooled, producer=spec.path)
        return w.call(spec, v, out)
    if family is LayerFamily.FLATTEN:
        if not is_map(v):
            return _identity(w, spec, v)
        n = (v.features or 0) * (v.positions or 1) if v.positions is not None else None
        out = w.derive(v, layout=Layout.FLAT, features=n, extent=(), sizes=(), producer=spec.path)
        return w.call(spec, v, out)
    if family in (LayerFamily.ELEMENTWISE, LayerFamily.SOFTMAX):
        return w.call(spec, v, w.derive(v, producer=spec.path))
    return _identity(w, spec, v)


def _identity(w: Walker, spec: ModuleSpec, v: Value) -> Value:
    spec.type = "Identity"
    spec.attrs = {}
    return w.call(spec, v, w.derive(v, producer=spec.path))
