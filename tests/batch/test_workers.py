"""The worker pool: every file reported exactly once, whatever the workers do (hang, crash,
die between files, run out of memory), with the unit of work passed in."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

from pthforensics.batch import BatchOptions, discover, run_batch
from pthforensics.core import Candidate, FileReport, Status
from pthforensics.pipeline import analyze_candidate
from tests.batch.conftest import names


def _flaky(candidate: Candidate, options: BatchOptions) -> FileReport:
    """Hangs on ``noext``, kills its process on ``broken.pt``, else the real work."""
    if candidate.path.endswith("noext"):
        time.sleep(60)
    if candidate.path.endswith("broken.pt"):
        os._exit(9)
    return analyze_candidate(candidate, options)


def _hog(candidate: Candidate, options: BatchOptions) -> FileReport:
    """Asks for 2 GB; a clean report if it got them (the cap failed)."""
    hoard = [bytearray(1 << 20) for _ in range(2000)]
    return FileReport(candidate.path, Status.OK, size=len(hoard))


def test_every_file_once_with_hang_and_crash(zoo: Path) -> None:
    found, _ = discover([str(zoo)])
    start = time.monotonic()
    reports = list(run_batch(found, _flaky, BatchOptions(jobs=2, timeout=3)))
    assert time.monotonic() - start < 30
    by_name = {os.path.basename(r.path): r for r in reports}
    assert sorted(by_name) == names(found) and len(reports) == len(found)
    assert by_name["noext"].status is Status.ERROR and by_name["noext"].error.type == "Timeout"
    assert by_name["broken.pt"].error.type == "WorkerCrashed"
    assert by_name["photo.jpg"].verdict.value == "malicious"
    assert by_name["lin.pth"].status is Status.OK


def test_worker_killed_between_files(tmp_path: Path) -> None:
    """A worker that dies after a report (OOM killer, kill -9) while the parent is about to
    hand it the next file: the send fails, and the run still reports every file once."""
    import multiprocessing
    import signal

    for i in range(8):
        torch.save({"w": torch.zeros(i + 1)}, tmp_path / f"m{i}.pth")
    found, _ = discover([str(tmp_path)])
    killed: list[int] = []
    reports = []
    for report in run_batch(found, analyze_candidate, BatchOptions(jobs=2, timeout=20)):
        reports.append(report)
        if not killed:
            child = multiprocessing.active_children()[0]
            os.kill(child.pid, signal.SIGKILL)
            child.join(5)
            killed.append(child.pid)
    assert killed
    assert names(reports) == names(found)
    # Whatever the killed worker held is a crash report; everything else was read.
    assert all(r.status is Status.OK or r.error.type == "WorkerCrashed" for r in reports)
    assert sum(r.status is Status.OK for r in reports) >= len(found) - 2


def test_memory_cap_is_an_error_not_a_crash(zoo: Path) -> None:
    found, _ = discover([str(zoo / "a" / "lin.pth")])
    [report] = run_batch(found, _hog, BatchOptions(jobs=1, memory_mb=256))
    assert report.status is Status.ERROR and report.error.stage in ("limits", "worker")


def test_reports_come_as_files_complete(tmp_path: Path) -> None:
    """The first report is yielded while later files are still being read."""
    for i in range(6):
        torch.save({"w": torch.zeros(i + 1)}, tmp_path / f"m{i}.pth")
    found, _ = discover([str(tmp_path)])
    batch = run_batch(found, analyze_candidate, BatchOptions(jobs=1))
    first = next(batch)
    assert first.status is Status.OK
    rest = list(batch)
    assert names([first, *rest]) == names(found)


def test_closing_early_stops_the_workers(tmp_path: Path) -> None:
    import multiprocessing

    for i in range(6):
        torch.save({"w": torch.zeros(i + 1)}, tmp_path / f"m{i}.pth")
    found, _ = discover([str(tmp_path)])
    batch = run_batch(found, analyze_candidate, BatchOptions(jobs=2))
    next(batch)
    assert multiprocessing.active_children()
    batch.close()
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_no_candidates_starts_nothing() -> None:
    assert list(run_batch([], analyze_candidate, BatchOptions())) == []


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"jobs": -1}, "jobs"), ({"memory_mb": 10}, "memory")]
)
def test_options_are_checked(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity masks")
def test_default_workers_follow_the_affinity_mask() -> None:
    """`-j` defaults to the cores the process may use (taskset, container limits)."""
    import subprocess
    import sys

    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from pthforensics.batch import BatchOptions; print(BatchOptions().workers)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_batch_never_imports_the_pipeline() -> None:
    """Imports only go down: no module of ``batch`` imports ``pipeline``, ``cli`` or the
    package's API (the unit of work is passed in)."""
    import ast

    import pthforensics.batch

    folder = Path(pthforensics.batch.__file__).parent
    for module in folder.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert not target.startswith(("..", "pthforensics.pipeline", "pthforensics.cli"))
                assert target != "pthforensics", f"{module.name} imports the package API"
            elif isinstance(node, ast.Import):
                assert all(a.name != "pthforensics.pipeline" for a in node.names)
