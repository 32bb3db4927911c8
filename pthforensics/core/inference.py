"""Frozen records of inference, rebuild and trace: layer groups and guesses, the input
guess, the rebuilt part and the trace.  Imports only :mod:`.records`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, unique
from typing import Any

from .records import TensorRecord

__all__ = [
    "InputGuess",
    "InputHypothesis",
    "InputKind",
    "InputStatus",
    "LayerGroup",
    "LayerGuess",
    "LayerOrder",
    "LayerSource",
    "PlanStep",
    "RebuildInfo",
    "RebuildPart",
    "TraceLayer",
    "TraceResult",
    "TraceStatus",
]


@unique
class LayerSource(StrEnum):
    """Why a layer group exists."""

    TENSORS = "tensors"
    """It owns tensors."""
    METADATA = "metadata"
    """A parameter-less module listed in ``_metadata`` or named by a full-model pickle."""
    INDEX_GAP = "index-gap"
    """A missing index of a numbered container (``features.1`` between ``features.0`` and
    ``features.2``): a parameter-less module whose type is unknown."""


@unique
class LayerOrder(StrEnum):
    """How the registration order of the layers was obtained."""

    METADATA = "metadata"
    """From ``state_dict._metadata``."""
    STORED = "stored"
    """Key order as stored."""
    RESTORED = "restored"
    """The keys were sorted (safetensors): the order was guessed by a natural sort."""


@unique
class InputStatus(StrEnum):
    """The input verdict (contract: JSON ``input.status``)."""

    FIXED = "fixed"
    FREE = "free"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    """Inference did not run (no state_dict, or it failed); ``evidence`` says why."""


@unique
class InputKind(StrEnum):
    """What the input is (contract: JSON ``input.kind``)."""

    IMAGE = "image"
    VOLUME = "volume"
    SEQUENCE = "sequence"
    TOKENS = "tokens"
    VECTOR = "vector"
    LATENT = "latent"
    UNKNOWN = "unknown"


@unique
class RebuildPart(StrEnum):
    """Which part of the model a rebuild covers."""

    WHOLE = "whole"
    """Every module owning tensors is rebuilt and called."""
    PREFIX = "prefix"
    """From the input to the first break."""
    HEAD = "head"
    """From a break to the output."""


@unique
class TraceStatus(StrEnum):
    """The trace verdict (contract: JSON ``trace.status``)."""

    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    PARTIAL = "partial"
    SKIPPED = "skipped"


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
    source: LayerSource = LayerSource.TENSORS
    """Why the group exists: ``tensors`` (it owns tensors), ``metadata`` (a parameter-less
    module listed in ``_metadata`` or named by a full-model pickle), ``index-gap`` (a missing
    index of a numbered container, e.g. ``features.1`` between ``features.0`` and
    ``features.2``: a parameter-less module whose type is unknown)."""
    has_children: bool = False
    """``True`` when other modules sit below this path (a module owning tensors *and*
    submodules, such as ``MultiheadAttention`` with its ``out_proj``)."""
    order: LayerOrder = LayerOrder.STORED
    """How the registration order was obtained: ``metadata`` (``_metadata``), ``stored``
    (key order as stored) or ``restored`` (the keys were sorted, as safetensors writes
    them; the order was guessed by a natural sort, so neighbour evidence is weaker)."""
    attributes: tuple[tuple[str, Any], ...] = ()
    """Scalar attributes a full-model pickle stored on this module (``stride``,
    ``padding``, ``kernel_size``, ``ceil_mode``...; see ``StateDict.module_attributes``);
    empty for a plain state_dict.  The root module's group (name ``''``) exists when the
    root owns tensors or stored attributes."""

    @property
    def attrs(self) -> dict[str, Any]:
        """``attributes`` as a dict."""
        return dict(self.attributes)

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


#: A step of a hypothesis: ``(module, type, attributes)``; see :attr:`InputGuess.plan`.
PlanStep = tuple[str, str, tuple[tuple[str, Any], ...]]


@dataclass(frozen=True, slots=True)
class InputHypothesis:
    """One way to fill in what the weights do not store (padding, stride, dilation, pooling
    kind/size/placement, ``ceil_mode``, where the flatten is, the input layout), and the
    inputs it admits.  ``InputGuess.hypotheses`` lists the ones that fit the stored shapes,
    best first."""

    name: str
    """Short label of the hypothesis (``"defaults; MaxPool2d(2) after conv1, conv2"``)."""
    plan: tuple[PlanStep, ...] = ()
    """What ``rebuild`` builds for it (same form as :attr:`InputGuess.plan`)."""
    shape: tuple[int, ...] | None = None
    """One input shape that works under it, batch first."""
    valid_sizes: tuple[Any, ...] | None = None
    """The sizes (spatial size, length, feature count) that work under it."""
    cost: float = 0.0
    """Rank key, lower first: departures from PyTorch's defaults (``infer/input/costs.py``)
    plus the size prior (``infer/priors.py``); a size the file stores as a hyper-parameter
    lowers it (evidence beats priors).  Costs compare within one input only."""
    evidence: tuple[str, ...] = ()
    """What in the file supports it."""
    assumptions: tuple[str, ...] = ()
    """What it assumes that the file does not say (empty: read from the file)."""


@dataclass(frozen=True, slots=True)
class InputGuess:
    """What input the model expects (contract: JSON ``input``)."""

    status: InputStatus
    """``fixed`` | ``free`` | ``unknown``."""
    kind: InputKind = InputKind.UNKNOWN
    """``image`` | ``volume`` | ``sequence`` | ``tokens`` | ``vector`` | ``latent`` |
    ``unknown``."""
    shape: tuple[int, ...] | None = None
    """One input shape that works, batch first."""
    valid_sizes: tuple[Any, ...] | None = None
    """What is known of the sizes that work: for ``fixed`` every spatial size (or length, or
    feature count) that gives the stored head, e.g. ``(32, 33)``; for ``free`` a few sizes
    that work (see ``min_size``/``multiple_of``).  Either one tuple of sizes shared by every
    spatial axis, or one tuple per axis when the axes differ (``((128,), (32, 64, 224))``
    for a spectrogram with 128 fixed bins and free time)."""
    dtype: str = "float32"
    """Input dtype: ``int64`` for token ids, else the dtype of the first layer's weight."""
    evidence: tuple[str, ...] = ()
    """Sentences saying why."""
    min_size: int | None = None
    """Smallest spatial size / length that runs under the chosen hypothesis (``free``)."""
    multiple_of: int | None = None
    """Sizes must be a multiple of this (skip connections that concatenate, patches)."""
    plan: tuple[PlanStep, ...] = ()
    """The hypothesis for what the weights do not store, as ``(module, type, attributes)``:
    convolution ``padding`` (an int per axis, or ``"same"`` for the exact size-keeping
    padding of an even kernel), ``stride`` and ``dilation``; parameter-less modules taken as
    pools (``kernel_size``, and ``stride``/``padding``/``ceil_mode`` when not the default)
    or activations; and ops a forward() applies without a module: ``module`` is then
    ``+<name of the module it follows>`` (``("+conv2", "MaxPool2d", (("kernel_size",
    2),))``) or ``-<name of the module it precedes>`` (``("-conv1", "Unflatten", (("dim",
    1), ("unflattened_size", (1, 1024, 1))))``: frames ``[N, L]`` made into the column map
    a ``(k, 1)`` convolution reads).  ``rebuild`` builds from it so the rebuilt chain runs
    at ``shape``."""
    hypotheses: tuple[InputHypothesis, ...] = ()
    """Every hypothesis that fits the stored shapes, best first (``shape``, ``valid_sizes``
    and ``plan`` above are the first one's); empty when only one reading exists."""
    others: tuple[InputGuess, ...] = ()
    """Further inputs of a model that has several (two embeddings, branches that never
    meet), each a guess of its own."""


@dataclass(frozen=True, slots=True)
class RebuildInfo:
    """What ``rebuild`` built, attached to the module it returns (attribute
    ``pthforensics_rebuild``) so that ``trace`` knows which input to feed."""

    part: RebuildPart
    """``whole`` (the model is a chain), ``prefix`` (from the input to the first break) or
    ``head`` (from a break to the output)."""
    input_shape: tuple[int, ...] | None
    """Shape the rebuilt part expects (batch first), ``None`` when unknown."""
    input_dtype: str = "float32"
    """``int64`` for token ids, else a floating dtype name."""
    note: str = ""
    """What was rebuilt and why (whole, or where the walk stopped and why)."""
    modules: tuple[str, ...] = ()
    """Module paths of the checkpoint included in the rebuilt part."""
    hypothesis: str = ""
    """The input hypothesis it was built under (empty: the guess's own reading)."""
    assumptions: tuple[str, ...] = ()
    """What changes sizes in it and is not in the file (``module: what is assumed``): an
    input that runs through it is only as sure as these."""
    hypothetical: frozenset[str] = frozenset()
    """Module paths whose type or shape attributes are assumed, and modules the rebuild
    inserted (names with ``<`` or ``+``)."""
    unused: tuple[str, ...] = ()
    """Modules loaded but never called: their role is unknown."""


@dataclass(frozen=True, slots=True)
class TraceLayer:
    """One hooked module call during the trace."""

    name: str
    type: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    hypothetical: bool = False
    """The module (or its hyper-parameters) comes from a hypothesis, not from the file."""


@dataclass(frozen=True, slots=True)
class TraceResult:
    """Outcome of running the rebuilt model (contract: JSON ``trace``)."""

    status: TraceStatus
    """``confirmed`` | ``refuted`` | ``partial`` | ``skipped``."""
    output_shape: tuple[int, ...] | None = None
    layers: tuple[TraceLayer, ...] = ()
    input_shape: tuple[int, ...] | None = None
    detail: str = ""
    tried: tuple[tuple[tuple[int, ...], str], ...] = ()
    """Each input shape tried with ``ok`` or the error it raised."""
    hypotheses: tuple[tuple[str, TraceStatus, str], ...] = ()
    """Each input hypothesis traced: its name, whether it ran, and the detail or error."""
    part: RebuildPart | None = None
    """Which part of the model was rebuilt and run (``None``: nothing was)."""
    assumptions: tuple[str, ...] = ()
    """What the run rests on that the file does not say (see ``RebuildInfo``)."""
