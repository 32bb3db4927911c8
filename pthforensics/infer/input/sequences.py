"""Inputs that are no feature map: token ids, sequences, vectors, latent codes.

- an Embedding first: int64 token ids, length free up to the position table, or fixed
  when a head reads the whole sequence flattened (``in_features = T x features``);
- an RNN/attention first: a sequence of ``input_size`` features, length free (or fixed
  the same way);
- a Linear (or norm) first: a vector of ``in_features`` (a sequence inside an attention
  model; a latent vector before transposed convolutions);
- a ConvTranspose first: a latent map (pytorch/examples dcgan).

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pthforensics.core import InputGuess, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink, Relation
from pthforensics.infer.defaults import (
    DEFAULT_ATTENTION_TOKENS,
    DEFAULT_STEPS,
    DEFAULT_TOKENS,
    LATENT_POINT_KERNEL,
    LATENT_SIDE_MAP,
    LATENT_SIDE_POINT,
)
from pthforensics.infer.knowledge import ATTENTION_NAMES
from pthforensics.infer.layer_types import LayerFamily, layer_type

from .context import InputContext

__all__ = ["latent_input", "norm_input", "sequence_input", "token_input", "vector_input"]


def token_input(ctx: InputContext, first: ChainLink) -> InputGuess:
    """An Embedding reads the input: int64 token ids."""
    dim = first.out_dim or 0
    pos = ctx.pos_embedding(dim)
    ev = [f"{first.name} is an Embedding: the input is int64 token ids"]
    max_len = pos[0] - pos[1] if pos else None
    if pos:
        ev.append(f"{pos[2]} holds {pos[0]} positions: sequences up to {max_len} tokens")
    conv = _embedding_conv(ctx, first)
    if conv is not None:
        return _convolved_tokens(ctx, first, conv, ev)
    flat = _flattened_steps(ctx)
    if flat is not None:
        fixed, t = flat
        ev.append(
            f"{fixed.name} takes {fixed.in_dim} = {t} positions x {fixed.channels}: "
            f"a flattened sequence of exactly {t} tokens"
        )
        return InputGuess(
            InputStatus.FIXED, InputKind.TOKENS, (1, t), (t,), "int64", tuple(ev), min_size=t
        )
    length = min(DEFAULT_TOKENS, max_len) if max_len else DEFAULT_TOKENS
    ev.append("sequence length is free" + (f" (1..{max_len})" if max_len else ""))
    sizes = (1, length) + ((max_len,) if max_len and max_len != length else ())
    return InputGuess(
        InputStatus.FREE, InputKind.TOKENS, (1, length), sizes, "int64", tuple(ev), min_size=1
    )


def _embedding_conv(ctx: InputContext, first: ChainLink) -> ChainLink | None:
    """The convolution reading the embedded tokens as channels (a character CNN:
    ``Conv1d(embedding_dim, ...)`` after the Embedding), if any."""
    i = ctx.links.index(first)
    for lk in ctx.links[i + 1 :]:
        if lk.in_dim is None and lk.out_dim is None:
            continue
        lt = layer_type(lk.type)
        if lt.conv_dims == 1 and not lt.is_transposed and lk.in_dim == first.out_dim:
            return lk
        if lt.family is not LayerFamily.EMBEDDING:
            return None
    return None


def _convolved_tokens(
    ctx: InputContext, emb: ChainLink, conv: ChainLink, ev: list[str]
) -> InputGuess:
    """Token ids embedded and read by a ``Conv1d``: the length is solved as a signal's,
    then reported as ``[N, T]`` token ids."""
    from .context import Entry  # noqa: PLC0415
    from .spatial import spatial_input  # noqa: PLC0415 - spatial imports this module

    entry = Entry(conv, 1, InputKind.TOKENS, conv.in_dim or 1, "int64")
    guess = spatial_input(ctx, conv, 1, entry)
    ev.append(
        f"{conv.name} ({conv.type}) reads the {emb.out_dim}-wide embeddings as channels: "
        "the sequence length goes through the convolutions"
    )
    hyps = tuple(replace(h, shape=(1, h.shape[-1]) if h.shape else None) for h in guess.hypotheses)
    shape = (1, guess.shape[-1]) if guess.shape else None
    return replace(
        guess,
        kind=InputKind.TOKENS,
        shape=shape,
        dtype="int64",
        evidence=(*ev, *guess.evidence[1:]),
        hypotheses=hyps,
    )


def _flattened_steps(ctx: InputContext) -> tuple[ChainLink, int] | None:
    """A head reading a whole sequence flattened: ``in_features = T x features``."""
    for lk in ctx.links:
        if (
            layer_type(lk.type).is_linear
            and lk.relation in (Relation.BREAK, Relation.FLATTEN)
            and lk.in_dim
            and lk.channels
            and lk.in_dim > lk.channels
            and lk.in_dim % lk.channels == 0
        ):
            return lk, lk.in_dim // lk.channels
    return None


def sequence_input(ctx: InputContext, first: ChainLink) -> InputGuess:
    """An RNN or attention layer reads the input: a sequence of feature vectors."""
    n = first.in_dim or 1
    dtype = ctx.dtype(first.name)
    ev = [
        f"{first.name} ({first.type}) takes sequences of {n} features",
        "batch_first is not stored: shape given as (batch, length, features)",
    ]
    flat = _flattened_steps(ctx)
    if flat is not None:
        head, t = flat
        ev.append(
            f"{head.name} takes {head.in_dim} = {t} steps x {head.channels}: a flattened "
            f"sequence of exactly {t} steps"
        )
        return InputGuess(
            InputStatus.FIXED, InputKind.SEQUENCE, (1, t, n), (t,), dtype, tuple(ev), min_size=t
        )
    ev.append("length is free")
    return InputGuess(
        InputStatus.FREE,
        InputKind.SEQUENCE,
        (1, DEFAULT_STEPS, n),
        (1, DEFAULT_STEPS),
        dtype,
        tuple(ev),
        min_size=1,
    )


def vector_input(ctx: InputContext, first: ChainLink) -> InputGuess:
    """A Linear (or a norm) reads the input: a vector, or a sequence in an attention
    model."""
    n = first.in_dim or 1
    types = {g.type for g in ctx.guesses.values()}
    names = " ".join(ctx.guesses)
    dtype = ctx.dtype(first.name)
    attention = any(layer_type(t).family is LayerFamily.ATTENTION for t in types)
    if attention or any(k in names for k in ATTENTION_NAMES):
        return InputGuess(
            InputStatus.FREE,
            InputKind.SEQUENCE,
            (1, DEFAULT_ATTENTION_TOKENS, n),
            (1, DEFAULT_ATTENTION_TOKENS),
            dtype,
            (
                f"{first.name} projects {n} features inside an attention model: "
                "a sequence of free length",
            ),
            min_size=1,
        )
    decoder = any(layer_type(t).is_transposed for t in types)
    kind = InputKind.LATENT if decoder else InputKind.VECTOR
    ev = [f"{first.name} ({first.type}) takes {n} features: a vector of exactly {n}"]
    if kind is InputKind.LATENT:
        ev.append("transposed convolutions follow: a generator/decoder fed a latent vector")
    return InputGuess(InputStatus.FIXED, kind, (1, n), (n,), dtype, tuple(ev), min_size=n)


_NORM_KINDS = {2: InputKind.SEQUENCE, 3: InputKind.IMAGE, 4: InputKind.VOLUME}


def norm_input(ctx: InputContext, first: ChainLink) -> InputGuess | None:
    """A LayerNorm over several trailing dims reads the input: its ``normalized_shape`` is
    the input's shape after the batch (PESTO's ``LayerNorm([1, 264])`` before a
    ``Conv1d(1, ...)``: CQT frames ``[N, 1, 264]``); ``None`` for any other first layer."""
    g = ctx.guesses.get(first.name)
    shape = g.attrs.get("normalized_shape") if g is not None else None
    if (
        g is None
        or layer_type(g.type).family is not LayerFamily.LAYER_NORM
        or not isinstance(shape, tuple)
        or len(shape) not in _NORM_KINDS
    ):
        return None
    ev = (
        f"{first.name} ({g.type}) normalises the last {len(shape)} dims over "
        f"{list(shape)}: the input is [N, {', '.join(map(str, shape))}] exactly",
    )
    return InputGuess(
        InputStatus.FIXED,
        _NORM_KINDS[len(shape)],
        (1, *shape),
        (shape[-1],),
        ctx.dtype(first.name),
        ev,
        min_size=shape[-1],
    )


def latent_input(ctx: InputContext, first: ChainLink, d: int) -> InputGuess:
    """A ConvTranspose reads the input: a latent map, grown DCGAN-style."""
    c = first.in_dim or 1
    k = ctx.guesses[first.name].attrs.get("kernel_size", (1,))
    side = LATENT_SIDE_POINT if max(k) >= LATENT_POINT_KERNEL else LATENT_SIDE_MAP
    plan: list[tuple[str, str, tuple[tuple[str, Any], ...]]] = []
    for lk in ctx.links:
        if layer_type(lk.type).family is LayerFamily.CONV_TRANSPOSE:
            # DCGAN convention: the first layer grows 1x1 to kxk (stride 1, padding 0),
            # the others double the size (stride 2, padding (k-1)//2: 1 for k=4).
            kk = max(ctx.guesses[lk.name].attrs.get("kernel_size", (1,)))
            stride, pad = (1, 0) if lk is first else (2, max(0, (kk - 1) // 2))
            plan.append((lk.name, lk.type, (("padding", pad), ("stride", stride))))
    ev = (
        f"{first.name} is a ConvTranspose{d}d taking {c} channels: a decoder/generator fed "
        "a latent map; its size is free (padding is not stored)",
    )
    return InputGuess(
        InputStatus.FREE,
        InputKind.LATENT,
        (1, c, *([side] * d)),
        (side,),
        ctx.dtype(first.name),
        ev,
        min_size=1,
        plan=tuple(plan),
    )
