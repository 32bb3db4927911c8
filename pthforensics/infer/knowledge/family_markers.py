"""Whole-model markers and input conventions of model families: what marks a ConvNeXt-style
model's channels-first norms, and which families' heads read an adaptive pool of a fixed
size.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ADAPTIVE_HEADS", "CHANNELS_FIRST_NORM_MARKERS", "AdaptiveHead", "LayerScaleMarker"]


# --- whole-model markers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerScaleMarker:
    """A bare tensor that marks a ConvNeXt-style model, whose norms outside the blocks are
    channels-first ``LayerNorm2d`` (not GroupNorm)."""

    leaf: str
    source: str
    trailing: tuple[int, ...] | None = None
    """The tensor's shape ends with this."""
    child: str | None = None
    """Its module has this submodule."""


CHANNELS_FIRST_NORM_MARKERS: tuple[LayerScaleMarker, ...] = (
    LayerScaleMarker(
        "layer_scale",
        "torchvision: models/convnext.py CNBlock.layer_scale of shape (C, 1, 1)",
        trailing=(1, 1),
    ),
    LayerScaleMarker(
        "gamma", "timm: models/convnext.py ConvNeXtBlock.gamma next to conv_dw", child="conv_dw"
    ),
)


# --- input conventions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdaptiveHead:
    """A family whose classifier reads an adaptive average pool of a fixed size.

    Without ``_metadata`` the pool module is invisible, but a flatten head of
    ``C x s x s`` positions with ``s`` in ``output_sizes`` and this naming tells it."""

    body_prefix: str
    head_prefix: str
    output_sizes: frozenset[int]
    source: str


ADAPTIVE_HEADS: tuple[AdaptiveHead, ...] = (
    AdaptiveHead(
        "features.",
        "classifier.",
        frozenset({6, 7}),
        "torchvision: models/vgg.py (AdaptiveAvgPool2d((7, 7)) named avgpool), "
        "models/alexnet.py (AdaptiveAvgPool2d((6, 6)))",
    ),
)
