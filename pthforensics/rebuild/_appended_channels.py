"""Channels appended to a map (a private part of :mod:`.wiring`): CoordConv (Liu et al.
2018), a stored coordinate map or computed coordinates.

Pure: no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .values import Layout, OpKind, Value

if TYPE_CHECKING:
    from .walk import Walker

__all__ = ["with_channels"]


def with_channels(w: Walker, stream: Value | None, need: int, where: str) -> Value | None:
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
