"""The library API: ``scan``, ``scan_tree``, ``inspect`` and the README's example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import pthforensics
from pthforensics import FileReport, Status, TraceStatus, Verdict
from pthforensics.pipeline import analyze_file, inspect_file
from tests._helpers import CORPUS, ROOT

EVIL = b"cos\nsystem\n(S'echo pthforensics-test'\ntR."


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    import torch

    folder = tmp_path / "zoo"
    (folder / "nested").mkdir(parents=True)
    torch.save(torch.nn.Linear(4, 2).state_dict(), folder / "good.pth")
    (folder / "nested" / "evil.jpg").write_bytes(EVIL)
    (folder / "notes.txt").write_text("not a checkpoint")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "h.pth").write_bytes((folder / "good.pth").read_bytes())
    return folder


def _untimed(report: FileReport) -> FileReport:
    return replace(report, seconds=None)


def test_all_names_exist() -> None:
    assert len(set(pthforensics.__all__)) == len(pthforensics.__all__)
    for name in pthforensics.__all__:
        assert hasattr(pthforensics, name), name


def test_scan_is_the_scan_report() -> None:
    path = CORPUS / "malicious" / "os_system.pkl"
    report = pthforensics.scan(path)  # a Path is fine
    assert _untimed(report) == _untimed(analyze_file(str(path)))
    assert report.verdict is Verdict.MALICIOUS and report.path == str(path)
    [finding] = [f for f in report.findings if f.rule_id == "dangerous-global"]
    assert finding.location.global_name == "os.system" and finding.location.offset is not None


def test_scan_never_raises_for_a_bad_file(tmp_path: Path) -> None:
    report = pthforensics.scan(tmp_path / "missing.pt")
    assert report.status is Status.ERROR and report.error is not None and report.verdict is None


def test_inspect_is_the_inspect_report() -> None:
    path = str(CORPUS / "models" / "lenet_seq.pt")
    report = pthforensics.inspect(path)
    assert _untimed(report) == _untimed(inspect_file(path))
    assert report.layers and report.input is not None and report.trace is not None
    quick = pthforensics.inspect(path, trace=False)
    assert quick.layers == report.layers
    assert quick.trace is not None and quick.trace.status is TraceStatus.SKIPPED
    tried = pthforensics.inspect(path, input_shape=(1, 1, 64, 64))  # too large for its head
    assert tried.trace is not None and tried.trace.status is TraceStatus.REFUTED
    assert [shape for shape, _ in tried.trace.tried] == [(1, 1, 64, 64)]


def test_scan_tree_reports_every_file_once(zoo: Path) -> None:
    started: list[str] = []
    with pthforensics.scan_tree([zoo], jobs=2, on_start=lambda c: started.append(c.path)) as tree:
        found = [c.path for c in tree.files]
        reports = list(tree)
    assert sorted(found) == sorted(r.path for r in reports) == sorted(started)
    assert {Path(p).name for p in found} == {"good.pth", "evil.jpg"}
    by_name = {Path(r.path).name: r for r in reports}
    assert by_name["evil.jpg"].verdict is Verdict.MALICIOUS
    assert by_name["good.pth"].verdict is Verdict.CLEAN
    assert by_name["good.pth"].tensors is not None and by_name["good.pth"].tensors.parameters == 10


def test_scan_tree_options(zoo: Path) -> None:
    everything = list(pthforensics.scan_tree(str(zoo), include_hidden=True))  # one path
    assert sorted(Path(r.path).name for r in everything) == ["evil.jpg", "good.pth", "h.pth"]
    some = list(pthforensics.scan_tree([zoo], exclude=["nested"]))
    assert [Path(r.path).name for r in some] == ["good.pth"]
    [deep] = pthforensics.scan_tree([zoo / "good.pth"], deep=True)
    assert deep.layers and deep.layers[0].type == "Linear" and deep.trace is None
    [one] = pthforensics.scan_tree([zoo / "good.pth"])  # in-process
    assert _untimed(one) == _untimed(replace(pthforensics.scan(zoo / "good.pth"), mtime=one.mtime))


def test_scan_tree_resumes(zoo: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "run.jsonl"
    [good] = pthforensics.scan_tree([zoo / "good.pth"])
    jsonl.write_text(json.dumps(good.to_dict()) + "\n")
    tree = pthforensics.scan_tree([zoo], resume=jsonl, jobs=1)
    assert tree.resumed == (good,) and [Path(c.path).name for c in tree.todo] == ["evil.jpg"]
    assert next(tree) == good
    tree.close()


@pytest.mark.parametrize("kwargs", [{"jobs": -2}, {"memory_mb": 1}])
def test_scan_tree_checks_its_options(kwargs: dict[str, int], zoo: Path) -> None:
    with pytest.raises(ValueError):
        pthforensics.scan_tree([zoo], **kwargs)  # type: ignore[arg-type]


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, pthforensics, pthforensics.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_example_runs() -> None:
    """The README's "Library API" example, run as it is from the repository root."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Library API", 1)[1]
    [code] = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("malicious [('dangerous-global', 2)]")
    assert "(1, 3, 32, 32) " in result.stdout  # cifar_net: 32 under every hypothesis
