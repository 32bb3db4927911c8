"""The only place stages are chained: file -> container -> scan/unpickle -> tensors -> report.

``analyze_file`` is the torch-free ``scan`` path; ``inspect_file`` adds layers, input
inference and (lazily importing torch) the rebuild and trace; ``analyze_candidate`` is the
unit of work of a batch (what a worker does with one file).  None raises for a bad file:
every failure becomes a ``FileReport`` with ``status="error"``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .batch import BatchOptions
from .container.reader import read_container, read_embedded, read_hidden_pickles
from .core import (
    DEFAULT_LIMITS,
    Candidate,
    Checkpoint,
    Container,
    FileReport,
    Finding,
    InputGuess,
    LayerGroup,
    LayerGuess,
    LimitExceeded,
    Limits,
    Location,
    PickleStream,
    PthForensicsError,
    Severity,
    StateDict,
    Status,
    StreamRole,
    TraceResult,
    TraceStatus,
    Verdict,
)
from .report import error_report, verdict_of
from .safety.opcodes import looks_like_nested, looks_like_pickle
from .safety.rules import evaluate_stream, judge_global
from .safety.static_scan import scan_stream
from .safety.unpickle import PickleTree, find_pickle_values, unpickle_stream
from .structure.tensors import check_integrity, extract_checkpoint, summarize, unreferenced_storages

__all__ = ["analyze_candidate", "analyze_file", "inspect_file", "scan_container"]

logger = logging.getLogger(__name__)

#: Metadata entries (epoch, step, hyper-parameters...) a report carries at most.
_METADATA_KEPT = 50
#: Decimals of ``FileReport.seconds``: 0.1 ms, as the JSON report has always shown it.
_SECONDS_DECIMALS = 4


def _elapsed(start: float) -> float:
    """Seconds since ``start`` (``time.perf_counter``), rounded as reports carry them."""
    return round(time.perf_counter() - start, _SECONDS_DECIMALS)


@dataclass
class _Scan:
    """Mutable working state of one file's scan (local to :func:`scan_container`)."""

    limits: Limits
    fast: bool
    deadline: float
    findings: list[Finding] = field(default_factory=list)
    trees: dict[int, PickleTree] = field(default_factory=dict)
    """Stub trees the fast path built, by ``id`` of the stream (names can repeat)."""
    refused: set[str] = field(default_factory=set)
    nested: int = 0
    path: str = ""
    pending: list[PickleStream] = field(default_factory=list)
    """Streams of embedded archives, queued behind the current one."""

    def run(self, streams: list[PickleStream]) -> None:
        queue = list(streams)
        while queue:
            stream = queue.pop(0)
            if not stream.data:
                continue
            queue.extend(self._fast(stream) if self.fast else self._slow(stream))
            queue.extend(self.pending)
            self.pending.clear()

    def _fast(self, stream: PickleStream) -> list[PickleStream]:
        """C-speed path: a stream the stub unpickler reads exactly to its end, naming only
        allow-listed or benign-metadata globals, needs no opcode walk (DESIGN.md, safety
        model 2).  Anything else falls back to the opcode pass."""
        tree = (
            stream.decoded
            if isinstance(stream.decoded, PickleTree)
            else (unpickle_stream(stream) if stream.data[:1] else None)
        )
        if tree is None or tree.error is not None or tree.end != len(stream.data):
            return self._slow(stream)
        infos: list[Finding] = []
        for g in dict.fromkeys(tree.globals_seen):
            judgement = judge_global(g.module, g.name)
            if judgement is not None and judgement.severity > Severity.INFO:
                return self._slow(stream)
            if judgement is not None:
                infos.append(
                    Finding(
                        judgement.rule_id,
                        judgement.severity,
                        Location(stream.name, global_name=str(g)),
                        judgement.reason,
                    )
                )
        self.findings.extend(infos)
        self.trees[id(stream)] = tree
        values = find_pickle_values(tree.root, looks_like_nested, max_depth=self.limits.max_depth)
        return [self._nested(stream, None, data) for data in values if self._take_nested()]

    def _slow(self, stream: PickleStream) -> list[PickleStream]:
        try:
            scan = scan_stream(stream.data, limits=self.limits, deadline=self.deadline)
        except LimitExceeded as exc:
            self.findings.append(
                Finding(
                    "resource-limit",
                    Severity.SUSPICIOUS,
                    Location(stream.name),
                    f"{exc.message}; the stream was not decoded further",
                )
            )
            self.refused.add(stream.name)
            return []
        self.findings.extend(evaluate_stream(stream, scan))
        more: list[PickleStream] = []
        if (
            scan.end is not None
            and scan.end < len(stream.data)
            and looks_like_pickle(stream.data[scan.end : scan.end + 4096])
        ):
            # A second pickle after STOP: a loader that calls load() again runs it.
            more.append(
                PickleStream(
                    f"{stream.name}@{scan.end}",
                    stream.data[scan.end :],
                    role=StreamRole.TRAILING,
                    loaded=False,
                )
            )
        more.extend(
            self._nested(stream, offset, data)
            for offset, data in scan.nested
            if self._take_nested()
        )
        return more

    def _take_nested(self) -> bool:
        self.nested += 1
        return self.nested <= self.limits.max_nested_pickles

    def _nested(self, stream: PickleStream, offset: int | None, data: bytes) -> PickleStream:
        name = f"{stream.name}@{offset if offset is not None else '?'}(bytes)"
        if data[:4] == b"PK\x03\x04":
            return self._embedded_archive(name, data)
        self.findings.append(
            Finding(
                "nested-pickle",
                Severity.INFO,
                Location(stream.name, offset),
                "a bytes value is itself a pickle; it was scanned too",
            )
        )
        return PickleStream(name, data, role=StreamRole.NESTED, loaded=False)

    def _embedded_archive(self, name: str, data: bytes) -> PickleStream:
        """A torch zip carried as bytes: read it as a file of its own and scan its streams."""
        self.findings.append(
            Finding(
                "nested-archive",
                Severity.INFO,
                Location(name),
                "a bytes value is a zip archive (torch.save output); its pickles were scanned too",
            )
        )
        try:
            inner = read_embedded(data, self.path, name, limits=self.limits)
        except PthForensicsError as exc:
            self.findings.append(
                Finding(
                    "nested-archive-unreadable", Severity.SUSPICIOUS, Location(name), exc.message
                )
            )
            return PickleStream(name, b"", role=StreamRole.NESTED, loaded=False)
        self.findings.extend(inner.findings)
        self.pending.extend(replace(s, loaded=False) for s in inner.streams)
        return PickleStream(name, b"", role=StreamRole.NESTED, loaded=False)

    def tree_of(self, stream: PickleStream) -> PickleTree:
        """The stub tree of the object stream (reused from the fast path when it ran)."""
        tree = self.trees.get(id(stream))
        if tree is not None:
            return tree
        tree = unpickle_stream(stream)
        # Defence in depth: anything find_class saw must have been judged already.
        judged = {(f.location.member, f.location.global_name) for f in self.findings}
        for g in tree.globals_seen:
            judgement = judge_global(g.module, g.name)
            if (
                judgement
                and judgement.severity > Severity.INFO
                and (stream.name, str(g)) not in judged
            ):
                self.findings.append(
                    Finding(
                        judgement.rule_id,
                        judgement.severity,
                        Location(stream.name, global_name=str(g)),
                        judgement.reason,
                    )
                )
        return tree


def scan_container(
    container: Container, *, limits: Limits = DEFAULT_LIMITS, fast: bool = False
) -> tuple[tuple[Finding, ...], Checkpoint | None]:
    """Findings for every pickle stream (nested ones included) and the checkpoint structure.

    ``fast`` lets streams that the stub unpickler reads cleanly skip the opcode walk.  Only
    use it in a process with a memory cap (batch workers set one): CPython's C unpickler
    sizes its memo from indices in the file, which the opcode walk checks first.
    """
    state = _Scan(
        limits,
        fast,
        time.monotonic() + limits.max_seconds,
        list(container.findings),
        path=container.path,
    )
    state.run(list(container.streams))
    checkpoint = None
    objects = [
        s
        for s in container.streams
        if s.role == StreamRole.OBJECT and s.loaded and s.name not in state.refused
    ]
    if objects:
        tree = state.tree_of(objects[0])
        if tree.root is not None:
            checkpoint, extra = extract_checkpoint(tree.root, container, limits=limits)
            state.findings.extend(extra)
    elif container.header_tensors:
        checkpoint, extra = extract_checkpoint(None, container, limits=limits)
        state.findings.extend(extra)
    if checkpoint is not None:
        state.findings.extend(check_integrity(checkpoint, container, limits=limits))
        unused = unreferenced_storages(checkpoint, container)
        hidden = read_hidden_pickles(container, unused, limits=limits) if unused else ()
        for stream in hidden:
            state.findings.append(
                Finding(
                    "hidden-pickle",
                    Severity.SUSPICIOUS,
                    Location(stream.name),
                    "a storage member no tensor uses holds a pickle",
                )
            )
        state.fast = False
        state.run(list(hidden))
    return _dedupe(state.findings), checkpoint


def _dedupe(findings: list[Finding]) -> tuple[Finding, ...]:
    """Each finding once (the first of equal ones), worst first, in order of discovery."""
    return tuple(sorted(dict.fromkeys(findings), key=lambda f: -f.severity))


def analyze_file(path: str, *, limits: Limits = DEFAULT_LIMITS, fast: bool = False) -> FileReport:
    """The ``scan`` report of one file: safety verdict and tensor summary, torch-free.

    ``fast``: see :func:`scan_container` (only where the process has a memory cap).
    """
    start = time.perf_counter()
    scanned = _read_and_scan(path, limits, fast, start)
    if isinstance(scanned, FileReport):
        return scanned
    container, findings, checkpoint = scanned
    return _report(path, container, findings, checkpoint, _elapsed(start))


def _read_and_scan(
    path: str, limits: Limits, fast: bool, start: float
) -> tuple[Container, tuple[Finding, ...], Checkpoint | None] | FileReport:
    """Container and scan of ``path``, or the error report when no verdict is possible
    (a bug on one file becomes an ``internal`` error, so a batch never stops)."""
    try:
        container = read_container(path, limits=limits, fast=fast)
        findings, checkpoint = scan_container(container, limits=limits, fast=fast)
    except PthForensicsError as exc:
        return error_report(path, exc, seconds=_elapsed(start))
    except RecursionError:
        return error_report(
            path,
            LimitExceeded("nesting depth", limits.max_depth, "more"),
            seconds=_elapsed(start),
        )
    except MemoryError as exc:
        return error_report(path, exc, stage="limits", seconds=_elapsed(start))
    except Exception as exc:
        logger.exception("%s: internal error", path)
        return error_report(path, exc, stage="internal", seconds=_elapsed(start))
    return container, findings, checkpoint


def _report(
    path: str,
    container: Container,
    findings: tuple[Finding, ...],
    checkpoint: Checkpoint | None,
    seconds: float,
) -> FileReport:
    main = checkpoint.main if checkpoint else None
    tensors = None if checkpoint is None else summarize((main or checkpoint).tensors)
    extra: tuple[tuple[str, object], ...] = ()
    if checkpoint is not None and main is not None:
        where = {
            "path": main.path,
            "kind": checkpoint.kind.value,
            "stripped_prefixes": list(main.stripped_prefixes),
            "others": [s.path for s in checkpoint.state_dicts[1:]],
        }
        extra = (("state_dict", where),)
    return FileReport(
        path=path,
        status=Status.OK,
        format=container.format,
        verdict=verdict_of(findings),
        findings=findings,
        tensors=tensors,
        wrappers=container.wrappers,
        size=container.size,
        seconds=seconds,
        metadata=checkpoint.metadata[:_METADATA_KEPT] if checkpoint else (),
        extra=extra,
    )


def inspect_file(
    path: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    trace: bool = True,
    input_shape: Sequence[int] | None = None,
    device: str = "meta",
    fast: bool = False,
) -> FileReport:
    """The ``inspect`` report: ``scan`` plus layers, input guess, rebuild and trace."""
    from .infer import infer_input, infer_layers  # noqa: PLC0415 - only inspect needs them
    from .structure.layers import group_layers  # noqa: PLC0415

    start = time.perf_counter()
    scanned = _read_and_scan(path, limits, fast, start)
    if isinstance(scanned, FileReport):
        return scanned
    container, findings, checkpoint = scanned
    report = _report(path, container, findings, checkpoint, 0.0)
    main = checkpoint.main if checkpoint else None
    if main is None:
        return replace(report, layers=(), seconds=_elapsed(start))
    try:
        groups = group_layers(main)
        guesses = infer_layers(groups)
        guess_input = infer_input(groups, guesses)
    except PthForensicsError as exc:
        logger.warning("%s: inference failed: %s", path, exc)
        return replace(report, layers=(), seconds=_elapsed(start))
    report = replace(report, layers=guesses, input=guess_input)
    if trace:
        report = replace(
            report, trace=_trace(groups, guesses, guess_input, main, report, input_shape, device)
        )
    return replace(report, seconds=_elapsed(start))


def _trace(
    groups: tuple[LayerGroup, ...],
    guesses: tuple[LayerGuess, ...],
    guess_input: InputGuess,
    main: StateDict,
    report: FileReport,
    input_shape: Sequence[int] | None,
    device: str,
) -> TraceResult:
    if report.verdict is Verdict.MALICIOUS:
        return TraceResult(TraceStatus.SKIPPED, detail="not rebuilt: the file is malicious")
    from .core import RebuildError, TraceError  # noqa: PLC0415
    from .rebuild.build import rebuild_sequential  # noqa: PLC0415
    from .rebuild.trace import trace_model  # noqa: PLC0415

    try:
        module, note = rebuild_sequential(groups, guesses, guess_input, main)
    except RebuildError as exc:
        return TraceResult(TraceStatus.SKIPPED, detail=f"not rebuilt: {exc.message}")
    try:
        result = trace_model(
            module,
            guess_input,
            device=device,
            input_shape=tuple(input_shape) if input_shape else None,
        )
    except TraceError as exc:
        return TraceResult(TraceStatus.SKIPPED, detail=f"{note}; trace failed: {exc.message}")
    return replace(result, detail="; ".join(x for x in (note, result.detail) if x))


def analyze_candidate(candidate: Candidate, options: BatchOptions) -> FileReport:
    """The report of one file of a batch, as a worker makes it (also used in-process):
    ``scan`` (or, with ``options.deep``, ``inspect`` without the trace), with the model it
    belongs to and the size and mtime discovery found (``--resume`` matches on them)."""
    if options.deep:
        report = inspect_file(candidate.path, limits=options.limits, trace=False, fast=options.fast)
    else:
        report = analyze_file(candidate.path, limits=options.limits, fast=options.fast)
    extra = dict(report.extra)
    if candidate.model:
        extra["model"] = candidate.model
    return replace(report, mtime=candidate.mtime, size=candidate.size, extra=tuple(extra.items()))
