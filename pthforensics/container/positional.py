"""Reading at an offset without moving the file position.

``pread`` on the descriptor where the file has one; otherwise a seek and a read.  A
:class:`.source.Source`'s file reads through its counted fetch either way, so what is read
here is counted in ``bytes_read``.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

__all__ = ["pread"]


def pread(f: BinaryIO, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``: one ``pread`` where the file has a descriptor (a
    seek+read on a buffered file reads a whole buffer, for thousands of local headers)."""
    try:
        return os.pread(f.fileno(), size, offset)
    except (AttributeError, OSError, io.UnsupportedOperation):
        f.seek(offset)
        return f.read(size)
