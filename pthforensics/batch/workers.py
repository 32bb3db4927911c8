"""Parallel batch scanning: worker processes, each file with its own time and memory cap.

A hostile or huge file costs its worker, not the run: a worker that exceeds the time cap
is killed, one that crashes or is killed by the memory cap is replaced, and either way
the file gets an ``error`` report and the run goes on.  Workers are forked once and fed
one file at a time over a pipe (no per-file interpreter start-up).  Reports come back in
completion order through ``on_report`` so the CLI can stream them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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

__all__ = ["BatchOptions", "analyze_candidate", "run_batch"]

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


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask, as ``taskset`` or a container
    sets it), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def analyze_candidate(candidate: Candidate, options: BatchOptions) -> FileReport:
    """The report of one file, as a worker makes it (also used in-process)."""
    from pthforensics.pipeline import analyze_file, inspect_file  # noqa: PLC0415 - workers only

    if options.deep:
        report = inspect_file(candidate.path, limits=options.limits, trace=False, fast=options.fast)
    else:
        report = analyze_file(candidate.path, limits=options.limits, fast=options.fast)
    extra = dict(report.extra)
    if candidate.model:
        extra["model"] = candidate.model
    # Size and mtime as found on disk: --resume matches on them.
    return replace(report, mtime=candidate.mtime, size=candidate.size, extra=tuple(extra.items()))


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


def _worker(conn: Connection, options: BatchOptions) -> None:
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
            report = analyze_candidate(candidate, options)
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


@dataclass
class _Slot:
    process: Any
    conn: Connection
    tasks: deque[tuple[int, Candidate]] = field(default_factory=deque)
    """Files sent to this worker, the one it is reading first."""
    started: float = 0.0
    """When the worker began the first of ``tasks``."""


def _receive(slot: _Slot, now: float, done: Callable[[int, FileReport], None]) -> bool:
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
        done(index, report)
        if not slot.conn.poll():
            break
    return True


#: Files in flight per worker: enough that a worker never waits for the parent (which
#: shares the cores) between files, few enough that little queues behind a slow file.
_DEPTH = 4


def run_batch(
    candidates: Sequence[Candidate],
    options: BatchOptions,
    *,
    on_start: Callable[[Candidate], None] | None = None,
    on_report: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    """Scan every candidate; each appears exactly once in the result (ok or error)."""
    results: list[FileReport | None] = [None] * len(candidates)

    def done(index: int, report: FileReport) -> None:
        results[index] = report
        if on_report is not None:
            on_report(report)

    if not candidates:
        return []
    import multiprocessing  # noqa: PLC0415 - ~10 ms, only for real batches
    from multiprocessing.connection import wait  # noqa: PLC0415

    ctx: Any = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    pending = deque(enumerate(candidates))
    slots: list[_Slot] = []

    def spawn() -> _Slot:
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker, args=(child, options), daemon=True)
        process.start()
        child.close()
        return _Slot(process, parent)

    def retire(slot: _Slot) -> None:
        slot.process.kill()
        slot.process.join(5)
        slot.conn.close()
        slots.remove(slot)

    def give_back(slot: _Slot) -> None:
        """Tasks queued behind the one that failed go back to the front of the line."""
        while len(slot.tasks) > 1:
            pending.appendleft(slot.tasks.pop())

    try:
        slots.extend(spawn() for _ in range(min(options.workers, len(candidates))))
        while pending or any(s.tasks for s in slots):
            now = time.monotonic()
            idle_dead: list[_Slot] = []
            for slot in slots:
                # Several files in flight per worker (see _DEPTH).
                while len(slot.tasks) < _DEPTH and pending:
                    task = pending[0]
                    try:
                        slot.conn.send(task)
                    except OSError:
                        # The worker died after its last report: with a file in flight its
                        # sentinel reports the crash below; idle, it is simply replaced.
                        if not slot.tasks:
                            idle_dead.append(slot)
                        break
                    pending.popleft()
                    slot.tasks.append(task)
                    if len(slot.tasks) == 1:
                        slot.started = now
                    if on_start is not None:
                        on_start(task[1])
            for slot in idle_dead:
                retire(slot)
                slots.append(spawn())
            busy = [s for s in slots if s.tasks]
            timeout = max(
                0.0, min(s.started + options.file_timeout for s in busy) - time.monotonic()
            )
            ready = wait(
                [s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=timeout
            )
            now = time.monotonic()
            for slot in list(busy):
                if slot.conn in ready and _receive(slot, now, done):
                    continue
                index, candidate = slot.tasks[0]
                if slot.conn in ready or slot.process.sentinel in ready:
                    code = slot.process.exitcode
                    give_back(slot)
                    retire(slot)
                    done(
                        index,
                        _error(
                            candidate,
                            "worker",
                            "WorkerCrashed",
                            f"the worker reading this file died (exit code {code}); "
                            "the file may exhaust memory or crash the reader",
                        ),
                    )
                    slots.append(spawn())
                elif now - slot.started > options.file_timeout:
                    give_back(slot)
                    retire(slot)
                    exc = LimitExceeded(
                        "seconds per file", options.file_timeout, round(now - slot.started, 1)
                    )
                    done(index, _error(candidate, "limits", "Timeout", exc.message))
                    slots.append(spawn())
    finally:
        for slot in slots:
            if slot.process.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
            slot.process.join(0.5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1)
    return [r for r in results if r is not None]
