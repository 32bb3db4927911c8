"""The forgiving zip directory reader: offsets, zip64, names, prefixes, and refusal cases.

Archives are built here byte by byte (APPNOTE 4.3.7 local header, 4.3.12 central entry,
4.3.14-16 zip64 end records, 4.5.3 zip64 extra) or with :mod:`zipfile`, from trusted data.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from pthforensics.container import read_member, read_zip_directory
from pthforensics.container.zipcheck import zip_anomalies
from pthforensics.core import ContainerError, LimitExceeded, Limits

_LIMITS = Limits()


@dataclass
class _Member:
    name: bytes
    data: bytes
    flags: int = 0
    method: int = 0
    zip64: bool = False


def _build(
    members: list[_Member], *, prefix: bytes = b"", comment: bytes = b"", zip64_end: bool = False
) -> bytes:
    """A zip of ``members`` (stored or deflated), optionally with zip64 fields."""
    out = bytearray(prefix)
    central = bytearray()
    for m in members:
        payload = zlib.compress(m.data)[2:-4] if m.method == 8 else m.data
        offset = len(out) - len(prefix)
        crc = zlib.crc32(m.data)
        size32 = 0xFFFFFFFF if m.zip64 else len(m.data)
        csize32 = 0xFFFFFFFF if m.zip64 else len(payload)
        off32 = 0xFFFFFFFF if m.zip64 else offset
        extra = struct.pack("<HHQQQ", 1, 24, len(m.data), len(payload), offset) if m.zip64 else b""
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            45,
            m.flags,
            m.method,
            0,
            0,
            crc,
            csize32,
            size32,
            len(m.name),
            0,
        )
        out += m.name + payload
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            45,
            45,
            m.flags,
            m.method,
            0,
            0,
            crc,
            csize32,
            size32,
            len(m.name),
            len(extra),
            0,
            0,
            0,
            0,
            off32,
        )
        central += m.name + extra
    cd_offset = len(out) - len(prefix)
    out += central
    count = len(members)
    if zip64_end:
        z64_at = len(out) - len(prefix)
        out += struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset
        )
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64_at, 1)
        out += struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, len(comment)
        )
    else:
        out += struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, len(comment)
        )
    return bytes(out + comment)


def _read(raw: bytes, **kwargs):  # type: ignore[no-untyped-def]
    return read_zip_directory(
        io.BytesIO(raw), len(raw), kwargs.pop("limits", _LIMITS), "t.zip", **kwargs
    )


def test_entries_and_data_offsets_from_zipfile(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    blobs = {"arch/data.pkl": b"\x80\x02K\x01." * 10, "arch/data/0": bytes(range(200)) * 3}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in blobs.items():
            z.writestr(
                name,
                data,
                compress_type=zipfile.ZIP_DEFLATED if name.endswith("pkl") else zipfile.ZIP_STORED,
            )
    raw = path.read_bytes()
    directory = _read(raw)
    assert [e.name for e in directory.entries] == list(blobs)
    for entry in directory.entries:
        assert entry.local_name == entry.name and entry.local_read
        assert read_member(io.BytesIO(raw), entry, 1 << 20, "t.zip") == blobs[entry.name]
    stored = directory.entries[1]
    assert raw[stored.data_offset : stored.data_offset + stored.size] == blobs["arch/data/0"]
    assert directory.prefix == 0 and directory.central_end == len(raw)
    assert list(zip_anomalies(directory, len(raw), "")) == []


def test_zip64_extra_fields_give_sizes_and_offsets() -> None:
    data = b"weights" * 50
    raw = _build([_Member(b"a/data.pkl", b"\x80\x02."), _Member(b"a/data/0", data, zip64=True)])
    entry = _read(raw).entries[1]
    assert (entry.size, entry.compressed_size) == (len(data), len(data))
    assert read_member(io.BytesIO(raw), entry, 1 << 20, "t.zip") == data


def test_zip64_end_record_is_used() -> None:
    raw = _build([_Member(b"x", b"1"), _Member(b"y", b"22")], zip64_end=True)
    directory = _read(raw)
    assert [e.name for e in directory.entries] == ["x", "y"]
    assert list(zip_anomalies(directory, len(raw), "")) == []


def test_zip64_locator_pointing_nowhere_is_refused() -> None:
    raw = bytearray(_build([_Member(b"x", b"1")], zip64_end=True))
    at = raw.index(b"PK\x06\x06")
    raw[at : at + 4] = b"XXXX"  # the record the locator names is gone
    with pytest.raises(ContainerError, match="zip64"):
        _read(bytes(raw))


def test_names_are_decoded_as_the_flags_say() -> None:
    raw = _build([_Member("café/ü.pkl".encode(), b"1", flags=0x800), _Member(b"caf\x82", b"2")])
    names = [e.name for e in _read(raw).entries]
    assert names == ["café/ü.pkl", "café"]  # utf-8 by flag 11, else cp437 (0x82 is é)
    bad_utf8 = _build([_Member(b"bad\xff", b"3", flags=0x800)])
    assert _read(bad_utf8).entries[0].name == "bad\ufffd"


def test_local_name_mismatch_and_bad_local_header() -> None:
    raw = bytearray(_build([_Member(b"data.pkl", b"\x80\x02."), _Member(b"other", b"x")]))
    first_local = raw.index(b"data.pkl")
    raw[first_local : first_local + 8] = b"evil.pkl"
    second_local = raw.index(b"PK\x03\x04", first_local)
    raw[second_local : second_local + 4] = b"PK\x00\x00"
    directory = _read(bytes(raw))
    assert directory.entries[0].local_name == "evil.pkl"
    assert directory.entries[1].local_name is None and directory.entries[1].data_offset is None
    rules = [f.rule_id for f in zip_anomalies(directory, len(raw), "")]
    assert rules == ["zip-name-mismatch", "zip-bad-local-header"]
    with pytest.raises(ContainerError, match="local header"):
        read_member(io.BytesIO(bytes(raw)), directory.entries[1], 100, "t.zip")


def test_prepended_bytes_shift_every_offset() -> None:
    prefix = b"#!/bin/sh\nexit 0\n" * 3
    raw = _build([_Member(b"m", b"payload bytes")], prefix=prefix)
    directory = _read(raw)
    assert directory.prefix == len(prefix)
    [entry] = directory.entries
    assert entry.header_offset == len(prefix)
    assert read_member(io.BytesIO(raw), entry, 100, "t.zip") == b"payload bytes"
    # The prepended bytes belong to no member: the anomaly check does not count them.
    assert list(zip_anomalies(directory, len(raw), "")) == []


def test_longest_comment_still_finds_the_end_record() -> None:
    raw = _build([_Member(b"m", b"x")], comment=b"c" * 0xFFFF)
    assert [e.name for e in _read(raw).entries] == ["m"]
    assert _read(raw).central_end == len(raw)


@pytest.mark.parametrize("cut", [1, 10, 22, 40])
def test_truncated_archives_are_refused(cut: int) -> None:
    raw = _build([_Member(b"a", b"x" * 100), _Member(b"b", b"y" * 100)])
    with pytest.raises(ContainerError):
        _read(raw[:-cut])


def test_central_directory_beyond_the_file_is_refused() -> None:
    raw = bytearray(_build([_Member(b"a", b"x")]))
    eocd = raw.rindex(b"PK\x05\x06")
    struct.pack_into("<L", raw, eocd + 16, 1 << 20)  # central directory offset
    with pytest.raises(ContainerError):
        _read(bytes(raw))


def test_corrupt_central_entry_is_refused() -> None:
    raw = bytearray(_build([_Member(b"a", b"x"), _Member(b"b", b"y")]))
    second = raw.rindex(b"PK\x01\x02")
    raw[second : second + 4] = b"PK\x09\x09"
    with pytest.raises(ContainerError, match="entry 1"):
        _read(bytes(raw))


def test_entry_count_is_capped() -> None:
    raw = _build([_Member(f"m{i}".encode(), b"") for i in range(5)])
    with pytest.raises(LimitExceeded):
        _read(raw, limits=Limits(max_members=4))


def test_read_member_caps_and_methods() -> None:
    data = bytes(range(256)) * 40
    raw = _build(
        [_Member(b"s", data), _Member(b"d", data, method=8), _Member(b"x", data, method=12)]
    )
    stored, deflated, bzip = _read(raw).entries
    f = io.BytesIO(raw)
    assert read_member(f, deflated, 1 << 20, "t.zip") == data
    assert read_member(f, deflated, 1 << 20, "t.zip", prefix_only=100) == data[:100]
    assert read_member(f, stored, 1 << 20, "t.zip", prefix_only=7) == data[:7]
    with pytest.raises(LimitExceeded):
        read_member(f, stored, len(data) - 1, "t.zip")
    with pytest.raises(ContainerError, match="method 12"):
        read_member(f, bzip, 1 << 20, "t.zip")


def test_corrupt_deflate_is_refused() -> None:
    raw = bytearray(_build([_Member(b"d", b"hello world " * 100, method=8)]))
    start = raw.index(b"d", 30) + 1
    raw[start : start + 8] = b"\xff" * 8
    [entry] = _read(bytes(raw)).entries
    with pytest.raises(ContainerError, match="deflate"):
        read_member(io.BytesIO(bytes(raw)), entry, 1 << 20, "t.zip")


def test_storage_local_headers_are_skipped_only_when_the_layout_accounts_for_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a/data.pkl", b"\x80\x02.")
        z.writestr("a/data/0", b"\x00" * 64)
        z.writestr("a/data/1", b"\x01" * 64)
    raw = path.read_bytes()

    def not_storage(name: str) -> bool:
        return "/data/" not in name

    directory = _read(raw, read_local=not_storage)
    pkl, s0, s1 = directory.entries
    assert pkl.local_read and not s0.local_read and not s1.local_read
    # Contiguous layout: the data offset comes from the next entry, exactly.
    assert raw[s0.data_offset : s0.data_offset + 64] == b"\x00" * 64
    assert raw[s1.data_offset : s1.data_offset + 64] == b"\x01" * 64
    # Bytes hidden between two storages: the next local header is read to account for them.
    hidden = raw.replace(b"\x00" * 64, b"\x00" * 64 + b"X" * 200, 1)
    cd = hidden.rindex(b"PK\x05\x06")
    moved = bytearray(hidden)
    # shift the central directory offset and the offsets of later entries by 200
    struct.pack_into("<L", moved, cd + 16, struct.unpack_from("<L", moved, cd + 16)[0] + 200)
    central = moved.index(b"PK\x01\x02")
    for _ in range(3):
        off = struct.unpack_from("<L", moved, central + 42)[0]
        if off > s0.header_offset:
            struct.pack_into("<L", moved, central + 42, off + 200)
        n, e, c = struct.unpack_from("<3H", moved, central + 28)
        central += 46 + n + e + c
    directory = _read(bytes(moved), read_local=not_storage)
    assert [e.local_read for e in directory.entries] == [True, True, False]
    rules = [f.rule_id for f in zip_anomalies(directory, len(moved), "")]
    assert rules == ["zip-unaccounted-bytes"]
