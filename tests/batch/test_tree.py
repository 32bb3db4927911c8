"""A tree scan: discovery known before the first report, resumed reports first, a single
file read in-process, every file exactly once."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from pthforensics.batch import BatchOptions, start_tree_scan
from pthforensics.core import Candidate, FileReport
from pthforensics.pipeline import analyze_candidate
from tests.batch.conftest import names


def _where(candidate: Candidate, options: BatchOptions) -> FileReport:
    """The real report, with the id of the process that made it and its memory cap."""
    report = analyze_candidate(candidate, options)
    return replace(report, extra=(("pid", os.getpid()), ("capped", options.memory_mb)))


def test_files_and_models_known_before_the_first_report(zoo: Path) -> None:
    tree = start_tree_scan([zoo], _where, BatchOptions(jobs=2))
    assert names(tree.files) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]
    assert tree.todo == tree.files and tree.resumed == () and tree.models == ()
    with tree:
        reports = list(tree)
    assert names(reports) == names(tree.files)
    assert {dict(r.extra)["pid"] for r in reports}.isdisjoint({os.getpid()})


def test_one_file_in_process_without_a_memory_cap(zoo: Path) -> None:
    started: list[str] = []
    tree = start_tree_scan(
        [zoo / "a" / "lin.pth"],
        _where,
        BatchOptions(),
        in_process=True,
        on_start=lambda c: started.append(c.path),
    )
    [report] = tree
    assert dict(report.extra) == {"pid": os.getpid(), "capped": None}
    assert started == [str(zoo / "a" / "lin.pth")]


def test_resumed_reports_first_then_the_rest(zoo: Path, tmp_path: Path) -> None:
    first = list(start_tree_scan([zoo], analyze_candidate, BatchOptions(jobs=2)))
    done = [r for r in first if r.path.endswith(("lin.pth", "photo.jpg"))]
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in done))
    tree = start_tree_scan([zoo], _where, BatchOptions(jobs=2), resume=jsonl)
    assert names(tree.resumed) == ["lin.pth", "photo.jpg"]
    assert names(tree.todo) == ["broken.pt", "noext"]
    reports = list(tree)
    assert reports[:2] == list(tree.resumed)
    assert all("pid" in dict(r.extra) for r in reports[2:])
    assert names(reports) == names(tree.files)


def test_a_changed_file_is_scanned_again(zoo: Path, tmp_path: Path) -> None:
    first = list(start_tree_scan([zoo], analyze_candidate, BatchOptions(jobs=2)))
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in first))
    (zoo / "a" / "noext").write_bytes((zoo / "a" / "noext").read_bytes() + b"\0")
    tree = start_tree_scan([zoo], analyze_candidate, BatchOptions(jobs=2), resume=jsonl)
    assert names(tree.todo) == ["noext"]
