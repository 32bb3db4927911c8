"""pthforensics: what a PyTorch checkpoint is, what input it expects, and whether opening
it runs someone else's code, from the file alone.

The library API::

    import json
    import pthforensics

    report = pthforensics.scan("model.pth")           # safety verdict, tensor summary
    report.verdict, report.findings, report.tensors
    for report in pthforensics.scan_tree(["models/"], jobs=4):
        print(report.path, report.verdict)            # as files complete
    report = pthforensics.inspect("model.pth")        # + layers, input guess, trace
    json.dumps(report.to_dict())                      # the JSON contract
    pthforensics.FileReport.from_dict(report.to_dict()) == report

``scan`` and ``scan_tree`` never import torch and never read tensor bytes; ``inspect``
imports torch (lazily) only to rebuild and trace the model.  None of them raises for a bad
file: its report has ``status`` ``error`` and says why in ``error``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .batch import BatchOptions, DaskExecutor, TreeScan, run_batch, start_tree_scan
from .container import storage_options as _storage_options
from .core import (
    DEFAULT_LIMITS,
    Candidate,
    ContainerError,
    ErrorInfo,
    FileReport,
    Finding,
    Format,
    InputGuess,
    InputKind,
    InputStatus,
    LayerGuess,
    LimitExceeded,
    Limits,
    Location,
    ModelGroup,
    PthForensicsError,
    Severity,
    Status,
    TensorSummary,
    TraceLayer,
    TraceResult,
    TraceStatus,
    Verdict,
)
from .pipeline import analyze_candidate, analyze_file, inspect_file
from .report import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, BatchReport

__all__ = [
    # the API
    "inspect",
    "scan",
    "scan_tree",
    # what it returns
    "Candidate",
    "ErrorInfo",
    "FileReport",
    "Finding",
    "Format",
    "InputGuess",
    "InputKind",
    "InputStatus",
    "LayerGuess",
    "Location",
    "ModelGroup",
    "Severity",
    "Status",
    "TensorSummary",
    "TraceLayer",
    "TraceResult",
    "TraceStatus",
    "TreeScan",
    "Verdict",
    # limits and errors
    "DEFAULT_LIMITS",
    "ContainerError",
    "LimitExceeded",
    "Limits",
    "PthForensicsError",
    # batches and exit codes, as the CLI decides them
    "EXIT_CLEAN",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "BatchReport",
    # the pipeline's own names (``scan`` and ``inspect`` call them)
    "analyze_file",
    "inspect_file",
    "__version__",
]

__version__ = "0.1.0"


#: ``storage_options`` of the API: ``{"endpoint_url": ..., "anon": True}`` or
#: ``["endpoint_url=...", "s3.anon=true"]`` (see ``pthforensics.container.remote``).
StorageOptionsArg = Mapping[str, Any] | Iterable[str]


def scan(
    path: str | os.PathLike[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    storage_options: StorageOptionsArg = (),
) -> FileReport:
    """The ``scan`` report of one file: safety verdict, findings and tensor summary.

    Torch-free, and no tensor payload is read.  Every pickle stream is walked opcode by
    opcode (the thorough path: the file is read in this process, with no memory cap).
    ``path`` may be a URL (``s3://bucket/model.pt``, ``https://...``; the ``remote``
    extra), read by range requests with ``storage_options`` for its file system.
    """
    return analyze_file(os.fspath(path), limits=limits, storage=_storage_options(storage_options))


def inspect(
    path: str | os.PathLike[str],
    *,
    trace: bool = True,
    input_shape: Sequence[int] | None = None,
    device: str = "meta",
    limits: Limits = DEFAULT_LIMITS,
    storage_options: StorageOptionsArg = (),
) -> FileReport:
    """The ``inspect`` report of one file: ``scan``, plus the layers, the input guess and
    (``trace=True``) the model rebuilt and traced.

    ``input_shape`` (batch first, e.g. ``(1, 3, 64, 64)``) is tried instead of the guessed
    input; ``device`` is where the rebuilt model lives (``"meta"``: no memory for weights,
    whose values are never read anyway).  A malicious file is never rebuilt.  ``path`` may
    be a URL, as for :func:`scan`.
    """
    return inspect_file(
        os.fspath(path),
        limits=limits,
        trace=trace,
        input_shape=input_shape,
        device=device,
        storage=_storage_options(storage_options),
    )


def scan_tree(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    jobs: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
    resume: str | os.PathLike[str] | None = None,
    deep: bool = False,
    include_hidden: bool = False,
    exclude: Iterable[str] = (),
    timeout: float | None = None,
    memory_mb: int | None = 4096,
    on_start: Callable[[Candidate], None] | None = None,
    storage_options: StorageOptionsArg = (),
    dask: str | None = None,
) -> TreeScan:
    """``scan`` reports of every checkpoint under ``paths``, yielded as files complete.

    Files are given or found in folders (recursively: a checkpoint name, checkpoint
    content whatever the name, or a file that cannot be read; hidden ones only with
    ``include_hidden``; ``exclude`` globs skip files and folders).  Every file found is
    reported exactly once, its other paths (hard and symbolic links) in ``aliases``; a file
    that hangs or crashes its reader gets an ``error`` report and the run goes on.  The
    returned :class:`TreeScan` iterates the reports and knows, before the first one, the
    files found (``files``), the sharded models (``models``) and what was skipped, by
    reason (``skipped``); close it (or use it in a ``with`` block) to stop early.

    ``jobs``: worker processes; ``None`` for one per usable core, a single file then being
    read in-process (nothing to fork); ``0`` for one per core, always in workers.
    ``resume``: an earlier JSONL output (one ``to_dict()`` per line); files in it with the
    same path, size and mtime are not read again, their reports are yielded first.
    ``deep``: add the layers and the input guess to each report (torch-free).
    ``timeout``: seconds after which a worker stuck on one file is killed (default
    1.5 x ``limits.max_seconds`` + 5).  ``memory_mb``: address space a worker may add while
    reading one file, ``None`` for no cap.  ``on_start``: called with each file as its
    reading starts.

    Paths may be URLs of objects or folders (``s3://bucket/zoo/``, ``https://...``; the
    ``remote`` extra): folders are listed, objects read by range requests, with
    ``storage_options`` for their file systems; resuming matches a URL, size and ETag.
    ``dask``: run the batch on a Dask cluster instead of local workers (the ``dask``
    extra): ``"tcp://scheduler:8786"``, or ``"local:N"`` for N local worker processes;
    ``jobs`` is then unused, the per-file time and memory caps hold the same.

    Raises ``ValueError`` for a negative ``jobs``, a ``memory_mb`` under 64, a malformed
    storage option or ``dask`` address.
    """
    options = BatchOptions(
        jobs=jobs or 0,
        limits=limits,
        deep=deep,
        timeout=timeout,
        memory_mb=memory_mb,
        storage=_storage_options(storage_options),
    )
    executor = DaskExecutor(dask) if dask is not None else run_batch
    roots = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    return start_tree_scan(
        roots,
        analyze_candidate,
        options,
        in_process=jobs is None and dask is None,
        resume=resume,
        include_hidden=include_hidden,
        exclude=exclude,
        on_start=on_start,
        executor=executor,
    )
