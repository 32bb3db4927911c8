"""Reading a NumPy ``.npy`` header (and nothing after it unless it is a pickle).

Layout (numpy ``lib/format.py``): the magic ``\\x93NUMPY``, a major/minor version, a
little-endian header length (2 bytes in version 1, 4 in versions 2 and 3), then a Python
dict literal with ``descr``, ``fortran_order`` and ``shape``.  An object array (``descr``
containing ``O``) stores a *pickle* after the header, which ``np.load(allow_pickle=True)``
unpickles: that pickle is scanned like any other.  ``.npz`` files are zips of ``.npy``
members and go through the zip reader.
"""

from __future__ import annotations

import ast
import struct
from typing import BinaryIO

from pthforensics.core import ContainerError, vocab

__all__ = ["MAGIC", "read_npy_header"]

MAGIC = b"\x93NUMPY"
_MAX_HEADER = 1 << 20


def read_npy_header(f: BinaryIO, size: int, path: str) -> tuple[tuple[int, ...], str, int, bool]:
    """Shape, dtype name, offset of the data and whether the data is a pickle."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 10 or not head.startswith(MAGIC):
        raise ContainerError("not a .npy file", path=path)
    major = head[6]
    if major == 1:
        (length,) = struct.unpack("<H", head[8:10])
        start = 10
    elif major in (2, 3):
        (length,) = struct.unpack("<I", head[8:12])
        start = 12
    else:
        raise ContainerError(f".npy format version {major} is not supported", path=path)
    if length > _MAX_HEADER or start + length > size:
        raise ContainerError(f".npy header length {length} exceeds the file", path=path)
    f.seek(start)
    text = f.read(length).decode("latin-1")
    try:
        # literal_eval parses literals only (no names, no calls): safe on hostile text.
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ContainerError(f".npy header is not a dict literal ({exc})", path=path) from exc
    if not isinstance(header, dict) or not {"descr", "shape"} <= set(header):
        raise ContainerError(".npy header lacks descr/shape", path=path)
    descr, shape = header["descr"], header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ContainerError(f".npy shape {shape!r} is invalid", path=path)
    is_object = "O" in str(descr)
    dtype = "object"
    if isinstance(descr, str) and len(descr) >= 3 and descr[-1:].isdigit():
        dtype = vocab.numpy_dtype(descr[1], int(descr[2:])) or descr
    elif not is_object:
        dtype = str(descr)
    return shape, dtype, start + length, is_object
