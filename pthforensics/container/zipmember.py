"""One zip member's local header and bytes, read as torch's reader (miniz) reads them:
CRC and encryption flags ignored, stored or deflated data, at most a cap of output.

Format: PKWARE APPNOTE.TXT section 4.3.7 (local header), 4.4.4 (general purpose flags).
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, BinaryIO

from pthforensics.core import ContainerError, LimitExceeded

from .positional import pread

if TYPE_CHECKING:
    from .zipread import ZipEntry

__all__ = ["decode_name", "read_local_header", "read_member"]

_LOCAL = b"PK\x03\x04"


def decode_name(raw: bytes, flags: int) -> str:
    """A member name: UTF-8 when flag bit 11 says so, else code page 437."""
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    return raw.decode("cp437")


def read_local_header(
    f: BinaryIO, header: int, size: int, name_len: int
) -> tuple[str | None, int | None, int | None]:
    """The local header at ``header``: its name, flags and the offset of the data after it
    (``None`` each when no local header is there)."""
    if header + 30 > size:
        return None, None, None
    raw = pread(f, 30 + name_len, header)
    if raw[:4] != _LOCAL or len(raw) < 30:
        return None, None, None
    (_s, _v, flags, _m, _t, _d, _crc, _cs, _us, n_len, e_len) = struct.unpack("<4s5H3L2H", raw[:30])
    if n_len != name_len:
        raw = pread(f, 30 + n_len, header)
    name = decode_name(raw[30 : 30 + n_len], flags)
    return name, flags, header + 30 + n_len + e_len


def read_member(
    f: BinaryIO, entry: ZipEntry, cap: int, path: str, *, prefix_only: int = 0
) -> bytes:
    """Bytes of one member (stored or deflated), ignoring CRC and encryption flags as torch's
    reader does; at most ``cap`` bytes of output (``prefix_only`` bytes when set)."""
    data_offset = entry.data_offset
    if data_offset is None and not entry.local_read:
        data_offset = read_local_header(f, entry.header_offset, 1 << 62, entry.name_len)[2]
    if data_offset is None:
        raise ContainerError("local header missing or corrupt", path=path, member=entry.name)
    want = prefix_only or entry.size
    if want > cap:
        raise LimitExceeded("member size", cap, want, path=path, member=entry.name)
    f.seek(data_offset)
    if entry.method == 0:
        return f.read(min(want, entry.compressed_size))
    if entry.method == 8:
        inflater = zlib.decompressobj(-15)
        out = bytearray()
        remaining = entry.compressed_size
        try:
            while remaining > 0 and len(out) < want:
                chunk = f.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
                out += inflater.decompress(chunk, want - len(out))
        except zlib.error as exc:
            raise ContainerError(
                f"deflate data is corrupt ({exc})", path=path, member=entry.name
            ) from exc
        return bytes(out[:want])
    raise ContainerError(
        f"compression method {entry.method} is not supported", path=path, member=entry.name
    )
