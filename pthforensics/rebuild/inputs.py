"""The model's inputs as the rebuild reads them: the value the first module of a branch
takes from the input shape the input stage guessed, laid out by the input hypothesis's
``-<module>`` plan step when ``forward()`` reshapes the input before that module.

Nothing here imports torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pthforensics.infer import DEFAULT_TOKENS, LayerFamily, layer_type

from .values import Affine, Layout, ModuleSpec, Value

if TYPE_CHECKING:
    from .walk import Walker

__all__ = ["input_value"]


def input_value(w: Walker, spec: ModuleSpec, *, again: bool = False) -> Value | None:
    """A model input read by ``spec`` (``again``: a second token input, a decoder's)."""
    shape = w.ctx.input_shape
    if again:
        first = next((v for v in w.inputs if v.layout is Layout.IDS), None)
        extent, sizes = (
            (first.extent, first.sizes) if first else ((Affine.input(),), (DEFAULT_TOKENS,))
        )
        v = w.fresh(Layout.IDS, None, extent, sizes, f"input {len(w.inputs)}")
        w.inputs.append(v)
        return v
    if shape is None:
        return None
    before = w.ctx.plan.get(f"-{spec.path}")
    if before is not None and before[0] == "Unflatten":
        return _unflattened_input(w, spec, shape, before[1])
    v = w.fresh(*_input_layout(spec, shape), "input")
    w.inputs.append(v)
    return v


def _input_layout(
    spec: ModuleSpec, shape: tuple[int, ...]
) -> tuple[Layout, int | None, tuple[Any, ...], tuple[int, ...] | None]:
    """How the module of ``spec`` reads a tensor of ``shape``: layout, features, extent
    and sizes of the value."""
    lt = layer_type(spec.type)
    rest = tuple(shape[2:])
    if lt.family is LayerFamily.EMBEDDING:
        return Layout.IDS, None, (Affine.input(),), (shape[-1],)
    if lt.conv_dims and len(shape) == lt.conv_dims + 2:
        return Layout.MAP, shape[1], (Affine.input(),) * len(rest), rest
    if len(shape) == 3:
        return Layout.SEQ, shape[2], (Affine.input(),), (shape[1],)
    if len(shape) == 2:
        return Layout.FLAT, shape[1], (), ()
    return Layout.MAP, shape[1], (Affine.input(),) * len(rest), rest


def _unflattened_input(
    w: Walker, spec: ModuleSpec, shape: tuple[int, ...], attrs: dict[str, Any]
) -> Value | None:
    """The model input as the input hypothesis says ``forward()`` lays it out before its
    first module (a plan step ``-<module>``: frames ``[N, L]`` made ``[N, 1, L, 1]``, one
    ``[C, H, W]`` image given its batch axis): an ``nn.Unflatten`` the rebuild adds."""
    dim, sizes = attrs.get("dim"), tuple(attrs.get("unflattened_size") or ())
    if not isinstance(dim, int) or not 0 <= dim < len(shape) or not sizes:
        return None
    if math.prod(sizes) != shape[dim]:
        return None
    raw = w.fresh(Layout.FLAT, shape[-1], (), (), "input")
    w.inputs.append(raw)
    mapped = (*shape[:dim], *sizes, *shape[dim + 1 :])
    layout, features, extent, axes = _input_layout(spec, mapped)
    out = w.derive(raw, layout=layout, features=features, extent=extent, sizes=axes)
    why = "forward() lays the input out before its first module (the input hypothesis)"
    step = {"dim": dim, "unflattened_size": sizes}
    return w.insert(spec.path, "unflatten", "Unflatten", step, raw, out, why, True)
