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
from dataclasses import replace
from typing import NamedTuple

from .batch import BatchOptions
from .container import (
    Source,
    StorageOptions,
    open_source,
    read_container,
    read_embedded,
    read_hidden_pickles,
)
from .core import (
    DEFAULT_LIMITS,
    Architecture,
    ArchitectureStatus,
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
    PthForensicsError,
    Severity,
    StateDict,
    Status,
    TraceResult,
    TraceStatus,
    Verdict,
)
from .report import checkpoint_context, complete_inspect, error_report, verdict_of
from .safety import scan_streams
from .structure import check_integrity, extract_checkpoint, summarize, unreferenced_storages

__all__ = ["analyze_candidate", "analyze_file", "inspect_file", "scan_container"]

logger = logging.getLogger(__name__)

#: Metadata entries (epoch, step, hyper-parameters...) a report carries at most.
_METADATA_KEPT = 50
#: Decimals of ``FileReport.seconds``: 0.1 ms, as the JSON report has always shown it.
_SECONDS_DECIMALS = 4
#: ``architecture.evidence`` of a checkpoint without a state_dict.
_NO_STATE_DICT = "the file holds no state_dict"


def _elapsed(start: float) -> float:
    """Seconds since ``start`` (``time.perf_counter``), rounded as reports carry them."""
    return round(time.perf_counter() - start, _SECONDS_DECIMALS)


def scan_container(
    container: Container,
    *,
    limits: Limits = DEFAULT_LIMITS,
    fast: bool = False,
    source: Source | None = None,
) -> tuple[tuple[Finding, ...], Checkpoint | None]:
    """Findings for every pickle stream (nested ones included) and the checkpoint structure.

    ``fast`` lets streams that the stub unpickler reads cleanly skip the opcode walk.  Only
    use it in a process with a memory cap (batch workers set one): CPython's C unpickler
    sizes its memo from indices in the file, which the opcode walk checks first.
    ``source``: the file ``container`` was read from, still open (the hidden-pickle check
    reads it again).
    """

    def read_archive(data: bytes, name: str) -> Container:
        return read_embedded(data, container.path, name, limits=limits)

    safety = scan_streams(container.streams, read_archive=read_archive, limits=limits, fast=fast)
    findings = [*container.findings, *safety.findings]
    checkpoint = None
    if safety.tree is not None:
        if safety.tree.root is not None:
            checkpoint, extra = extract_checkpoint(safety.tree.root, container, limits=limits)
            findings.extend(extra)
    elif container.header_tensors:
        checkpoint, extra = extract_checkpoint(None, container, limits=limits)
        findings.extend(extra)
    if checkpoint is not None:
        findings.extend(check_integrity(checkpoint, container, limits=limits))
        unused = unreferenced_storages(checkpoint, container)
        hidden = (
            read_hidden_pickles(container, unused, limits=limits, source=source) if unused else ()
        )
        findings.extend(
            Finding(
                "hidden-pickle",
                Severity.SUSPICIOUS,
                Location(stream.name),
                "a storage member no tensor uses holds a pickle",
            )
            for stream in hidden
        )
        rest = scan_streams(hidden, read_archive=read_archive, limits=limits, budget=safety.budget)
        findings.extend(rest.findings)
    return _dedupe(findings), checkpoint


def _dedupe(findings: list[Finding]) -> tuple[Finding, ...]:
    """Each finding once (the first of equal ones), worst first, in order of discovery."""
    return tuple(sorted(dict.fromkeys(findings), key=lambda f: -f.severity))


class _Hints(NamedTuple):
    """How to open the file: storage options of a URL, and what a listing already said of
    it (size and ETag spare a remote object its ``HEAD`` request)."""

    storage: StorageOptions = ()
    size: int | None = None
    etag: str | None = None


class _Scanned(NamedTuple):
    container: Container
    findings: tuple[Finding, ...]
    checkpoint: Checkpoint | None
    bytes_read: int
    etag: str | None


def analyze_file(
    path: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    fast: bool = False,
    storage: StorageOptions = (),
    size: int | None = None,
    etag: str | None = None,
) -> FileReport:
    """The ``scan`` report of one file (a local path or a URL): safety verdict and tensor
    summary, torch-free.  The architecture is named by ``inspect`` and ``scan --deep``
    only: reading the signature data costs more than the scan of a whole small file.

    ``fast``: see :func:`scan_container` (only where the process has a memory cap).
    ``storage``: options of the URL's file system (``pthforensics.container.remote``).
    ``size``, ``etag``: what a listing already said of a remote object (they spare it a
    ``HEAD`` request; unused for local files).
    """
    start = time.perf_counter()
    scanned = _read_and_scan(path, limits, fast, start, _Hints(storage, size, etag))
    if isinstance(scanned, FileReport):
        return scanned
    return _report(path, scanned, _elapsed(start))


def _read_and_scan(
    path: str, limits: Limits, fast: bool, start: float, hints: _Hints
) -> _Scanned | FileReport:
    """Container and scan of ``path``, or the error report when no verdict is possible
    (a bug on one file becomes an ``internal`` error, so a batch never stops)."""
    source: Source | None = None
    try:
        source = open_source(path, storage=hints.storage, size=hints.size, etag=hints.etag)
        with source:
            container = read_container(source, limits=limits, fast=fast)
            findings, checkpoint = scan_container(
                container, limits=limits, fast=fast, source=source
            )
    except PthForensicsError as exc:
        failed = error_report(path, exc, seconds=_elapsed(start))
    except RecursionError:
        deep = LimitExceeded("nesting depth", limits.max_depth, "more")
        failed = error_report(path, deep, seconds=_elapsed(start))
    except MemoryError as exc:
        failed = error_report(path, exc, stage="limits", seconds=_elapsed(start))
    except Exception as exc:
        logger.exception("%s: internal error", path)
        failed = error_report(path, exc, stage="internal", seconds=_elapsed(start))
    else:
        return _Scanned(container, findings, checkpoint, source.bytes_read, source.etag)
    if source is None:
        return failed
    return replace(failed, bytes_read=source.bytes_read, etag=source.etag)


def _report(path: str, scanned: _Scanned, seconds: float) -> FileReport:
    container, findings, checkpoint = scanned.container, scanned.findings, scanned.checkpoint
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
        bytes_read=scanned.bytes_read,
        etag=scanned.etag,
        metadata=checkpoint.metadata[:_METADATA_KEPT] if checkpoint else (),
        checkpoint=checkpoint_context(checkpoint) if checkpoint is not None else None,
        extra=extra,
    )


def _architecture(
    path: str, container: Container, checkpoint: Checkpoint | None, findings: tuple[Finding, ...]
) -> Architecture | None:
    """The library constructor the main state_dict's layout names (torch-free, keys and
    shapes only); ``None`` when no object tree was read.  A malicious file gets no loading
    code: the code would open it."""
    if checkpoint is None:
        return None
    from .infer import name_architecture  # noqa: PLC0415 - its data is read on first use

    if checkpoint.main is None:
        return Architecture(ArchitectureStatus.UNKNOWN, evidence=(_NO_STATE_DICT,))
    try:
        named = name_architecture(
            checkpoint.main,
            path=path,
            container_format=container.format.value,
            kind=checkpoint.kind.value,
        )
    except Exception as exc:  # a naming bug must not cost the file its verdict
        logger.exception("%s: naming the architecture failed", path)
        return Architecture(
            ArchitectureStatus.UNKNOWN, evidence=(f"naming failed: {type(exc).__name__}: {exc}",)
        )
    if named.code is not None and verdict_of(findings) is Verdict.MALICIOUS:
        evidence = (*named.evidence, "no loading code: the file is malicious")
        return replace(named, code=None, evidence=evidence)
    return named


def inspect_file(
    path: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    trace: bool = True,
    input_shape: Sequence[int] | None = None,
    device: str = "meta",
    fast: bool = False,
    storage: StorageOptions = (),
    size: int | None = None,
    etag: str | None = None,
) -> FileReport:
    """The ``inspect`` report: ``scan`` plus layers, input guess, rebuild and trace; what
    did not run says so (``"status": "skipped"`` and why, never ``None``).  ``storage``,
    ``size``, ``etag``: as for :func:`analyze_file`."""
    report = _inspect_file(
        path, limits, trace, input_shape, device, fast, _Hints(storage, size, etag)
    )
    return complete_inspect(report, trace=trace)


def _inspect_file(
    path: str,
    limits: Limits,
    trace: bool,
    input_shape: Sequence[int] | None,
    device: str,
    fast: bool,
    hints: _Hints,
) -> FileReport:
    from .infer import (  # noqa: PLC0415 - only inspect needs them
        infer_input,
        infer_layers,
        with_convention,
    )
    from .structure import group_layers  # noqa: PLC0415

    start = time.perf_counter()
    scanned = _read_and_scan(path, limits, fast, start, hints)
    if isinstance(scanned, FileReport):
        return scanned
    report = _report(path, scanned, 0.0)
    architecture = _architecture(path, scanned.container, scanned.checkpoint, report.findings)
    report = replace(report, architecture=architecture)
    checkpoint = scanned.checkpoint
    main = checkpoint.main if checkpoint else None
    if main is None:
        return replace(report, layers=(), seconds=_elapsed(start))
    try:
        groups = group_layers(main)
        guesses = infer_layers(groups)
        guess_input = with_convention(infer_input(groups, guesses), architecture)
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
    from .rebuild import trace_input, trace_library  # noqa: PLC0415 - torch only when tracing

    shape = tuple(input_shape) if input_shape else None
    library = trace_library(
        report.architecture,
        main,
        path=report.path,
        container_format=report.format.value if report.format else "unknown",
        kind=report.checkpoint.kind if report.checkpoint else "state_dict",
        input_shape=shape,
        device=device,
        inferred=guess_input.shape,
    )
    if library.result is not None:
        return library.result
    result = trace_input(groups, guesses, guess_input, main, input_shape=shape, device=device)
    if library.note:
        return replace(result, detail=f"{library.note}; generic rebuild: {result.detail}")
    return result


def analyze_candidate(candidate: Candidate, options: BatchOptions) -> FileReport:
    """The report of one file of a batch, as a worker makes it (also used in-process):
    ``scan`` (or, with ``options.deep``, ``inspect`` without the trace), with the model it
    belongs to and the size and mtime (or ETag) discovery found (``--resume`` matches on
    them).  A remote object is read with the batch's storage options, its listed size and
    ETag sparing it a ``HEAD`` request."""
    path, limits, fast = candidate.path, options.limits, options.fast
    storage, size, etag = options.storage, candidate.size, candidate.etag
    if options.deep:
        report = _inspect_file(path, limits, False, None, "meta", fast, _Hints(storage, size, etag))
    else:
        report = analyze_file(path, limits=limits, fast=fast, storage=storage, size=size, etag=etag)
    extra = dict(report.extra)
    if candidate.model:
        extra["model"] = candidate.model
    return replace(report, mtime=candidate.mtime, size=candidate.size, extra=tuple(extra.items()))
