"""What a file is, from its first bytes (never its extension).

Magic numbers: zip (PKWARE APPNOTE 4.3.7/4.3.16), gzip (RFC 1952), bzip2, xz, 7z, zstd
(RFC 8878), rar, lz4 frames, tar (a first header Python's ``tarfile`` accepts: ``ustar``
at 257 or, for old V7 headers that carry no magic, a valid checksum; ``torch.load`` tries
``tarfile`` first on any file), safetensors (an 8-byte header length and a JSON object, see
:mod:`.safetensors_header`), NumPy ``.npy``, and anything CPython's unpickler starts to read
(:func:`pthforensics.safety.looks_like_pickle`).
"""

from __future__ import annotations

import os
import stat
from enum import StrEnum, unique
from typing import BinaryIO

from pthforensics.safety import looks_like_pickle

from .npy import MAGIC as NPY_MAGIC
from .safetensors_header import sniff_safetensors

__all__ = [
    "COMPRESSED",
    "OPAQUE",
    "SNIFF_BYTES",
    "FileKind",
    "has_zip_end",
    "sniff",
    "sniff_file",
    "tar_header",
]


@unique
class FileKind(StrEnum):
    """What the first bytes of a file say it is."""

    ZIP = "zip"
    GZIP = "gzip"
    BZ2 = "bz2"
    XZ = "xz"
    SEVEN_ZIP = "7z"
    ZSTD = "zstd"
    RAR = "rar"
    LZ4 = "lz4"
    TAR = "tar"
    SAFETENSORS = "safetensors"
    NPY = "npy"
    PICKLE = "pickle"


_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
_ZIP_END = b"PK\x05\x06"
#: The end-of-central-directory record (22 bytes) and the longest comment after it.
_ZIP_END_SPAN = 22 + 0xFFFF
#: Wrappers read here: their payload is decompressed (under a cap) and read in turn.
COMPRESSED = {b"\x1f\x8b": FileKind.GZIP, b"BZh": FileKind.BZ2, b"\xfd7zXZ\x00": FileKind.XZ}
#: Archives named but not opened (7z is opened when its codecs allow it).
OPAQUE = {
    b"7z\xbc\xaf\x27\x1c": FileKind.SEVEN_ZIP,
    b"\x28\xb5\x2f\xfd": FileKind.ZSTD,
    b"Rar!\x1a\x07": FileKind.RAR,
    b"\x04\x22\x4d\x18": FileKind.LZ4,
}
_TAR_MAGIC_AT = slice(257, 262)
#: Bytes :func:`sniff_file` reads.
SNIFF_BYTES = 4096


def sniff(head: bytes, size: int) -> FileKind | None:
    """What the first bytes say the file is (``None``: not a checkpoint we know)."""
    if head[:4] in _ZIP_STARTS:
        return FileKind.ZIP
    for magic, kind in (*COMPRESSED.items(), *OPAQUE.items()):
        if head.startswith(magic):
            return kind
    if (len(head) >= _TAR_MAGIC_AT.stop and head[_TAR_MAGIC_AT] == b"ustar") or tar_header(head):
        return FileKind.TAR
    if sniff_safetensors(head, size):
        return FileKind.SAFETENSORS
    if head.startswith(NPY_MAGIC):
        return FileKind.NPY
    if looks_like_pickle(head):
        return FileKind.PICKLE
    return None


#: Numeric fields of a tar header ``tarfile.TarInfo.frombuf`` parses (mode, uid, gid, size,
#: mtime, chksum, devmajor, devminor): an invalid one makes it refuse the header.
_TAR_NUMBERS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337), (337, 345))
_TAR_BLOCK = 512


def _tar_number(field: bytes) -> int | None:
    """``tarfile.nti``: base-256 or NUL-terminated octal text (``None``: invalid)."""
    if field[:1] in (b"\x80", b"\xff"):
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if field[0] == 0xFF else n
    text = field.split(b"\0", 1)[0]
    try:
        return int(text.decode("ascii").strip() or "0", 8)
    except (UnicodeDecodeError, ValueError):
        return None


def tar_header(head: bytes) -> bool:
    """Whether ``tarfile`` accepts the first 512 bytes as a header (its checksum, computed
    unsigned or signed, matches; every numeric field parses)."""
    block = head[:_TAR_BLOCK]
    if len(block) < _TAR_BLOCK or block.count(0) == _TAR_BLOCK:
        return False
    checksum = _tar_number(block[148:156])
    if checksum is None or any(_tar_number(block[a:b]) is None for a, b in _TAR_NUMBERS):
        return False
    rest = block[:148] + block[156:]
    unsigned = 256 + sum(rest)
    signed = 256 + sum(b - 256 if b > 127 else b for b in rest)
    return checksum in (unsigned, signed)


def sniff_file(path: str, st: os.stat_result | None = None) -> FileKind | None:
    """:func:`sniff` on the first 4 KiB of ``path`` (``None`` for empty, unreadable or
    non-regular files: opening a FIFO would block); ``st``: its ``stat``, when known."""
    try:
        st = st or os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        size = st.st_size
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return None
    return sniff(head, size) if size else None


def has_zip_end(f: BinaryIO, size: int) -> bool:
    """Whether an end-of-central-directory record lies where zip readers look for it: a
    file that does not start like a zip can still be one to them (a polyglot)."""
    tail = min(size, _ZIP_END_SPAN)
    f.seek(size - tail)
    return _ZIP_END in f.read(tail)
