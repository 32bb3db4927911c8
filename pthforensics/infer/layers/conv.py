"""Convolutions: Conv or ConvTranspose, groups, and the rank-3 Bilinear.

A rank 3/4/5 ``weight`` is a convolution.  Conv stores ``(out, in/groups, *k)`` with a
bias of ``out``; ConvTranspose stores ``(in, out/groups, *k)`` with a bias of ``out``
(pytorch: torch/nn/modules/conv.py ``_ConvNd.__init__``).  Two scores are summed, one per
reading, from independent clues (bias length, name, the channel chain); the larger wins,
and the margin sets the confidence.

Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

from pthforensics.core import LayerGuess
from pthforensics.infer.knowledge import TRANSPOSED_CONV_NAME

from .context import Chain, Context, make_guess, shape_text
from .views import Raw

__all__ = ["infer_conv"]

# --- scores: Conv (``conv``) against ConvTranspose (``transposed``) -------------------------

_CONV_PRIOR = 0.5
"""Conv is far more common than ConvTranspose: it wins a tie."""
_BIAS_LAYOUT = 3.0
"""The bias length equals the output channels of one reading only: the strongest clue,
stored by the layer itself."""
_TRANSPOSED_NAME = 2.0
"""The module is named like an upsampling layer: weaker than the bias (names lie)."""
_FOLLOWS_PREVIOUS = 2.0
"""``in_channels`` of the Conv reading equals the previous output."""
_DEPTHWISE_FOLLOWS = 3.0
"""A depthwise Conv (``in/groups = 1``) whose ``out`` equals the previous output."""
_NO_GROUPING_FITS = 1.0
"""The previous output equals ``shape[0]`` and no grouping makes a Conv of it."""
_FEEDS_NEXT = 2.0
"""The next layer takes ``shape[0]`` (Conv reading) and not ``shape[1]``."""
_TRANSPOSED_FEEDS_NEXT = 1.5
"""The next layer takes ``shape[1]`` and not ``shape[0]``: chain evidence for a
ConvTranspose, but weaker (a branch or concatenation can fake it)."""
_AFTER_TRANSPOSED = 0.5
"""A ConvTranspose was already seen and this one continues it (decoders stack them)."""

# --- confidences ---------------------------------------------------------------------------

_TRANSPOSED_CLEAR_MARGIN = 2.5
"""Scores apart by at least this: a confident ConvTranspose."""
_CONTESTED_MARGIN = 2.0
"""A Conv that won by less than this against some transposed evidence is contested."""
_SURE = 0.97
_LIKELY = 0.9
_CONTESTED = 0.6


def infer_conv(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess:
    """Guess a rank 3/4/5 weight: Conv*d, ConvTranspose*d, or Bilinear."""
    w = raw.w
    d = len(w) - 2
    a, b, k = w[0], w[1], tuple(w[2:])
    blen = raw.shape("bias")[0] if "bias" in raw.leaves else None  # type: ignore[index]
    ev = [
        f"weight {shape_text(w)}: rank {len(w)} -> {d}-d convolution, kernel "
        + "x".join(str(x) for x in k)
    ]
    if d == 1 and ("bilinear" in raw.last.lower()):
        return make_guess(
            raw,
            ctx,
            "Bilinear",
            0.7,
            {"in1_features": b, "in2_features": k[0], "out_features": a, "bias": blen is not None},
            ["rank-3 weight named bilinear"],
        )
    conv, transposed = _scores(ctx, i, raw, chain, blen, ev)
    if transposed > conv:
        return _transposed(raw, ctx, blen, conv, transposed, ev)
    return _conv(raw, ctx, chain, blen, conv, transposed, ev)


def _scores(
    ctx: Context, i: int, raw: Raw, chain: Chain, blen: int | None, ev: list[str]
) -> tuple[float, float]:
    """(Conv score, ConvTranspose score) from the bias, the name and the channel chain."""
    a, b = raw.w[0], raw.w[1]
    prev = chain.prev_out
    nxt = ctx.next_inputs(i)
    sc, st = _CONV_PRIOR, 0.0
    if blen is not None and a != b:
        if blen == a:
            sc += _BIAS_LAYOUT
            ev.append(f"bias has {blen} entries = weight.shape[0]: Conv layout (out, in, k)")
        elif blen % b == 0:
            st += _BIAS_LAYOUT
            ev.append(
                f"bias has {blen} entries = weight.shape[1]*groups: ConvTranspose layout "
                "(in, out/groups, k)"
            )
    if TRANSPOSED_CONV_NAME.matches(raw.last.lower()):
        st += _TRANSPOSED_NAME
        ev.append(f"name {raw.last!r} suggests a transposed convolution")
    # Transposed convolutions are rare: from the channel chain alone, the next layer must
    # take weight.shape[1] and the previous output (if any) must be weight.shape[0].
    chain_t = 0.0
    if prev is not None and a != b:
        if prev == b:
            sc += _FOLLOWS_PREVIOUS
        elif prev == a and b == 1:
            sc += _DEPTHWISE_FOLLOWS
        elif prev == a and (prev % b or a % (prev // b)):
            chain_t += _NO_GROUPING_FITS
            ev.append(f"previous output {prev} = weight.shape[0] and no grouping fits a Conv")
    if nxt and a != b:
        if a in nxt and b not in nxt:
            sc += _FEEDS_NEXT
        elif b in nxt and a not in nxt and (prev is None or prev == a):
            chain_t += _TRANSPOSED_FEEDS_NEXT
            ev.append(f"next layer takes {b} = weight.shape[1] channels")
    if chain.transposed and prev == a and a != b:
        chain_t += _AFTER_TRANSPOSED
    # With a guessed order only neighbours inside one nn.Sequential are trusted; a 1x1
    # kernel is a plain (pointwise) Conv unless its bias or name says otherwise: a 1x1
    # ConvTranspose is the same map, and nobody writes one (branches fake the chain).
    pointwise = max(raw.w[2:]) == 1
    trusted = not ctx.restored or ctx.numbered_neighbours(i)
    st += chain_t if trusted and not pointwise else 0.0
    return sc, st


def _transposed(
    raw: Raw, ctx: Context, blen: int | None, sc: float, st: float, ev: list[str]
) -> LayerGuess:
    a, b, k = raw.w[0], raw.w[1], tuple(raw.w[2:])
    groups = blen // b if blen is not None and blen != b and blen % b == 0 else 1
    attrs = {
        "in_channels": a,
        "out_channels": b * groups,
        "kernel_size": k,
        "groups": groups,
        "bias": blen is not None,
    }
    conf = _LIKELY if st - sc >= _TRANSPOSED_CLEAR_MARGIN else _CONTESTED
    return make_guess(raw, ctx, f"ConvTranspose{len(k)}d", conf, attrs, ev)


def _conv(
    raw: Raw, ctx: Context, chain: Chain, blen: int | None, sc: float, st: float, ev: list[str]
) -> LayerGuess:
    a, b, k = raw.w[0], raw.w[1], tuple(raw.w[2:])
    groups = _groups(chain, a, b, ev)
    attrs: dict[str, Any] = {
        "in_channels": b * groups,
        "out_channels": a,
        "kernel_size": k,
        "groups": groups,
        "bias": blen is not None,
    }
    prev = chain.prev_out
    conf = _SURE if (blen == a and a != b) or prev == b or groups > 1 else _LIKELY
    if st > 0 and sc - st < _CONTESTED_MARGIN:
        conf = _CONTESTED
    return make_guess(raw, ctx, f"Conv{len(k)}d", conf, attrs, ev)


def _groups(chain: Chain, a: int, b: int, ev: list[str]) -> int:
    """``groups`` of a Conv ``(a, b, *k)``: the previous output over ``in/groups``, unless
    ``b`` matches an earlier output (then the input is a branch, not grouped)."""
    prev = chain.prev_out
    if prev is not None and prev != b and prev % b == 0 and a % (prev // b) == 0:
        g = prev // b
        if b == 1 or b not in chain.seen:
            ev.append(
                f"previous output {prev} = {b} x {g}: groups={g}"
                + (" (depthwise)" if b == 1 else "")
            )
            return g
        ev.append(
            f"in_channels {b} matches an earlier output, not the previous {prev}: "
            "a branch (residual/downsample)"
        )
    elif prev is not None and prev == b:
        ev.append(f"in_channels {b} = previous output")
    return 1
