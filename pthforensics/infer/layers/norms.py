"""Norms and PReLU: BatchNorm, InstanceNorm, GroupNorm, LayerNorm(2d), RMSNorm.

``running_mean``/``running_var`` make a BatchNorm (``_metadata`` version 2; pytorch:
torch/nn/modules/batchnorm.py ``_NormBase``); its dimension is that of the neighbouring
convolution.  1-D ``weight`` + ``bias`` without running stats is a LayerNorm, a GroupNorm
(between convolutions) or an affine InstanceNorm (version 2; normalization.py,
instancenorm.py); a lone 1-D ``weight`` is an RMSNorm or a PReLU (activation.py).

Nothing here imports torch.
"""

from __future__ import annotations

from pthforensics.core import LayerGuess
from pthforensics.infer.knowledge import (
    BATCH_NORM_NAME,
    GROUP_NORM_NAME,
    INSTANCE_NORM_NAME,
    LAYER_NORM_NAME,
    PRELU_NAME,
)

from .context import Context, make_guess, shape_text
from .views import Raw, TensorLayout

__all__ = ["infer_batchnorm", "infer_norm"]

_FEATURE_NEIGHBOURS = (
    TensorLayout.CONV,
    TensorLayout.LINEAR,
    TensorLayout.RNN,
    TensorLayout.ATTENTION,
)


def infer_batchnorm(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    """Running statistics: BatchNorm of the neighbours' dimension (InstanceNorm by name)."""
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
    if INSTANCE_NORM_NAME.matches(raw.last.lower()):
        return make_guess(
            raw,
            ctx,
            f"InstanceNorm{d}d",
            0.6,
            attrs,
            [*ev, f"name {raw.last!r} suggests InstanceNorm"],
        )
    return make_guess(raw, ctx, f"BatchNorm{d}d", 0.95 if rank is not None else 0.8, attrs, ev)


def infer_norm(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    """A norm without running statistics, or a PReLU."""
    if raw.kind is TensorLayout.LAYER_NORM_ND:
        w = raw.w
        return make_guess(
            raw,
            ctx,
            "LayerNorm",
            0.85,
            {"normalized_shape": w},
            [f"weight and bias both {shape_text(w)}: LayerNorm over the last {len(w)} dims"],
        )
    if raw.kind is TensorLayout.NORM_W:
        return _weight_only(ctx, i, raw)
    return (
        _instance_like(ctx, i, raw)
        or _channels_first(ctx, i, raw)
        or _group_by_name(ctx, raw)
        or _between_convolutions(ctx, i, raw)
        or _layer_norm(ctx, i, raw)
    )


def _ev(raw: Raw) -> list[str]:
    return [f"weight and bias of {raw.w[0]} without running statistics"]


def _weight_only(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    """A lone 1-d weight: PReLU slopes or an RMS norm's gain."""
    n = raw.w[0]
    last = raw.last.lower()
    spatial = bool(ctx.spatial_rank(i, n))
    if n == 1 or PRELU_NAME.matches(last) or (spatial and "norm" not in last):
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


def _instance_like(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    """A ``_NormBase`` (version 2) without running stats: affine InstanceNorm (or a
    BatchNorm with ``track_running_stats=False`` when so named)."""
    last = raw.last.lower()
    if raw.group.version != 2 and not INSTANCE_NORM_NAME.matches(last):
        return None
    n = raw.w[0]
    d = ctx.spatial_rank(i, n) or 1
    ev = [
        *_ev(raw),
        "_metadata version 2 (a _NormBase subclass) without running stats"
        if raw.group.version == 2
        else f"name {raw.last!r} suggests InstanceNorm",
    ]
    attrs = {"num_features": n, "affine": True, "track_running_stats": False}
    if BATCH_NORM_NAME.matches(last):
        return make_guess(raw, ctx, f"BatchNorm{max(d, 1)}d", 0.7, attrs, ev)
    return make_guess(raw, ctx, f"InstanceNorm{max(d, 1)}d", 0.65, attrs, ev)


def _channels_first(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    """ConvNeXt: channels-last LayerNorm only inside blocks (dwconv -> norm -> Linear);
    stem, downsample and head norms are LayerNorm2d over NCHW channels."""
    nxt = ctx.neighbour(i, 1, _FEATURE_NEIGHBOURS)
    prv = ctx.neighbour(i, -1, _FEATURE_NEIGHBOURS)
    in_block = (
        prv is not None
        and prv.kind is TensorLayout.CONV
        and nxt is not None
        and nxt.kind is TensorLayout.LINEAR
    )
    if not ctx.convnext or in_block:
        return None
    return make_guess(
        raw,
        ctx,
        "LayerNorm2d",
        0.6,
        {"normalized_shape": (raw.w[0],)},
        [*_ev(raw), "a ConvNeXt (layer scales) norm outside the blocks: LayerNorm2d over channels"],
    )


def _group_by_name(ctx: Context, raw: Raw) -> LayerGuess | None:
    if not GROUP_NORM_NAME.matches(raw.last.lower()):
        return None
    return make_guess(
        raw,
        ctx,
        "GroupNorm",
        0.85,
        {"num_channels": raw.w[0]},
        [*_ev(raw), f"name {raw.last!r} suggests GroupNorm; num_groups is not stored"],
    )


def _between_convolutions(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    """Among convolutions (not feeding a Linear of its width): GroupNorm, or a LayerNorm
    when so named."""
    n = raw.w[0]
    last = raw.last.lower()
    nxt = ctx.neighbour(i, 1, _FEATURE_NEIGHBOURS)
    if not ctx.spatial_rank(i, n) or (nxt is not None and nxt.kind is TensorLayout.LINEAR):
        return None  # a Linear reads what it normalised: tokens/channels last (Mixer, ViT)
    if LAYER_NORM_NAME.matches(last) and last != "norm":
        return make_guess(
            raw,
            ctx,
            "LayerNorm",
            0.55,
            {"normalized_shape": (n,)},
            [*_ev(raw), "between convolutions, but named like a LayerNorm"],
        )
    if _after_linear(ctx, i, n):
        return make_guess(
            raw,
            ctx,
            "LayerNorm",
            0.85,
            {"normalized_shape": (n,)},
            [
                *_ev(raw),
                "normalises the output of a Linear of its width on the main chain: features "
                "last, so over the last axis (HF ConvNeXt's downsampling norm after pwconv2; "
                "MobileViT's norm after its transformer)",
            ],
        )
    if _after_depthwise(ctx, i, n):
        return make_guess(
            raw,
            ctx,
            "LayerNorm",
            0.55,
            {"normalized_shape": (n,)},
            [
                *_ev(raw),
                "right after a depthwise convolution of its width: normalised per position "
                "over channels (ConvNeXt's dwconv -> LayerNorm; MViT's pooling convolutions)",
            ],
        )
    return make_guess(
        raw,
        ctx,
        "GroupNorm",
        0.6,
        {"num_channels": n},
        [*_ev(raw), "between convolutions: GroupNorm (num_groups is not stored)"],
    )


def _after_linear(ctx: Context, i: int, n: int) -> bool:
    """The nearest feature layer before ``i`` is a Linear producing ``n`` features whose
    own input is the output of the feature layer before it (on the chain, not a side
    projection such as a diffusion ResBlock's ``time_emb_proj``, whose GroupNorm follows)."""
    prev = ctx.neighbour(i, -1, _FEATURE_NEIGHBOURS)
    if prev is None or prev.kind is not TensorLayout.LINEAR or prev.w[0] != n:
        return False
    before = ctx.neighbour(ctx.raws.index(prev), -1, _FEATURE_NEIGHBOURS)
    return before is not None and len(before.w) >= 2 and before.w[0] == prev.w[1]


def _after_depthwise(ctx: Context, i: int, n: int) -> bool:
    """The nearest module before ``i`` owning a layer is a depthwise convolution of ``n``
    channels (``weight (n, 1, *k)`` that is not the model's first layer)."""
    prev = ctx.neighbour(i, -1)
    return (
        prev is not None
        and prev.kind is TensorLayout.CONV
        and prev.w[0] == n
        and prev.w[1] == 1
        and n > 1
        and ctx.raws.index(prev) != ctx.first_layer
    )


def _layer_norm(ctx: Context, i: int, raw: Raw) -> LayerGuess:
    n = raw.w[0]
    spatial = bool(ctx.spatial_rank(i, n))
    conf = 0.95 if LAYER_NORM_NAME.matches(raw.last.lower()) or not spatial else 0.7
    return make_guess(
        raw,
        ctx,
        "LayerNorm",
        conf,
        {"normalized_shape": (n,)},
        [*_ev(raw), "among linear/sequence layers: LayerNorm over the last dim"],
    )
