"""A batch spread over a Dask cluster (the ``pthforensics[dask]`` extra).

The same unit of work as the local pool (a :data:`.workers.Work`: one
:class:`~pthforensics.core.Candidate` in, one :class:`~pthforensics.core.FileReport` out)
runs on Dask workers, under the same per-file limits: each Dask task takes a few files
and reads them through :func:`.workers.run_batch` with one worker process of its own, so a
file that hangs is killed at the time cap and one that runs away hits the memory cap,
exactly as on one machine.  Dask does the rest: scheduling, moving the files' names and
reports, and re-running the tasks of a worker that dies (up to its
``distributed.scheduler.allowed-failures``; a task that still fails gives every file in
it an ``error`` report, so none is lost).  Reports stream back as tasks complete, and
only a bounded number of tasks is in flight, so a listing of a million objects does not
flood the scheduler.

``address``: ``local:N`` starts a ``LocalCluster`` of N worker processes (one thread each)
on 127.0.0.1 for the run; anything else (``tcp://scheduler:8786``) is the address of a
running scheduler, whose workers need this package (same version) installed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from pthforensics.container import StorageOptions, is_url, prepare_remote
from pthforensics.core import Candidate, ErrorInfo, FileReport, Status

from .workers import BatchOptions, Work, run_batch

__all__ = ["DaskExecutor", "Executor", "parse_dask_address"]

logger = logging.getLogger(__name__)

_LOCAL = "local:"
#: Files per task at most: a task costs the scheduler ~1 ms and its worker a fork and a
#: fresh client for the object store (~0.25 s measured on moto, against ~10 ms a file),
#: while reports of a task arrive together and a worker's death costs its tasks' files a
#: second reading.
_MAX_CHUNK = 256
#: Tasks per worker thread the files are cut into (at least), so the load stays balanced
#: when files differ in size.
_TASKS_PER_THREAD = 2
#: Tasks in flight per worker thread: enough to keep every thread busy between reports.
_IN_FLIGHT_PER_THREAD = 2
#: Seconds to wait for a scheduler's first worker (then the run fails with TimeoutError).
_WAIT_FOR_WORKERS = 120.0


class Executor(Protocol):
    """Runs a batch: ``work`` on every candidate, each report yielded once, as it
    completes (:func:`.workers.run_batch` is the local one)."""

    def __call__(
        self,
        candidates: Sequence[Candidate],
        work: Work,
        options: BatchOptions,
        *,
        on_start: Callable[[Candidate], None] | None = None,
    ) -> Iterator[FileReport]:
        """Reports of ``candidates``, in completion order."""
        ...


def parse_dask_address(text: str) -> str:
    """``local:N`` (N >= 1) or a scheduler address (``tcp://host:8786``); ``ValueError``
    for anything else."""
    if text.startswith(_LOCAL):
        count = text[len(_LOCAL) :]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--dask {text!r}: use local:N with N >= 1 worker processes")
        return text
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme or not rest:
        raise ValueError(f"--dask {text!r}: use a scheduler address (tcp://host:8786) or local:N")
    return text


class DaskExecutor:
    """An :class:`Executor` on the Dask cluster at ``address`` (see the module docstring)."""

    def __init__(self, address: str) -> None:
        self.address = parse_dask_address(address)
        _import_dask()  # a missing extra is said now, not after discovery

    def __call__(
        self,
        candidates: Sequence[Candidate],
        work: Work,
        options: BatchOptions,
        *,
        on_start: Callable[[Candidate], None] | None = None,
    ) -> Iterator[FileReport]:
        """Reports of ``candidates`` as the cluster's tasks complete; closing the iterator
        cancels what is still queued and lets go of the cluster."""
        if not candidates:
            return
        with self._client() as client:
            yield from _stream(client, candidates, work, options, on_start)

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        dask, distributed = _import_dask()
        if not self.address.startswith(_LOCAL):
            with distributed.Client(self.address) as client:
                yield client
            return
        # Each task starts a worker process of its own (the per-file limits), which
        # multiprocessing refuses in a daemonic process: the nanny's workers are started
        # non-daemonic, for the whole run (workers restarted after a death included).
        with (
            dask.config.set({"distributed.worker.daemon": False}),
            distributed.LocalCluster(
                n_workers=int(self.address[len(_LOCAL) :]),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",  # any free port (None means 8787: clashes)
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client


def _import_dask() -> tuple[Any, Any]:
    """``dask`` and ``distributed`` (the optional extra, loaded only for ``--dask``)."""
    try:
        return importlib.import_module("dask"), importlib.import_module("distributed")
    except ImportError as exc:
        raise ImportError(
            "--dask needs dask and distributed: pip install 'pthforensics[dask]'"
        ) from exc


def _stream(
    client: Any,
    candidates: Sequence[Candidate],
    work: Work,
    options: BatchOptions,
    on_start: Callable[[Candidate], None] | None,
) -> Iterator[FileReport]:
    """Submit the files as tasks (a bounded number in flight), yield reports as tasks
    complete; a task that fails gives each of its files an error report."""
    _, distributed = _import_dask()
    client.wait_for_workers(1, timeout=_WAIT_FOR_WORKERS)
    threads = max(1, sum(client.nthreads().values()))
    size = max(1, min(_MAX_CHUNK, math.ceil(len(candidates) / (threads * _TASKS_PER_THREAD))))
    chunks = deque(tuple(candidates[i : i + size]) for i in range(0, len(candidates), size))
    in_flight: dict[Any, tuple[Candidate, ...]] = {}
    done = distributed.as_completed()

    def submit() -> None:
        while chunks and len(in_flight) < threads * _IN_FLIGHT_PER_THREAD:
            chunk = chunks.popleft()
            future = client.submit(_scan_chunk, chunk, work, options, pure=False)
            in_flight[future] = chunk
            done.add(future)
            if on_start is not None:
                for candidate in chunk:
                    on_start(candidate)

    try:
        submit()
        for future in done:
            chunk = in_flight.pop(future)
            yield from _reports(future, chunk)
            submit()
    finally:
        if in_flight:
            client.cancel(list(in_flight))


def _reports(future: Any, chunk: tuple[Candidate, ...]) -> list[FileReport]:
    """The reports a finished task returned, or an error report per file of a failed one.

    ``result()`` also waits for a task whose result was lost with its worker after it
    finished, while Dask runs it again."""
    import asyncio  # noqa: PLC0415 - 50 ms that a local scan must not pay

    try:
        reports: list[FileReport] = future.result()
    except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - its files get errors
        logger.warning("a Dask task of %d file(s) failed: %r", len(chunk), exc)
        return [_failed(candidate, exc) for candidate in chunk]
    if sorted(r.path for r in reports) != sorted(c.path for c in chunk):
        wrong = RuntimeError("the task returned reports of other files")
        return [_failed(candidate, wrong) for candidate in chunk]
    return reports


def _failed(candidate: Candidate, exc: BaseException) -> FileReport:
    return FileReport(
        path=candidate.path,
        status=Status.ERROR,
        error=ErrorInfo(
            "worker",
            type(exc).__name__,
            f"the Dask task reading this file failed: {exc}",
        ),
        size=candidate.size,
        mtime=candidate.mtime,
        etag=candidate.etag,
        extra=(("model", candidate.model),) if candidate.model else (),
    )


def _scan_chunk(
    chunk: tuple[Candidate, ...], work: Work, options: BatchOptions
) -> list[FileReport]:
    """What a Dask task does: its files through one worker process of its own, under the
    per-file time and memory caps (runs on a Dask worker)."""
    import multiprocessing  # noqa: PLC0415

    # A nanny starts its worker daemonic unless told otherwise, and multiprocessing then
    # refuses it children; the children here are daemonic themselves and exit when their
    # pipe closes, so none outlives the worker.
    process = multiprocessing.current_process()
    if process.daemon:
        with contextlib.suppress(AssertionError):
            process.daemon = False
    protocols = {c.path.split("://", 1)[0]: c.path for c in chunk if is_url(c.path)}
    for protocol, url in protocols.items():
        _prepare(protocol, url, options.storage)
    return list(run_batch(chunk, work, replace(options, jobs=1)))


@functools.cache
def _prepare(protocol: str, url: str, storage: StorageOptions) -> None:
    """Once per Dask worker and protocol: load the file system's modules before forking
    each task's worker process (else every task's worker imports them again)."""
    prepare_remote(url, storage)
