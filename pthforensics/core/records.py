"""Frozen records of the static stages: findings, pickle streams, tensors, containers.

Every stage takes records and returns new ones; nothing here is mutated after creation.
The records of inference and tracing are in :mod:`.inference`, the per-file report in
:mod:`.reports`.  This module imports nothing from the package, so there are no cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum, unique
from typing import Any, NamedTuple

__all__ = [
    "Checkpoint",
    "CheckpointKind",
    "Container",
    "Finding",
    "Format",
    "Location",
    "PickleStream",
    "Severity",
    "StateDict",
    "StorageEntry",
    "StreamRole",
    "TensorRecord",
    "TensorSummary",
    "Verdict",
    "new_record",
]


class Severity(IntEnum):
    """How bad a finding is; ordered, so ``max()`` gives the worst."""

    INFO = 1
    SUSPICIOUS = 2
    MALICIOUS = 3

    @property
    def label(self) -> str:
        """The lower-case name used in JSON and on the CLI."""
        return self.name.lower()


@unique
class Verdict(StrEnum):
    """The safety verdict of a file (contract: JSON ``verdict``)."""

    CLEAN = "clean"
    SUSPICIOUS = "suspicious"
    MALICIOUS = "malicious"

    @classmethod
    def from_severity(cls, severity: Severity | None) -> Verdict:
        """The verdict a worst finding of ``severity`` gives (``None``/info: clean)."""
        if severity is None or severity is Severity.INFO:
            return cls.CLEAN
        return cls.SUSPICIOUS if severity is Severity.SUSPICIOUS else cls.MALICIOUS


@unique
class Format(StrEnum):
    """Container formats (contract: JSON ``format``)."""

    TORCH_ZIP = "torch-zip"
    TORCH_LEGACY = "torch-legacy"
    TORCH_TAR = "torch-tar"
    PICKLE = "pickle"
    SAFETENSORS = "safetensors"
    TORCHSCRIPT = "torchscript"
    ZIP = "zip"
    SEVEN_ZIP = "7z"
    NUMPY = "numpy"
    UNKNOWN = "unknown"


@unique
class StreamRole(StrEnum):
    """What a pickle stream is to the loader that meets it."""

    OBJECT = "object"
    """What ``torch.load`` / ``pickle.load`` returns (``data.pkl``, the legacy object pickle)."""
    MAGIC = "magic"
    """The legacy stream's magic-number pickle."""
    PROTOCOL = "protocol"
    """The legacy stream's protocol-version pickle."""
    SYS_INFO = "sys_info"
    """The legacy stream's ``sys_info`` pickle."""
    STORAGE_KEYS = "storage_keys"
    """The legacy stream's list of storage keys."""
    CONSTANTS = "constants"
    """TorchScript's ``constants.pkl``."""
    MEMBER = "member"
    """A pickle in a member no loader expects to unpickle."""
    TRAILING = "trailing"
    """A pickle stacked after another one's ``STOP``."""
    NESTED = "nested"
    """Bytes inside a value that are a pickle (or a torch archive) themselves."""


@unique
class CheckpointKind(StrEnum):
    """How the object tree holds the model."""

    STATE_DICT = "state_dict"
    """The root is the state_dict."""
    WRAPPED = "wrapped"
    """A dict holding the state_dict (``{"state_dict": ..., "epoch": ...}``)."""
    FULL_MODEL = "full_model"
    """``torch.save(model)``: a pickled ``nn.Module`` tree."""
    TENSOR = "tensor"
    """A single tensor."""
    OTHER = "other"
    """Anything else (no state_dict found)."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding sits: member, byte offset, key and global all optional."""

    member: str | None = None
    """Archive member or stream name (``archive/data.pkl``, ``pickle#2``)."""
    offset: int | None = None
    """Byte offset of the opcode inside that stream."""
    global_name: str | None = None
    """``module.name`` of the global involved."""
    key: str | None = None
    """Key path inside the object tree, when the finding is about a value."""

    def __str__(self) -> str:
        text = self.member or "<file>"
        if self.offset is not None:
            text += f"@{self.offset}"
        if self.key:
            text += f" [{self.key}]"
        if self.global_name:
            text += f" ({self.global_name})"
        return text


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about a file, graded by severity (contract: JSON ``findings[]``)."""

    rule_id: str
    """Stable kebab-case identifier of the rule (``dangerous-global``)."""
    severity: Severity
    """How bad it is."""
    location: Location
    """Where in the file."""
    detail: str
    """One sentence: what was seen and why it matters."""

    def __str__(self) -> str:
        return f"{self.severity.label}: {self.rule_id} at {self.location}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PickleStream:
    """One pickle byte stream found in a container."""

    name: str
    """Member name, or a synthetic name such as ``stream#1`` for stacked pickles."""
    data: bytes
    """The stream's bytes (from its first opcode to the end of what could belong to it)."""
    role: StreamRole = StreamRole.OBJECT
    """``object`` (what a loader returns), ``magic``, ``protocol``, ``sys_info``,
    ``storage_keys``, ``member`` (a pickle in a member no loader expects), ``trailing``."""
    loaded: bool = True
    """Whether ``torch.load`` / ``pickle.load`` would unpickle it."""
    decoded: object = field(default=None, compare=False, repr=False)
    """The stub tree (``unpickle.PickleTree``) when the container already decoded the stream
    to find where it ends (legacy stream, fast path), so the scan does not decode it again."""


#: ``new_record(NamedTupleClass, fields)`` is ``tuple.__new__``: a named tuple built from all
#: its fields in order, without the class's Python-level ``__new__`` (a third of the cost).
#: For the records made once per tensor or zip member on the scan's hot path.
new_record = tuple.__new__


class StorageEntry(NamedTuple):
    """Where the bytes of one storage live, without reading them (a named tuple: one per
    storage member, on the hot path)."""

    key: str
    """The storage key a tensor's persistent id refers to."""
    member: str
    """Archive member (or stream) holding the bytes."""
    offset: int | None
    """Absolute offset of the first payload byte in the file, when known (``None`` for zip
    storages whose local header the scan did not need to read)."""
    nbytes: int
    """Bytes available for this storage."""


class TensorRecord(NamedTuple):
    """A tensor as declared by the file: no payload is read.

    A named tuple rather than a frozen dataclass: one is made per tensor on the scan's hot
    path (thousands per file), where a dataclass's frozen ``__init__`` costs several times
    more.  It is just as immutable.
    """

    key: str
    """Key path in the object tree (``state_dict.conv1.weight``), wrappers stripped for
    state_dict tensors."""
    shape: tuple[int, ...]
    """Size per dimension."""
    dtype: str
    """``torch`` dtype name without the prefix: ``float32``, ``bfloat16``, ``int64``."""
    stride: tuple[int, ...] | None = None
    """Strides, when the file stores them."""
    storage_key: str | None = None
    """Key of the storage holding the data (shared storages share it)."""
    storage_offset: int = 0
    """Offset into the storage, in elements."""
    itemsize: int = 4
    """Bytes per element."""
    requires_grad: bool = False
    """As pickled (``False`` for state_dict tensors)."""
    is_parameter: bool = False
    """Pickled as an ``nn.Parameter`` (full-model pickles)."""

    @property
    def numel(self) -> int:
        """Number of elements the shape declares."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the shape and dtype declare."""
        return self.numel * self.itemsize


@dataclass(frozen=True, slots=True)
class Container:
    """What ``container`` read from a file: formats, pickle streams, storage index."""

    path: str
    """The file as given."""
    format: Format
    """The innermost recognised format."""
    size: int
    """File size in bytes."""
    streams: tuple[PickleStream, ...] = ()
    """Every pickle byte stream worth scanning, in the order a loader meets them."""
    storages: tuple[StorageEntry, ...] = ()
    """Storage index: key -> member, offset, size."""
    findings: tuple[Finding, ...] = ()
    """Structural anomalies (zip, wrappers, safetensors header...)."""
    wrappers: tuple[str, ...] = ()
    """Outer layers removed to reach the format, outermost first (``gzip``)."""
    header_tensors: tuple[TensorRecord, ...] = ()
    """Tensors declared by a non-pickle header (safetensors, legacy tar)."""
    header_metadata: tuple[tuple[str, str], ...] = ()
    """Free-form metadata of a non-pickle header (safetensors ``__metadata__``)."""
    storages_complete: bool = True
    """``False`` when the storage index could not be built in full (the integrity check
    is then limited to what was indexed)."""


@dataclass(frozen=True, slots=True)
class StateDict:
    """A model state_dict found in the object tree (wrappers unwrapped)."""

    path: str
    """Where it sits in the object tree (``''`` for the root, ``state_dict``, ``model``)."""
    tensors: tuple[TensorRecord, ...]
    """Its tensors in stored order, keys without the stripped prefixes."""
    stripped_prefixes: tuple[str, ...] = ()
    """Wrapper prefixes removed from every key (``module.``, ``_orig_mod.``)."""
    module_versions: tuple[tuple[str, int | None], ...] | None = None
    """``state_dict._metadata``: every submodule path (parameter-less ones too) with its
    ``version``, in registration order; ``None`` when the file has none."""
    class_names: tuple[tuple[str, str], ...] = ()
    """Module path -> ``module.Class`` named by a full-model pickle (read, never imported)."""
    module_attributes: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """Module path -> the scalar attributes a full-model pickle stored on that module
    (``stride``, ``padding``, ``kernel_size``, ``ceil_mode``, ``output_size``,
    ``batch_first``... and a custom module's own, such as ``dim_in``): ints, floats, bools,
    strings, ``None`` and short tuples of them, read from the module's ``__dict__`` state
    (never from code).  Empty for a plain state_dict."""


@dataclass(frozen=True, slots=True)
class TensorSummary:
    """Counts of the main state_dict (contract: JSON ``tensors``)."""

    count: int
    parameters: int
    """Elements of learnable tensors (buffers excluded, as torchinfo counts)."""
    bytes: int
    dtypes: tuple[tuple[str, int], ...]
    buffers: int = 0
    """Elements of the other tensors: running statistics, counters, index tables, masks."""
    trainable: int | None = None
    """Elements of parameters pickled with ``requires_grad`` (a full-model pickle); ``None``
    when the file does not say (a state_dict stores no ``requires_grad``)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What the object tree holds: state_dicts, every tensor, and other metadata."""

    state_dicts: tuple[StateDict, ...]
    """Every model state_dict found, the main one first."""
    tensors: tuple[TensorRecord, ...]
    """Every tensor anywhere in the file (optimizer state included); a state_dict's tensors
    keep the keys they have there, other tensors their path in the object tree."""
    metadata: tuple[tuple[str, str], ...] = ()
    """Scalar and small values outside the state_dicts (epoch, step, hyper-parameters),
    rendered as short strings."""
    kind: CheckpointKind = CheckpointKind.STATE_DICT
    """``state_dict``, ``wrapped`` (a dict holding one), ``full_model``, ``tensor``,
    ``other``."""

    @property
    def main(self) -> StateDict | None:
        """The model's state_dict, if one was found."""
        return self.state_dicts[0] if self.state_dicts else None
