"""Golden text outputs: ``tests/golden/<name>.txt``, refreshed with ``pytest --update-golden``.

A comparison is made on normalised text (absolute paths and timings replaced by markers),
so a golden file is the same on every machine and every run.  Each golden test also checks
invariants of the report it renders (see the test modules), so a refresh cannot bless an
output that contradicts its own numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests._helpers import ROOT

GOLDEN = ROOT / "tests" / "golden"

#: ``12 file(s) in 0.3 s (41.2 files/s)``: the first line of a batch summary.
_RATE = re.compile(r"(\d+) file\(s\) in [\d.]+ s \([\d.]+ files/s\)")


def normalise(text: str, *roots: Path) -> str:
    """``text`` with ``roots`` (absolute folders) replaced by ``<root0>``, ``<root1>``...
    (the repository root by ``<repo>``), the batch rate masked, trailing blanks removed."""
    for i, root in enumerate(roots):
        text = text.replace(str(root), f"<root{i}>")
    text = text.replace(str(ROOT), "<repo>")
    text = _RATE.sub(r"\1 file(s) in <s> s (<rate> files/s)", text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def mask_slowest(text: str) -> tuple[str, list[str]]:
    """Replace a batch summary's "slowest files" table (which files are slowest, hence also
    its column widths, depends on the machine) by a marker; returns the text and the
    masked rows."""
    head, sep, table = text.rpartition("\n\nslowest files")
    if not sep:
        return text, []
    rows = table.splitlines()[2:]  # below the header and its rule
    return head + sep + "\n<timing-dependent rows>\n", rows


@dataclass(frozen=True)
class Golden:
    """Compares text with ``tests/golden/<name>.txt``, or rewrites it under
    ``--update-golden``."""

    update: bool

    def check(self, name: str, text: str) -> None:
        """Assert that ``text`` (already normalised) is the golden ``name``."""
        path = GOLDEN / f"{name}.txt"
        if self.update:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path.name}: run pytest --update-golden"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{path.name} differs (pytest --update-golden rewrites it)"
