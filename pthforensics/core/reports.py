"""The per-file report and the records of a batch: ``FileReport``, ``ErrorInfo``,
``Candidate``, ``ModelGroup``.  Imports only :mod:`.records` and :mod:`.inference`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import Any

from .inference import InputGuess, LayerGuess, TraceResult
from .records import Finding, TensorSummary, Verdict

__all__ = ["Candidate", "ErrorInfo", "FileReport", "ModelGroup", "Status"]


@unique
class Status(StrEnum):
    """Whether analysis produced a verdict (contract: JSON ``status``)."""

    OK = "ok"
    ERROR = "error"


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
