"""The CLI through main([...]): exit codes, JSON contract, streaming, torch-free scan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pthforensics import __version__
from pthforensics.cli import main

EVIL = b"cos\nsystem\n(S'echo pthforensics-test'\ntR."


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    import torch

    folder = tmp_path / "zoo"
    (folder / "nested").mkdir(parents=True)
    torch.save(torch.nn.Linear(4, 2).state_dict(), folder / "good.pth")
    (folder / "nested" / "evil.jpg").write_bytes(EVIL)
    (folder / "notes.txt").write_text("not a checkpoint")
    return folder


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out


def test_scan_folder_json_contract(zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--json", str(zoo)]) == 1
    doc = _json(capsys)
    assert doc["schema_version"] == 1
    by_name = {Path(r["path"]).name: r for r in doc["reports"]}
    assert set(by_name) == {"good.pth", "evil.jpg"}  # found by content, text file skipped
    good, evil = by_name["good.pth"], by_name["evil.jpg"]
    for report in (good, evil):
        assert {
            "schema_version",
            "path",
            "status",
            "format",
            "verdict",
            "findings",
            "tensors",
            "error",
        } <= set(report)
    assert good["verdict"] == "clean" and good["tensors"]["count"] == 2
    assert good["tensors"]["parameters"] == 10
    assert evil["verdict"] == "malicious" and evil["format"] == "pickle"
    finding = evil["findings"][0]
    assert finding["severity"] == "malicious" and "os.system" in finding["location"]
    assert doc["summary"]["exit_code"] == 1


def test_fail_on_malicious_ignores_suspicious(tmp_path: Path) -> None:
    path = tmp_path / "s.pkl"
    path.write_bytes(b"\x80\x02cmypkg.models\nNet\n)\x81.")
    assert main(["scan", str(path)]) == 1
    assert main(["scan", "--fail-on", "malicious", str(path)]) == 0


def test_error_exit_and_one_line_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    assert main(["scan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "empty.pth" in err and "Traceback" not in err


def test_findings_outrank_errors(zoo: Path, tmp_path: Path) -> None:
    (zoo / "broken.pth").write_bytes(b"PK\x03\x04garbage")
    assert main(["scan", "--json", "-o", str(tmp_path / "o.json"), str(zoo)]) == 1
    doc = json.loads((tmp_path / "o.json").read_text())
    assert {r["status"] for r in doc["reports"]} == {"ok", "error"}


def test_jsonl_streams_every_file(zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    main(["scan", "--jsonl", str(out), str(zoo)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(Path(r["path"]).name for r in lines) == ["evil.jpg", "good.pth"]


def test_missing_path_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope.pth")]) == 2
    assert "nope.pth" in capsys.readouterr().err


def test_scan_never_imports_torch(zoo: Path) -> None:
    """The static path runs with torch made unimportable."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from pthforensics.cli import main\n"
        f"rc = main(['scan', '--json', '-o', '/dev/null', {str(zoo)!r}])\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 1, result.stderr


# --- scanning folders: shards, resume, CSV, --deep, special files, Ctrl-C ---------------


def test_sharded_model_in_the_summary(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    weight_map = {}
    for i in range(2):
        name = f"model-0000{i + 1}-of-00003.safetensors"
        save_file({f"layer{i}.weight": torch.zeros(2, 2)}, snap / name)
        weight_map[f"layer{i}.weight"] = name
    weight_map["layer2.weight"] = "model-00003-of-00003.safetensors"  # missing shard
    (snap / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    out = tmp_path / "o.json"
    assert main(["scan", "--json", "-o", str(out), str(tmp_path / "hub")]) == 0
    doc = json.loads(out.read_text())
    assert {r["model"] for r in doc["reports"]} == {"acme/tiny"}
    [model] = doc["summary"]["models"]
    assert model["status"] == "error" and model["shard_tensors"] == 2
    assert len(model["missing_shards"]) == 1


def test_jsonl_resume_and_csv(zoo: Path, tmp_path: Path) -> None:
    (zoo / "broken.pt").write_bytes(b"\x80\x02}q\x00(X\x01")
    jsonl = tmp_path / "run.jsonl"
    assert main(["scan", "-j", "2", "--jsonl", str(jsonl), str(zoo)]) == 1
    first = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(first) == 3 and len({r["path"] for r in first}) == 3
    # Simulate an interrupted run: keep two lines, resume into the same file.
    jsonl.write_text("\n".join(jsonl.read_text().splitlines()[:2]) + '\n{"trunc')
    csv = tmp_path / "s.csv"
    argv = ["scan", "--resume", str(jsonl), "--jsonl", str(jsonl), "--csv", str(csv), str(zoo)]
    assert main(argv) == 1
    lines = [line for line in jsonl.read_text().splitlines() if line.startswith('{"schema')]
    assert len({json.loads(line)["path"] for line in lines}) == 3 and len(lines) == 3
    assert len(csv.read_text().splitlines()) == 4


def test_resume_into_another_file_writes_only_new_reports(zoo: Path, tmp_path: Path) -> None:
    old, new, doc = tmp_path / "old.jsonl", tmp_path / "new.jsonl", tmp_path / "all.json"
    main(["scan", "--jsonl", str(old), str(zoo / "good.pth")])
    argv = ["scan", "--resume", str(old), "--jsonl", str(new), "--json", "-o", str(doc), str(zoo)]
    assert main(argv) == 1
    assert [Path(json.loads(line)["path"]).name for line in new.read_text().splitlines()] == [
        "evil.jpg"
    ]
    assert sorted(Path(r["path"]).name for r in json.loads(doc.read_text())["reports"]) == [
        "evil.jpg",
        "good.pth",
    ]


def test_resume_replaces_stale_lines(zoo: Path, tmp_path: Path) -> None:
    """A file changed since the earlier run is read again, and its old line goes: one
    path, one line, whatever happened in between (duplicates of earlier versions too)."""
    import os

    jsonl = tmp_path / "run.jsonl"
    assert main(["scan", "-j", "2", "--jsonl", str(jsonl), str(zoo)]) == 1
    lines = jsonl.read_text().splitlines()
    jsonl.write_text("\n".join([*lines, lines[0]]) + "\n")  # a duplicate, as old runs left
    good = zoo / "good.pth"
    good.write_bytes(good.read_bytes() + b"\0")  # changed: new size and mtime
    os.utime(good, (1, 1))
    argv = ["scan", "--resume", str(jsonl), "--jsonl", str(jsonl), str(zoo)]
    assert main(argv) == 1
    reports = [json.loads(line) for line in jsonl.read_text().splitlines()]
    paths = [r["path"] for r in reports]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 2
    [now] = [r for r in reports if r["path"].endswith("good.pth")]
    assert now["size"] == good.stat().st_size and now["mtime"] == 1


def test_interrupt_is_130_everywhere(zoo: Path, tmp_path: Path) -> None:
    """Ctrl-C: exit 130, and the JSON document written says so (exit_code, interrupted,
    the files found but not read), so no output claims a complete run."""
    import signal
    import time

    (zoo / "slow.pth").write_bytes((zoo / "good.pth").read_bytes())
    doc, sarif = tmp_path / "out.json", tmp_path / "out.sarif"
    code = (
        "import sys, time\n"
        "import pthforensics.pipeline as pipeline\n"
        "real = pipeline.analyze_file\n"
        "def slow(path, **kwargs):\n"
        "    if path.endswith('slow.pth'):\n"
        "        open(path + '.started', 'w').close()\n"
        "        time.sleep(60)\n"
        "    return real(path, **kwargs)\n"
        "pipeline.analyze_file = slow\n"
        "from pthforensics.cli import main\n"
        f"sys.exit(main(['scan', '-j', '1', '-o', {str(doc)!r}, '--sarif', {str(sarif)!r},"
        f" {str(zoo)!r}]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (zoo / "slow.pth.started").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    summary = json.loads(doc.read_text())["summary"]
    assert summary["exit_code"] == 130 and summary["interrupted"] is True
    assert any(p.endswith("slow.pth") for p in summary["not_scanned"])
    assert summary["files"] + len(summary["not_scanned"]) == 3
    [run] = json.loads(sarif.read_text())["runs"]
    assert run["invocations"][0]["exitCode"] == 130
    assert run["invocations"][0]["executionSuccessful"] is False


def test_library_warnings_only_with_verbose(tmp_path: Path) -> None:
    """On a machine without numpy, torch warns "Failed to initialize NumPy" when it is
    imported; ``inspect`` shows it only with ``-v``."""
    from tests._helpers import CORPUS

    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from pthforensics.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    sample = str(CORPUS / "models" / "lenet_seq.pt")
    quiet = subprocess.run(
        [sys.executable, "-c", code, "inspect", sample], capture_output=True, text=True
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and "Warning" not in quiet.stdout
    loud = subprocess.run(
        [sys.executable, "-c", code, "inspect", "-v", sample], capture_output=True, text=True
    )
    assert loud.returncode == 0 and "Failed to initialize NumPy" in loud.stderr


def test_no_checkpoint_says_what_was_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / ".hidden.pt").write_bytes(b"x")
    assert main(["scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint found" in err and "1 hidden" in err and "1 not-a-checkpoint" in err


def test_deep_text_table_shows_the_input(zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests._helpers import CORPUS

    main(["scan", "--deep", "-j", "1", str(CORPUS / "models")])
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[-1] == "input"
    assert "fixed image 1x1x28x28" in out  # lenet_seq's input, beside its row
    assert "file(s) in " in out  # and the summary after the table


def test_deep_adds_layers(zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep.json"
    main(["scan", "--deep", "--json", "-o", str(out), str(zoo / "good.pth")])
    [report] = json.loads(out.read_text())["reports"]
    assert report["layers"] and report["layers"][0]["type"] == "Linear"
    assert report["input"]["status"] in ("fixed", "free", "unknown")


def test_fifo_named_explicitly_is_an_error_not_a_blocked_read(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.pth")
    assert main(["scan", str(tmp_path / "pipe.pth")]) == 2


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["scan", "-j", "-1"], "-j/--jobs: must be 0 (one per core) or more worker processes"),
        (["scan", "-j", "two"], "-j/--jobs: not a whole number of worker processes: 'two'"),
        (["scan", "--max-memory-mb", "10"], "must be 0 (no cap) or at least 64 MB, got 10 MB"),
        (["scan", "--max-pickle-mb", "0"], "--max-pickle-mb: must be at least 1 MB, got 0 MB"),
        (["scan", "--max-decompressed-mb", "-5"], "must be at least 1 MB, got -5 MB"),
        (["scan", "--max-seconds", "0"], "--max-seconds: must be more than 0 seconds, got 0"),
        (["scan", "--max-seconds", "nan"], "--max-seconds: must be more than 0 seconds"),
        (["scan", "--timeout", "soon"], "--timeout: not a number of seconds: 'soon'"),
        (["scan", "--fail-on", "info"], "--fail-on: invalid choice: 'info'"),
        (["inspect", "--input-shape", "1,3,x"], "--input-shape: not a shape: '1,3,x'"),
        (["inspect", "--input-shape", "1,3,,32"], "--input-shape: not a shape: '1,3,,32'"),
        (["inspect", "--input-shape", "1,0,32"], "every size must be 1 or more"),
        (["inspect", "--max-pickle-mb", "0"], "--max-pickle-mb: must be at least 1 MB"),
        (["scan", "--json", "--jsonl", "-"], "--json and --jsonl all write to stdout"),
        (["scan", "--sarif", "-", "--csv", "-"], "--csv and --sarif all write to stdout"),
        (["scan", "-o", "/no/such/folder/out.json"], "-o/--output: folder '/no/such/folder'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], said: str, zoo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad limits, shapes and outputs: exit 2, one line on stderr in the user's units,
    before any file is read."""
    target = str(zoo / "good.pth") if argv[0] == "inspect" else str(zoo)
    with pytest.raises(SystemExit) as exc:
        main([*argv, target])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and err.startswith(f"pthforensics {argv[0]}: error: ")
    assert said in err, err


def test_ctrl_c_stops_cleanly(zoo: Path, tmp_path: Path) -> None:
    """SIGINT mid-run: exit 130, every JSONL line written is a whole report, the workers
    are stopped (the process ends within seconds although one file would take 60)."""
    import os
    import signal
    import time

    for i in range(4):
        (zoo / f"copy{i}.pth").write_bytes((zoo / "good.pth").read_bytes())
    (zoo / "slow.pth").write_bytes((zoo / "good.pth").read_bytes())
    out = tmp_path / "out.jsonl"
    code = (
        "import sys, time\n"
        "import pthforensics.pipeline as pipeline\n"
        "real = pipeline.analyze_file\n"
        "def slow(path, **kwargs):\n"
        "    if path.endswith('slow.pth'):\n"
        "        time.sleep(60)\n"
        "    return real(path, **kwargs)\n"
        "pipeline.analyze_file = slow\n"
        "from pthforensics.cli import main\n"
        f"sys.exit(main(['scan', '-j', '2', '--jsonl', {str(out)!r}, {str(zoo)!r}]))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        not out.exists() or len(out.read_text().splitlines()) < 5
    ):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert f"interrupted after {len(lines)} of 7 file(s)" in stderr
    # The file queued behind the slow one may or may not have been read.
    assert len(lines) in (5, 6) and not any(r["path"].endswith("slow.pth") for r in lines)
