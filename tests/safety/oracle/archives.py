"""Containers around generated pickles: torch zips (with member and directory tricks),
legacy stacked streams, legacy tars, and bytes nested for ``torch.storage._load_from_bytes``.

The zip writer is written out here (PKWARE APPNOTE 4.3.7 local header, 4.3.12 central
directory entry, 4.3.16 end record) so that every field a reader could disagree on is
under control: member order, names (case, duplicates, directories), the central directory
a reader finds (two of them, two end records), bytes no member owns.  torch's reader is
miniz behind ``caffe2/serialize/inline_container.cc``: the archive's root is the first
component of the *first* central-directory name, and ``getRecord(name)`` looks up
``root/name`` with ``mz_zip_reader_locate_file(..., flags=0)`` (case-insensitive).
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from corpus._opcodes import Asm

from .pickles import constant_stream, int_stream

__all__ = [
    "LEGACY_MAGIC",
    "Member",
    "deliver_bytes",
    "legacy_stream",
    "legacy_tar",
    "torch_zip",
    "zip_bytes",
]

#: ``torch.serialization.MAGIC_NUMBER`` and ``PROTOCOL_VERSION`` of the legacy stream.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


@dataclass(frozen=True, slots=True)
class Member:
    """One zip entry as written: local header name may differ from the central one."""

    name: str
    data: bytes
    local_name: str | None = None
    in_directory: bool = True
    """Whether the central directory lists it (else its bytes belong to no member)."""
    deflate: bool = False


def _local(name: bytes, data: bytes, stored: bytes, method: int) -> bytes:
    crc = zlib.crc32(data)
    return (
        struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            20,
            0,
            method,
            0,
            0x21,
            crc,
            len(stored),
            len(data),
            len(name),
            0,
        )
        + name
        + stored
    )


def _central(name: bytes, data: bytes, stored: bytes, method: int, offset: int) -> bytes:
    return (
        struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            method,
            0,
            0x21,
            zlib.crc32(data),
            len(stored),
            len(data),
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + name
    )


def _eocd(count: int, cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return (
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment))
        + comment
    )


def zip_bytes(
    members: Sequence[Member],
    *,
    decoy_directory: Sequence[Member] | None = None,
    trailing: bytes = b"",
    comment: bytes = b"",
) -> bytes:
    """A zip of ``members`` (stored, or deflated per member).

    ``decoy_directory``: members written too, listed by a *second* central directory placed
    right after the real one; the end record points at the real one (``cd_offset``) while
    its position says the directory ends at the decoy (a reader that derives a "prepended
    data" shift from ``eocd - cd_size - cd_offset`` reads the decoy instead).
    ``trailing``: bytes after the end record (a second end record, garbage).
    """
    out = bytearray()
    listed: list[tuple[bytes, bytes, bytes, int, int]] = []
    decoys: list[tuple[bytes, bytes, bytes, int, int]] = []
    for group, target in ((members, listed), (decoy_directory or (), decoys)):
        for m in group:
            stored = zlib.compress(m.data)[2:-4] if m.deflate else m.data
            method = 8 if m.deflate else 0
            name = m.name.encode("utf-8")
            offset = len(out)
            out += _local((m.local_name or m.name).encode("utf-8"), m.data, stored, method)
            if m.in_directory:
                target.append((name, m.data, stored, method, offset))
    cd_offset = len(out)
    for row in listed:
        out += _central(*row)
    cd_size = len(out) - cd_offset
    if decoy_directory is not None:
        decoy = b"".join(_central(*row) for row in decoys)
        if len(decoy) != cd_size:
            raise ValueError(f"decoy directory must be {cd_size} bytes, not {len(decoy)}")
        out += decoy
    out += _eocd(len(listed), cd_size, cd_offset, comment)
    return bytes(out + trailing)


def torch_zip(
    data_pkl: bytes,
    *,
    root: str = "archive",
    pkl_name: str = "data.pkl",
    extra: Sequence[Member] = (),
    first: Sequence[Member] = (),
) -> bytes:
    """A torch zip as ``torch.save`` lays it out (``version``, ``data.pkl``, ``byteorder``),
    with ``first`` members before it (the first central name sets torch's root) and
    ``extra`` members after it."""
    members = [
        *first,
        Member(f"{root}/{pkl_name}", data_pkl),
        Member(f"{root}/byteorder", b"little"),
        *extra,
        Member(f"{root}/version", b"3\n"),
        Member(f"{root}/.data/serialization_id", b"0123456789"),
    ]
    return zip_bytes(members)


def legacy_stream(streams: Sequence[bytes], *, tail: bytes = b"") -> bytes:
    """A legacy ``torch.save(..., _use_new_zipfile_serialization=False)`` file: magic,
    protocol, sys_info, object, storage keys (each a complete pickle), then ``tail``."""
    return b"".join(streams) + tail


def legacy_parts() -> list[bytes]:
    """The five benign pickles of an empty legacy checkpoint (an empty dict, no storages)."""
    return [
        int_stream(LEGACY_MAGIC),
        int_stream(LEGACY_PROTOCOL),
        constant_stream({"protocol_version": LEGACY_PROTOCOL, "little_endian": True}),
        constant_stream({}),
        constant_stream([]),
    ]


def legacy_tar(members: Sequence[tuple[str, bytes]], *, ustar: bool = True) -> bytes:
    """A tar (the torch < 0.4 layout: ``sys_info``, ``storages``, ``tensors``, ``pickle``).
    ``ustar=False`` blanks the ``ustar`` magic: an old V7 header, which ``tarfile`` (what
    ``torch.load`` tries first on any real file) still reads."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    if not ustar:
        at = 0
        while at + 512 <= len(raw) and raw[at : at + 1] != b"\x00":
            size = int(raw[at + 124 : at + 136].rstrip(b"\x00 ") or b"0", 8)
            raw[at + 257 : at + 265] = bytes(8)  # magic and version
            raw[at + 148 : at + 156] = b" " * 8
            checksum = sum(raw[at : at + 512])
            raw[at + 148 : at + 156] = b"%06o\x00 " % checksum
            at += 512 + (size + 511) // 512 * 512
    return bytes(raw)


def deliver_bytes(asm: Asm, data: bytes, style: str) -> None:
    """Push ``data`` as a bytes object, the way ``style`` says.

    ``binbytes``: a BINBYTES literal; ``latin1``/``utf16``: ``_codecs.encode(text, codec)``
    (how protocol 2 pickles bytes, and a codec whose text does not look like the bytes);
    ``list``/``bytearray``: ``bytes(list of ints)`` / ``bytearray(...)`` (allow-listed
    constructors computing the bytes at load time).
    """
    if style == "binbytes":
        asm.binary(data)
    elif style == "latin1":
        asm.global_("_codecs", "encode").text(data.decode("latin-1")).text("latin1").tuple2()
        asm.reduce()
    elif style == "utf16":
        # (a NUL pads odd lengths: loaders ignore bytes after a pickle's STOP or a zip's
        # end record)
        padded = data + (b"\x00" if len(data) % 2 else b"")
        text = padded.decode("utf-16-le", "surrogatepass")
        asm.global_("_codecs", "encode").text(text).text("utf-16-le").tuple2().reduce()
    elif style in ("list", "bytearray"):
        asm.global_("builtins", "bytes" if style == "list" else "bytearray")
        asm.empty_list()
        asm.raw(b"(" + b"".join(b"K" + bytes([b]) for b in data) + b"e")
        asm.tuple1().reduce()
    else:
        raise ValueError(f"unknown delivery {style!r}")
