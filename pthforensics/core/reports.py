"""The per-file report and the records of a batch: ``FileReport``, ``ErrorInfo``,
``Candidate``, ``ModelGroup``.  Imports only :mod:`.records`, :mod:`.inference` and the
JSON shapes of their records (:mod:`._codec`).

``FileReport.to_dict()`` is the JSON contract (``../shared/DESIGN.md``, "JSON report") and
``FileReport.from_dict()`` reads it back: ``FileReport.from_dict(r.to_dict()) == r``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import Any, Final

from . import _codec
from .inference import InputGuess, LayerGuess, TraceResult
from .records import Finding, Format, TensorSummary, Verdict

__all__ = ["SCHEMA_VERSION", "Candidate", "ErrorInfo", "FileReport", "ModelGroup", "Status"]

SCHEMA_VERSION: Final = 1
"""``schema_version`` of every JSON report and document (contract)."""

#: Keys of the JSON report that are fields of ``FileReport``; any other key is ``extra``.
_KNOWN_KEYS: Final = frozenset(
    {
        "schema_version",
        "path",
        "status",
        "format",
        "verdict",
        "findings",
        "tensors",
        "error",
        "wrappers",
        "size",
        "mtime",
        "seconds",
        "metadata",
        "layers",
        "input",
        "trace",
    }
)


@unique
class Status(StrEnum):
    """Whether analysis produced a verdict (contract: JSON ``status``)."""

    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why no verdict was possible (contract: JSON ``error``)."""

    stage: str
    """The stage that failed: ``container``, ``limits``, ``worker``, ``internal``..."""
    type: str
    """The exception's class name (``ContainerError``, ``Timeout``, ``WorkerCrashed``)."""
    message: str
    """One line: what failed and where."""


@dataclass(frozen=True, slots=True)
class FileReport:
    """Everything known about one file (contract: JSON ``FileReport``)."""

    path: str
    """The file as given (or as discovery found it)."""
    status: Status
    """``ok`` when a verdict was possible, else ``error`` (see ``error``)."""
    format: Format | None = None
    """The innermost recognised container format; ``None`` when the file was not read."""
    verdict: Verdict | None = None
    """The worst finding's verdict; ``None`` only for an ``error`` report."""
    findings: tuple[Finding, ...] = ()
    """Every finding, worst first."""
    tensors: TensorSummary | None = None
    """Counts of the main state_dict (or of every tensor when there is none)."""
    layers: tuple[LayerGuess, ...] | None = None
    """The inferred layers (``inspect``, ``scan --deep``); ``None`` when not inferred."""
    input: InputGuess | None = None
    """The input guess (``inspect``, ``scan --deep``)."""
    trace: TraceResult | None = None
    """The rebuild and trace (``inspect``)."""
    error: ErrorInfo | None = None
    """Why no verdict was possible."""
    wrappers: tuple[str, ...] = ()
    """Compression or archive layers removed to reach the format, outermost first."""
    size: int | None = None
    """File size in bytes."""
    mtime: float | None = None
    """Modification time when scanned (``--resume`` matches path, size and mtime)."""
    seconds: float | None = None
    """Time the analysis took, to 0.1 ms (the pipeline rounds it, as JSON shows it)."""
    metadata: tuple[tuple[str, str], ...] = ()
    """Scalar values found beside the state_dict (epoch, step, ...), as short strings."""
    extra: tuple[tuple[str, Any], ...] = field(default=())
    """Additional JSON fields, as JSON values (dicts, lists, strings, numbers), e.g.
    ``state_dict`` and ``model``."""

    def to_dict(self) -> dict[str, Any]:
        """This report as the JSON contract lays it out (``json.dumps`` it as it is).

        Besides the contract's fields: ``wrappers``, ``size``, ``mtime``, ``seconds``,
        ``metadata`` and ``extra``'s keys; each finding's ``where`` (its location's parts);
        each layer's ``parameters`` and ``tensors``; the input's ``min_size``,
        ``multiple_of`` and ``plan``; the trace's ``input_shape``, ``detail`` and ``tried``.
        ``layers``, ``input`` and ``trace`` appear only when they were inferred.
        """
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "path": self.path,
            "status": self.status.value,
            "format": self.format.value if self.format is not None else None,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "findings": [_codec.finding_to_json(f) for f in self.findings],
            "tensors": _codec.summary_to_json(self.tensors) if self.tensors else None,
            "error": (
                {"stage": self.error.stage, "type": self.error.type, "message": self.error.message}
                if self.error
                else None
            ),
            "wrappers": list(self.wrappers),
            "size": self.size,
            "mtime": self.mtime,
            "seconds": self.seconds,
        }
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.layers is not None:
            out["layers"] = [_codec.layer_to_json(g) for g in self.layers]
        if self.input is not None:
            out["input"] = _codec.input_to_json(self.input)
        if self.trace is not None:
            out["trace"] = _codec.trace_to_json(self.trace)
        for key, value in self.extra:
            out[key] = _codec.jsonable(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileReport:
        """The report :meth:`to_dict` (or an earlier version's JSON) describes.

        Raises ``ValueError``, ``KeyError`` or ``TypeError`` for data that is not a report.
        """
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {version!r} is not {SCHEMA_VERSION}")
        tensors, error = data.get("tensors"), data.get("error")
        layers, guess, trace = data.get("layers"), data.get("input"), data.get("trace")
        return cls(
            path=data["path"],
            status=Status(data["status"]),
            format=Format(data["format"]) if data.get("format") is not None else None,
            verdict=Verdict(data["verdict"]) if data.get("verdict") is not None else None,
            findings=tuple(_codec.finding_from_json(f) for f in data.get("findings") or ()),
            tensors=_codec.summary_from_json(tensors) if tensors else None,
            layers=tuple(_codec.layer_from_json(g) for g in layers) if layers is not None else None,
            input=_codec.input_from_json(guess) if guess is not None else None,
            trace=_codec.trace_from_json(trace) if trace is not None else None,
            error=ErrorInfo(error["stage"], error["type"], error["message"]) if error else None,
            wrappers=tuple(data.get("wrappers") or ()),
            size=data.get("size"),
            mtime=data.get("mtime"),
            seconds=data.get("seconds"),
            metadata=tuple((data.get("metadata") or {}).items()),
            extra=tuple((k, v) for k, v in data.items() if k not in _KNOWN_KEYS),
        )


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
