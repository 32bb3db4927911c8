"""Model-family knowledge as data: name hints, layouts of custom modules, family markers.

The inference rules (``infer.layers``, ``infer.input``) read the shapes; where shapes cannot
decide, they consult these tables.  Each entry carries its ``source``: the library file
that defines the name or layout (``torchvision: models/vgg.py``), or the habit it records
when no single library defines it.  Names are weak evidence: the algorithms give them
lower confidence than shapes, and never let a name override a shape that contradicts it.

Size priors (224, 32, 28...) live in :mod:`..priors`.

The tables are split by what they describe: :mod:`.name_hints` (names of layers and of
modules around the main path), :mod:`.paramless` (parameter-less modules typed by name),
:mod:`.module_layouts` (custom modules known by their bare tensors) and
:mod:`.family_markers` (whole-model markers and input conventions).

Nothing here imports torch.
"""

from __future__ import annotations

from .family_markers import (
    ADAPTIVE_HEADS,
    CHANNELS_FIRST_NORM_MARKERS,
    AdaptiveHead,
    LayerScaleMarker,
)
from .module_layouts import BARE_MODULES, CONTAINER_LAYOUTS, BareModule, ContainerLayout
from .name_hints import (
    ATTENTION_NAMES,
    AUX_HEAD_NAME,
    BATCH_NORM_NAME,
    CLASS_TOKEN_LEAF,
    DETECTOR_HEADS,
    EMBEDDING_NAME,
    GPT2_CONV1D_NAMES,
    GROUP_NORM_NAME,
    IDENTITY_AT_DEFAULT_NAME,
    IDENTITY_BRANCH_NAME,
    INSTANCE_NORM_NAME,
    LAYER_NORM_NAME,
    LAYER_SCALE_LEAF,
    NOT_POOL_NAME,
    POSITION_LEAF,
    POSITION_NAME,
    PRELU_NAME,
    TRANSPOSED_CONV_NAME,
    WAVEFORM_ENCODER_NAME,
    NameHint,
)
from .paramless import PARAMLESS_HINTS, PARENT_HINTS, ParamlessHint, ParentHint

__all__ = [
    "ADAPTIVE_HEADS",
    "AUX_HEAD_NAME",
    "ATTENTION_NAMES",
    "BARE_MODULES",
    "BATCH_NORM_NAME",
    "CHANNELS_FIRST_NORM_MARKERS",
    "CLASS_TOKEN_LEAF",
    "CONTAINER_LAYOUTS",
    "DETECTOR_HEADS",
    "EMBEDDING_NAME",
    "GPT2_CONV1D_NAMES",
    "GROUP_NORM_NAME",
    "IDENTITY_AT_DEFAULT_NAME",
    "IDENTITY_BRANCH_NAME",
    "INSTANCE_NORM_NAME",
    "LAYER_NORM_NAME",
    "LAYER_SCALE_LEAF",
    "NOT_POOL_NAME",
    "PARAMLESS_HINTS",
    "PARENT_HINTS",
    "POSITION_LEAF",
    "POSITION_NAME",
    "PRELU_NAME",
    "TRANSPOSED_CONV_NAME",
    "WAVEFORM_ENCODER_NAME",
    "AdaptiveHead",
    "BareModule",
    "ContainerLayout",
    "LayerScaleMarker",
    "NameHint",
    "ParamlessHint",
    "ParentHint",
]
