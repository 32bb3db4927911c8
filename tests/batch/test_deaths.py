"""Worker deaths at every moment: before any file (idle), while the parent sends a file,
while the worker sends its report back, while it reads a file, and at random.  Each run
reports every candidate exactly once and ends; what a worker prints goes into the report
of the file it was reading, never to the terminal."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from pthforensics.batch import BatchOptions, run_batch
from pthforensics.batch import child as child_module
from pthforensics.batch import workers as workers_module
from pthforensics.core import Candidate, FileReport, Format, Status, Verdict

OPTIONS = BatchOptions(jobs=2, timeout=20, memory_mb=None)


def _candidates(tmp_path: Path, n: int) -> list[Candidate]:
    out = []
    for i in range(n):
        path = tmp_path / f"f{i:03d}.pt"
        path.write_bytes(b"x")
        out.append(Candidate(str(path), 1, 0.0))
    return out


def _fine(candidate: Candidate, options: BatchOptions) -> FileReport:
    """A clean report, without reading anything."""
    return FileReport(candidate.path, Status.OK, Format.PICKLE, Verdict.CLEAN)


def _first_time(candidate: Candidate) -> bool:
    """True the first time a file is worked on (a marker file remembers it)."""
    marker = Path(candidate.path + ".tried")
    if marker.exists():
        return False
    marker.write_text("")
    return True


def _dies_once_on_f001(candidate: Candidate, options: BatchOptions) -> FileReport:
    if candidate.path.endswith("f001.pt") and _first_time(candidate):
        os.kill(os.getpid(), signal.SIGKILL)
    return _fine(candidate, options)


def _always_dies_on_f001(candidate: Candidate, options: BatchOptions) -> FileReport:
    if candidate.path.endswith("f001.pt"):
        os.write(2, b"SystemError: deallocated bytearray object has exported buffers\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return _fine(candidate, options)


def _prints(candidate: Candidate, options: BatchOptions) -> FileReport:
    """Writes to both descriptors the way C code and the interpreter do."""
    os.write(2, f"C-level noise about {os.path.basename(candidate.path)}\n".encode())
    os.write(1, b"stdout noise\n")
    return _fine(candidate, options)


def _check_once(reports: list[FileReport], candidates: list[Candidate]) -> dict[str, FileReport]:
    paths = [r.path for r in reports]
    assert sorted(paths) == sorted(c.path for c in candidates)  # each exactly once
    return {os.path.basename(r.path): r for r in reports}


def test_every_worker_dead_while_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All workers die before the first file is sent: the sends fail, fresh workers take
    over, and the run completes (it once raised "min() arg is an empty sequence")."""
    start = workers_module._Pool.start

    def start_then_kill(self: workers_module._Pool, workers: int) -> None:
        start(self, workers)
        for slot in self._slots:
            slot.process.kill()
            slot.process.join(5)

    monkeypatch.setattr(workers_module._Pool, "start", start_then_kill)
    candidates = _candidates(tmp_path, 10)
    by_name = _check_once(list(run_batch(candidates, _fine, OPTIONS)), candidates)
    assert all(r.status is Status.OK for r in by_name.values())


def test_worker_dies_while_the_parent_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third send finds its worker dead (killed just before): the files already in
    flight on it go back in line and are read by a fresh worker."""
    send = workers_module._send_task
    calls = []

    def send_after_kill(slot: workers_module._Slot, task: tuple[int, Candidate]) -> None:
        calls.append(task)
        if len(calls) == 3:
            slot.process.kill()
            slot.process.join(5)
        send(slot, task)

    monkeypatch.setattr(workers_module, "_send_task", send_after_kill)
    candidates = _candidates(tmp_path, 12)
    by_name = _check_once(list(run_batch(candidates, _fine, OPTIONS)), candidates)
    assert all(r.status is Status.OK for r in by_name.values())


def test_worker_dies_while_sending_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker writes half of a report, then dies: the parent reads a message cut
    short, the file is tried again on a fresh worker and succeeds."""
    import struct

    def send_half_then_die(conn, index, report, candidate):  # type: ignore[no-untyped-def]
        if candidate.path.endswith("f002.pt") and _first_time(candidate):
            from multiprocessing.reduction import ForkingPickler

            payload = bytes(ForkingPickler.dumps((index, report)))
            os.write(conn.fileno(), struct.pack("!i", len(payload)) + payload[: len(payload) // 2])
            os._exit(9)
        conn.send((index, report))
        return True

    monkeypatch.setattr(child_module, "_send_report", send_half_then_die)
    candidates = _candidates(tmp_path, 8)
    by_name = _check_once(list(run_batch(candidates, _fine, OPTIONS)), candidates)
    assert all(r.status is Status.OK for r in by_name.values())


def test_worker_dies_mid_file_once_then_succeeds(tmp_path: Path) -> None:
    """A death that is not the file's doing (it does not happen again) costs one retry."""
    candidates = _candidates(tmp_path, 8)
    reports = list(run_batch(candidates, _dies_once_on_f001, OPTIONS))
    by_name = _check_once(reports, candidates)
    assert all(r.status is Status.OK for r in by_name.values())


def test_worker_dies_mid_file_every_time(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A file that kills its reader twice is an error report saying how the worker died,
    with what it printed; the terminal sees none of it."""
    candidates = _candidates(tmp_path, 8)
    by_name = _check_once(list(run_batch(candidates, _always_dies_on_f001, OPTIONS)), candidates)
    bad = by_name.pop("f001.pt")
    assert bad.status is Status.ERROR and bad.error is not None
    assert bad.error.type == "WorkerCrashed"
    assert "killed by SIGKILL, 2 times" in bad.error.message
    assert bad.stderr is not None and "deallocated bytearray" in bad.stderr
    assert all(r.status is Status.OK for r in by_name.values())
    out, err = capfd.readouterr()
    assert "deallocated" not in out + err


def test_what_workers_print_goes_into_the_report(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    candidates = _candidates(tmp_path, 6)
    by_name = _check_once(list(run_batch(candidates, _prints, OPTIONS)), candidates)
    for name, report in by_name.items():
        assert report.stderr is not None
        assert f"C-level noise about {name}" in report.stderr and "stdout noise" in report.stderr
        assert report.stderr.count("noise about") == 1  # each file gets only its own
    out, err = capfd.readouterr()
    assert "noise" not in out + err


def test_random_kills_lose_nothing(tmp_path: Path) -> None:
    """A thread SIGKILLs a random worker every 30 ms while 60 files are read: each file is
    reported once, as read or as a crash, and the run ends."""
    import multiprocessing

    candidates = _candidates(tmp_path, 60)
    stop = threading.Event()
    rng = random.Random(12)

    def killer() -> None:
        while not stop.wait(0.03):
            children = [p for p in multiprocessing.active_children() if p.is_alive()]
            if children:
                os.kill(rng.choice(children).pid, signal.SIGKILL)

    def slow(candidate: Candidate, options: BatchOptions) -> FileReport:
        time.sleep(0.01)
        return _fine(candidate, options)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        reports = list(run_batch(candidates, slow, OPTIONS))
    finally:
        stop.set()
        thread.join()
    by_name = _check_once(reports, candidates)
    for report in by_name.values():
        assert report.status is Status.OK or (
            report.error is not None and report.error.type in ("WorkerCrashed", "WorkerUnavailable")
        )
    assert sum(r.status is Status.OK for r in reports) > 0


def _exit_at_once(*args: object) -> None:
    os._exit(3)


def test_workers_that_never_live_end_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker exits as it starts: after a bounded number of attempts the remaining
    files are error reports, and the run ends instead of spinning."""
    monkeypatch.setattr(workers_module, "worker_main", _exit_at_once)
    candidates = _candidates(tmp_path, 5)
    start = time.monotonic()
    reports = list(run_batch(candidates, _fine, OPTIONS))
    assert time.monotonic() - start < 30
    by_name = _check_once(reports, candidates)
    for report in by_name.values():
        assert report.status is Status.ERROR and report.error is not None
        assert report.error.type in ("WorkerUnavailable", "WorkerCrashed")
