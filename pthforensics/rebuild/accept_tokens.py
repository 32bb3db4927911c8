"""Feeding the modules of token and sequence models: embeddings (token tables and the
position/segment tables added to the stream), recurrent layers and cells (a map read as a
sequence by a CRNN), and ``nn.MultiheadAttention``.

Layouts follow torch.nn (pytorch: torch/nn/modules/sparse.py, rnn.py, activation.py).
Pure: no torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .accept_common import CELL_TYPES, layer_dims_of, to_channels_first
from .sizes import is_map
from .values import Layout, ModuleSpec, Value

if TYPE_CHECKING:
    from .walk import Walker

__all__ = ["added_table", "attention", "embedding", "recurrent"]


def embedding(w: Walker, spec: ModuleSpec, v: Value) -> Value | str:
    """An Embedding reading token ids, or a position/segment table added to the stream."""
    dim = spec.attrs.get("embedding_dim")
    if v.layout is Layout.MAP and v.dims == 1 and v.features == dim:
        v = w.permute(v, Layout.SEQ, spec.path, "a signal's steps read as a sequence")
    if v.layout is Layout.IDS:
        layout = Layout.SEQ if spec.type == "Embedding" else Layout.FLAT
        extent = v.extent if layout is Layout.SEQ else ()
        sizes = v.sizes if layout is Layout.SEQ else ()
        out = w.derive(
            v, layout=layout, features=dim, extent=extent, sizes=sizes, producer=spec.path
        )
        return w.call(spec, v, out)
    if v.layout is Layout.SEQ and v.features == dim and added_table(spec):
        return w.embed_add(spec, v)
    return f"an {spec.type} of width {dim} after a {v.layout} value of {v.features}"


_SEGMENT_ROWS = 16
"""Rows of a segment/token-type table at most (BERT's has 2)."""


def added_table(spec: ModuleSpec) -> bool:
    """An Embedding added to the stream (a position or segment table), not one reading
    token ids of its own (a decoder's vocabulary)."""
    return (
        spec.attrs.get("role") == "position"
        or (spec.attrs.get("num_embeddings") or 0) <= _SEGMENT_ROWS
    )


def recurrent(w: Walker, spec: ModuleSpec, v: Value) -> Value | str:
    """An RNN/LSTM/GRU over a sequence (or a map's columns), or a cell over vectors."""
    t = spec.type
    need = spec.attrs.get("input_size")
    _, dout = layer_dims_of(spec)
    if t in CELL_TYPES:
        if v.layout is not Layout.FLAT or v.features != need:
            return f"a {t} taking {need} features after a {v.layout} value of {v.features}"
        return w.call(spec, v, w.derive(v, features=dout, producer=spec.path))
    if is_map(v):
        got = _map_to_sequence(w, spec, v, need)
        if isinstance(got, str):
            return got
        v = got
    if v.layout is not Layout.SEQ or v.features != need:
        return f"a {t} taking {need} features after a {v.layout} value of {v.features}"
    spec.attrs["vocab"] = w.ctx.vocab
    return w.call(spec, v, w.derive(v, features=dout, producer=spec.path))


def _map_to_sequence(w: Walker, spec: ModuleSpec, v: Value, need: Any) -> Value | str:
    """A map read by an RNN: steps along its last axis, features = channels x the other
    axes (a CRNN's columns)."""
    if v.layout is Layout.LAST:
        v = to_channels_first(w, v, spec.path)
    rest = math.prod(v.sizes[:-1]) if v.sizes else None
    c = v.features or 0
    if need == c and (v.dims == 1 or rest == 1):
        return w.permute(v, Layout.SEQ, spec.path, "the map's last axis read as time steps")
    if rest is not None and need == c * rest:
        return w.permute(v, Layout.SEQ, spec.path, "the map's columns read as time steps")
    return f"an RNN taking {need} features after a map of {c} channels"


def attention(w: Walker, spec: ModuleSpec, v: Value) -> Value | str:
    """``nn.MultiheadAttention`` over a sequence (or over the positions of a map)."""
    need = spec.attrs.get("embed_dim")
    if v.layout is Layout.MAP and v.features == need:
        v = w.permute(v, Layout.LAST, spec.path, "attention over the positions of a map")
    if v.layout not in (Layout.SEQ, Layout.LAST, Layout.FLAT) or v.features != need:
        return f"attention over {need} features after a {v.layout} value of {v.features}"
    out = w.derive(v, producer=spec.path)
    return w.attend_module(spec, v, out)
