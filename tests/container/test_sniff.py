"""Identifying a file from its first bytes."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import pytest

from pthforensics.container import FileKind, sniff, sniff_file
from pthforensics.container.sniff import has_zip_end


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("pickle")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    return buf.getvalue()


def _safetensors() -> bytes:
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    return struct.pack("<Q", len(header)) + header + b"\x00" * 4


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"PK\x03\x04rest", FileKind.ZIP),
        (b"PK\x05\x06" + b"\x00" * 18, FileKind.ZIP),
        (gzip.compress(b"x"), FileKind.GZIP),
        (b"BZh91AY&SY", FileKind.BZ2),
        (b"\xfd7zXZ\x00\x00", FileKind.XZ),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", FileKind.SEVEN_ZIP),
        (b"\x28\xb5\x2f\xfd\x00", FileKind.ZSTD),
        (b"Rar!\x1a\x07\x00", FileKind.RAR),
        (b"\x04\x22\x4d\x18\x60", FileKind.LZ4),
        (_tar(), FileKind.TAR),
        (_safetensors(), FileKind.SAFETENSORS),
        (b"\x93NUMPY\x01\x00", FileKind.NPY),
        (pickle.dumps({"a": 1}, protocol=4), FileKind.PICKLE),
        (pickle.dumps({"a": 1}, protocol=0), FileKind.PICKLE),
        (b"hello world\n", None),
        (b"\x00" * 64, None),
    ],
)
def test_sniff(head: bytes, kind: FileKind | None) -> None:
    assert sniff(head[:4096], len(head)) is kind


def test_kinds_are_their_wrapper_names() -> None:
    assert FileKind.SEVEN_ZIP == "7z" and f"{FileKind.GZIP}!" == "gzip!"


def test_sniff_file_reads_regular_files_only(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps([1, 2], protocol=2))
    assert sniff_file(str(path)) is FileKind.PICKLE
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sniff_file(str(empty)) is None
    assert sniff_file(str(tmp_path / "missing")) is None
    assert sniff_file(str(tmp_path)) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert sniff_file(str(fifo)) is None  # would block if opened


def test_zip_end_record_anywhere_in_the_tail() -> None:
    tail = b"PK\x05\x06" + b"\x00" * 18
    assert has_zip_end(io.BytesIO(b"x" * 100 + tail), 122)
    assert has_zip_end(io.BytesIO(tail + b"c" * 0xFFFF), 22 + 0xFFFF)
    assert not has_zip_end(io.BytesIO(tail + b"c" * 0x10000), 22 + 0x10000)
    assert not has_zip_end(io.BytesIO(b"no end record here"), 18)
