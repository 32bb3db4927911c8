"""Parallel projections (a private part of :mod:`.wiring`): sibling Linear layers of one
input width registered back to back read one input (q/k/v; gate/up); three of them are an
attention (Vaswani et al. 2017), two of equal width a gated unit (Dauphin et al. 2017;
LLaMA's SwiGLU); one projection giving three times the width the next layer takes is a
packed q/k/v.

Pure: no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .accept_common import LINEAR_TYPES
from .values import Layout, ModuleSpec, OpKind, Value

if TYPE_CHECKING:
    from .tree import Node
    from .walk import Walker

__all__ = ["attend_packed", "close_group", "joins_parallel", "reads_packed"]

_MAX_PARALLEL = 3
"""Projections that read one input at most (query, key, value)."""


def reads_packed(spec: ModuleSpec, stream: Value, need: int) -> bool:
    """An output projection (width back to width) after one giving three times that
    width: the packed q/k/v of an attention (timm ``qkv``/``proj``, GPT-2 ``c_attn``/
    ``c_proj``)."""
    return (
        spec.type in LINEAR_TYPES
        and spec.attrs.get("out_features") == need
        and stream.features == 3 * need
        and stream.layout in (Layout.SEQ, Layout.LAST)
    )


def joins_parallel(w: Walker, node: Node, spec: ModuleSpec) -> bool:
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


def close_group(w: Walker) -> Value | None:
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


def attend_packed(w: Walker, stream: Value, need: int) -> Value:
    """Attention over a packed q/k/v projection."""
    out = w.derive(stream, features=need, producer="attention")
    return w.emit(OpKind.ATTEND, (stream,), out, _where(w, "attend"), (("packed", 3),))


def _where(w: Walker, what: str) -> str:
    return f"{w.scopes[-1].node.path}<{what}" if w.scopes else f"<{what}"
