"""Resource limits under attack (issue 9), opt-in (``-m oracle_long``: minutes, a 70 MB
file and up to 2 GiB of temporary disk).

Each hostile file must end in at most 10 s and 500 MB with a verdict or one clear error
line, alone and in a folder, and get the same verdict on both paths (issue 9: a 10^6-entry
safetensors header is refused by the tensor limit before its entries are built, a gzip
payload that is no checkpoint is refused at its first bytes and one that is stops at the
cap with its zeros kept as holes, a 24 M-opcode pickle takes the opcode walk on both paths).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.safety.oracle.bombs import CASES, Measured, measure_scan

pytestmark = pytest.mark.oracle_long

_MAX_SECONDS = 10.0
_MAX_MB = 500.0


def _label(m: Measured) -> str:
    if len(m.reports) != 1:
        return f"{len(m.reports)} reports"
    r = m.reports[0]
    return str(r["verdict"]) if r["status"] == "ok" else "error"


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_bounded(name: str, tmp_path: Path) -> None:
    filename, build = CASES[name]
    folder = tmp_path / "in"
    folder.mkdir()
    build(folder / filename)
    single = measure_scan([str(folder / filename)], tmp_path / "single.json")
    batch = measure_scan(["-j", "2", str(folder)], tmp_path / "folder.json")
    for m in (single, batch):
        assert m.seconds <= _MAX_SECONDS, m
        assert m.peak_mb <= _MAX_MB, m
        assert m.disk_mb <= _MAX_MB, m
        assert m.exit_code in (0, 1, 2) and len(m.reports) == 1, m
    assert _label(single) == _label(batch), (single, batch)
