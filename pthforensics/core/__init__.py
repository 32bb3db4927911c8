"""The records, errors, limits and torch vocabulary every stage shares.

``core`` imports nothing else of the package; every other package imports from here
(``from pthforensics.core import FileReport, Limits``), never from the modules inside.
"""

from __future__ import annotations

from . import vocab
from ._codec import jsonable
from .errors import (
    ContainerError,
    InferenceError,
    LimitExceeded,
    PickleDecodeError,
    PthForensicsError,
    RebuildError,
    TraceError,
)
from .inference import (
    InputGuess,
    InputHypothesis,
    InputKind,
    InputStatus,
    LayerGroup,
    LayerGuess,
    LayerOrder,
    LayerSource,
    PlanStep,
    RebuildInfo,
    RebuildPart,
    TraceLayer,
    TraceResult,
    TraceStatus,
)
from .limits import DEFAULT_LIMITS, Limits
from .records import (
    Checkpoint,
    CheckpointKind,
    Container,
    Finding,
    Format,
    Location,
    PickleStream,
    Severity,
    StateDict,
    StorageEntry,
    StreamRole,
    TensorRecord,
    TensorSummary,
    Verdict,
    new_record,
)
from .reports import (
    SCHEMA_VERSION,
    Candidate,
    CheckpointContext,
    ErrorInfo,
    FileReport,
    ModelGroup,
    OptimizerInfo,
    Status,
)

__all__ = [
    "DEFAULT_LIMITS",
    "SCHEMA_VERSION",
    "Candidate",
    "Checkpoint",
    "CheckpointContext",
    "CheckpointKind",
    "Container",
    "ContainerError",
    "ErrorInfo",
    "FileReport",
    "Finding",
    "Format",
    "InferenceError",
    "InputGuess",
    "InputHypothesis",
    "InputKind",
    "InputStatus",
    "LayerGroup",
    "LayerGuess",
    "LayerOrder",
    "LayerSource",
    "LimitExceeded",
    "Limits",
    "Location",
    "ModelGroup",
    "OptimizerInfo",
    "PickleDecodeError",
    "PickleStream",
    "PlanStep",
    "PthForensicsError",
    "RebuildError",
    "RebuildInfo",
    "RebuildPart",
    "Severity",
    "StateDict",
    "Status",
    "StorageEntry",
    "StreamRole",
    "TensorRecord",
    "TensorSummary",
    "TraceError",
    "TraceLayer",
    "TraceResult",
    "TraceStatus",
    "Verdict",
    "jsonable",
    "new_record",
    "vocab",
]
