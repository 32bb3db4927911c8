"""The Dask executor on a real cluster on 127.0.0.1: a scheduler and worker processes
(``LocalCluster(processes=True)``, and ``--dask local:N``), the same reports as the local
pool, also when a worker is killed mid-run, with the per-file time and memory caps."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pthforensics.batch import BatchOptions, DaskExecutor, run_batch, start_tree_scan
from pthforensics.batch.cluster import _reports
from pthforensics.core import Candidate, FileReport
from pthforensics.pipeline import analyze_candidate
from tests._remote_zoo import by_name, scan_jsonl, storage_args
from tests.batch import _dask_work


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any]]:
    """A scheduler (in this process) and two worker processes, one thread each."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # a free port (None means 8787: clashes)
        ) as local,
        Client(local) as client,
    ):
        yield local, client


def _benign(tmp_path: Path, count: int) -> list[str]:
    """``count`` copies of corpus files (distinct names), sorted."""
    from tests._helpers import CORPUS

    sources = sorted(p for p in (CORPUS / "benign").iterdir() if p.suffix in {".pt", ".pth"})
    paths = []
    for i in range(count):
        src = sources[i % len(sources)]
        dst = tmp_path / f"{i:03d}_{src.name}"
        shutil.copy(src, dst)
        paths.append(str(dst))
    return paths


def test_a_bucket_scanned_on_local_dask_workers_matches_the_local_pool(
    s3_zoo: tuple[str, list[str]],
    remote_zoo: Path,
    zoo_local_reports: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    url, options = s3_zoo
    reports = scan_jsonl(
        tmp_path / "dask.jsonl", [url], "--dask", "local:2", *storage_args(options)
    )
    mine, theirs = by_name(reports, url), by_name(zoo_local_reports, str(remote_zoo))
    assert sorted(mine) == sorted(theirs)
    assert [name for name in theirs if mine[name] != theirs[name]] == []


def test_a_killed_worker_loses_no_file(cluster: tuple[Any, Any], tmp_path: Path) -> None:
    local, client = cluster
    (tmp_path / "files").mkdir()
    files = _benign(tmp_path / "files", 24)
    markers = tmp_path / "markers"
    markers.mkdir()
    options = BatchOptions(jobs=1)
    work = functools.partial(_dask_work.slow, markers, 0.15)
    candidates = [Candidate(p, None, None) for p in files]
    expected = {r.path: r for r in run_batch(candidates, analyze_candidate, options)}
    tree = start_tree_scan(files, work, options, executor=DaskExecutor(local.scheduler_address))
    pids = set(client.run(os.getpid).values())
    got: list[FileReport] = []
    killed = None
    orphans: list[Any] = []
    with tree:
        for report in tree:
            got.append(report)
            if killed is None:
                killed, orphans = _kill_a_busy_worker(markers, pids, {r.path for r in got})
    assert killed is not None and orphans
    # The killed worker's own reader process (per task) does not outlive it.
    import psutil

    _, alive = psutil.wait_procs(orphans, timeout=20)
    assert alive == []
    assert sorted(r.path for r in got) == sorted(files)  # every file, once
    strip = {"seconds", "mtime", "size"}
    by_path = {r.path: r for r in got}
    assert [p for p in files if _without(by_path[p], strip) != _without(expected[p], strip)] == []
    # The killed worker had started a file that another worker then read again.
    started = {}
    for marker in markers.iterdir():
        name, pid = marker.name.rsplit("@", 1)
        started.setdefault(name, set()).add(int(pid))
    assert any(killed in pids_ and len(pids_) > 1 for pids_ in started.values())


def _kill_a_busy_worker(
    markers: Path, pids: set[int], reported: set[str]
) -> tuple[int | None, list[Any]]:
    """SIGKILL a Dask worker that started a file not reported yet and is reading one now
    (it has a per-task worker process: a worker between two files is not killed, the
    caller tries again at the next report); its pid and the processes it had started."""
    import psutil

    for marker in sorted(markers.iterdir()):
        name, pid = marker.name.rsplit("@", 1)
        if int(pid) in pids and not any(path.endswith("/" + name) for path in reported):
            children = psutil.Process(int(pid)).children(recursive=True)
            if not children:
                continue
            os.kill(int(pid), signal.SIGKILL)
            return int(pid), children
    return None, []


def _without(report: FileReport, fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in report.to_dict().items() if k not in fields}


def test_the_per_file_limits_hold_on_dask_workers(cluster: tuple[Any, Any], tmp_path: Path) -> None:
    local, _ = cluster
    from tests._helpers import CORPUS

    good = CORPUS / "benign" / "state_dict.pt"
    for name in ("hang.pt", "hog.pt", "fine.pt"):
        shutil.copy(good, tmp_path / name)
    options = BatchOptions(jobs=1, timeout=3, memory_mb=256)
    tree = start_tree_scan(
        [tmp_path], _dask_work.misbehave, options, executor=DaskExecutor(local.scheduler_address)
    )
    with tree:
        reports = {Path(r.path).name: r for r in tree}
    assert sorted(reports) == ["fine.pt", "hang.pt", "hog.pt"]
    assert reports["fine.pt"].verdict is not None
    hang, hog = reports["hang.pt"].error, reports["hog.pt"].error
    assert hang is not None and (hang.stage, hang.type) == ("limits", "Timeout")
    assert hog is not None and hog.stage == "limits" and "memory" in hog.message


def test_a_task_that_keeps_failing_gives_error_reports() -> None:
    from distributed import KilledWorker

    class Failed:
        def result(self) -> Any:
            worker = types.SimpleNamespace(address="tcp://127.0.0.1:1")
            raise KilledWorker("task", worker, 3)

    chunk = (
        Candidate("s3://b/a.pt", 10, None, None, etag="e1"),
        Candidate("s3://b/b.pt", 20, None),
    )
    reports = _reports(Failed(), chunk)
    assert [r.path for r in reports] == ["s3://b/a.pt", "s3://b/b.pt"]
    assert all(r.error is not None and r.error.type == "KilledWorker" for r in reports)
    assert reports[0].etag == "e1" and reports[1].size == 20
