"""A small zoo of files for batch tests: a model, a copy without extension, a payload
renamed ``.jpg``, a broken pickle, a text file, a hidden folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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


def names(items) -> list[str]:  # type: ignore[no-untyped-def]
    """Sorted base names of candidates or reports."""
    return sorted(Path(c.path).name for c in items)
