"""Parallel batch scanning: worker processes, each file with its own time and memory cap.

A hostile or huge file costs its worker, not the run: a worker that exceeds the time cap
is killed, one that crashes or is killed by the memory cap is replaced (the file is tried
once more on a fresh worker, in case the death was not its doing), and either way the file
gets an ``error`` report and the run goes on.  What a worker prints (the interpreter's own
messages, C libraries, warnings) goes into the report of the file it was reading, never
to the user's terminal.  Workers are forked once and fed
a few files at a time over a pipe (no per-file interpreter start-up).  Reports are
yielded in completion order, so a caller can stream them.

What a worker does with a file is the caller's: a :data:`Work` function, module-level and
picklable (``pipeline.analyze_candidate``), so this module never imports the pipeline and
the same unit of work can be handed to another executor.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

from pthforensics.container import StorageOptions
from pthforensics.core import DEFAULT_LIMITS, Candidate, FileReport, LimitExceeded, Limits

from .child import death, error_report, output_file, read_output, worker_main

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
    storage: StorageOptions = ()
    """Options of the file systems of URLs (``--storage-option``), sent to every worker."""

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


#: Files in flight per worker: enough that a worker never waits for the parent (which
#: shares the cores) between files, few enough that little queues behind a slow file.
_DEPTH = 4
#: Times a file is handed to a worker that then dies: the first death may not be the
#: file's doing (a worker killed from outside, idle or just handed the file).
_ATTEMPTS = 2
#: Workers that die without a file (idle), or fail to start, in a row before the run
#: stops waiting for them: the remaining files then get error reports.
_FUTILE_SPAWNS = 8

_Task = tuple[int, Candidate]


@dataclass
class _Slot:
    process: Any
    conn: Connection
    output_fd: int
    """The parent's descriptor of the worker's output file."""
    output_path: str | None
    """That file's path, when it has one (removed with the worker)."""
    tasks: deque[_Task] = field(default_factory=deque)
    """Files sent to this worker, the one it is reading first."""
    started: float = 0.0
    """When the worker began the first of ``tasks``."""


def _send_task(slot: _Slot, task: _Task) -> None:
    """Hand ``task`` to ``slot``'s worker (raises ``OSError`` when it is dead)."""
    slot.conn.send(task)


class _Pool:
    """Worker processes and the files in flight on each; the parent's side of the pipes.

    One round is :meth:`feed` (fill every worker up to ``_DEPTH`` files) then
    :meth:`collect` (wait for a report, a death or a timeout, and settle each).  A worker
    may die at any moment (idle, while a file is sent to it, while it reads or reports
    one): its files go back in line, the one it was reading is tried once more on a fresh
    worker, then reported as an error with what the worker printed.
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
        self._crashes: dict[int, int] = {}
        self._futile = 0
        self._last_failure = ""

    def start(self, workers: int) -> None:
        """Start ``workers`` worker processes (fewer if the system refuses some)."""
        for _ in range(workers):
            self._add_worker()

    def busy(self) -> bool:
        """Whether any file is in flight."""
        return any(s.tasks for s in self._slots)

    def starved(self) -> list[FileReport]:
        """Error reports for every pending file when no worker can be kept alive (they
        die idle or cannot start, ``_FUTILE_SPAWNS`` times in a row); else nothing."""
        if not self._pending or (self._slots and self._futile < _FUTILE_SPAWNS):
            return []
        if not self._slots and self._futile < _FUTILE_SPAWNS and self._add_worker():
            return []
        message = (
            "not read: worker processes keep dying before reading any file"
            f"{f' ({self._last_failure})' if self._last_failure else ''}"
        )
        reports = [
            error_report(c, "worker", "WorkerUnavailable", message) for _, c in self._pending
        ]
        self._pending.clear()
        return reports

    def feed(self) -> None:
        """Send pending files to every worker until each has ``_DEPTH`` in flight."""
        now = time.monotonic()
        idle_dead: list[_Slot] = []
        for slot in self._slots:
            while len(slot.tasks) < _DEPTH and self._pending:
                task = self._pending[0]
                try:
                    _send_task(slot, task)
                except (OSError, ValueError):
                    # The worker died: with a file in flight its sentinel reports the
                    # crash in collect(); idle, it is simply replaced.
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
            self._futile += 1
            self._last_failure = f"a worker {death(slot.process.exitcode)} while idle"
            self._replace(slot)

    def collect(self) -> list[FileReport]:
        """Wait until a worker reports, dies or overruns its file's time; return the
        reports this settles (crashes and timeouts as ``error`` reports)."""
        busy = [s for s in self._slots if s.tasks]
        if not busy:  # every worker died idle and was replaced: nothing in flight yet
            return []
        deadline = min(s.started for s in busy) + self._options.file_timeout
        ready = _ready(
            [s.conn for s in busy] + [s.process.sentinel for s in busy],
            max(0.0, deadline - time.monotonic()),
        )
        now = time.monotonic()
        reports: list[FileReport] = []
        for slot in busy:
            answered = slot.conn in ready
            if answered and _receive(slot, now, reports):
                self._futile = 0
                continue
            if answered or slot.process.sentinel in ready:
                crashed = self._crashed(slot)
                if crashed is not None:
                    reports.append(crashed)
            elif now - slot.started > self._options.file_timeout:
                reports.append(self._timed_out(slot, now))
        return reports

    def stop(self) -> None:
        """Ask every worker to finish, then kill those that do not."""
        for slot in self._slots:
            if slot.process.is_alive():
                with contextlib.suppress(OSError, ValueError):
                    slot.conn.send(None)
        for slot in self._slots:
            slot.process.join(0.5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)
            _discard(slot)
        self._slots.clear()

    def _add_worker(self) -> bool:
        """Start one more worker; ``False`` (counted as futile) when the system refuses."""
        fork = self._ctx.get_start_method() == "fork"
        fd, path = -1, None
        try:
            fd, path = output_file(inherited=fork)
            parent, child = self._ctx.Pipe()
            capture = fd if fork and path is None else path
            process = self._ctx.Process(
                target=worker_main,
                args=(child, self._work, self._options, capture, parent),
                daemon=True,
            )
            process.start()
            child.close()
        except OSError as exc:
            logger.warning("could not start a worker process: %s", exc)
            _close_output(fd, path)
            self._futile += 1
            self._last_failure = f"could not start one: {exc}"
            return False
        self._slots.append(_Slot(process, parent, fd, path))
        return True

    def _replace(self, slot: _Slot) -> None:
        """Kill ``slot``'s worker and start a fresh one in its place."""
        slot.process.kill()
        slot.process.join(5)
        _discard(slot)
        self._slots.remove(slot)
        self._add_worker()

    def _give_back(self, slot: _Slot) -> _Task:
        """The file that failed; those queued behind it go back to the front of the line."""
        while len(slot.tasks) > 1:
            self._pending.appendleft(slot.tasks.pop())
        return slot.tasks[0]

    def _crashed(self, slot: _Slot) -> FileReport | None:
        """The worker died with files in flight: the first goes back in line for one more
        attempt on a fresh worker, or (its last attempt) gets an error report."""
        task = self._give_back(slot)
        slot.process.join(1)
        how = death(slot.process.exitcode)
        output = read_output(slot.output_fd)
        self._replace(slot)
        index, candidate = task
        self._crashes[index] = crashes = self._crashes.get(index, 0) + 1
        if crashes < _ATTEMPTS:
            logger.info("%s: its worker %s; trying once more", candidate.path, how)
            self._pending.appendleft(task)
            return None
        return error_report(
            candidate,
            "worker",
            "WorkerCrashed",
            f"the worker reading this file {how}, {crashes} times; the file may exhaust "
            "memory or crash the reader" + (" (its output is in stderr)" if output else ""),
            output,
        )

    def _timed_out(self, slot: _Slot, now: float) -> FileReport:
        _, candidate = self._give_back(slot)
        output = read_output(slot.output_fd)
        self._replace(slot)
        limit = self._options.file_timeout
        exc = LimitExceeded("seconds per file", limit, round(now - slot.started, 1))
        return error_report(candidate, "limits", "Timeout", exc.message, output)


def _discard(slot: _Slot) -> None:
    """Close the parent's end of ``slot``'s pipe and its output file."""
    with contextlib.suppress(OSError):
        slot.conn.close()
    _close_output(slot.output_fd, slot.output_path)


def _close_output(fd: int, path: str | None) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _receive(slot: _Slot, now: float, reports: list[FileReport]) -> bool:
    """Take every report waiting on ``slot``'s pipe; ``False`` when the pipe says the
    worker died instead (end of file, a message cut short, or not the report of the file
    it was reading)."""
    while slot.tasks:
        index = slot.tasks[0][0]
        try:
            got_index, report = slot.conn.recv()
        except Exception:  # noqa: BLE001 - EOF, a cut message: the worker is gone
            return False
        if report is None or got_index != index:
            return False
        slot.tasks.popleft()
        slot.started = now  # the next queued file starts now
        reports.append(report)
        if not _ready([slot.conn], 0.0):
            break
    return True


def _ready(objects: list[Any], timeout: float) -> list[Any]:
    """Those of ``objects`` (pipe ends, process sentinels) that can be read or are closed,
    waiting up to ``timeout`` seconds for one: ``multiprocessing.connection.wait``, with
    one ``poll`` object per call instead of a selector (which costs ~30 us a call, twice
    per report)."""
    if not hasattr(select, "poll"):  # pragma: no cover - not Linux
        from multiprocessing.connection import wait  # noqa: PLC0415

        return wait(objects, timeout)
    poller = select.poll()
    for obj in objects:
        poller.register(obj, select.POLLIN)
    fds = {fd for fd, _ in poller.poll(math.ceil(timeout * 1e3) if timeout > 0 else 0)}
    return [obj for obj in objects if (obj if isinstance(obj, int) else obj.fileno()) in fds]


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
            yield from pool.starved()
            pool.feed()
            yield from pool.collect()
    finally:
        pool.stop()
