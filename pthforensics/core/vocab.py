"""The torch vocabulary of the static stages, one copy each, written out with its source.

The static path never imports torch, so the facts it needs about torch are tables here:

* dtypes: the names ``torch`` gives them (aliases resolved), bytes per element, which are
  floating point (``torch/_tensor_str.py`` and ``c10/core/ScalarType.h`` list them);
* storage classes of the legacy formats and their element dtype
  (``torch/storage.py::_dtype_to_storage_type_map``), safetensors' dtype codes
  (``safetensors/src/tensor.rs::Dtype``) and NumPy's type characters
  (``numpy/lib/format.py`` ``descr``);
* which state_dict entries are buffers rather than parameters: ``register_buffer`` names of
  ``torch.nn`` and of the libraries whose checkpoints are common, each with the module that
  registers it, plus the two re-parametrisations whose buffers share a name with a
  parameter elsewhere (spectral norm's ``weight_v``, parametrize's ``_u``/``_v``).

``learnable_keys`` is the one answer to "is this tensor a parameter" (torchinfo's "Total
params": buffers excluded), used by ``scan``'s summary and ``inspect``'s per-layer counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from operator import attrgetter

from .records import TensorRecord

__all__ = [
    "BUFFER_LEAVES",
    "DTYPE_ALIASES",
    "ITEM_SIZES",
    "NUMPY_DTYPES",
    "SAFETENSORS_DTYPES",
    "STORAGE_DTYPES",
    "buffer_keys",
    "dtype_name",
    "is_floating",
    "itemsize",
    "learnable_keys",
    "numpy_dtype",
    "storage_dtype",
]

#: ``torch.<alias>`` -> canonical dtype name (``torch.float is torch.float32``...).
DTYPE_ALIASES: dict[str, str] = {
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "cfloat": "complex64",
    "cdouble": "complex128",
    "chalf": "complex32",
    "long": "int64",
    "int": "int32",
    "short": "int16",
}

#: Bytes per element of every torch dtype (``torch.<dtype>.itemsize``, torch 2.x); the
#: sub-byte dtypes pack into bytes (``quint4x2``, ``float4_e2m1fn_x2``, ``uint1``..``int7``
#: occupy one byte per element in a storage).
ITEM_SIZES: dict[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "complex128": 16,
    "complex64": 8,
    "complex32": 4,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "uint8": 1,
    "bool": 1,
    "qint32": 4,
    "qint8": 1,
    "quint8": 1,
    "quint4x2": 1,
    "quint2x4": 1,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "float8_e4m3fnuz": 1,
    "float8_e5m2fnuz": 1,
    "float8_e8m0fnu": 1,
    "float4_e2m1fn_x2": 1,
    "bits8": 1,
    "bits16": 2,
    "bits1x8": 1,
    "bits2x4": 1,
    "bits4x2": 1,
    **{f"uint{n}": 1 for n in range(1, 8)},
    **{f"int{n}": 1 for n in range(1, 8)},
}

_FLOATING_PREFIXES = ("float", "bfloat", "complex")

#: Legacy typed-storage class -> element dtype (``torch/storage.py``).
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}

#: safetensors dtype code -> (torch dtype name, bits per element)
#: (``safetensors/src/tensor.rs::Dtype``; the 6-bit floats have no torch dtype).
SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("bool", 8),
    "U8": ("uint8", 8),
    "I8": ("int8", 8),
    "I16": ("int16", 16),
    "U16": ("uint16", 16),
    "F16": ("float16", 16),
    "BF16": ("bfloat16", 16),
    "I32": ("int32", 32),
    "U32": ("uint32", 32),
    "F32": ("float32", 32),
    "F64": ("float64", 64),
    "I64": ("int64", 64),
    "U64": ("uint64", 64),
    "C64": ("complex64", 64),
    "C128": ("complex128", 128),
    "F8_E4M3": ("float8_e4m3fn", 8),
    "F8_E5M2": ("float8_e5m2", 8),
    "F8_E8M0": ("float8_e8m0fnu", 8),
    "F4": ("float4_e2m1fn_x2", 4),
    "F6_E2M3": ("float6", 6),
    "F6_E3M2": ("float6", 6),
}

#: NumPy (type character, bytes per element) -> torch dtype name: what ``torch.from_numpy``
#: makes of an array whose ``descr`` is e.g. ``<f4`` (``torch/csrc/utils/tensor_numpy.cpp``).
NUMPY_DTYPES: dict[tuple[str, int], str] = {
    ("f", 2): "float16",
    ("f", 4): "float32",
    ("f", 8): "float64",
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
    ("u", 8): "uint64",
    ("b", 1): "bool",
    ("c", 8): "complex64",
    ("c", 16): "complex128",
}


def dtype_name(attr: str) -> str:
    """The canonical name of ``torch.<attr>`` (``half`` -> ``float16``)."""
    return DTYPE_ALIASES.get(attr, attr)


def itemsize(dtype: str) -> int:
    """Bytes per element of ``dtype`` (1 for a name torch does not define)."""
    return ITEM_SIZES.get(dtype, 1)


@lru_cache(maxsize=256)
def is_floating(dtype: str) -> bool:
    """Whether ``dtype`` is floating point or complex (only those can be parameters)."""
    return dtype.startswith(_FLOATING_PREFIXES)


def storage_dtype(storage_class: str) -> tuple[str, int]:
    """(dtype, item size) of a legacy storage class name (``FloatStorage``); unknown names
    read as bytes."""
    dtype = STORAGE_DTYPES.get(storage_class, "uint8")
    return dtype, ITEM_SIZES[dtype]


def numpy_dtype(kind: str, size: int) -> str | None:
    """The torch dtype of a NumPy type character and size (``"f", 4`` -> ``float32``);
    ``None`` for a type torch has no dtype for."""
    return NUMPY_DTYPES.get((kind, size))


#: State_dict leaves that modules register as buffers (never parameters), with the module
#: that registers them.
BUFFER_LEAVES: dict[str, str] = {
    "running_mean": "torch.nn BatchNorm*/InstanceNorm* (_NormBase)",
    "running_var": "torch.nn BatchNorm*/InstanceNorm* (_NormBase)",
    "num_batches_tracked": "torch.nn BatchNorm*/InstanceNorm* (_NormBase)",
    "weight_u": "torch.nn.utils.spectral_norm (power-iteration vector u)",
    "position_ids": "transformers embeddings (arange of positions)",
    "token_type_ids": "transformers BertEmbeddings (zeros)",
    "inv_freq": "transformers rotary embeddings",
    "masked_bias": "transformers GPT2Attention (older versions)",
    "causal_mask": "transformers causal attention",
    "cos_cached": "rotary embedding caches",
    "sin_cached": "rotary embedding caches",
    "relative_position_index": "timm/torchvision Swin, BEiT relative position tables",
    "relative_coords_table": "timm/torchvision SwinV2 continuous position bias",
    "attn_mask": "timm/torchvision Swin shifted-window mask",
    "mask": "attention masks registered as buffers",
    "anchors": "YOLO Detect heads",
    "anchor_grid": "YOLO Detect heads",
    "_float_tensor": "fairseq SinusoidalPositionalEmbedding",
    "window": "torchaudio Spectrogram/MelSpectrogram/GriffinLim analysis window",
    "fb": "torchaudio MelScale filterbank",
    "dct_mat": "torchaudio MFCC/LFCC DCT matrix",
}


#: Leaf-name patterns of buffers a model registers under names of its own, with why.
BUFFER_LEAF_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), why)
    for pattern, why in (
        (
            r"(^|_)mask$",
            "masks are registered buffers (timm/torchvision Swin attn_mask, causal masks, "
            "torchfcpe's gaussian_blurred_cent_mask); mask_token and wav2vec2's "
            "masked_spec_embed are learned and do not end in 'mask'",
        ),
        (
            r"^(?!.*(bias|embed|weight)).*_table$",
            "a constant lookup table over bins (torchfcpe cent_table); learned tables are "
            "named as bias/embedding tables (Swin relative_position_bias_table)",
        ),
    )
)

#: Leaf names of learnable scalars (0-d parameters): every other 0-d tensor is a buffer
#: (a counter, a flag, a fixed shift: ``num_batches_tracked``, PESTO's ``shift``).
LEARNABLE_SCALAR_LEAVES = frozenset(
    {"logit_scale", "temperature", "scale", "alpha", "beta", "gamma", "weight", "bias", "tau"}
)
"""CLIP's ``logit_scale`` (openai/CLIP: clip/model.py), learned temperatures and gains."""


#: Every pattern of :data:`BUFFER_LEAF_PATTERNS` as one expression (one search per leaf).
_BUFFER_LEAF_RE = re.compile("|".join(f"(?:{p.pattern})" for p, _ in BUFFER_LEAF_PATTERNS))


@lru_cache(maxsize=4096)
def _buffer_leaf(leaf: str) -> bool:
    """Whether ``leaf`` names a buffer whatever its shape (leaf names repeat by the
    thousand in a checkpoint: ``weight``, ``bias``, ``running_mean``)."""
    return leaf in BUFFER_LEAVES or _BUFFER_LEAF_RE.search(leaf) is not None


def _buffer_by_name(leaf: str, shape: tuple[int, ...] | None) -> bool:
    if _buffer_leaf(leaf):
        return True
    return shape == () and leaf not in LEARNABLE_SCALAR_LEAVES


def buffer_keys(
    keys: Iterable[str], shapes: dict[str, tuple[int, ...]] | None = None
) -> frozenset[str]:
    """The keys of a state_dict that are buffers, judged with their sibling keys.

    Besides :data:`BUFFER_LEAVES`: ``X.weight_v`` next to ``X.weight_orig`` is spectral
    norm's second power-iteration vector (a buffer), while next to ``X.weight_g`` it is
    weight norm's direction (a parameter); ``parametrizations.<p>.<i>._u``/``._v`` are the
    vectors of the parametrize-based spectral norm; leaves matching
    :data:`BUFFER_LEAF_PATTERNS`, and 0-d tensors (``shapes`` given) not named as
    learnable scalars, are buffers too.
    """
    keys = list(keys)
    found: set[str] = set()
    orig: set[str] | None = None
    shapes = shapes or {}
    for key in keys:
        prefix, _, leaf = key.rpartition(".")
        if _buffer_by_name(leaf, shapes.get(key)):
            found.add(key)
        elif leaf == "weight_v":
            if orig is None:
                orig = {k[: -len("weight_orig")] for k in keys if k.endswith("weight_orig")}
            if (prefix + "." if prefix else "") in orig:
                found.add(key)
        elif leaf in ("_u", "_v") and ".parametrizations." in f".{prefix}":
            found.add(key)
    return frozenset(found)


def learnable_keys(tensors: Sequence[TensorRecord]) -> frozenset[str]:
    """Keys of the tensors that count as parameters: when the file pickled ``nn.Parameter``
    flags (a full model), those decide; otherwise floating dtype and not a buffer."""
    if any(map(_IS_PARAMETER, tensors)):
        return frozenset(t.key for t in tensors if t.is_parameter)
    scalars: dict[str, tuple[int, ...]] = {t.key: () for t in tensors if not t.shape}
    buffers = buffer_keys(map(_KEY, tensors), scalars)
    return frozenset(t.key for t in tensors if is_floating(t.dtype) and t.key not in buffers)


_IS_PARAMETER = attrgetter("is_parameter")
_KEY = attrgetter("key")
