"""What runs inside a worker process: the loop that reads files one by one, each with its
output captured (file descriptors 1 and 2) into its report, under a memory cap.

The parent's side (:mod:`.workers`) reads a dead worker's capture file with
:func:`read_output` and words its death with :func:`death`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from pthforensics.core import Candidate, ErrorInfo, FileReport, Status

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .workers import BatchOptions, Work

__all__ = ["death", "error_report", "output_file", "read_output", "worker_main"]

logger = logging.getLogger(__name__)


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


def worker_main(
    conn: Connection,
    work: Work,
    options: BatchOptions,
    capture: int | str | None,
    parent_end: Connection | None = None,
) -> None:
    """A worker's loop: read a task, do ``work``, send the report, until told to stop.
    ``capture``: where its output goes (:func:`output_file`: an inherited descriptor, or
    a path), ``None`` for nowhere special.  ``parent_end``: the parent's end of this
    worker's pipe, which a forked worker inherits: closed here, so the pipe ends when the
    parent dies (killed -9, or a Dask worker killed) and the worker exits instead of
    waiting for a task forever."""
    if parent_end is not None:
        parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for everyone
    captured = _capture_output(capture)
    _cap_memory(options.memory_mb)
    _tune_gc()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        index, candidate = task
        report = _work_on(work, candidate, options)
        if captured:
            text = _take_output(_CAPTURE_FD)
            if text:
                report = replace(report, stderr=text)
        if not _send_report(conn, index, report, candidate):
            return


def _work_on(work: Work, candidate: Candidate, options: BatchOptions) -> FileReport:
    """``work``'s report, or an error report for whatever it raised (it should not)."""
    try:
        return work(candidate, options)
    except MemoryError:
        return error_report(
            candidate,
            "limits",
            "MemoryError",
            f"memory cap of {options.memory_mb} MB per file exceeded",
        )
    except Exception as exc:  # noqa: BLE001 - a bad file never ends the worker
        return error_report(
            candidate, "internal", type(exc).__name__, str(exc) or type(exc).__name__
        )


def _send_report(conn: Connection, index: int, report: FileReport, candidate: Candidate) -> bool:
    """Send ``report`` to the parent; ``False`` when the parent is gone.  A report that
    cannot be sent (it does not pickle) is replaced by an error report saying so."""
    try:
        conn.send((index, report))
    except OSError:
        return False
    except Exception as exc:  # noqa: BLE001 - pickling errors come in many types
        conn.send((index, error_report(candidate, "internal", type(exc).__name__, str(exc))))
    return True


#: The descriptor a worker's standard error (and output) is redirected to.
_CAPTURE_FD = 2
#: Characters of a worker's output kept in one report (its end: tracebacks end there).
_STDERR_KEPT = 4000


def output_file(inherited: bool) -> tuple[int, str | None]:
    """A file for one worker's output: the parent's descriptor to read it, and the path a
    spawned worker opens (``None`` when a forked worker ``inherited`` the descriptor: an
    anonymous memory file, nothing on disk to clean up)."""
    if inherited and hasattr(os, "memfd_create"):
        return os.memfd_create("pthforensics-worker-output"), None
    import tempfile  # noqa: PLC0415 - only where memfd_create is missing

    fd, path = tempfile.mkstemp(prefix="pthforensics-worker-", suffix=".log")
    return fd, path


def _capture_output(capture: int | str | None) -> bool:
    """Send this worker's standard output and error (file descriptors 1 and 2, so C code
    and the interpreter's own messages too) to ``capture``: what a file makes the reader
    print goes into its report, never to the user's terminal or ``--json`` stdout."""
    if capture is None:
        return False
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        fd = capture if isinstance(capture, int) else os.open(capture, os.O_RDWR | os.O_APPEND)
        os.dup2(fd, 1)
        os.dup2(fd, _CAPTURE_FD)
        os.close(fd)
    except OSError:  # pragma: no cover - the parent made the file a moment ago
        return False
    return True


def _take_output(fd: int) -> str | None:
    """What was written to ``fd`` since the last call (its end, capped), then empty it."""
    with contextlib.suppress(ValueError, OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        size = os.fstat(fd).st_size
        if not size:
            return None
        data = os.pread(fd, _STDERR_KEPT, max(0, size - _STDERR_KEPT))
        os.ftruncate(fd, 0)
    except OSError:
        return None
    text = data.decode("utf-8", "replace").strip()
    if size > _STDERR_KEPT:
        text = "[...] " + text
    return text or None


def read_output(fd: int) -> str | None:
    """What a dead worker wrote to its output file (the parent's descriptor ``fd`` of
    :func:`output_file`) since its last report."""
    return _take_output(fd)


def error_report(
    candidate: Candidate, stage: str, kind: str, message: str, stderr: str | None = None
) -> FileReport:
    return FileReport(
        path=candidate.path,
        status=Status.ERROR,
        error=ErrorInfo(stage, kind, message),
        size=candidate.size,
        mtime=candidate.mtime,
        etag=candidate.etag,
        stderr=stderr,
        extra=(("model", candidate.model),) if candidate.model else (),
    )


def death(exitcode: int | None) -> str:
    """How a worker process ended, in words."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}"
    return f"exited with code {exitcode}"
