"""Dump every report the CLI gives on the corpus, timings removed, one JSON line per case.

Used to check that a refactoring changes no behaviour: run it before and after, then diff::

    python tools/snapshot_reports.py > before.jsonl
    ... change ...
    python tools/snapshot_reports.py > after.jsonl && diff before.jsonl after.jsonl

Cases: ``scan --json`` and ``inspect --json`` of every corpus file (in-process, the slow
path), and ``scan --json -j 2`` of each corpus folder (batch workers, the fast path).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VOLATILE = frozenset({"seconds"})


def _strip(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _run(argv: list[str]) -> tuple[int, object]:
    from pthforensics.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    text = out.getvalue()
    try:
        doc: object = json.loads(text)
    except ValueError:
        doc = text
    return code, _strip(doc)


def _files() -> list[str]:
    found = []
    for folder, _dirs, names in os.walk(ROOT / "corpus"):
        for name in names:
            if name.endswith((".json", ".py", ".md")):
                continue
            found.append(os.path.relpath(os.path.join(folder, name), ROOT))
    return sorted(found)


def main() -> int:
    os.chdir(ROOT)
    for path in _files():
        for argv in (["scan", path, "--json"], ["inspect", path, "--json"]):
            code, doc = _run(argv)
            print(json.dumps({"argv": argv, "exit": code, "out": doc}, sort_keys=True))
    for folder in sorted({os.path.dirname(p) for p in _files()}):
        argv = ["scan", folder, "--json", "-j", "2"]
        code, doc = _run(argv)
        print(json.dumps({"argv": argv, "exit": code, "out": doc}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
