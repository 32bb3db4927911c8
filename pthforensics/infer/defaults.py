"""Defaults used where the weights leave a size or a hyper-parameter free (not priors on
what is likely: what the analysis shows or runs when nothing decides).

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "DEFAULT_ATTENTION_TOKENS",
    "DEFAULT_FREE_SIZES",
    "DEFAULT_SHAPES",
    "DEFAULT_STEPS",
    "DEFAULT_TOKENS",
    "GROUPNORM_GROUPS",
    "LATENT_POINT_KERNEL",
    "LATENT_SIDE_MAP",
    "LATENT_SIDE_POINT",
    "PATCH_GRID_FRAMES",
]

# --- defaults where the weights leave a size free ------------------------------------------

#: Sizes listed (with the minimum and the chosen one) for an input whose size is free.
DEFAULT_FREE_SIZES = (32, 64, 224)
"""CIFAR, a power of two and the ImageNet crop (see the image table in :mod:`.priors`)."""

#: Sequence lengths shown when a length is free.
DEFAULT_TOKENS = 32
"""Token sequences: a short sequence well inside any position table."""
DEFAULT_STEPS = 32
"""Recurrent sequences of free length."""
DEFAULT_ATTENTION_TOKENS = 16
"""A Linear-first attention model: a short sequence of free length."""

#: Latent maps of a generator (pytorch/examples dcgan: ``ConvTranspose2d(nz, ngf * 8, 4, 1,
#: 0)`` grows a 1x1 latent to 4x4); a first kernel below this reads a larger latent map.
LATENT_POINT_KERNEL = 4
LATENT_SIDE_POINT = 1
LATENT_SIDE_MAP = 8
"""Latent side assumed when the first transposed kernel is small (a map, not a point)."""

#: Frame counts tried for a 3-d patch grid (video ViT), in order of preference.
PATCH_GRID_FRAMES = (8, 16, 4, 2, 1)
"""Video transformers tokenise 8- or 16-frame clips (tubelets of 2)."""

#: The shape tried when rebuild runs a model whose input the inference left unknown, by the
#: dimension of the first convolution.
DEFAULT_SHAPES: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {1: (16000,), 2: (224, 224), 3: (16, 112, 112)}
)
"""One second at 16 kHz, the ImageNet crop, a 16-frame 112x112 clip (the tables of
:mod:`.priors`)."""

#: ``GroupNorm.num_groups`` is not stored; the rebuild takes the first of these dividing
#: the channels (it does not change any shape).
GROUPNORM_GROUPS = (32, 16, 8, 4, 2, 1)
"""32 is the default of the paper (Wu & He, 2018) and of torchvision/timm/diffusers."""
