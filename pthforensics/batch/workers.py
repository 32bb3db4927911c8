"""Parallel batch scanning: worker processes, each file with its own time and memory cap.

A hostile or huge file costs its worker, not the run: a worker that exceeds the time cap
is killed, one that crashes or is killed by the memory cap is replaced, and either way
the file gets an ``error`` report and the run goes on.  Workers are forked once and fed
a few files at a time over a pipe (no per-file interpreter start-up).  Reports are
yielded in completion order, so a caller can stream them.

What a worker does with a file is the caller's: a :data:`Work` function, module-level and
picklable (``pipeline.analyze_candidate``), so this module never imports the pipeline and
the same unit of work can be handed to another executor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

from pthforensics.core import (
    DEFAULT_LIMITS,
    Candidate,
    ErrorInfo,
    FileReport,
    LimitExceeded,
    Limits,
    Status,
)

__all__ = ["BatchOptions", "Work", "run_batch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How a batch runs."""

    jobs: int = 0
    """Worker processes; 0 means one per core."""
    limits: Limits = DEFAULT_LIMITS
    deep: bool = False
    """Add layers and the input guess (torch-free) to each report."""
    timeout: float | None = None
    """Hard wall-clock cap per file; defaults to ``limits.max_seconds`` plus a margin."""
    memory_mb: int | None = 4096
    """Address space a worker may add while reading one file; ``None`` for no cap."""

    def __post_init__(self) -> None:
        if self.jobs < 0:
            raise ValueError(f"jobs must be >= 0, got {self.jobs}")
        if self.memory_mb is not None and self.memory_mb < 64:
            raise ValueError(f"memory cap must be at least 64 MB, got {self.memory_mb}")

    @property
    def workers(self) -> int:
        """The number of worker processes to start."""
        return self.jobs or _usable_cores()

    @property
    def fast(self) -> bool:
        """Whether workers may take the C-unpickler fast path: only under a memory cap."""
        return self.memory_mb is not None

    @property
    def file_timeout(self) -> float:
        """Seconds after which a worker is killed."""
        return self.timeout if self.timeout is not None else self.limits.max_seconds * 1.5 + 5


Work = Callable[[Candidate, BatchOptions], FileReport]
"""The report of one file: module-level and picklable, it runs in a worker (or
in-process); it never raises for a bad file."""


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask, as ``taskset`` or a container
    sets it), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cap_memory(memory_mb: int | None) -> None:
    if memory_mb is None:
        return
    try:
        import resource  # noqa: PLC0415 - POSIX only

        with open("/proc/self/status", encoding="ascii") as status:
            vm = next(
                (int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:")), 0
            )
        cap = vm + memory_mb * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, ValueError, ImportError):  # pragma: no cover - non-Linux
        logger.debug("memory cap not applied on this platform")


def _tune_gc() -> None:
    """Collect cycles less often in a worker: a file's stub tree is thousands of young
    containers freed by reference counting, which the default threshold (700 allocations)
    traverses again and again (~15% of a worker's time).  Everything imported before the
    fork is frozen out of collections; cycles are still collected, and the address-space
    cap bounds what they can hold in between."""
    import gc  # noqa: PLC0415

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _worker(conn: Connection, work: Work, options: BatchOptions) -> None:
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for everyone
    _cap_memory(options.memory_mb)
    _tune_gc()
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        index, candidate = task
        try:
            report = work(candidate, options)
        except MemoryError:
            report = _error(
                candidate,
                "limits",
                "MemoryError",
                f"memory cap of {options.memory_mb} MB per file exceeded",
            )
        conn.send((index, report))


def _error(candidate: Candidate, stage: str, kind: str, message: str) -> FileReport:
    return FileReport(
        path=candidate.path,
        status=Status.ERROR,
        error=ErrorInfo(stage, kind, message),
        size=candidate.size,
        mtime=candidate.mtime,
        extra=(("model", candidate.model),) if candidate.model else (),
    )


#: Files in flight per worker: enough that a worker never waits for the parent (which
#: shares the cores) between files, few enough that little queues behind a slow file.
_DEPTH = 4

_Task = tuple[int, Candidate]


@dataclass
class _Slot:
    process: Any
    conn: Connection
    tasks: deque[_Task] = field(default_factory=deque)
    """Files sent to this worker, the one it is reading first."""
    started: float = 0.0
    """When the worker began the first of ``tasks``."""


class _Pool:
    """Worker processes and the files in flight on each; the parent's side of the pipes.

    One round is :meth:`feed` (fill every worker up to ``_DEPTH`` files) then
    :meth:`collect` (wait for a report, a death or a timeout, and settle each).
    """

    def __init__(
        self,
        work: Work,
        options: BatchOptions,
        pending: deque[_Task],
        on_start: Callable[[Candidate], None] | None,
    ) -> None:
        import multiprocessing  # noqa: PLC0415 - ~10 ms, only for real batches

        self._ctx: Any = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        self._work = work
        self._options = options
        self._pending = pending
        self._on_start = on_start
        self._slots: list[_Slot] = []

    def start(self, workers: int) -> None:
        """Start ``workers`` worker processes."""
        self._slots.extend(self._spawn() for _ in range(workers))

    def busy(self) -> bool:
        """Whether any file is in flight."""
        return any(s.tasks for s in self._slots)

    def feed(self) -> None:
        """Send pending files to every worker until each has ``_DEPTH`` in flight."""
        now = time.monotonic()
        idle_dead: list[_Slot] = []
        for slot in self._slots:
            while len(slot.tasks) < _DEPTH and self._pending:
                task = self._pending[0]
                try:
                    slot.conn.send(task)
                except OSError:
                    # The worker died after its last report: with a file in flight its
                    # sentinel reports the crash in collect(); idle, it is simply replaced.
                    if not slot.tasks:
                        idle_dead.append(slot)
                    break
                self._pending.popleft()
                slot.tasks.append(task)
                if len(slot.tasks) == 1:
                    slot.started = now
                if self._on_start is not None:
                    self._on_start(task[1])
        for slot in idle_dead:
            self._replace(slot)

    def collect(self) -> list[FileReport]:
        """Wait until a worker reports, dies or overruns its file's time; return the
        reports this settles (crashes and timeouts as ``error`` reports)."""
        from multiprocessing.connection import wait  # noqa: PLC0415

        busy = [s for s in self._slots if s.tasks]
        if not busy:  # every worker died idle and was replaced: nothing in flight yet
            return []
        deadline = min(s.started for s in busy) + self._options.file_timeout
        ready = wait(
            [s.conn for s in busy] + [s.process.sentinel for s in busy],
            timeout=max(0.0, deadline - time.monotonic()),
        )
        now = time.monotonic()
        reports: list[FileReport] = []
        for slot in busy:
            if slot.conn in ready and _receive(slot, now, reports):
                continue
            if slot.conn in ready or slot.process.sentinel in ready:
                reports.append(self._crashed(slot))
            elif now - slot.started > self._options.file_timeout:
                reports.append(self._timed_out(slot, now))
        return reports

    def stop(self) -> None:
        """Ask every worker to finish, then kill those that do not."""
        for slot in self._slots:
            if slot.process.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
            slot.process.join(0.5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)

    def _spawn(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker, args=(child, self._work, self._options), daemon=True
        )
        process.start()
        child.close()
        return _Slot(process, parent)

    def _replace(self, slot: _Slot) -> None:
        """Kill ``slot``'s worker and start a fresh one in its place."""
        slot.process.kill()
        slot.process.join(5)
        slot.conn.close()
        self._slots.remove(slot)
        self._slots.append(self._spawn())

    def _give_back(self, slot: _Slot) -> _Task:
        """The file that failed; those queued behind it go back to the front of the line."""
        while len(slot.tasks) > 1:
            self._pending.appendleft(slot.tasks.pop())
        return slot.tasks[0]

    def _crashed(self, slot: _Slot) -> FileReport:
        code = slot.process.exitcode
        _, candidate = self._give_back(slot)
        self._replace(slot)
        return _error(
            candidate,
            "worker",
            "WorkerCrashed",
            f"the worker reading this file died (exit code {code}); "
            "the file may exhaust memory or crash the reader",
        )

    def _timed_out(self, slot: _Slot, now: float) -> FileReport:
        _, candidate = self._give_back(slot)
        self._replace(slot)
        limit = self._options.file_timeout
        exc = LimitExceeded("seconds per file", limit, round(now - slot.started, 1))
        return _error(candidate, "limits", "Timeout", exc.message)


def _receive(slot: _Slot, now: float, reports: list[FileReport]) -> bool:
    """Take every report waiting on ``slot``'s pipe; ``False`` when the pipe says the
    worker died instead (end of file, or not the report of the file it was reading)."""
    while slot.tasks:
        index = slot.tasks[0][0]
        try:
            got_index, report = slot.conn.recv()
        except (EOFError, OSError):
            return False
        if report is None or got_index != index:
            return False
        slot.tasks.popleft()
        slot.started = now  # the next queued file starts now
        reports.append(report)
        if not slot.conn.poll():
            break
    return True


def run_batch(
    candidates: Sequence[Candidate],
    work: Work,
    options: BatchOptions,
    *,
    on_start: Callable[[Candidate], None] | None = None,
) -> Iterator[FileReport]:
    """``work`` on every candidate in worker processes, each report yielded as it
    completes; every candidate is reported exactly once (ok or error).

    ``on_start`` is called as each file is handed to a worker.  Closing the iterator (or
    an exception such as ``KeyboardInterrupt`` raised through it) stops the workers.
    """
    if not candidates:
        return
    pending: deque[_Task] = deque(enumerate(candidates))
    pool = _Pool(work, options, pending, on_start)
    try:
        pool.start(min(options.workers, len(candidates)))
        while pending or pool.busy():
            pool.feed()
            yield from pool.collect()
    finally:
        pool.stop()
