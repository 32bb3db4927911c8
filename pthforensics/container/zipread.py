"""A forgiving zip directory reader: every entry, as a loader could see it.

Python's :mod:`zipfile` refuses archives that torch's miniz reader accepts (bad CRCs,
encrypted flag bits, overlapping entries), which is a published way to hide a
``data.pkl`` from scanners built on it.  This reader parses the end-of-central-
directory record (zip64 included), every central directory entry and its local
header itself, keeps duplicates, and reports anomalies instead of refusing.

Format: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.12 (central
directory), 4.3.14-16 (zip64 end records), 4.4.4 (general purpose flags).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import BinaryIO, NamedTuple

from pthforensics.core import (
    ContainerError,
    LimitExceeded,
    Limits,
    new_record,
)

from .zipend import BUDGET, Budget, end_records
from .zipmember import decode_name, read_local_header, read_member

__all__ = [
    "ZipDirectory",
    "ZipEntry",
    "LOCAL_SLACK",
    "read_member",
    "read_zip_directory",
]

_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
#: Bytes at the end of a file the end-record search reads (miniz goes one 4 KiB chunk past
#: the longest comment).
_SEARCH_SPAN = _MAX_COMMENT + 22 + 4096 + 20
#: The central directory entry fields the reader uses (APPNOTE 4.3.12): flags, method, crc,
#: compressed size, size, name/extra/comment lengths and local header offset; the
#: signature, versions, time, disk and attributes are skipped.
_CENTRAL_FIELDS = struct.Struct("<8xHH4xLLLHHH8xL")


class ZipEntry(NamedTuple):
    """One central-directory entry and what its local header says (a named tuple: one per
    member, thousands per archive)."""

    name: str
    local_name: str | None
    flags: int
    local_flags: int | None
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    """Absolute offset of the local header in the file."""
    data_offset: int | None
    """Absolute offset of the first data byte, ``None`` when the local header is bad or was
    not read."""
    name_len: int = 0
    """Length of the encoded name (the local header repeats it)."""
    local_read: bool = True
    """Whether the local header was read (storage members' are skipped when the layout
    leaves no room for hidden bytes; see :func:`read_zip_directory`)."""


@dataclass(frozen=True, slots=True)
class ZipDirectory:
    """One central directory: its entries in order and where its records lie."""

    entries: tuple[ZipEntry, ...]
    central_offset: int
    central_end: int
    """End of the end-of-central-directory record (and its comment)."""
    prefix: int
    """Bytes before the first local header that the offsets do not account for (0 in the
    view of torch's reader, which takes offsets as written)."""
    eocd_offset: int = 0
    """Where the end record of this directory lies."""
    others: tuple[ZipDirectory, ...] = ()
    """Other directories a zip reader could take instead: Python's ``zipfile`` shifts
    offsets by the bytes it finds prepended; an earlier end record (in a comment, or of a
    second archive) points at another directory."""
    torch_view: bool = True
    """Whether this is the directory torch's reader takes (the last end record, offsets as
    written); ``False`` when that one is unreadable and another reader's view is kept."""


#: Room a skipped local header may take beyond its fixed part and name: torch's writer pads
#: the extra field so that data starts on a 64-byte boundary (a 4-byte field header plus at
#: most 63 bytes), and a data descriptor may follow the data.
LOCAL_SLACK = 4 + 64
#: Alternative directories (earlier end records) kept at most.
_MAX_OTHER_DIRECTORIES = 8


def read_zip_directory(
    f: BinaryIO,
    size: int,
    limits: Limits,
    path: str,
    read_local: Callable[[str], bool] | None = None,
) -> ZipDirectory:
    """The directory torch's reader (miniz) takes, with the others a reader could take.

    miniz (``mz_zip_reader_locate_header_sig``, ``mz_zip_reader_read_central_dir``) takes
    the last end-of-central-directory signature with 22 bytes after it, within the last
    64 KiB, and reads the central directory at the offset the record gives, as written.
    When that fails (bytes prepended to the archive), the directory is read the way Python's
    ``zipfile`` reads it, with every offset shifted by ``eocd - cd_size - cd_offset``; torch
    cannot load such a file as a zip, other readers can.  Raise on a truncated archive.

    Local headers are read for every entry for which ``read_local(name)`` is true (all by
    default).  Skipping the others saves a read per tensor storage; such an entry's local
    header is still read when the space up to the next entry leaves room for more than
    an aligned extra field, so no byte range goes unaccounted.
    """
    tail_len = min(size, _SEARCH_SPAN)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    candidates = end_records(tail, size - tail_len, size)
    if not candidates:
        raise ContainerError(
            "zip end-of-central-directory record not found: the archive is "
            "truncated (an interrupted download?) or not a zip",
            path=path,
        )
    views: list[ZipDirectory] = []
    error: ContainerError | None = None
    budget = Budget()
    for rank, at in enumerate(candidates):  # (at most one per 4 bytes of the search span)
        for shifted in (False, True):
            try:
                view = _directory_at(
                    f,
                    size,
                    tail,
                    size - tail_len,
                    at,
                    limits,
                    path,
                    read_local,
                    budget if rank or shifted else None,
                    shifted=shifted,
                )
            except ContainerError as exc:
                error = error or exc
                continue
            if view is not None and all(_differs(view, v) for v in views):
                views.append(replace(view, torch_view=rank == 0 and not shifted))
        if len(views) > _MAX_OTHER_DIRECTORIES or budget.spent():
            break
    if not views:
        assert error is not None
        raise error
    return replace(views[0], others=tuple(views[1:]))


def _differs(a: ZipDirectory, b: ZipDirectory) -> bool:
    return (a.central_offset, a.prefix, len(a.entries)) != (
        b.central_offset,
        b.prefix,
        len(b.entries),
    )


def _directory_at(
    f: BinaryIO,
    size: int,
    tail: bytes,
    base: int,
    eocd_at: int,
    limits: Limits,
    path: str,
    read_local: Callable[[str], bool] | None,
    budget: Budget | None,
    *,
    shifted: bool,
) -> ZipDirectory | None:
    """The directory the end record at ``eocd_at`` describes (``shifted``: as ``zipfile``
    reads it; ``None`` when that is the same as unshifted)."""
    pos = eocd_at - base
    (_sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment_len) = struct.unpack(
        "<4s4H2LH", tail[pos : pos + 22]
    )
    if on_disk != count or (disk | cd_disk and (disk, cd_disk) != (1, 1)):
        raise ContainerError("zip end record describes a multi-disk archive", path=path)
    if cd_size < count * 46:
        raise ContainerError("zip end record is inconsistent (directory too small)", path=path)
    central_end = eocd_at + 22 + comment_len
    zip64 = count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF
    end_at = eocd_at
    loc = pos - 20
    if loc >= 0 and tail[loc : loc + 4] == _ZIP64_LOCATOR:
        (_s, _d, z64_at, _t) = struct.unpack("<4sLQL", tail[loc : loc + 20])
        f.seek(z64_at)
        rec = f.read(56)
        if len(rec) == 56 and rec[:4] == _ZIP64EOCD:
            (_s, _sz, _v1, _v2, _d1, _d2, _n1, count, cd_size, cd_offset) = struct.unpack(
                "<4sQ2H2L4Q", rec
            )
            end_at = z64_at
        elif zip64:
            raise ContainerError("zip64 end record missing or corrupt", path=path)
    if count > limits.max_members:
        raise LimitExceeded("zip entries", limits.max_members, count, path=path)
    # Offsets are relative to the start of the archive; zipfile shifts them by the bytes
    # it finds prepended, miniz does not.
    prefix = max(0, end_at - cd_size - cd_offset) if shifted else 0
    if shifted and prefix == 0:
        return None
    start = cd_offset + prefix
    if start + cd_size > size:
        raise ContainerError(
            f"zip central directory ({cd_size} bytes at {start}) lies outside "
            "the file: truncated or corrupt archive",
            path=path,
        )
    if budget is not None and not budget.take(cd_size):
        raise LimitExceeded("zip directory bytes", BUDGET, "more", path=path)
    f.seek(start)
    central = f.read(cd_size)
    rows = _parse_central(central, count, prefix, path)
    entries = _locate(f, rows, start, size, read_local)
    return ZipDirectory(tuple(entries), start, central_end, prefix, eocd_at)


#: A central-directory entry before its local header is located: name, flags, method, crc,
#: compressed size, size, absolute local header offset, encoded name length.
_Row = tuple[str, int, int, int, int, int, int, int]


def _locate(
    f: BinaryIO,
    rows: list[_Row],
    central_start: int,
    size: int,
    read_local: Callable[[str], bool] | None,
) -> list[ZipEntry]:
    """Entries with their data offsets: from the local header when ``read_local(name)`` (or
    always, without it), else from the layout when the span up to the next entry leaves
    no room for anything but the aligned local header, data and data descriptor."""
    headers = [r[6] for r in rows]
    if headers == sorted(headers):  # as every writer lays them out: no per-entry sort
        following = [*headers[1:], central_start]
    else:
        following = [central_start] * len(rows)
        for (_h, i), (nxt, _j) in pairwise(sorted(zip(headers, range(len(rows)), strict=True))):
            following[i] = nxt
    entries: list[ZipEntry] = []
    append = entries.append
    for (name, flags, method, crc, csize, usize, header, n_len), nxt in zip(
        rows, following, strict=True
    ):
        local_name: str | None = None
        local_flags: int | None = None
        data_offset: int | None = None
        read = read_local is None or read_local(name)
        if not read:
            minimal_end = header + 30 + n_len + csize
            slack = LOCAL_SLACK + (24 if flags & 0x8 else 0)
            if not minimal_end <= nxt <= minimal_end + slack:
                read = True  # room for more than the header: look at it
            elif not flags & 0x8:
                data_offset = nxt - csize  # contiguous: the data ends where the next begins
        if read:
            local_name, local_flags, data_offset = read_local_header(f, header, size, n_len)
        append(
            new_record(
                ZipEntry,
                (
                    name,
                    local_name,
                    flags,
                    local_flags,
                    method,
                    crc,
                    csize,
                    usize,
                    header,
                    data_offset,
                    n_len,
                    read,
                ),
            )
        )
    return entries


def _parse_central(central: bytes, count: int, prefix: int, path: str) -> list[_Row]:
    rows: list[_Row] = []
    append = rows.append
    at = 0
    end = len(central)
    unpack = _CENTRAL_FIELDS.unpack_from
    for _ in range(count):
        if at + 46 > end or not central.startswith(_CENTRAL, at):
            raise ContainerError(f"zip central directory entry {len(rows)} is corrupt", path=path)
        flags, method, crc, csize, usize, n_len, e_len, c_len, offset = unpack(central, at)
        name_end = at + 46 + n_len
        raw = central[at + 46 : name_end]
        if e_len:
            usize, csize, offset = _zip64_extra(
                central[name_end : name_end + e_len], usize, csize, offset
            )
        at = name_end + e_len + c_len
        # (UTF-8 and cp437 both agree with ASCII: the common case takes the fast decoder)
        name = raw.decode("ascii") if raw.isascii() else decode_name(raw, flags)
        append((name, flags, method, crc, csize, usize, offset + prefix, n_len))
    return rows


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[at : at + 4])
        body = extra[at + 4 : at + 4 + length]
        if tag == 1:
            values = list(struct.unpack(f"<{len(body) // 8}Q", body[: len(body) // 8 * 8]))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
        at += 4 + length
    return usize, csize, offset
