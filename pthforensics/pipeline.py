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

from .batch import BatchOptions
from .container import read_container, read_embedded, read_hidden_pickles
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


def _elapsed(start: float) -> float:
    """Seconds since ``start`` (``time.perf_counter``), rounded as reports carry them."""
    return round(time.perf_counter() - start, _SECONDS_DECIMALS)


def scan_container(
    container: Container, *, limits: Limits = DEFAULT_LIMITS, fast: bool = False
) -> tuple[tuple[Finding, ...], Checkpoint | None]:
    """Findings for every pickle stream (nested ones included) and the checkpoint structure.

    ``fast`` lets streams that the stub unpickler reads cleanly skip the opcode walk.  Only
    use it in a process with a memory cap (batch workers set one): CPython's C unpickler
    sizes its memo from indices in the file, which the opcode walk checks first.
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
        hidden = read_hidden_pickles(container, unused, limits=limits) if unused else ()
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
        checkpoint=checkpoint_context(checkpoint) if checkpoint is not None else None,
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
    """The ``inspect`` report: ``scan`` plus layers, input guess, rebuild and trace; what
    did not run says so (``"status": "skipped"`` and why, never ``None``)."""
    report = _inspect_file(path, limits, trace, input_shape, device, fast)
    return complete_inspect(report, trace=trace)


def _inspect_file(
    path: str,
    limits: Limits,
    trace: bool,
    input_shape: Sequence[int] | None,
    device: str,
    fast: bool,
) -> FileReport:
    from .infer import infer_input, infer_layers  # noqa: PLC0415 - only inspect needs them
    from .structure import group_layers  # noqa: PLC0415

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
    from .rebuild import trace_input  # noqa: PLC0415 - torch only when tracing

    return trace_input(
        groups,
        guesses,
        guess_input,
        main,
        input_shape=tuple(input_shape) if input_shape else None,
        device=device,
    )


def analyze_candidate(candidate: Candidate, options: BatchOptions) -> FileReport:
    """The report of one file of a batch, as a worker makes it (also used in-process):
    ``scan`` (or, with ``options.deep``, ``inspect`` without the trace), with the model it
    belongs to and the size and mtime discovery found (``--resume`` matches on them)."""
    if options.deep:
        report = _inspect_file(candidate.path, options.limits, False, None, "meta", options.fast)
    else:
        report = analyze_file(candidate.path, limits=options.limits, fast=options.fast)
    extra = dict(report.extra)
    if candidate.model:
        extra["model"] = candidate.model
    return replace(report, mtime=candidate.mtime, size=candidate.size, extra=tuple(extra.items()))
