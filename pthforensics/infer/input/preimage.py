"""The size arithmetic walked backwards: the input sizes an op (a convolution, a
transposed convolution or a pool) maps onto an interval of output sizes.  Every op is
monotone in its input size, so those sizes form an interval (pytorch:
torch/nn/modules/conv.py and pooling.py shape formulas).

Pure arithmetic: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from .costs import Pool
from .solver_records import Choice, OpKind, SpatialOp

__all__ = ["MAX_SIZE", "axis_preimage", "pool_out", "preimage"]

MAX_SIZE = 8192 * 4
"""Largest input size considered (per axis): 2 s of 16 kHz audio fits."""


def pool_out(p: Pool, axis: int, n: int) -> int:
    """Output size of a pool on one axis, as torch computes it (aten pooling_output_shape:
    ``(n + 2p - k [+ s - 1 in ceil mode]) // s + 1``, then in ceil mode a last window
    starting past the input and its left padding is dropped)."""
    k, s, pad = p.kernel[axis], p.stride[axis], p.pads[axis]
    out = (n + 2 * pad - k + (s - 1 if p.ceil_mode else 0)) // s + 1
    if p.ceil_mode and (out - 1) * s >= n + pad:
        out -= 1
    return out


def _pool_pre(p: Pool, axis: int, a: int, b: int) -> tuple[int, int]:
    """Input sizes a pool maps into ``[a, b]`` on one axis (the inverse of
    :func:`pool_out`)."""
    k, s, pad = p.kernel[axis], p.stride[axis], p.pads[axis]
    if not p.ceil_mode:
        return (a - 1) * s + k - 2 * pad, (b - 1) * s + k - 2 * pad + s - 1
    lo = (a - 2) * s + k - 2 * pad + 1
    hi = (b - 1) * s + k - 2 * pad
    # the dropped-window rule can only lower an output by one: widen, then trim by the
    # forward formula (a few steps at most)
    hi += s
    while hi >= lo and pool_out(p, axis, hi) > b:
        hi -= 1
    while lo <= hi and pool_out(p, axis, lo) < a:
        lo += 1
    return lo, hi


def _conv_pre(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int]:
    k, s = op.kernel[axis], c.stride[axis]
    p2 = 2 * c.padding[axis] + (c.extra[axis] if c.extra else 0)
    d = c.dilation[axis] if c.dilation else 1
    span = d * (k - 1) + 1
    if op.kind is OpKind.CONV:
        return (a - 1) * s + span - p2, (b - 1) * s + span - p2 + s - 1
    # ConvTranspose: out = (in - 1) * s - 2p + span
    return -((-(a - span + p2)) // s) + 1, (b - span + p2) // s + 1


def axis_preimage(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int] | None:
    """Input sizes on one axis that ``op`` under ``c`` maps into ``[a, b]``."""
    if op.pin is not None and op.pin[axis] is not None:
        a, b = max(a, op.pin[axis] or a), min(b, op.pin[axis] or b)
        if a > b:
            return None
    if op.kind is OpKind.GAP:
        if not c.pooled or c.pool is None:
            lo, hi = a, b
        else:
            lo, hi = _pool_pre(c.pool, axis, a, b)
    else:
        lo, hi = _conv_pre(op, c, axis, a, b)
    lo = max(lo, 1)
    if hi < lo or lo > MAX_SIZE:
        return None
    return lo, min(hi, 10 * MAX_SIZE)


def preimage(
    ops: Sequence[SpatialOp], choices: Sequence[Choice], final: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...] | None:
    """Input sizes (an interval per dim) that give ``final`` under ``choices``."""
    intervals = list(final)
    for op, choice in zip(reversed(ops), reversed(choices), strict=True):
        for axis, (a, b) in enumerate(intervals):
            pre = axis_preimage(op, choice, axis, a, b)
            if pre is None:
                return None
            intervals[axis] = pre
    return tuple(intervals)
