"""Frozen records and enums passed forward between pipeline stages.

Every stage takes records and returns new ones; nothing here is mutated after
creation.  This module imports nothing from the package, so there are no cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum, unique
from typing import Any, NamedTuple

__all__ = [
    "new_record",
    "Candidate",
    "ModelGroup",
    "Checkpoint",
    "Container",
    "ErrorInfo",
    "FileReport",
    "Finding",
    "Format",
    "InputGuess",
    "LayerGroup",
    "LayerGuess",
    "Location",
    "PickleStream",
    "RebuildInfo",
    "Severity",
    "StateDict",
    "Status",
    "StorageEntry",
    "TensorRecord",
    "TensorSummary",
    "TraceLayer",
    "TraceResult",
    "Verdict",
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
class Status(StrEnum):
    """Whether analysis produced a verdict (contract: JSON ``status``)."""

    OK = "ok"
    ERROR = "error"


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
    role: str = "object"
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


@dataclass(frozen=True, slots=True)
class TensorSummary:
    """Counts of the main state_dict (contract: JSON ``tensors``)."""

    count: int
    parameters: int
    bytes: int
    dtypes: tuple[tuple[str, int], ...]


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
    kind: str = "state_dict"
    """``state_dict``, ``wrapped`` (a dict holding one), ``full_model``, ``tensor``,
    ``other``."""

    @property
    def main(self) -> StateDict | None:
        """The model's state_dict, if one was found."""
        return self.state_dicts[0] if self.state_dicts else None


@dataclass(frozen=True, slots=True)
class LayerGroup:
    """One module of the model and the tensors it owns directly."""

    name: str
    """Module path (``features.0``)."""
    tensors: tuple[TensorRecord, ...]
    """Tensors whose key is ``name + '.' + leaf``."""
    version: int | None = None
    """``_metadata`` version of the module, when known."""
    class_name: str | None = None
    """Class named by a full-model pickle, when known."""
    index: int = 0
    """Position in registration order."""
    source: str = "tensors"
    """Why the group exists: ``tensors`` (it owns tensors), ``metadata`` (a parameter-less
    module listed in ``_metadata`` or named by a full-model pickle), ``index-gap`` (a missing
    index of a numbered container, e.g. ``features.1`` between ``features.0`` and
    ``features.2``: a parameter-less module whose type is unknown)."""
    has_children: bool = False
    """``True`` when other modules sit below this path (a module owning tensors *and*
    submodules, such as ``MultiheadAttention`` with its ``out_proj``)."""
    order: str = "stored"
    """How the registration order was obtained: ``metadata`` (``_metadata``), ``stored``
    (key order as stored) or ``restored`` (the keys were sorted, as safetensors writes
    them; the order was guessed by a natural sort, so neighbour evidence is weaker)."""

    def tensor(self, leaf: str) -> TensorRecord | None:
        """The tensor named ``leaf`` (``weight``, ``bias``...), if present."""
        for t in self.tensors:
            if t.key.rsplit(".", 1)[-1] == leaf:
                return t
        return None


@dataclass(frozen=True, slots=True)
class LayerGuess:
    """The inferred type of one module (contract: JSON ``layers[]``)."""

    name: str
    type: str
    attributes: tuple[tuple[str, Any], ...] = ()
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    parameters: int = 0
    """Elements of learnable tensors it owns."""
    tensor_keys: tuple[str, ...] = ()

    @property
    def attrs(self) -> dict[str, Any]:
        """``attributes`` as a dict."""
        return dict(self.attributes)


@dataclass(frozen=True, slots=True)
class InputGuess:
    """What input the model expects (contract: JSON ``input``)."""

    status: str
    """``fixed`` | ``free`` | ``unknown``."""
    kind: str = "unknown"
    """``image`` | ``volume`` | ``sequence`` | ``tokens`` | ``vector`` | ``latent`` |
    ``unknown``."""
    shape: tuple[int, ...] | None = None
    """One input shape that works, batch first."""
    valid_sizes: tuple[Any, ...] | None = None
    """What is known of the sizes that work: for ``fixed`` every spatial size (or length, or
    feature count) that gives the stored head, e.g. ``(32, 33)``; for ``free`` a few sizes
    that work (see ``min_size``/``multiple_of``)."""
    dtype: str = "float32"
    """Input dtype: ``int64`` for token ids, else the dtype of the first layer's weight."""
    evidence: tuple[str, ...] = ()
    """Sentences saying why."""
    min_size: int | None = None
    """Smallest spatial size / length that runs under the chosen hypothesis (``free``)."""
    multiple_of: int | None = None
    """Sizes must be a multiple of this (skip connections that concatenate, patches)."""
    plan: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...] = ()
    """The hypothesis for what the weights do not store, as ``(module, type, attributes)``:
    convolution ``padding``/``stride``, parameter-less modules taken as pools or
    activations, and ops a forward() applies without a module (``module`` is then
    ``+<name of the module it follows>``, e.g. ``("+conv2", "MaxPool2d", (("kernel_size",
    2),))``).  ``rebuild`` builds from it so the rebuilt chain runs at ``shape``."""


@dataclass(frozen=True, slots=True)
class RebuildInfo:
    """What ``rebuild`` built, attached to the module it returns (attribute
    ``pthforensics_rebuild``) so that ``trace`` knows which input to feed."""

    part: str
    """``whole`` (the model is a chain), ``prefix`` (from the input to the first break) or
    ``head`` (from a break to the output)."""
    input_shape: tuple[int, ...] | None
    """Shape the rebuilt part expects (batch first), ``None`` when unknown."""
    input_dtype: str = "float32"
    """``int64`` for token ids, else a floating dtype name."""
    note: str = ""
    """What was rebuilt and why (the same note ``rebuild_sequential`` returns)."""
    modules: tuple[str, ...] = ()
    """Module paths of the checkpoint included in the rebuilt part."""


@dataclass(frozen=True, slots=True)
class TraceLayer:
    """One hooked module call during the trace."""

    name: str
    type: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class TraceResult:
    """Outcome of running the rebuilt model (contract: JSON ``trace``)."""

    status: str
    """``confirmed`` | ``refuted`` | ``partial`` | ``skipped``."""
    output_shape: tuple[int, ...] | None = None
    layers: tuple[TraceLayer, ...] = ()
    input_shape: tuple[int, ...] | None = None
    detail: str = ""
    tried: tuple[tuple[tuple[int, ...], str], ...] = ()
    """Each input shape tried with ``ok`` or the error it raised."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why no verdict was possible (contract: JSON ``error``)."""

    stage: str
    type: str
    message: str


@dataclass(frozen=True, slots=True)
class FileReport:
    """Everything known about one file (contract: JSON ``FileReport``)."""

    path: str
    status: Status
    format: str | None = None
    verdict: Verdict | None = None
    findings: tuple[Finding, ...] = ()
    tensors: TensorSummary | None = None
    layers: tuple[LayerGuess, ...] | None = None
    input: InputGuess | None = None
    trace: TraceResult | None = None
    error: ErrorInfo | None = None
    wrappers: tuple[str, ...] = ()
    size: int | None = None
    mtime: float | None = None
    """Modification time when scanned (``--resume`` matches path, size and mtime)."""
    seconds: float | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    extra: tuple[tuple[str, Any], ...] = field(default=())
    """Additional fields rendered into JSON as they are (e.g. ``shards``, ``model``)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One file to scan."""

    path: str
    size: int | None
    mtime: float | None
    model: str | None = None
    """The model it belongs to (Hugging Face cache name, or the shard index's model)."""


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """A sharded model: its index and the shard files it names."""

    name: str
    index: str
    shards: tuple[str, ...]
    """Shard paths, in the index's order of first mention."""
    missing: tuple[str, ...]
    """Shards the index names that are not on disk."""
    tensors: int
    """Tensor names the index maps."""
    error: str | None = None
