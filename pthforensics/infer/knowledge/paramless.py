"""Parameter-less modules typed by their name (and their parent's name): the rows the
layer table gets for modules that own no tensor.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._sources import TIMM_LAYERS as _TIMM
from ._sources import TORCHVISION_MODELS as _TV

__all__ = ["PARAMLESS_HINTS", "PARENT_HINTS", "ParamlessHint", "ParentHint"]


@dataclass(frozen=True, slots=True)
class ParamlessHint:
    """A parameter-less module whose name says what it is (``{d}`` takes the dimension of
    the convolution before it)."""

    pattern: re.Pattern[str]
    type: str
    confidence: float
    source: str


#: Parameter-less modules named after what they are, first match wins (so ``relu6`` is
#: tried before ``relu``, and ``avgpool`` alone before ``avg_pool``).
PARAMLESS_HINTS: tuple[ParamlessHint, ...] = tuple(
    ParamlessHint(re.compile(pattern), type_, confidence, source)
    for pattern, type_, confidence, source in (
        (r"relu6", "ReLU6", 0.6, _TV + "mobilenetv2.py (Conv2dNormActivation with ReLU6)"),
        (r"leaky", "LeakyReLU", 0.6, "pytorch/examples dcgan (LeakyReLU)"),
        (r"prelu", "PReLU", 0.4, "torch.nn PReLU (a parameter-less row only when unowned)"),
        (r"relu", "ReLU", 0.6, _TV + "resnet.py (relu)"),
        (r"gelu", "GELU", 0.6, _TIMM + "mlp.py (act = GELU)"),
        (r"silu|swish", "SiLU", 0.6, _TV + "efficientnet.py (SiLU)"),
        (r"sigmoid", "Sigmoid", 0.6, "torch.nn Sigmoid"),
        (r"tanh", "Tanh", 0.6, "pytorch/examples dcgan (Tanh output)"),
        (r"softmax", "Softmax", 0.6, "torch.nn Softmax"),
        (r"^elu", "ELU", 0.5, "torch.nn ELU"),
        (r"max_?pool|^mp\d*$", "MaxPool{d}d", 0.6, _TV + "resnet.py (maxpool)"),
        (
            r"global_?pool|adaptive|^gap$",
            "AdaptiveAvgPool{d}d",
            0.6,
            _TIMM + "adaptive_avgmax_pool.py (global_pool)",
        ),
        (
            r"^avgpool$",
            "AdaptiveAvgPool{d}d",
            0.5,
            _TV + "resnet.py, vgg.py, alexnet.py, densenet.py: AdaptiveAvgPool2d named avgpool",
        ),
        (r"avg_?pool", "AvgPool{d}d", 0.4, "torch.nn AvgPool*d"),
        (
            r"pool(?!er)",
            "MaxPool{d}d",
            0.4,
            "most hand-written CNNs pool with MaxPool (pool1...); a 'pooler' is no pool",
        ),
        (r"drop_?path", "DropPath", 0.5, _TIMM + "drop.py (drop_path)"),
        (r"drop", "Dropout", 0.6, "torch.nn Dropout"),
        (r"flatten", "Flatten", 0.7, "torch.nn Flatten"),
        (r"identity", "Identity", 0.6, "torch.nn Identity"),
        (r"upsampl", "Upsample", 0.5, "torch.nn Upsample"),
    )
)


@dataclass(frozen=True, slots=True)
class ParentHint:
    """A parameter-less module whose type follows from its own name *and* its parent's
    (``pool`` under ``global_pool``, ``drop`` under a norm-act layer)."""

    leaf: re.Pattern[str]
    parent: re.Pattern[str]
    type: str
    confidence: float
    source: str


#: Tried before :data:`PARAMLESS_HINTS` (first match wins).  ``{d}`` as there.
PARENT_HINTS: tuple[ParentHint, ...] = tuple(
    ParentHint(re.compile(leaf), re.compile(parent), type_, confidence, source)
    for leaf, parent, type_, confidence, source in (
        (
            r"^pool$",
            r"global_?pool",
            "AdaptiveAvgPool{d}d",
            0.6,
            _TIMM + "adaptive_avgmax_pool.py SelectAdaptivePool2d.pool (nn.AdaptiveAvgPool2d)",
        ),
        (
            r"^pool$",
            r"^transition",
            "AvgPool{d}d",
            0.6,
            _TV + "densenet.py _Transition.pool = nn.AvgPool2d(2, 2) (Huang et al., 2017)",
        ),
        (
            r"^pool$",
            r"^token_mixer$",
            "AvgPool{d}d",
            0.6,
            "timm: models/metaformer.py Pooling (PoolFormer's token mixer nn.AvgPool2d(3, 1, 1)); "
            "efficientformer.py Pooling",
        ),
        (
            r"^flatten$",
            r"^head$",
            "Identity",
            0.5,
            _TIMM + "classifier.py ClassifierHead.flatten: nn.Identity() when global_pool "
            "flattens (the default)",
        ),
        (
            r"^drop$",
            r"(^|_)(bn|norm)\d*$",
            "Identity",
            0.4,
            _TIMM + "norm_act.py BatchNormAct2d.drop: nn.Identity() unless a drop layer is given",
        ),
    )
)
