"""7z archive headers (7-Zip ``DOC/7zFormat.txt``), read with the standard library.

Only what 7-Zip and py7zr write for ordinary archives is read here: one packed stream
per folder, a linear chain of one-in/one-out coders that :mod:`lzma` runs as one raw
filter chain (Copy, LZMA, LZMA2, Delta, the BCJ branch filters), names and attributes
stored in the header itself.  Anything else (AES, BCJ2, PPMd, BZip2, Deflate, zstd,
data kept in additional streams, ...) raises :class:`Unsupported`, and
:mod:`.sevenzip` hands the archive to py7zr, so importing py7zr (50-70 ms)
is only paid for the rare archive that needs it.

The input is hostile.  Counts are capped before anything is allocated for them, every
read of the header is bounds-checked, offsets are checked against the file size, the
header CRCs are verified, and decoders never produce more than the declared size: a
short or inconsistent archive raises :class:`ContainerError`, never an IndexError.
StreamsInfo is parsed by :mod:`.sevenzip_streams`, folders decoded by :mod:`.sevenzip_decode`.
The parse follows 7-Zip's own reader (``7zIn.cpp``) where the format leaves room for
interpretation, so that the members scanned are the ones 7-Zip would extract.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO, NamedTuple

from pthforensics.core import LimitExceeded

from .sevenzip_decode import Folder, Unsupported, corrupt, folder_chunks
from .sevenzip_streams import Cursor, Property, Streams, read_streams

__all__ = ["MAGIC", "MAX_HEADER", "Archive", "Entry", "read_archive"]

MAGIC = b"7z\xbc\xaf\x27\x1c"
#: Largest header, packed or unpacked (100 000 names take a few MiB).
MAX_HEADER = 64 << 20
_MAX_ENCODED = 4  # kEncodedHeader wrapping kEncodedHeader ...


class Entry(NamedTuple):
    """One file record; ``folder`` is -1 for an empty stream (directory, empty file)."""

    name: str
    size: int
    crc: int | None
    folder: int
    attributes: int | None


class Archive(NamedTuple):
    folders: tuple[Folder, ...]
    entries: tuple[Entry, ...]


def read_archive(f: BinaryIO, path: str) -> Archive:
    """Parse the headers of the 7z archive ``f`` (nothing is decompressed but headers)."""
    size = f.seek(0, 2)
    f.seek(0)
    start = f.read(32)
    if len(start) < 32 or not start.startswith(MAGIC):
        raise corrupt(path, "signature header is truncated")
    if start[6] != 0:
        raise corrupt(path, f"unknown format version {start[6]}.{start[7]}")
    start_crc, offset, length, header_crc = struct.unpack_from("<IQQI", start, 8)
    if zlib.crc32(start[12:32]) != start_crc:
        raise corrupt(path, "start header CRC mismatch")
    if length == 0:
        return Archive((), ())
    if length > MAX_HEADER:
        raise LimitExceeded("7z header bytes", MAX_HEADER, length, path=path)
    if 32 + offset + length > size:
        raise corrupt(path, "its header lies beyond the end of the file: truncated?")
    f.seek(32 + offset)
    header = f.read(length)
    if zlib.crc32(header) != header_crc:
        raise corrupt(path, "header CRC mismatch")
    for _ in range(_MAX_ENCODED):
        r = Cursor(header, path)
        kind = r.number()
        if kind == Property.HEADER:
            return _header(r, size)
        if kind != Property.ENCODED_HEADER:
            raise corrupt(path, f"unknown header type {kind:#x}")
        header = _decode_header(f, r, size)
    raise corrupt(path, "too many nested encoded headers")


def _decode_header(f: BinaryIO, r: Cursor, size: int) -> bytes:
    """kEncodedHeader: the real header is the output of one packed folder."""
    streams = read_streams(r, size)
    if len(streams.folders) != 1:
        raise corrupt(r.path, "encoded header must be one folder")
    folder = streams.folders[0]
    if folder.unpack_size > MAX_HEADER:
        raise LimitExceeded("7z header bytes", MAX_HEADER, folder.unpack_size, path=r.path)
    data = b"".join(folder_chunks(f, folder, r.path))
    if folder.crc is not None and zlib.crc32(data) != folder.crc:
        raise corrupt(r.path, "encoded header CRC mismatch")
    return data


def _header(r: Cursor, size: int) -> Archive:
    pid = r.number()
    if pid == Property.ARCHIVE_PROPERTIES:
        while r.number() != Property.END:
            r.skip_data()
        pid = r.number()
    if pid == Property.ADDITIONAL_STREAMS:
        raise Unsupported("additional streams")
    streams = Streams([], [], [], [])
    if pid == Property.MAIN_STREAMS:
        streams = read_streams(r, size)
        pid = r.number()
    if pid == Property.END:
        return Archive(tuple(streams.folders), ())
    if pid != Property.FILES_INFO:
        raise corrupt(r.path, f"unexpected header property {pid:#x}")
    return Archive(tuple(streams.folders), _files(r, streams))


def _files(r: Cursor, streams: Streams) -> tuple[Entry, ...]:
    """FilesInfo: names, empty-stream flags and attributes; other properties are skipped."""
    n = r.count("files")
    empty: list[bool] = [False] * n
    names: list[str] | None = None
    attributes: list[int | None] = [None] * n
    while (pid := r.number()) != Property.END:
        prop = Cursor(r.take(r.number()), r.path)
        if pid == Property.EMPTY_STREAM:
            empty = prop.bits(n)
        elif pid in (Property.EMPTY_FILE, Property.ANTI):
            prop.bits(sum(empty))
        elif pid == Property.NAME:
            names = _names(prop, n)
        elif pid == Property.ATTRIBUTES:
            attributes = _attributes(prop, n)
    if names is None:
        raise Unsupported("files without names")
    if n - sum(empty) != len(streams.sizes):
        raise corrupt(r.path, f"{n - sum(empty)} files with data but {len(streams.sizes)} streams")
    entries, k = [], 0
    for i in range(n):
        if empty[i]:
            entries.append(Entry(names[i], 0, None, -1, attributes[i]))
        else:
            entries.append(
                Entry(
                    names[i],
                    streams.sizes[k],
                    streams.crcs[k],
                    streams.stream_folder[k],
                    attributes[i],
                )
            )
            k += 1
    return tuple(entries)


def _names(prop: Cursor, n: int) -> list[str]:
    if prop.byte() != 0:
        raise Unsupported("names stored outside the header")
    raw = prop.data[prop.pos :]
    try:
        names = raw[: len(raw) & ~1].decode("utf-16-le").split("\x00")
    except UnicodeDecodeError as exc:
        raise Unsupported("names that are not UTF-16") from exc
    if len(names) <= n:
        raise corrupt(prop.path, "file names are truncated")
    return [name.replace("\\", "/") for name in names[:n]]


def _attributes(prop: Cursor, n: int) -> list[int | None]:
    defined = prop.defined(n)
    if prop.byte() != 0:
        raise Unsupported("attributes stored outside the header")
    return [prop.uint32() if d else None for d in defined]
