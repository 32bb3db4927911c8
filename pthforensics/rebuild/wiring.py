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

This module orders the candidates and adds residuals back; the parallel projections are in
:mod:`._parallel_projections`, concatenations and earlier values in
:mod:`._earlier_values`, appended coordinate channels in :mod:`._appended_channels`.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pthforensics.infer import LayerFamily, layer_type

from ._appended_channels import with_channels
from ._earlier_values import concatenation, earlier, same_size
from ._parallel_projections import attend_packed, close_group, joins_parallel, reads_packed
from .accept_common import layer_dims_of
from .accept_tokens import added_table
from .inputs import input_value
from .sizes import is_map
from .values import Affine, ModuleSpec, OpKind, Value

if TYPE_CHECKING:
    from .tree import Node
    from .walk import Walker

__all__ = ["candidates", "input_value", "shortcut_stride"]

_Make = Callable[[], Value | None]


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
        return [("coords", lambda: with_channels(w, input_value(w, spec), need, spec.path))]
    stream = w.stream
    if layer_type(spec.type).family is LayerFamily.EMBEDDING and not added_table(spec):
        return [] if relaxed else [("input", lambda: input_value(w, spec, again=True))]
    if relaxed:
        out_relaxed: list[tuple[str, _Make]] = [("stream", lambda: _fold(w, stream))]
        if need and layer_type(spec.type).conv_dims:
            out_relaxed.append(("coords", lambda: with_channels(w, stream, need, spec.path)))
        return out_relaxed
    out: list[tuple[str, _Make]] = []
    if need and reads_packed(spec, stream, need):
        width = need
        out.append(("packed", lambda: attend_packed(w, stream, width)))
    if joins_parallel(w, node, spec):
        out.append(("parallel", lambda: w.parallel[-1][1]))
    elif len(w.parallel) >= 2:
        out.append(("group", lambda: close_group(w)))
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
            ("concat", lambda: concatenation(w, stream, need, early=True)),
            ("concat", lambda: concatenation(w, stream, need, early=False)),
        ]
        # an upsampled map is made to be read: a decoder concatenates it with its skip
        out.extend([*concat, *branch] if _upsampled(w) else [*branch, *concat])
        if w.weak:
            out.append(("earlier", lambda: earlier(w, stream, need)))
    return out


def _upsampled(w: Walker) -> bool:
    """The stream comes from an upsampling layer (a transposed convolution, Upsample)."""
    family = layer_type(w.last_type).family
    spec = w.specs.get(w.stream.producer) if w.stream is not None else None
    return family is LayerFamily.CONV_TRANSPOSE or (
        spec is not None and layer_type(spec.type).family is LayerFamily.UPSAMPLE
    )


def _fold(w: Walker, stream: Value) -> Value:
    """The stream with pending branches of its width and size added back (residuals)."""
    keep: list[Value] = []
    for p in w.pending:
        if p.features == stream.features and p.id != stream.id and same_size(p, stream):
            if p.layout != stream.layout:
                p = w.permute(p, stream.layout, stream.producer, "align layouts for the sum")
            stream = w.emit(OpKind.ADD, (stream, p), w.derive(stream, producer="residual"))
        else:
            keep.append(p)
    w.pending = keep
    return stream


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
