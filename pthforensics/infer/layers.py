"""Layer types from tensor names and shapes: ``LayerGroup`` -> ``LayerGuess``.

The rules follow how torch.nn lays out parameters (pytorch: torch/nn/modules/conv.py,
linear.py, batchnorm.py, normalization.py, rnn.py, activation.py, sparse.py):

- ``weight`` of rank 3/4/5 is a convolution; Conv stores ``(out, in/groups, *k)`` with a
  bias of ``out``, ConvTranspose stores ``(in, out/groups, *k)`` with a bias of ``out``; the
  bias length, then the channel chain (previous output, next input) tell them apart.
- ``weight`` of rank 2 is a Linear ``(out, in)``, an Embedding ``(num, dim)`` (no bias;
  named ``*emb*``/``wte``/``wpe``, or the first layer feeding ``dim`` forward), or GPT-2's
  ``transformers.Conv1D`` stored transposed ``(in, out)`` (bias of ``out`` = ``shape[1]``).
- ``running_mean``/``running_var`` make a BatchNorm (``_metadata`` version 2); its
  dimension is that of the neighbouring convolution.  1-D ``weight`` + ``bias`` without
  running stats is a LayerNorm, a GroupNorm (between convolutions) or an affine
  InstanceNorm (version 2); a lone 1-D ``weight`` is an RMSNorm or a PReLU.
- ``weight_ih_l{k}[_reverse]`` / ``weight_hh_l{k}`` / ``weight_hr_l{k}`` are RNN/GRU/LSTM
  (``weight_hh`` rows = 1/3/4 x hidden), without ``_l{k}`` the *Cell variants;
  ``in_proj_weight`` or ``q_proj_weight`` is MultiheadAttention.
- Tensors with other names directly on a module are bare ``nn.Parameter``s (class tokens,
  position embeddings, layer scales): their module is a custom class.  A few well-known
  layouts get a low-confidence class name (torchvision/timm ``VisionTransformer``,
  ``CNBlock``, transformers ``BertEmbeddings``, ``GPT2Attention``...); the rest is
  ``unknown`` (confidence 0.2), never a confident wrong guess.
- A full-model pickle names each module's class: that name wins (confidence 1.0), the
  attributes still come from the shapes.  Parameter-less modules get a row only when their
  class or name says what they are (``relu``, ``maxpool``, ``avgpool``, ``dropout``...).

Nothing here imports torch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from pthforensics.core import InferenceError, LayerGroup, LayerGuess
from pthforensics.core.vocab import BUFFER_LEAVES

from .base import (
    RNN_KEY,
    Chain,
    Context,
    Raw,
    layer_dims,
    make_guess,
    shape_text,
)

__all__ = ["infer_layers"]

logger = logging.getLogger(__name__)

_EMBED_NAMES = re.compile(r"emb|^wte$|^wpe$|^shared$|^tok_embeddings$|^lookup|vocab")
_POSITION = re.compile(r"pos|wpe")
_HF_CONV1D = frozenset({"c_attn", "c_proj", "c_fc", "q_attn"})
_TRANSPOSED_HINT = re.compile(
    r"deconv|transpose|convt|tconv|upconv|up_conv|^up\d*$|upsample|"
    r"^ct\d*$|^dconv"
)
_LN_HINT = re.compile(r"(^|_)ln(_?\d+|_f)?$|layer_?norm|^ln|^norm$")
_GN_HINT = re.compile(r"(^|_)gn\d*$|group_?norm")
_IN_HINT = re.compile(r"(^|_)in\d*$|inorm|instance|instancenorm")
_BN_HINT = re.compile(r"(^|_)bn\d*|batch_?norm")
_PRELU_HINT = re.compile(r"prelu|act|relu")

# Parameter-less modules whose names say what they are (torchvision / timm / tutorials).
_PARAMLESS = (
    (re.compile(r"relu6"), "ReLU6", 0.6),
    (re.compile(r"leaky"), "LeakyReLU", 0.6),
    (re.compile(r"prelu"), "PReLU", 0.4),
    (re.compile(r"relu"), "ReLU", 0.6),
    (re.compile(r"gelu"), "GELU", 0.6),
    (re.compile(r"silu|swish"), "SiLU", 0.6),
    (re.compile(r"sigmoid"), "Sigmoid", 0.6),
    (re.compile(r"tanh"), "Tanh", 0.6),
    (re.compile(r"softmax"), "Softmax", 0.6),
    (re.compile(r"^elu"), "ELU", 0.5),
    (re.compile(r"max_?pool|^mp\d*$"), "MaxPool{d}d", 0.6),
    (re.compile(r"global_?pool|adaptive|^gap$"), "AdaptiveAvgPool{d}d", 0.6),
    # torchvision names its AdaptiveAvgPool2d "avgpool" (resnet, vgg, alexnet, densenet...)
    (re.compile(r"^avgpool$"), "AdaptiveAvgPool{d}d", 0.5),
    (re.compile(r"avg_?pool"), "AvgPool{d}d", 0.4),
    (re.compile(r"pool"), "MaxPool{d}d", 0.4),
    (re.compile(r"drop_?path"), "DropPath", 0.5),
    (re.compile(r"drop"), "Dropout", 0.6),
    (re.compile(r"flatten"), "Flatten", 0.7),
    (re.compile(r"identity"), "Identity", 0.6),
    (re.compile(r"upsampl"), "Upsample", 0.5),
)


def infer_layers(groups: Sequence[LayerGroup]) -> tuple[LayerGuess, ...]:
    """Guess the torch.nn type and constructor attributes of every module owning tensors
    (and of parameter-less modules whose class or name says what they are).

    Parameter-less modules known only by position (``features.1`` in ``_metadata``) get no
    row: their type cannot be read from the file; ``infer_input`` places them in its plan.
    """
    try:
        return _infer_all(groups)
    except (ValueError, KeyError, IndexError, ZeroDivisionError, TypeError) as e:
        raise InferenceError(f"layer inference failed: {type(e).__name__}: {e}") from e


def _infer_all(groups: Sequence[LayerGroup]) -> tuple[LayerGuess, ...]:
    ctx = Context(groups)
    chain = Chain()
    out = []
    for i, raw in enumerate(ctx.raws):
        guess = _infer_one(ctx, i, raw, chain)
        if guess is None:
            continue
        if raw.group.class_name:
            guess = _with_class(guess, raw.group.class_name)
        out.append(guess)
        _, dim_out = layer_dims(guess)
        if dim_out is not None:
            if chain.prev_out is not None:
                chain.seen.add(chain.prev_out)
            chain.prev_out = dim_out
        if guess.type.startswith("ConvTranspose"):
            chain.transposed += 1
    return tuple(out)


def _with_class(guess: LayerGuess, class_name: str) -> LayerGuess:
    short = class_name.rsplit(".", 1)[-1]
    evidence = (f"class named by the pickle: {class_name}", *guess.evidence)
    if short != guess.type:
        evidence += (f"shape rules alone said {guess.type}",)
    return LayerGuess(
        guess.name, short, guess.attributes, 1.0, evidence, guess.parameters, guess.tensor_keys
    )


def _infer_one(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess | None:
    kind = raw.kind
    if kind == "empty":
        return _paramless(ctx, i, raw)
    if kind == "conv":
        return _conv(ctx, i, raw, chain)
    if kind == "linear":
        return _linear(ctx, i, raw, chain)
    if kind == "bn":
        return _batchnorm(ctx, i, raw)
    if kind in ("norm_wb", "norm_w", "ln_nd"):
        return _norm(ctx, i, raw)
    if kind in ("rnn", "rnncell"):
        return _rnn(ctx, raw)
    if kind == "mha":
        return _mha(ctx, raw)
    return _bare(ctx, raw)


def _paramless(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    g = raw.group
    if g.class_name:
        return make_guess(raw, ctx, g.class_name.rsplit(".", 1)[-1], 1.0, {}, [])
    last = raw.last.lower()
    for pattern, type_, conf in _PARAMLESS:
        if pattern.search(last):
            if "{d}" in type_:
                prev = ctx.neighbour(i, -1, ("conv",))
                d = len(prev.w) - 2 if prev is not None else 2
                type_ = type_.format(d=d)
            return make_guess(
                raw,
                ctx,
                type_,
                conf,
                {},
                [f"parameter-less module; its name {raw.last!r} suggests {type_}"],
            )
    return None


def _conv(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess:
    w = raw.w
    d = len(w) - 2
    a, b, k = w[0], w[1], tuple(w[2:])
    blen = raw.shape("bias")[0] if "bias" in raw.leaves else None  # type: ignore[index]
    prev = chain.prev_out
    nxt = ctx.next_inputs(i)
    last = raw.last.lower()
    ev = [
        f"weight {shape_text(w)}: rank {len(w)} -> {d}-d convolution, kernel "
        + "x".join(str(x) for x in k)
    ]
    if d == 1 and ("bilinear" in last):
        return make_guess(
            raw,
            ctx,
            "Bilinear",
            0.7,
            {"in1_features": b, "in2_features": k[0], "out_features": a, "bias": blen is not None},
            ["rank-3 weight named bilinear"],
        )
    sc, st = 0.5, 0.0
    if blen is not None and a != b:
        if blen == a:
            sc += 3
            ev.append(f"bias has {blen} entries = weight.shape[0]: Conv layout (out, in, k)")
        elif blen % b == 0:
            st += 3
            ev.append(
                f"bias has {blen} entries = weight.shape[1]*groups: ConvTranspose layout "
                "(in, out/groups, k)"
            )
    if _TRANSPOSED_HINT.search(last):
        st += 2
        ev.append(f"name {raw.last!r} suggests a transposed convolution")
    # Transposed convolutions are rare: from the channel chain alone, the next layer must
    # take weight.shape[1] and the previous output (if any) must be weight.shape[0].
    chain_t = 0.0
    if prev is not None and a != b:
        if prev == b:
            sc += 2
        elif prev == a and b == 1:
            sc += 3  # depthwise
        elif prev == a and (prev % b or a % (prev // b)):
            chain_t += 1
            ev.append(f"previous output {prev} = weight.shape[0] and no grouping fits a Conv")
    if nxt and a != b:
        if a in nxt and b not in nxt:
            sc += 2
        elif b in nxt and a not in nxt and (prev is None or prev == a):
            chain_t += 1.5
            ev.append(f"next layer takes {b} = weight.shape[1] channels")
    if chain.transposed and prev == a and a != b:
        chain_t += 0.5
    # With a guessed order only neighbours inside one nn.Sequential are trusted.
    st += chain_t if not ctx.restored or ctx.numbered_neighbours(i) else 0.0
    if st > sc:
        groups = blen // b if blen is not None and blen != b and blen % b == 0 else 1
        attrs = {
            "in_channels": a,
            "out_channels": b * groups,
            "kernel_size": k,
            "groups": groups,
            "bias": blen is not None,
        }
        conf = 0.9 if st - sc >= 2.5 else 0.6
        return make_guess(raw, ctx, f"ConvTranspose{d}d", conf, attrs, ev)
    groups = 1
    if prev is not None and prev != b and prev % b == 0 and a % (prev // b) == 0:
        g = prev // b
        if b == 1 or b not in chain.seen:
            groups = g
            ev.append(
                f"previous output {prev} = {b} x {g}: groups={g}"
                + (" (depthwise)" if b == 1 else "")
            )
        else:
            ev.append(
                f"in_channels {b} matches an earlier output, not the previous {prev}: "
                "a branch (residual/downsample)"
            )
    elif prev is not None and prev == b:
        ev.append(f"in_channels {b} = previous output")
    attrs = {
        "in_channels": b * groups,
        "out_channels": a,
        "kernel_size": k,
        "groups": groups,
        "bias": blen is not None,
    }
    conf = 0.97 if (blen == a and a != b) or prev == b or groups > 1 else 0.9
    if st > 0 and sc - st < 2:
        conf = 0.6
    return make_guess(raw, ctx, f"Conv{d}d", conf, attrs, ev)


def _linear(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess:
    w = raw.w
    has_bias = "bias" in raw.leaves
    blen = raw.shape("bias")[0] if has_bias else None  # type: ignore[index]
    last = raw.last
    ll = last.lower()
    if not has_bias and _EMBED_NAMES.search(ll) and "proj" not in ll:
        type_ = "EmbeddingBag" if "bag" in ll else "Embedding"
        attrs: dict[str, Any] = {"num_embeddings": w[0], "embedding_dim": w[1]}
        ev = [
            f"weight {shape_text(w)} without bias named {last!r}: a lookup table of "
            f"{w[0]} vectors of {w[1]}"
        ]
        if _POSITION.search(ll):
            attrs["role"] = "position"
            ev.append(f"position embedding: at most {w[0]} positions")
        return make_guess(raw, ctx, type_, 0.95, attrs, ev)
    if ctx.hf_conv1d and (last in _HF_CONV1D or (blen == w[1] and w[0] != w[1])):
        ev = [
            f"weight {shape_text(w)} stored (in, out): transformers Conv1D "
            "(GPT-2's transposed Linear)"
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
    parent = raw.group.name.rpartition(".")[0]
    pr = ctx.by_name.get(parent)
    if last == "out_proj" and pr is not None and pr.kind == "mha":
        return make_guess(
            raw,
            ctx,
            "NonDynamicallyQuantizableLinear",
            0.95,
            {"in_features": w[1], "out_features": w[0], "bias": has_bias},
            ["output projection of the MultiheadAttention above it"],
        )
    nxt = ctx.next_inputs(i)
    if (
        i == ctx.first_layer
        and not has_bias
        and nxt
        and w[1] in nxt
        and w[0] not in nxt
        and chain.prev_out is None
    ):
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


def _batchnorm(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    n = raw.n
    rank = ctx.spatial_rank(i, n)
    d = rank if rank else 1 if rank == 0 else 2
    affine = "weight" in raw.leaves
    ev = [f"running_mean/running_var of {n}: batch statistics (track_running_stats)"]
    if raw.group.version == 2:
        ev.append("_metadata version 2 (torch.nn _NormBase)")
    ev.append(
        f"neighbouring layers are {d}-d"
        if rank is not None
        else "no neighbour tells the dimension; assuming 2-d"
    )
    attrs = {"num_features": n, "affine": affine, "track_running_stats": True}
    if _IN_HINT.search(raw.last.lower()):
        return make_guess(
            raw,
            ctx,
            f"InstanceNorm{d}d",
            0.6,
            attrs,
            [*ev, f"name {raw.last!r} suggests InstanceNorm"],
        )
    return make_guess(raw, ctx, f"BatchNorm{d}d", 0.95 if rank is not None else 0.8, attrs, ev)


def _norm(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    w = raw.w
    last = raw.last.lower()
    if raw.kind == "ln_nd":
        return make_guess(
            raw,
            ctx,
            "LayerNorm",
            0.85,
            {"normalized_shape": w},
            [f"weight and bias both {shape_text(w)}: LayerNorm over the last {len(w)} dims"],
        )
    n = w[0]
    rank = ctx.spatial_rank(i, n)
    spatial = bool(rank)
    if raw.kind == "norm_w":
        if n == 1 or _PRELU_HINT.search(last) or (spatial and "norm" not in last):
            return make_guess(
                raw,
                ctx,
                "PReLU",
                0.85 if n == 1 or "prelu" in last else 0.55,
                {"num_parameters": n},
                [f"single weight of {n} and no bias: PReLU slopes"],
            )
        return make_guess(
            raw,
            ctx,
            "RMSNorm",
            0.8 if "norm" in last or "ln" in last else 0.65,
            {"normalized_shape": (n,)},
            [f"single weight of {n} and no bias: RMS-style norm (LLaMA/T5)"],
        )
    ev = [f"weight and bias of {n} without running statistics"]
    d = rank or 1
    if raw.group.version == 2 or _IN_HINT.search(last):
        ev.append(
            "_metadata version 2 (a _NormBase subclass) without running stats"
            if raw.group.version == 2
            else f"name {raw.last!r} suggests InstanceNorm"
        )
        if _BN_HINT.search(last):
            return make_guess(
                raw,
                ctx,
                f"BatchNorm{max(d, 1)}d",
                0.7,
                {"num_features": n, "affine": True, "track_running_stats": False},
                ev,
            )
        return make_guess(
            raw,
            ctx,
            f"InstanceNorm{max(d, 1)}d",
            0.65,
            {"num_features": n, "affine": True, "track_running_stats": False},
            ev,
        )
    nxt = ctx.neighbour(i, 1, ("conv", "linear", "rnn", "mha"))
    prv = ctx.neighbour(i, -1, ("conv", "linear", "rnn", "mha"))
    if ctx.convnext and not (
        prv is not None and prv.kind == "conv" and nxt is not None and nxt.kind == "linear"
    ):
        # ConvNeXt: channels-last LayerNorm only inside blocks (dwconv -> norm -> Linear);
        # stem, downsample and head norms are LayerNorm2d over NCHW channels
        return make_guess(
            raw,
            ctx,
            "LayerNorm2d",
            0.6,
            {"normalized_shape": (n,)},
            [*ev, "a ConvNeXt (layer scales) norm outside the blocks: LayerNorm2d over channels"],
        )
    if _GN_HINT.search(last):
        return make_guess(
            raw,
            ctx,
            "GroupNorm",
            0.85,
            {"num_channels": n},
            [*ev, f"name {raw.last!r} suggests GroupNorm; num_groups is not stored"],
        )
    if spatial and not (nxt is not None and nxt.kind == "linear" and nxt.w[1] == n):
        if _LN_HINT.search(last) and last != "norm":
            return make_guess(
                raw,
                ctx,
                "LayerNorm",
                0.55,
                {"normalized_shape": (n,)},
                [*ev, "between convolutions, but named like a LayerNorm"],
            )
        return make_guess(
            raw,
            ctx,
            "GroupNorm",
            0.6,
            {"num_channels": n},
            [*ev, "between convolutions: GroupNorm (num_groups is not stored)"],
        )
    conf = 0.95 if _LN_HINT.search(last) or not spatial else 0.7
    return make_guess(
        raw,
        ctx,
        "LayerNorm",
        conf,
        {"normalized_shape": (n,)},
        [*ev, "among linear/sequence layers: LayerNorm over the last dim"],
    )


def _rnn(ctx: Context, raw: Raw) -> LayerGuess:
    lv = raw.leaves
    cell = raw.kind == "rnncell"
    suffix = "" if cell else "_l0"
    ih, hh = lv.get("weight_ih" + suffix), lv.get("weight_hh" + suffix)
    if ih is None or hh is None:
        return _bare(ctx, raw)
    hr = lv.get("weight_hr_l0")
    hidden = hr.shape[1] if hr is not None else hh.shape[1]
    gates = hh.shape[0] // hidden if hidden else 0
    type_ = {1: "RNN", 3: "GRU", 4: "LSTM"}.get(gates)
    if type_ is None or hh.shape[0] % hidden:
        return make_guess(
            raw,
            ctx,
            "unknown",
            0.2,
            {},
            [
                f"recurrent weights with {hh.shape[0]} rows for hidden size {hidden}: not 1/3/4 "
                "gates"
            ],
        )
    ev = [f"weight_hh{suffix} {shape_text(hh.shape)}: {gates} gate(s) x hidden {hidden}"]
    attrs: dict[str, Any] = {
        "input_size": ih.shape[1],
        "hidden_size": hidden,
        "bias": ("bias_ih" + suffix) in lv,
    }
    if cell:
        return make_guess(
            raw, ctx, type_ + "Cell", 0.95, attrs, [*ev, "no _l{k} suffix: a single cell"]
        )
    layers = 1 + max(int(m.group(3)) for n in lv if (m := RNN_KEY.match(n)))
    attrs["num_layers"] = layers
    attrs["bidirectional"] = any(n.endswith("_reverse") for n in lv)
    if hr is not None:
        attrs["proj_size"] = hr.shape[0]
        ev.append(f"weight_hr_l0 {shape_text(hr.shape)}: proj_size={hr.shape[0]}")
    ev.append(
        f"{layers} layer(s)" + (", bidirectional (_reverse)" if attrs["bidirectional"] else "")
    )
    return make_guess(raw, ctx, type_, 0.98, attrs, ev)


def _mha(ctx: Context, raw: Raw) -> LayerGuess:
    lv = raw.leaves
    if "in_proj_weight" in lv:
        e = lv["in_proj_weight"].shape[1]
        attrs: dict[str, Any] = {"embed_dim": e}
        ev = [f"in_proj_weight {shape_text(lv['in_proj_weight'].shape)}: packed q/k/v of {e}"]
    else:
        q, k, v = (lv.get(n + "_proj_weight") for n in "qkv")
        e = q.shape[0] if q is not None else 0
        attrs = {
            "embed_dim": e,
            "kdim": k.shape[1] if k is not None else e,
            "vdim": v.shape[1] if v is not None else e,
        }
        ev = ["separate q/k/v_proj_weight: key/value dims differ from embed_dim"]
    attrs["bias"] = "in_proj_bias" in lv
    attrs["add_bias_kv"] = "bias_k" in lv
    ev.append("num_heads is not stored")
    return make_guess(raw, ctx, "MultiheadAttention", 0.97, attrs, ev)


# Custom containers holding bare parameters, recognised by their parameters and children
# (class, leaves it owns, children it has, path prefix or "", what it is).
_CONTAINERS = (
    (
        "VisionTransformer",
        {"class_token"},
        {"conv_proj", "encoder"},
        "",
        "torchvision VisionTransformer (class_token, conv_proj, encoder)",
    ),
    (
        "Encoder",
        {"pos_embedding"},
        {"layers"},
        "",
        "torchvision ViT Encoder (pos_embedding, layers)",
    ),
    (
        "VisionTransformerDistilled",
        {"cls_token", "dist_token", "pos_embed"},
        {"patch_embed"},
        "",
        "timm DeiT (cls_token, dist_token, pos_embed, patch_embed)",
    ),
    (
        "VisionTransformer",
        {"cls_token", "pos_embed"},
        {"patch_embed"},
        "",
        "timm VisionTransformer (cls_token, pos_embed, patch_embed)",
    ),
    (
        "VisionTransformer",
        {"class_embedding", "positional_embedding"},
        {"conv1"},
        "",
        "OpenAI CLIP visual transformer",
    ),
    ("CNBlock", {"layer_scale"}, {"block"}, "", "torchvision ConvNeXt block"),
    ("ConvNeXtBlock", {"gamma"}, {"conv_dw"}, "", "timm ConvNeXt block"),
    (
        "ShiftedWindowAttention",
        {"relative_position_bias_table"},
        {"qkv", "proj"},
        "features.",
        "torchvision Swin attention",
    ),
    (
        "WindowAttention",
        {"relative_position_bias_table"},
        {"qkv", "proj"},
        "",
        "timm Swin attention",
    ),
    (
        "ViTEmbeddings",
        {"cls_token", "position_embeddings"},
        {"patch_embeddings"},
        "",
        "transformers ViTEmbeddings",
    ),
    (
        "BertEmbeddings",
        {"position_ids"},
        {"word_embeddings", "token_type_embeddings"},
        "",
        "transformers BertEmbeddings (RoBERTa & co. share the layout)",
    ),
)


def _container(ctx: Context, raw: Raw) -> tuple[str, str] | None:
    leaves = set(raw.leaves)
    children = ctx.children(raw.group.name)
    for cls, need, kids, prefix, what in _CONTAINERS:
        if need <= leaves and kids <= children and raw.group.name.startswith(prefix):
            return cls, what
    if leaves and all(leaf.isdigit() for leaf in leaves):
        return "ParameterList", "numbered bare parameters"
    if "inv_freq" in leaves and "rotary" in raw.last.lower():
        return "RotaryEmbedding", "rotary position frequencies (inv_freq)"
    return None


def _bare(ctx: Context, raw: Raw) -> LayerGuess:
    roles = []
    attrs: dict[str, Any] = {}
    for leaf, t in raw.leaves.items():
        ll = leaf.lower()
        if leaf in BUFFER_LEAVES:
            roles.append(f"buffer {leaf} {shape_text(t.shape)}")
        elif re.search(r"cls|class|dist_token|reg_token|register", ll):
            roles.append(f"{leaf} {shape_text(t.shape)}: class/extra token(s)")
            attrs["prefix_tokens"] = attrs.get("prefix_tokens", 0) + (
                t.shape[-2] if len(t.shape) >= 2 else 1
            )
        elif re.search(r"pos", ll) and len(t.shape) >= 2:
            roles.append(
                f"{leaf} {shape_text(t.shape)}: position embedding of "
                f"{t.shape[-2]} tokens x {t.shape[-1]}"
            )
            attrs["num_positions"] = t.shape[-2]
            attrs["token_dim"] = t.shape[-1]
        elif re.search(r"gamma|scale", ll) and len(t.shape) <= 1:
            roles.append(f"{leaf} {shape_text(t.shape)}: layer scale")
        else:
            roles.append(f"{leaf} {shape_text(t.shape)}")
    if (
        set(raw.leaves) <= {"bias", "masked_bias"}
        and "bias" in raw.leaves
        and len(raw.leaves["bias"].shape) == 4
    ):
        # transformers GPT2Attention: causal mask buffers (older versions persist them)
        return make_guess(
            raw,
            ctx,
            "GPT2Attention",
            0.7,
            attrs,
            ["causal-mask buffer bias (1, 1, n, n) (+ masked_bias): GPT-2 attention"],
        )
    if set(raw.leaves) == {"gamma"} and re.match(r"^(ls\d|layer_?scale)", raw.last):
        return make_guess(raw, ctx, "LayerScale", 0.5, attrs, ["timm LayerScale: gamma only"])
    ev = ["tensors directly on a custom module: " + "; ".join(roles)]
    known = _container(ctx, raw)
    if known is not None:
        return make_guess(raw, ctx, known[0], 0.4, attrs, [*ev, f"layout of {known[1]}"])
    return make_guess(raw, ctx, "unknown", 0.2, attrs, ev)
