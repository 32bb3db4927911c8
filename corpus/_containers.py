"""Byte-level writers for the corpus: zip (with knobs for the published bypasses),
legacy stacked-pickle splitting, the pre-1.0 torch tar layout, safetensors headers and a
minimal stored 7z archive.

Sources for the layouts:
- zip: PKWARE APPNOTE 6.3.x sections 4.3.7 (local header), 4.3.12 (central directory),
  4.3.16 (end of central directory); torch aligns payloads to 64 bytes with an extra
  field (caffe2/serialize/inline_container.cc, ``kFieldAlignment``).
- legacy stacked pickles and the tar layout: torch/serialization.py ``_legacy_save`` and
  ``_legacy_load.legacy_load`` (torch 2.13).
- safetensors: https://github.com/huggingface/safetensors#format
- 7z: 7-Zip ``DOC/7zFormat.txt`` (signature header, kHeader, Copy coder id 0x00).

Nothing here unpickles anything; ``split_pickles`` only walks opcodes with
``pickletools.genops`` to find where each stream ends.
"""

from __future__ import annotations

import io
import json
import pickletools
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

__all__ = [
    "ZipEntry",
    "read_zip",
    "safetensors_bytes",
    "seven_zip_stored",
    "split_pickles",
    "tar_bytes",
    "write_zip",
]

_DOS_DATE = (1 << 5) | 1  # 1980-01-01
_DOS_TIME = 0


@dataclass(frozen=True)
class ZipEntry:
    """One member of a zip written by ``write_zip``."""

    name: str
    """Name in the central directory (what ``zipfile`` and torch's reader index)."""
    data: bytes
    local_name: str | None = None
    """Name in the local header, when it must differ from ``name`` (CVE-2025-1944)."""
    flags: int = 0
    """Extra general-purpose flag bits, e.g. 0x1 (encrypted), set in both headers."""
    crc: int | None = None
    """CRC-32 to record instead of the real one (bad-CRC bypass)."""


def write_zip(
    entries: list[ZipEntry] | list[tuple[str, bytes]],
    *,
    align: int = 64,
    prefix: bytes = b"",
    deflate: bool = False,
) -> bytes:
    """Write a zip, stored (or deflated) members, payloads aligned like ``torch.save``.

    ``prefix`` is written before the first local header and counted in the offsets, so the
    result is a valid zip that does not start with ``PK``.
    """
    out = bytearray(prefix)
    central = bytearray()
    items = [e if isinstance(e, ZipEntry) else ZipEntry(*e) for e in entries]
    for entry in items:
        name = entry.name.encode("utf-8")
        local_name = (entry.local_name or entry.name).encode("utf-8")
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        method = 8 if deflate else 0
        if deflate:
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = compressor.compress(entry.data) + compressor.flush()
        else:
            payload = entry.data
        flags = 0x800 | entry.flags  # names are UTF-8, as torch writes them
        offset = len(out)
        extra = b""
        if align and not deflate:
            start = offset + 30 + len(local_name)
            pad = (-(start + 4)) % align
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # torch's "FB" field
        out += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50, 20, flags, method, _DOS_TIME, _DOS_DATE,
            crc, len(payload), len(entry.data), len(local_name), len(extra),
        )  # fmt: skip
        out += local_name + extra + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50, 20, 20, flags, method, _DOS_TIME, _DOS_DATE,
            crc, len(payload), len(entry.data), len(name), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += name
    cd_offset = len(out)
    out += central
    out += struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(items), len(items), len(central), cd_offset, 0
    )
    return bytes(out)


def read_zip(data: bytes) -> list[tuple[str, bytes]]:
    """Members of a zip we wrote ourselves (benign, from ``torch.save``), in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def split_pickles(data: bytes, count: int) -> tuple[list[bytes], bytes]:
    """Cut the first ``count`` stacked pickle streams off ``data``; return them and the rest.

    Used on legacy (``_use_new_zipfile_serialization=False``) files, which are
    magic, protocol, sys_info, object, storage-keys pickles followed by raw storages.
    """
    streams = []
    pos = 0
    for _ in range(count):
        end = pos
        for _opcode, _arg, at in pickletools.genops(data[pos:]):  # stops after STOP
            assert at is not None
            end = pos + at + 1
        streams.append(data[pos:end])
        pos = end
    return streams, data[pos:]


def tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed ustar archive with fixed metadata (deterministic)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def safetensors_bytes(
    header: dict[str, object] | bytes, payload: bytes, *, declared: int | None = None
) -> bytes:
    """A safetensors file from a header (dict, or raw bytes for invalid JSON) and payload."""
    raw = (
        header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    )
    raw += b" " * (-len(raw) % 8)
    length = len(raw) if declared is None else declared
    return struct.pack("<Q", length) + raw + payload


def _7z_number(value: int) -> bytes:
    """7z variable-length NUMBER (7zFormat.txt, "UINT64 means real UINT64 encoded...")."""
    for extra in range(8):
        if value < (1 << (7 * (extra + 1))):
            high = value >> (8 * extra)
            first = (0xFF << (8 - extra)) & 0xFF | high
            return bytes([first]) + value.to_bytes(8, "little")[:extra]
    return b"\xff" + value.to_bytes(8, "little")


def seven_zip_stored(name: str, payload: bytes) -> bytes:
    """A one-file 7z archive using the Copy coder (no compression library needed)."""
    header = bytearray()
    header += b"\x01"  # kHeader
    header += b"\x04"  # kMainStreamsInfo
    header += b"\x06" + _7z_number(0) + _7z_number(1)  # kPackInfo: pack pos, 1 stream
    header += b"\x09" + _7z_number(len(payload)) + b"\x00"  # kSize, kEnd
    header += b"\x07"  # kUnPackInfo
    header += b"\x0b" + _7z_number(1) + b"\x00"  # kFolder, 1 folder, not external
    header += _7z_number(1) + b"\x01" + b"\x00"  # 1 coder; id size 1, simple; id 00 = Copy
    header += b"\x0c" + _7z_number(len(payload))  # kCodersUnPackSize
    header += b"\x0a\x01" + struct.pack("<I", zlib.crc32(payload))  # kCRC, all defined
    header += b"\x00"  # kEnd (UnPackInfo)
    header += b"\x08\x00"  # kSubStreamsInfo: one substream per folder (default), kEnd
    header += b"\x00"  # kEnd (MainStreamsInfo)
    names = name.encode("utf-16-le") + b"\x00\x00"
    header += b"\x05" + _7z_number(1)  # kFilesInfo, 1 file
    header += b"\x11" + _7z_number(len(names) + 1) + b"\x00" + names  # kName, not external
    header += b"\x00"  # kEnd (FilesInfo)
    header += b"\x00"  # kEnd (Header)
    next_header = struct.pack("<QQI", len(payload), len(header), zlib.crc32(header))
    start = b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(next_header)) + next_header
    return start + payload + bytes(header)
