"""Batch runs: discovery, shards, workers that hang or die, resume, exactly-once output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from pthforensics import pipeline
from pthforensics.batch.discover import discover, model_name
from pthforensics.batch.workers import BatchOptions, run_batch
from pthforensics.cli import main
from pthforensics.core import Status

EVIL = b"\x80\x02cposix\nsystem\nX\x17\x00\x00\x00echo pthforensics-batchq\x00\x85R."


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    root = tmp_path / "zoo"
    (root / "a" / "b").mkdir(parents=True)
    torch.save(torch.nn.Linear(3, 2).state_dict(), root / "a" / "lin.pth")
    (root / "a" / "b" / "photo.jpg").write_bytes(EVIL)
    (root / "a" / "noext").write_bytes((root / "a" / "lin.pth").read_bytes())
    (root / "readme.md").write_text("# not a model")
    (root / ".hidden").mkdir()
    torch.save({}, root / ".hidden" / "skip.pth")
    (root / "broken.pt").write_bytes(b"\x80\x02}q\x00(X\x01")
    return root


def _names(candidates) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(os.path.basename(c.path) for c in candidates)


def test_discovery_by_content(zoo: Path) -> None:
    found, _ = discover([str(zoo)])
    assert _names(found) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]
    found, _ = discover([str(zoo)], include_hidden=True, exclude=["*.jpg"])
    assert _names(found) == ["broken.pt", "lin.pth", "noext", "skip.pth"]


def test_symlink_outside_root_not_followed(zoo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    torch.save({}, outside / "secret.pth")
    (zoo / "link").symlink_to(outside, target_is_directory=True)
    (zoo / "inside-link.pth").symlink_to(zoo / "a" / "lin.pth")
    found, _ = discover([str(zoo)])
    assert "secret.pth" not in _names(found)
    # the same file reached twice is reported once
    assert sum(n in ("lin.pth", "inside-link.pth") for n in _names(found)) == 1


def test_hf_cache_and_shards(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    blobs = tmp_path / "hub" / "models--acme--tiny" / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir(parents=True)
    weight_map = {}
    for i in range(2):
        blob = blobs / f"hash{i}"
        save_file({f"layer{i}.weight": torch.zeros(2, 2)}, blob)
        (snap / f"model-0000{i + 1}-of-00003.safetensors").symlink_to(blob)
        weight_map[f"layer{i}.weight"] = f"model-0000{i + 1}-of-00003.safetensors"
    weight_map["layer2.weight"] = "model-00003-of-00003.safetensors"  # missing shard
    (snap / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    found, groups = discover([str(tmp_path / "hub")])
    assert len(found) == 2 and all(c.model == "acme/tiny" for c in found)
    assert all("snapshots" in c.path for c in found)  # the readable name, not the blob
    [group] = groups
    assert group.name == "acme/tiny" and len(group.shards) == 3 and len(group.missing) == 1
    out = tmp_path / "o.json"
    assert main(["scan", "--json", "-o", str(out), str(tmp_path / "hub")]) == 0
    doc = json.loads(out.read_text())
    [model] = doc["summary"]["models"]
    assert model["status"] == "error" and model["shard_tensors"] == 2
    assert model_name(str(snap / "x.bin")) == "acme/tiny"


def test_every_file_once_with_hang_and_crash(zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pipeline.analyze_file

    def flaky(path: str, **kwargs):  # type: ignore[no-untyped-def]
        if path.endswith("noext"):
            time.sleep(60)
        if path.endswith("broken.pt"):
            os._exit(9)
        return real(path, **kwargs)

    monkeypatch.setattr(pipeline, "analyze_file", flaky)
    found, _ = discover([str(zoo)])
    start = time.monotonic()
    reports = run_batch(found, BatchOptions(jobs=2, timeout=3))
    assert time.monotonic() - start < 30
    by_name = {os.path.basename(r.path): r for r in reports}
    assert sorted(by_name) == _names(found)
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

    def kill_a_worker(report: object) -> None:
        if not killed:
            child = multiprocessing.active_children()[0]
            os.kill(child.pid, signal.SIGKILL)
            child.join(5)
            killed.append(child.pid)

    reports = run_batch(found, BatchOptions(jobs=2, timeout=20), on_report=kill_a_worker)
    assert killed
    assert sorted(os.path.basename(r.path) for r in reports) == _names(found)
    # Whatever the killed worker held is a crash report; everything else was read.
    assert all(r.status is Status.OK or r.error.type == "WorkerCrashed" for r in reports)
    assert sum(r.status is Status.OK for r in reports) >= len(found) - 2


def test_memory_cap_is_an_error_not_a_crash(zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def hog(path: str, **kwargs):  # type: ignore[no-untyped-def]
        return [bytearray(1 << 20) for _ in range(2000)]  # 2 GB

    monkeypatch.setattr(pipeline, "analyze_file", hog)
    found, _ = discover([str(zoo / "a" / "lin.pth")])
    [report] = run_batch(found, BatchOptions(jobs=1, memory_mb=256))
    assert report.status is Status.ERROR and report.error.stage in ("limits", "worker")


def test_jsonl_resume_and_csv(zoo: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "run.jsonl"
    assert main(["scan", "-j", "2", "--jsonl", str(jsonl), str(zoo)]) == 1
    first = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(first) == 4 and len({r["path"] for r in first}) == 4
    # Simulate an interrupted run: keep two lines, resume into the same file.
    jsonl.write_text("\n".join(jsonl.read_text().splitlines()[:2]) + '\n{"trunc')
    csv = tmp_path / "s.csv"
    assert (
        main(["scan", "--resume", str(jsonl), "--jsonl", str(jsonl), "--csv", str(csv), str(zoo)])
        == 1
    )
    lines = [line for line in jsonl.read_text().splitlines() if line.startswith('{"schema')]
    assert len({json.loads(line)["path"] for line in lines}) == 4 and len(lines) == 4
    assert len(csv.read_text().splitlines()) == 5


def test_deep_adds_layers(zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep.json"
    main(["scan", "--deep", "--json", "-o", str(out), str(zoo / "a" / "lin.pth")])
    [report] = json.loads(out.read_text())["reports"]
    assert report["layers"] and report["layers"][0]["type"] == "Linear"
    assert report["input"]["status"] in ("fixed", "free", "unknown")


def test_fifo_neither_hangs_discovery_nor_a_scan(tmp_path: Path) -> None:
    folder = tmp_path / "zoo"
    folder.mkdir()
    os.mkfifo(folder / "pipe.pth")
    torch.save({}, folder / "ok.pth")
    found, _ = discover([str(folder)])
    assert _names(found) == ["ok.pth"]
    # Named explicitly, it is an error report, not a blocked read.
    assert main(["scan", str(folder / "pipe.pth")]) == 2


def test_symlink_cycle_terminates(zoo: Path) -> None:
    (zoo / "a" / "loop").symlink_to(zoo, target_is_directory=True)
    found, _ = discover([str(zoo)])
    assert _names(found) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity masks")
def test_default_workers_follow_the_affinity_mask() -> None:
    """`-j` defaults to the cores the process may use (taskset, container limits)."""
    import subprocess
    import sys

    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from pthforensics.batch.workers import BatchOptions; print(BatchOptions().workers)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
