"""Hostile names through every renderer: no control character from a file (its name, a
zip member, a global, metadata, a key) reaches the terminal raw; the data outputs (JSON,
JSONL, CSV, SARIF) keep the exact string."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pthforensics.report import escape, escape_record
from tests._helpers import CORPUS, ROOT

#: Names a file can have on Linux: newline, carriage return, ANSI colour and clear-screen,
#: bell, tab, a right-to-left override, a line separator and bytes that are not UTF-8.
HOSTILE = [
    b"new\nline.pt",
    b"carriage\rreturn.pt",
    b"\x1b[31mred\x1b[0m.pt",
    b"\x1b[2J\x1b[Hclear.pkl",
    b"bell\x07.pt",
    b"tab\there.pt",
    "rlo\u202etxt.pt".encode(),
    "sep\u2028line.pt".encode(),
    b"latin\xff\xfe.pt",
    b"csi\xc2\x9b31m.pt",
]
#: What must never appear in terminal output: every control character but the newline
#: that ends a line, the C1 range, the layout-changing format characters, surrogates.
RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
EVIL = b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00echoq\x00\x85R."


def test_escape() -> None:
    assert escape("plain/path.pt") == "plain/path.pt"
    assert escape("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert escape("\x1b[31m") == "\\x1b[31m"
    assert escape("\x9b\x7f\x00") == "\\x9b\\x7f\\x00"
    assert escape("x\u202ey\u2028z\ufeff") == "x\\u202ey\\u2028z\\ufeff"
    assert escape(os.fsdecode(b"a\xff")) == "a\\xff"  # the byte of a non-UTF-8 name
    assert escape("héllo ünïcode ✓") == "héllo ünïcode ✓"
    for name in HOSTILE:
        once = escape(os.fsdecode(name))
        assert RAW.search(once) is None and "\n" not in once
        assert escape(once) == once  # idempotent: escaping twice changes nothing


def test_escape_record_reaches_every_string() -> None:
    from pthforensics import scan

    report = scan(CORPUS / "malicious" / "os_system.pkl")
    from dataclasses import replace

    from pthforensics.core import Location

    hostile = replace(
        report,
        path="x\x1bp",
        findings=tuple(
            replace(f, detail="d\n", location=Location("m\r", 1, "g\x07", "k\x9b"))
            for f in report.findings
        ),
        metadata=(("k\x1b", "v\n"),),
        aliases=("a\x00",),
    )
    text = repr(escape_record(hostile))
    for raw in ("\x1b", "\n", "\r", "\x07", "\x9b", "\x00"):
        assert raw not in text


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    """Files with hostile names (benign, malicious, broken), a zip whose member name and
    a pickle whose global name carry escapes, a state_dict key with a newline."""
    import torch

    folder = tmp_path / "hostile"
    folder.mkdir()
    raw = os.fsencode(folder)
    benign = (CORPUS / "benign" / "state_dict.pt").read_bytes()
    for i, name in enumerate(HOSTILE):
        content = (EVIL, benign, b"\x80\x02}q\x00(X\x01")[i % 3]
        with open(raw + b"/" + name, "wb") as f:
            f.write(content)
    os.symlink(raw + b"/" + HOSTILE[1], raw + b"/link\x1b[1m.pt")  # an alias with escapes
    with zipfile.ZipFile(folder / "member.pt", "w") as z:
        z.writestr("archive/data.pkl", EVIL)
        z.writestr("archive/\x1b[2Jnotes\n.pkl", EVIL)
    (folder / "global.pkl").write_bytes(b"cos\x1b[31m\nsys\x07tem\n(S'echo'\ntR.")
    torch.save({"layer\n\x1b[31m.weight": torch.zeros(2, 2), "epoch\x1b": 3}, folder / "keys.pt")
    return folder


def _run(argv: list[str]) -> tuple[int, str]:
    """The installed CLI in a subprocess (a real UTF-8 stdout), both streams as text."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "pthforensics", *argv],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    # Decode strictly: a lone surrogate printed raw would already have failed the write.
    return done.returncode, done.stdout.decode("utf-8") + done.stderr.decode("utf-8")


def test_no_raw_control_character_reaches_the_terminal(hostile_folder: Path) -> None:
    files = sorted(os.listdir(os.fsencode(hostile_folder)))
    inspected = [b"keys.pt", b"global.pkl", HOSTILE[0], HOSTILE[2]]
    runs = [
        ["scan", str(hostile_folder)],
        ["scan", "-v", "--deep", "-j", "2", str(hostile_folder)],
        *(["scan", "-v", os.fsdecode(os.fsencode(hostile_folder) + b"/" + f)] for f in files),
        *(["inspect", os.fsdecode(os.fsencode(hostile_folder) + b"/" + f)] for f in inspected),
    ]
    for argv in runs:
        code, text = _run(argv)
        assert code in (0, 1, 2), (argv, text)
        assert "Traceback" not in text, text
        raw = RAW.search(text)
        assert raw is None, (argv, repr(text[max(0, raw.start() - 40) : raw.end() + 40]))
    # Each hostile name is shown whole, escaped, on one line of the folder scan.
    _, text = _run(["scan", "--deep", str(hostile_folder)])
    for name in HOSTILE:
        shown = escape(os.fsdecode(name))
        if name in (b"bell\x07.pt", b"\x1b[31mred\x1b[0m.pt", b"new\nline.pt"):
            assert shown in text, shown


def test_data_outputs_keep_the_exact_names(hostile_folder: Path, tmp_path: Path) -> None:
    """JSON, JSONL, CSV and SARIF quote; they do not escape: each path reads back exactly
    as the file system gives it."""
    out = tmp_path / "out"
    out.mkdir()
    code, text = _run(
        [
            "scan",
            str(hostile_folder),
            "-o",
            str(out / "scan.json"),
            "--jsonl",
            str(out / "scan.jsonl"),
            "--csv",
            str(out / "scan.csv"),
            "--sarif",
            str(out / "scan.sarif"),
        ]
    )
    assert code == 1, text
    on_disk = {
        os.fsdecode(os.path.join(os.fsencode(hostile_folder), n))
        for n in os.listdir(os.fsencode(hostile_folder))
    }
    doc = json.loads((out / "scan.json").read_text())
    listed = {r["path"] for r in doc["reports"]} | {a for r in doc["reports"] for a in r["aliases"]}
    assert listed == on_disk
    lines = [json.loads(line) for line in (out / "scan.jsonl").read_text().splitlines()]
    assert {r["path"] for r in lines} == {r["path"] for r in doc["reports"]}
    with open(out / "scan.csv", encoding="utf-8", errors="surrogateescape", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["path"] for row in rows} == {r["path"] for r in doc["reports"]}
    sarif = json.loads((out / "scan.sarif").read_text())
    assert sarif["runs"][0]["results"]


def test_log_lines_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from pthforensics.cli_support import escaping_handler

    stream = io.StringIO()
    handler = escaping_handler(stream)  # type: ignore[arg-type]
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "%s: bad", ("a\x1b[2J\nb",), None)
    handler.emit(record)
    assert stream.getvalue() == "pthforensics: WARNING: a\\x1b[2J\\nb: bad\n"
