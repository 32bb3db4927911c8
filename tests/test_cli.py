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
