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

__all__ = [
    "SCHEMA_VERSION",
    "Candidate",
    "CheckpointContext",
    "ErrorInfo",
    "FileReport",
    "ModelGroup",
    "OptimizerInfo",
    "Status",
]

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
        "bytes_read",
        "etag",
        "metadata",
        "layers",
        "input",
        "trace",
        "aliases",
        "stderr",
        "checkpoint",
    }
)
#: ``tensors`` in JSON when nothing was counted (an error report, or no object tree).
_TENSORS_SKIPPED: Final = {
    "status": "skipped",
    "count": 0,
    "parameters": 0,
    "bytes": 0,
    "dtypes": {},
}


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
class OptimizerInfo:
    """An optimizer's state saved beside the model (``torch.optim`` ``state_dict()``
    layout: ``{"state": {...}, "param_groups": [...]}``)."""

    path: str
    """Where it sits in the checkpoint (``optimizer``, ``optimizer_states.0``)."""
    family: str | None
    """What its hyper-parameter names say (``adam`` for ``betas``, ``sgd`` for
    ``momentum``/``nesterov``...), ``None`` when they say nothing."""
    param_groups: int
    """Parameter groups seen."""
    states: int
    """Per-parameter state entries seen (``exp_avg``... tensors grouped by parameter)."""


@dataclass(frozen=True, slots=True)
class CheckpointContext:
    """What a checkpoint says about how it was made, beside the weights (contract: JSON
    ``checkpoint``)."""

    kind: str
    """How the tree holds the model: ``state_dict``, ``wrapped``, ``full_model``,
    ``tensor``, ``other``."""
    wrapper: str | None
    """Key path of the model's state_dict inside the file (``state_dict``, ``model``);
    ``None`` when the file's root is the state_dict."""
    epoch: int | None = None
    """The training epoch it records."""
    step: int | None = None
    """The optimizer step (``global_step``, ``step``, ``iteration``...) it records."""
    framework: str | None = None
    """The training framework whose layout or version key it carries."""
    versions: tuple[tuple[str, str], ...] = ()
    """Version strings it records (``pytorch-lightning_version``...), by key."""
    optimizer: OptimizerInfo | None = None
    """The optimizer state saved with it, if any."""
    prefixes_stripped: tuple[str, ...] = ()
    """Wrapper prefixes removed from every key (``module.``, ``_orig_mod.``, ``model.``)."""
    others: tuple[str, ...] = ()
    """Where other state_dicts sit (EMA copies, teachers)."""
    evidence: tuple[str, ...] = ()
    """The keys each answer comes from."""


@dataclass(frozen=True, slots=True)
class FileReport:
    """Everything known about one file (contract: JSON ``FileReport``)."""

    path: str
    """The file as given (or as discovery found it)."""
    status: Status
    """``ok`` when a verdict was possible, else ``error`` (see ``error``)."""
    format: Format | None = Format.UNKNOWN
    """The innermost recognised container format; ``unknown`` when the file was not
    identified (``None`` is read as ``unknown``)."""
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
    bytes_read: int | None = None
    """Bytes read from the file or object (range requests' bytes for a remote one);
    ``None`` when it was not opened."""
    etag: str | None = None
    """The remote object's ETag when read (``--resume`` matches URL, size and ETag)."""
    metadata: tuple[tuple[str, str], ...] = ()
    """Scalar values found beside the state_dict (epoch, step, ...), as short strings."""
    aliases: tuple[str, ...] = ()
    """Other paths of the same file (hard links, symbolic links) found in the same run:
    it is read once, under ``path``."""
    stderr: str | None = None
    """What the reader wrote on standard error while reading this file (interpreter
    messages, warnings), capped; ``None`` when nothing."""
    checkpoint: CheckpointContext | None = None
    """What the checkpoint says about its training run; ``None`` when no object tree or
    header could be read."""
    extra: tuple[tuple[str, Any], ...] = field(default=())
    """Additional JSON fields, as JSON values (dicts, lists, strings, numbers), e.g.
    ``state_dict`` and ``model``."""

    def __post_init__(self) -> None:
        if self.format is None:
            object.__setattr__(self, "format", Format.UNKNOWN)

    def to_dict(self) -> dict[str, Any]:
        """This report as the JSON contract lays it out (``json.dumps`` it as it is).

        Besides the contract's fields: ``wrappers``, ``size``, ``mtime``, ``seconds``,
        Besides the contract's fields: ``wrappers``, ``size``, ``mtime``, ``seconds``,
        ``bytes_read``, ``etag`` (remote objects only), ``aliases``, ``metadata``,
        ``checkpoint``, ``stderr`` and ``extra``'s keys; each finding's ``where`` (its
        location's parts); each layer's ``parameters`` and ``tensors``; the input's
        ``min_size``, ``multiple_of`` and ``plan``; the trace's ``input_shape``, ``detail``
        and ``tried``.  ``format`` is ``unknown`` when the file was not identified;
        ``tensors`` is ``{"status": "skipped", "count": 0, ...}`` when nothing was counted.
        ``layers``, ``input`` and ``trace`` appear only when they were inferred (``inspect``
        fills them, with ``"status": "skipped"`` when it did not run them).  The JSON Schema
        of all this is ``pthforensics schema``.
        """
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "path": self.path,
            "status": self.status.value,
            "format": (self.format or Format.UNKNOWN).value,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "findings": [_codec.finding_to_json(f) for f in self.findings],
            "tensors": (
                _codec.summary_to_json(self.tensors) if self.tensors else dict(_TENSORS_SKIPPED)
            ),
            "error": (
                {"stage": self.error.stage, "type": self.error.type, "message": self.error.message}
                if self.error
                else None
            ),
            "wrappers": list(self.wrappers),
            "size": self.size,
            "mtime": self.mtime,
            "seconds": self.seconds,
            "bytes_read": self.bytes_read,
            "aliases": list(self.aliases),
        }
        if self.etag is not None:
            out["etag"] = self.etag
        if self.stderr is not None:
            out["stderr"] = self.stderr
        if self.checkpoint is not None:
            out["checkpoint"] = _context_to_json(self.checkpoint)
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
            tensors=(
                _codec.summary_from_json(tensors)
                if tensors and tensors.get("status", "ok") == "ok"
                else None
            ),
            layers=tuple(_codec.layer_from_json(g) for g in layers) if layers is not None else None,
            input=_codec.input_from_json(guess) if guess is not None else None,
            trace=_codec.trace_from_json(trace) if trace is not None else None,
            error=ErrorInfo(error["stage"], error["type"], error["message"]) if error else None,
            wrappers=tuple(data.get("wrappers") or ()),
            size=data.get("size"),
            mtime=data.get("mtime"),
            seconds=data.get("seconds"),
            bytes_read=data.get("bytes_read"),
            etag=data.get("etag"),
            metadata=tuple((data.get("metadata") or {}).items()),
            aliases=tuple(data.get("aliases") or ()),
            stderr=data.get("stderr"),
            checkpoint=_context_from_json(data["checkpoint"]) if data.get("checkpoint") else None,
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
    aliases: tuple[str, ...] = ()
    """Other paths found for the same file (hard links, symbolic links): it is read once."""
    etag: str | None = None
    """A remote object's ETag as its listing gave it (``None`` for local files)."""


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


def _context_to_json(c: CheckpointContext) -> dict[str, Any]:
    optimizer: dict[str, Any] = {"present": c.optimizer is not None}
    if c.optimizer is not None:
        optimizer |= {
            "path": c.optimizer.path,
            "family": c.optimizer.family,
            "param_groups": c.optimizer.param_groups,
            "states": c.optimizer.states,
        }
    return {
        "kind": c.kind,
        "wrapper": c.wrapper,
        "epoch": c.epoch,
        "step": c.step,
        "framework": c.framework,
        "versions": dict(c.versions),
        "optimizer": optimizer,
        "prefixes_stripped": list(c.prefixes_stripped),
        "others": list(c.others),
        "evidence": list(c.evidence),
    }


def _context_from_json(d: Mapping[str, Any]) -> CheckpointContext:
    opt = d.get("optimizer") or {}
    return CheckpointContext(
        kind=d["kind"],
        wrapper=d.get("wrapper"),
        epoch=d.get("epoch"),
        step=d.get("step"),
        framework=d.get("framework"),
        versions=tuple((d.get("versions") or {}).items()),
        optimizer=(
            OptimizerInfo(opt["path"], opt.get("family"), opt["param_groups"], opt["states"])
            if opt.get("present")
            else None
        ),
        prefixes_stripped=tuple(d.get("prefixes_stripped") or ()),
        others=tuple(d.get("others") or ()),
        evidence=tuple(d.get("evidence") or ()),
    )
