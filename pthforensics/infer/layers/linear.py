"""Rank-2 weights: Linear, Embedding, GPT-2's Conv1D, MultiheadAttention's out_proj.

A rank-2 ``weight`` is a Linear ``(out, in)`` (pytorch: torch/nn/modules/linear.py), an
Embedding ``(num, dim)`` (no bias; named like a table, or the first layer feeding ``dim``
forward; pytorch: torch/nn/modules/sparse.py), or transformers' ``Conv1D`` stored
transposed ``(in, out)`` with a bias of ``out`` = ``shape[1]`` (transformers:
pytorch_utils.py).

Nothing here imports torch.
"""

from __future__ import annotations

import re
from typing import Any

from pthforensics.core import LayerGuess
from pthforensics.infer.knowledge import EMBEDDING_NAME, GPT2_CONV1D_NAMES, POSITION_NAME

from .context import Chain, Context, make_guess, shape_text
from .views import Raw, TensorLayout

__all__ = ["infer_linear"]


def infer_linear(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess:
    """Guess a rank-2 weight, most specific reading first."""
    return (
        _named_embedding(ctx, raw)
        or _position_table(ctx, i, raw)
        or _gpt2_conv1d(ctx, raw)
        or _attention_out_proj(ctx, raw)
        or _leading_table(ctx, i, raw, chain)
        or _linear(ctx, raw, chain)
    )


def _named_embedding(ctx: Context, raw: Raw) -> LayerGuess | None:
    w, last = raw.w, raw.last
    ll = last.lower()
    if "bias" in raw.leaves or not EMBEDDING_NAME.matches(ll) or "proj" in ll:
        return None
    type_ = "EmbeddingBag" if "bag" in ll else "Embedding"
    attrs: dict[str, Any] = {"num_embeddings": w[0], "embedding_dim": w[1]}
    ev = [
        f"weight {shape_text(w)} without bias named {last!r}: a lookup table of "
        f"{w[0]} vectors of {w[1]}"
    ]
    if POSITION_NAME.matches(ll):
        attrs["role"] = "position"
        ev.append(f"position embedding: at most {w[0]} positions")
    return make_guess(raw, ctx, type_, 0.95, attrs, ev)


_POSITION_TABLE = re.compile(r"^(pos|position|positions|pos_?emb\w*)$")


def _position_table(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    """A bias-free ``(n, d)`` weight named ``pos`` next to a token table of width ``d``
    (the model's first layer, bias-free): a learned position table, an Embedding read
    with ``arange`` (a hand-written GPT's ``pos = nn.Embedding(ctx, dim)``)."""
    w = raw.w
    if "bias" in raw.leaves or not _POSITION_TABLE.match(raw.last.lower()) or i == ctx.first_layer:
        return None
    first = ctx.raws[ctx.first_layer] if ctx.first_layer >= 0 else None
    if (
        first is None
        or first.kind is not TensorLayout.LINEAR
        or "bias" in first.leaves
        or first.w[1] != w[1]
    ):
        return None
    return make_guess(
        raw,
        ctx,
        "Embedding",
        0.8,
        {"num_embeddings": w[0], "embedding_dim": w[1], "role": "position"},
        [
            f"weight {shape_text(w)} without bias named {raw.last!r}, as wide as the token "
            f"table {first.group.name}: a position table of {w[0]} positions"
        ],
    )


def _gpt2_conv1d(ctx: Context, raw: Raw) -> LayerGuess | None:
    w = raw.w
    has_bias = "bias" in raw.leaves
    blen = raw.shape("bias")[0] if has_bias else None  # type: ignore[index]
    if not ctx.hf_conv1d or not (raw.last in GPT2_CONV1D_NAMES or (blen == w[1] and w[0] != w[1])):
        return None
    ev = [
        f"weight {shape_text(w)} stored (in, out): transformers Conv1D (GPT-2's transposed Linear)"
    ]
    if blen == w[1] and w[0] != w[1]:
        ev.append(f"bias has {blen} entries = weight.shape[1]")
    return make_guess(
        raw,
        ctx,
        "Conv1D",
        0.9 if blen == w[1] else 0.75,
        {"in_features": w[0], "out_features": w[1], "nf": w[1], "nx": w[0], "bias": has_bias},
        ev,
    )


def _attention_out_proj(ctx: Context, raw: Raw) -> LayerGuess | None:
    parent = ctx.by_name.get(raw.group.name.rpartition(".")[0])
    if raw.last != "out_proj" or parent is None or parent.kind is not TensorLayout.ATTENTION:
        return None
    w = raw.w
    return make_guess(
        raw,
        ctx,
        "NonDynamicallyQuantizableLinear",
        0.95,
        {"in_features": w[1], "out_features": w[0], "bias": "bias" in raw.leaves},
        ["output projection of the MultiheadAttention above it"],
    )


def _leading_table(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess | None:
    """The first layer, bias-free, whose ``shape[1]`` (not ``shape[0]``) feeds the next:
    a lookup table read by index."""
    w = raw.w
    nxt = ctx.next_inputs(i)
    if not (
        i == ctx.first_layer
        and "bias" not in raw.leaves
        and nxt
        and w[1] in nxt
        and w[0] not in nxt
        and chain.prev_out is None
    ):
        return None
    return make_guess(
        raw,
        ctx,
        "Embedding",
        0.6,
        {"num_embeddings": w[0], "embedding_dim": w[1]},
        [
            f"first layer, weight {shape_text(w)} without bias and the next layer "
            f"takes {w[1]} = weight.shape[1] features: an embedding table"
        ],
    )


def _linear(ctx: Context, raw: Raw, chain: Chain) -> LayerGuess:
    w = raw.w
    has_bias = "bias" in raw.leaves
    ev = [f"weight {shape_text(w)}: out_features={w[0]}, in_features={w[1]}"]
    if chain.prev_out is not None and chain.prev_out == w[1]:
        ev.append(f"in_features {w[1]} = previous output")
    return make_guess(
        raw,
        ctx,
        "Linear",
        0.97 if has_bias else 0.93,
        {"in_features": w[1], "out_features": w[0], "bias": has_bias},
        ev,
    )
