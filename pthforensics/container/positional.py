"""Reading at an offset without moving the file position.

A :class:`.source.Source`'s file is read through its counted fetch (its raw reader's
``pread``: counted in ``bytes_read``, one range request at most for a remote object, and no
8 KiB buffer filled for a local one); another file with a descriptor (a temporary file)
by ``os.pread``; anything else by a seek and a read.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

__all__ = ["pread"]


def pread(f: BinaryIO, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset``: one ``pread`` where the file has a descriptor (a
    seek+read on a buffered file reads a whole buffer, for thousands of local headers)."""
    at = getattr(getattr(f, "raw", f), "pread", None)
    if at is not None:
        return bytes(at(size, offset))
    try:
        return os.pread(f.fileno(), size, offset)
    except (AttributeError, OSError, io.UnsupportedOperation):
        f.seek(offset)
        return f.read(size)
