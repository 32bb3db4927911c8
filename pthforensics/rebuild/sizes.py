"""Size arithmetic of the layers that change sizes, symbolic and concrete.

The formulas are torch's (pytorch: torch/nn/modules/conv.py and pooling.py shape notes):
``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1`` for convolutions and pools,
``(L-1)s - 2p + d(k-1) + out_pad + 1`` for transposed convolutions.

Pure: no torch.
"""

from __future__ import annotations

from typing import Any

from pthforensics.infer import LayerFamily, layer_type

from .values import Affine, Layout, Value

__all__ = ["axes", "resized", "window"]


def axes(value: Any, d: int, default: int) -> tuple[int, ...]:
    """An ``int`` or per-axis tuple attribute as a ``d``-tuple (``default`` when absent)."""
    if value is None:
        return (default,) * d
    if isinstance(value, int):
        return (value,) * d
    out = tuple(int(v) for v in value)
    return out if len(out) == d else (out[0],) * d


def window(type_: str, attrs: dict[str, Any], d: int) -> tuple[tuple[int, ...], ...]:
    """``(kernel, stride, padding, dilation)`` per axis of a convolution or pool; a pool's
    stride defaults to its kernel, as in torch.nn."""
    k = axes(attrs.get("kernel_size"), d, 1)
    pool = layer_type(type_).family is LayerFamily.POOL
    s = axes(attrs.get("stride"), d, 0) if pool else axes(attrs.get("stride"), d, 1)
    if pool:
        s = tuple(si or ki for si, ki in zip(s, k, strict=True))
    pad = attrs.get("padding", 0)
    if pad == "same":
        p = tuple((ki - 1) // 2 for ki in k)
    elif pad == "valid":
        p = (0,) * d
    else:
        p = axes(pad, d, 0)
    return k, s, p, axes(attrs.get("dilation"), d, 1)


def resized(
    v: Value, type_: str, attrs: dict[str, Any]
) -> tuple[tuple[Any, ...], tuple[int, ...] | None]:
    """Extent and concrete sizes of map ``v`` after a convolution, pool or upsampling."""
    d = v.dims
    lt = layer_type(type_)
    sizes = v.sizes
    if not all(isinstance(a, Affine) for a in v.extent):
        # axes whose size is no affine function of the input's (tokens flattened from a
        # map): an opaque key, so that equality still says "same size"
        return tuple((type_, str(sorted(attrs.items())), a) for a in v.extent), None
    if lt.family is LayerFamily.ADAPTIVE_POOL:
        out = axes(attrs.get("output_size", 1), d, 1)
        return tuple(Affine.fixed(o) for o in out), out
    if lt.family is LayerFamily.UPSAMPLE:
        f = int(attrs.get("scale_factor", 2))
        ext = tuple(a.times(f) for a in v.extent)
        return ext, tuple(s * f for s in sizes) if sizes is not None else None
    k, s, p, dil = window(type_, attrs, d)
    if attrs.get("padding") == "same":
        return v.extent, sizes
    if lt.is_transposed:
        op = axes(attrs.get("output_padding"), d, 0)
        ext = tuple(
            a.conv_transpose(*z)
            for a, z in zip(v.extent, zip(k, s, p, dil, op, strict=True), strict=True)
        )
        conc = (
            tuple(
                (n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
                for n, ki, si, pi, di, oi in zip(sizes, k, s, p, dil, op, strict=True)
            )
            if sizes is not None
            else None
        )
        return ext, conc
    ext = tuple(a.conv(*z) for a, z in zip(v.extent, zip(k, s, p, dil, strict=True), strict=True))
    conc = (
        tuple(
            (n + 2 * pi - di * (ki - 1) - 1) // si + 1
            for n, ki, si, pi, di in zip(sizes, k, s, p, dil, strict=True)
        )
        if sizes is not None
        else None
    )
    return ext, conc


def is_map(v: Value) -> bool:
    """A feature map, channels first or last."""
    return v.layout in (Layout.MAP, Layout.LAST)
