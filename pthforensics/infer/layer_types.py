"""One vocabulary for layer types: what a type name is, and what features it maps.

Every question "is this a Conv / ConvTranspose / Linear-like / norm / RNN, of which
dimension" is answered by :func:`layer_type` over one table, :data:`FAMILY_TABLE`: ordered
rows ``(pattern, family, source)`` matched against the type name (the ``torch.nn`` class
name the rules guess, or the class a full-model pickle names), first match wins.  The
dimension is the ``<n>d`` suffix torch.nn uses for 1/2/3-d modules (``Conv2d``,
``BatchNorm1d``, ``MaxPool3d``).  :func:`layer_dims` reads the input/output feature counts
back from a guess's attributes.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum, unique
from functools import lru_cache

from pthforensics.core import LayerGuess

__all__ = [
    "FAMILY_TABLE",
    "LayerFamily",
    "LayerType",
    "layer_dims",
    "layer_type",
]


@unique
class LayerFamily(StrEnum):
    """What a layer does to the shape of its input (one value per row kind of the table)."""

    CONV = "conv"
    CONV_TRANSPOSE = "conv-transpose"
    LINEAR = "linear"
    """Linear-like: maps the last dim (``Linear``, ``Bilinear``, transformers ``Conv1D``)."""
    EMBEDDING = "embedding"
    BATCH_NORM = "batch-norm"
    INSTANCE_NORM = "instance-norm"
    GROUP_NORM = "group-norm"
    LAYER_NORM = "layer-norm"
    RMS_NORM = "rms-norm"
    PRELU = "prelu"
    RNN = "rnn"
    RNN_CELL = "rnn-cell"
    ATTENTION = "attention"
    ADAPTIVE_POOL = "adaptive-pool"
    POOL = "pool"
    UPSAMPLE = "upsample"
    ELEMENTWISE = "elementwise"
    """Parameter-less, shape-preserving modules the rebuild can instantiate by name."""
    SOFTMAX = "softmax"
    FLATTEN = "flatten"
    OTHER = "other"


_NN = "pytorch: torch/nn/modules/"

#: Ordered rows ``(pattern, family, source)``; the first pattern matching the type name
#: (``re.search``) gives its family.  Exact names come first so that ``Conv1D`` (a
#: transposed Linear) is not read as a convolution.
FAMILY_TABLE: tuple[tuple[re.Pattern[str], LayerFamily, str], ...] = tuple(
    (re.compile(pattern), family, source)
    for pattern, family, source in (
        (r"^(Linear|LazyLinear|Bilinear)$", LayerFamily.LINEAR, _NN + "linear.py"),
        (
            r"^NonDynamicallyQuantizableLinear$",
            LayerFamily.LINEAR,
            _NN + "linear.py (MultiheadAttention.out_proj)",
        ),
        (
            r"^Conv1D$",
            LayerFamily.LINEAR,
            "transformers: pytorch_utils.py Conv1D (GPT-2's Linear stored (in, out))",
        ),
        (r"^(RNN|LSTM|GRU)$", LayerFamily.RNN, _NN + "rnn.py"),
        (r"^(RNNCell|LSTMCell|GRUCell)$", LayerFamily.RNN_CELL, _NN + "rnn.py"),
        (r"^MultiheadAttention$", LayerFamily.ATTENTION, _NN + "activation.py"),
        (r"^ConvTranspose", LayerFamily.CONV_TRANSPOSE, _NN + "conv.py ConvTranspose1d/2d/3d"),
        (r"^Conv", LayerFamily.CONV, _NN + "conv.py Conv1d/2d/3d"),
        (r"^Embedding", LayerFamily.EMBEDDING, _NN + "sparse.py Embedding, EmbeddingBag"),
        (r"^BatchNorm", LayerFamily.BATCH_NORM, _NN + "batchnorm.py"),
        (r"^InstanceNorm", LayerFamily.INSTANCE_NORM, _NN + "instancenorm.py"),
        (r"^GroupNorm", LayerFamily.GROUP_NORM, _NN + "normalization.py"),
        (
            r"^LayerNorm",
            LayerFamily.LAYER_NORM,
            _NN + "normalization.py; LayerNorm2d: torchvision models/convnext.py, timm "
            "layers/norm.py",
        ),
        (r"^RMSNorm", LayerFamily.RMS_NORM, _NN + "normalization.py"),
        (r"^PReLU", LayerFamily.PRELU, _NN + "activation.py"),
        (r"Adaptive\w*Pool", LayerFamily.ADAPTIVE_POOL, _NN + "pooling.py AdaptiveAvgPool*"),
        (r"Pool", LayerFamily.POOL, _NN + "pooling.py MaxPool*, AvgPool*"),
        (r"^Upsample", LayerFamily.UPSAMPLE, _NN + "upsampling.py"),
        (
            r"^(ReLU|ReLU6|GELU|SiLU|Sigmoid|Tanh|LeakyReLU|ELU|Hardswish|Hardsigmoid|Mish|"
            r"Softplus|Identity|Dropout|Dropout1d|Dropout2d|Dropout3d|AlphaDropout|DropPath)$",
            LayerFamily.ELEMENTWISE,
            _NN + "activation.py, dropout.py, linear.py (Identity); DropPath: timm layers/drop.py",
        ),
        (r"^(Softmax|LogSoftmax)$", LayerFamily.SOFTMAX, _NN + "activation.py"),
        (r"^Flatten$", LayerFamily.FLATTEN, _NN + "flatten.py"),
    )
)

_DIM_SUFFIX = re.compile(r"(\d)d$")

_CONVOLUTIONS = frozenset({LayerFamily.CONV, LayerFamily.CONV_TRANSPOSE})
_NORMS = frozenset(
    {
        LayerFamily.BATCH_NORM,
        LayerFamily.INSTANCE_NORM,
        LayerFamily.GROUP_NORM,
        LayerFamily.LAYER_NORM,
        LayerFamily.RMS_NORM,
    }
)


@dataclass(frozen=True, slots=True)
class LayerType:
    """The family of a type name and the dimension its ``<n>d`` suffix gives."""

    family: LayerFamily
    dims: int
    """1/2/3 from the ``<n>d`` suffix (``Conv2d``, ``BatchNorm1d``), 0 without one."""

    @property
    def conv_dims(self) -> int:
        """Spatial dims of a (transposed) convolution, 0 for anything else (``Conv1D``,
        a ``Conv...`` class without a dimension suffix)."""
        return self.dims if self.family in _CONVOLUTIONS else 0

    @property
    def is_transposed(self) -> bool:
        """A transposed convolution (any ``ConvTranspose...`` name)."""
        return self.family is LayerFamily.CONV_TRANSPOSE

    @property
    def is_linear(self) -> bool:
        """Linear-like: maps the last dim of its input."""
        return self.family is LayerFamily.LINEAR

    @property
    def is_norm(self) -> bool:
        """A normalisation layer of any kind."""
        return self.family in _NORMS

    @property
    def passes_through(self) -> bool:
        """Keeps the layout of its input (norms, PReLU): a feature map stays a map."""
        return self.family in _NORMS or self.family is LayerFamily.PRELU

    @property
    def is_recurrent(self) -> bool:
        """An RNN/LSTM/GRU or one of their cells."""
        return self.family in (LayerFamily.RNN, LayerFamily.RNN_CELL)

    @property
    def reads_sequence(self) -> bool:
        """Reads its input as a sequence of feature vectors (recurrent or attention)."""
        return self.is_recurrent or self.family is LayerFamily.ATTENTION


@lru_cache(maxsize=1024)
def layer_type(name: str) -> LayerType:
    """The family and dimension of a layer type name (``Conv2d`` -> conv, 2)."""
    family = next((f for pattern, f, _ in FAMILY_TABLE if pattern.search(name)), None)
    suffix = _DIM_SUFFIX.search(name)
    return LayerType(family or LayerFamily.OTHER, int(suffix.group(1)) if suffix else 0)


def layer_dims(guess: LayerGuess) -> tuple[int | None, int | None]:
    """(input features/channels, output features/channels) of a guessed layer, from its
    attributes; ``None`` where it does not apply (an Embedding takes token ids)."""
    a = guess.attrs
    if guess.type == "unknown":
        return None, None
    if "in_channels" in a:
        return a["in_channels"], a.get("out_channels")
    if "in_features" in a:
        return a["in_features"], a.get("out_features")
    if "num_features" in a:
        return a["num_features"], a["num_features"]
    if "num_channels" in a:
        return a["num_channels"], a["num_channels"]
    if "normalized_shape" in a:
        # a LayerNorm over several trailing dims of a map ([C, L] after a Conv1d, SincNet)
        # keeps its channels first; over one dim, the features are that dim
        ns = a["normalized_shape"]
        width = ns[0] if isinstance(ns, tuple) else ns
        return width, width
    if "embedding_dim" in a:
        return None, a["embedding_dim"]
    if "input_size" in a:
        h = a.get("proj_size") or a["hidden_size"]
        return a["input_size"], h * (2 if a.get("bidirectional") else 1)
    if "embed_dim" in a:
        return a.get("kdim", a["embed_dim"]), a["embed_dim"]
    if a.get("num_parameters", 1) > 1:
        return a["num_parameters"], a["num_parameters"]
    return None, None
