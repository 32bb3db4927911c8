"""The standard-library 7z reader: same members as py7zr, py7zr imported only when needed,
and nothing but ContainerError/LimitExceeded out of hostile archives."""

from __future__ import annotations

import base64
import contextlib
import io
import lzma
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import py7zr
import pytest

from pthforensics.container import sevenzip as sevenzip
from pthforensics.container.sevenzip import extract_7z
from pthforensics.container.sevenzip_decode import Folder
from pthforensics.container.sevenzip_header import Entry, read_archive
from pthforensics.core import ContainerError, LimitExceeded

LZMA2 = {"id": lzma.FILTER_LZMA2, "preset": 6}
FILTERS = {
    "default": None,  # py7zr's default: BCJ x86 + LZMA2
    "lzma2": [LZMA2],
    "lzma1": [{"id": lzma.FILTER_LZMA1}],
    "copy": [{"id": py7zr.FILTER_COPY}],
    "bcj-lzma2": [{"id": lzma.FILTER_X86}, LZMA2],
    "delta-lzma2": [{"id": lzma.FILTER_DELTA, "dist": 4}, LZMA2],
    "arm-lzma2": [{"id": lzma.FILTER_ARM}, LZMA2],
    "bcj-lzma1": [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA1}],
}
FALLBACK = {"bzip2": [{"id": py7zr.FILTER_BZIP2}], "deflate": [{"id": py7zr.FILTER_DEFLATE}]}

# Written by 7-Zip 26.02 (`7zz a -m0=BCJ -m1=LZMA|LZMA2`): pkg/empty, pkg/dir/model.pkl,
# pkg/prog.bin.  7-Zip lists coders in the other order than py7zr, and its LZMA1 streams
# have no end marker.
SEVENZIP_BCJ_LZMA1 = base64.b64decode(
    "N3q8ryccAATeAQEH4AAAAAAAAAAiAAAAAAAAAOi3geYAQACLKdeAt6KlERLr/iqn5bkLFemu+/+gb8oLzTBL"
    "R0m6AuTAz2AGdhM/zZTB3t5Lj0TABFVL+hC4qCcFHtZbsMhEl8BYhOAlVgffsKtHWD0OtlwwGrF1zUv0QAAA"
    "AIEzB64P02kuPUC7lGQtaSYyNx4ttME2z7JeO46MBkLqKOXXB3BsuzBrlHHqkqUtgbTKB6f7bkpSDuaNAAUV"
    "VbmsrZa1XPvBwtIKPtijV8uYQ4AUQqSCZ2onPR6Ci3Ek9Tp4zSie3o5OL4SpZbjv6K/AdY3gMyFpLgqiAIY+"
    "5AAAABcGXQEJgIMABwsBAAEjAwEBBV0AEAAADIDGCgGbxPGwAAA="
)
SEVENZIP_BCJ_LZMA2 = base64.b64decode(
    "N3q8ryccAATIRHSb5QAAAAAAAAAiAAAAAAAAAL0Go97gAG4AXF0AQACLKdeAt6KlERLr/iqn5bkLFemu+/+g"
    "b8oLzTBLR0m6AuTAz2AGdhM/zZTB3t5Lj0TABFVL+hC4qCcFHtZbsMhEl8BYhOAlVgffsKtHWD0OtlwwGrF1"
    "zUv0QAAAAACBMweuD9PDgP1Au5RkHOJokYjUUAPYV9m2ICXBGgYsOPGQDvLBhd4q8igEDcMN3ZgPNDT9XTcw"
    "UTKgE3tIzAPJ6MMug+TBt1DK6ojswa5XrBx76HJ7Syv1byJm40IyxuEkIpuzJdcyGI2mew2oKPLyL8BLR7FW"
    "Qv+dt5BDAAAAFwZkAQmAgQAHCwEAASMDAQEFXQAQAAAMgMYKAYUWWdYAAA=="
)
SEVENZIP_FILES = {
    "pkg/empty": b"",
    "pkg/dir/model.pkl": b"\x80\x02}q\x00.",
    "pkg/prog.bin": bytes(range(64)) + b"\xe8\x10\x00\x00\x00" * 8 + b"\xe9",
}

CONTENTS = {
    "a.txt": b"hello world\n" * 300,
    "empty.bin": b"",
    "sub/b.bin": bytes(random.Random(7).randrange(256) for _ in range(3000))
    + b"\xe8\x00\x00\x00\x00" * 500,
    "sub/deeper/c.pkl": b"\x80\x02}q\x00." * 10,
}


def _tree(root: Path) -> Path:
    """Files (one empty), a nested subdirectory and an empty directory."""
    for name, data in CONTENTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "emptydir").mkdir()
    return root


def _write(
    tmp_path: Path,
    filters: list[dict[str, int]] | None,
    *,
    encoded: bool = True,
    password: str | None = None,
    header_encryption: bool = False,
) -> bytes:
    out = io.BytesIO()
    src = tmp_path / "src"
    if not src.exists():
        _tree(src)
    with py7zr.SevenZipFile(
        out, "w", filters=filters, password=password, header_encryption=header_encryption
    ) as archive:
        if not encoded:
            archive.set_encoded_header_mode(False)
        archive.writeall(src, "top")
    return out.getvalue()


def _members(data: bytes, cap: int = 1 << 30) -> list[tuple[str, bytes]] | None:
    with extract_7z(io.BytesIO(data), cap, "t.7z") as members:
        return None if members is None else [(name, handle.read()) for name, handle in members]


def _py7zr_members(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]] | None:
    """What the py7zr path alone yields (the behaviour before the native reader)."""
    with monkeypatch.context() as m:
        m.setattr(sevenzip, "_extract_native", lambda *args: False)
        return _members(data)


@pytest.fixture
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> bool:
        raise AssertionError("py7zr fallback used")

    monkeypatch.setattr(sevenzip, "_extract_py7zr", refuse)


def _header_kind(data: bytes) -> int:
    return data[32 + int.from_bytes(data[12:20], "little")]


# -- same members as py7zr --------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILTERS))
def test_native_matches_py7zr(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _write(tmp_path, FILTERS[name])
    reference = _py7zr_members(data, monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(sevenzip, "_extract_py7zr", lambda *args: pytest.fail("fell back"))
        native = _members(data)
    assert native == reference
    assert dict(native) == {f"top/{k}": v for k, v in CONTENTS.items()}  # no directories


@pytest.mark.parametrize("name", ["default", "lzma1", "copy", "bcj-lzma2", "delta-lzma2", "bzip2"])
def test_py7zr_imported_only_for_fallback(name: str, tmp_path: Path) -> None:
    archive = tmp_path / "a.7z"
    archive.write_bytes(_write(tmp_path, {**FILTERS, **FALLBACK}[name]))
    code = (
        "import sys\nfrom pthforensics.container.sevenzip import extract_7z\n"
        f"with open({str(archive)!r}, 'rb') as f, extract_7z(f, 1 << 30, 'a') as m:\n"
        "    assert len(m) == 4\n"
        "print('py7zr' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == str(name == "bzip2")


def test_plain_and_encoded_headers(tmp_path: Path, no_fallback: None) -> None:
    plain = _write(tmp_path, None, encoded=False)
    encoded = _write(tmp_path, None, encoded=True)
    assert (_header_kind(plain), _header_kind(encoded)) == (0x01, 0x17)
    assert _members(plain) == _members(encoded)
    assert len(_members(plain) or []) == 4


def test_doubly_encoded_header(tmp_path: Path, no_fallback: None) -> None:
    plain = _write(tmp_path, [LZMA2], encoded=False)
    twice = _encode_header(_encode_header(plain))
    assert _header_kind(twice) == 0x17
    assert _members(twice) == _members(plain)


def test_sevenzip_written_archives(monkeypatch: pytest.MonkeyPatch) -> None:
    """7-Zip's coder order (BCJ listed first) is read natively; BCJ over LZMA1 without an
    end marker cannot be flushed through lzma, so it goes to py7zr, with the same result."""
    calls: list[object] = []
    real = sevenzip._extract_py7zr
    monkeypatch.setattr(sevenzip, "_extract_py7zr", lambda *a: calls.append(1) or real(*a))
    assert dict(_members(SEVENZIP_BCJ_LZMA2) or []) == SEVENZIP_FILES
    assert not calls
    assert dict(_members(SEVENZIP_BCJ_LZMA1) or []) == SEVENZIP_FILES
    assert calls


def test_crafted_chains_in_both_coder_orders(no_fallback: None) -> None:
    payload = CONTENTS["sub/b.bin"] * 3
    chain = [{"id": lzma.FILTER_DELTA, "dist": 2}, {"id": lzma.FILTER_X86}, LZMA2]
    packed = lzma.compress(payload, lzma.FORMAT_RAW, filters=chain)
    coders = [(b"\x03", b"\x01"), (b"\x03\x03\x01\x03", b""), (b"\x21", b"\x16")]
    sizes = [len(payload)] * 3
    # 7-Zip order: coder i's input comes from coder i+1, the packed stream enters coder 2
    seven = _craft(packed, coders, [(0, 1), (1, 2)], sizes, [("x.bin", len(payload))], payload)
    # py7zr order: reversed list, coder i's output feeds coder i+1
    py = _craft(packed, coders[::-1], [(1, 0), (2, 1)], sizes, [("x.bin", len(payload))], payload)
    assert _members(seven) == _members(py) == [("x.bin", payload)]


def test_names_follow_py7zr(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [
        ("a.txt", 3),
        ("a.txt", 3),
        ("dir\\b.txt", 3),
        ("./c.txt", 3),
        ("/d//e.txt", 3),
        ("dir", None),
        ("a.txt", 0),
    ]
    data = _craft(b"abc" * 5, [(b"\x00", b"")], [], [15], files)
    native = _members(data)
    assert native == _py7zr_members(data, monkeypatch)
    assert [n for n, _ in native or []] == [
        "a.txt",
        "a.txt_0",
        "dir/b.txt",
        "c.txt",
        "d/e.txt",
        "a.txt_1",
    ]


def test_unsafe_name_is_refused_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _craft(b"abc", [(b"\x00", b"")], [], [3], [("../evil.pkl", 3)], b"abc")
    with pytest.raises(ContainerError) as native:
        _members(data)
    with pytest.raises(ContainerError) as reference:
        _py7zr_members(data, monkeypatch)
    assert str(native.value) == str(reference.value)


def test_empty_archive(tmp_path: Path, no_fallback: None) -> None:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w"):
        pass
    assert _members(out.getvalue()) == []


def test_large_dictionary_is_not_allocated(no_fallback: None) -> None:
    packed = lzma.compress(b"tiny", lzma.FORMAT_RAW, filters=[LZMA2])
    data = _craft(packed, [(b"\x21", b"\x28")], [], [4], [("t", 4)], b"tiny")  # 4 GiB dict
    assert _members(data) == [("t", b"tiny")]


# -- encryption and fallback --------------------------------------------------------------


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted(header_encryption: bool, tmp_path: Path) -> None:
    data = _write(tmp_path, None, password="secret", header_encryption=header_encryption)
    with pytest.raises(ContainerError, match="7z archive is encrypted"):
        _members(data)


@pytest.mark.parametrize("name", list(FALLBACK))
def test_unsupported_coder_falls_back(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _write(tmp_path, FALLBACK[name])
    assert dict(_members(data) or []) == {f"top/{k}": v for k, v in CONTENTS.items()}
    monkeypatch.setitem(sys.modules, "py7zr", None)  # as if py7zr were not installed
    assert _members(data) is None
    assert _members(_write(tmp_path, None)) is not None  # the native reader needs no py7zr


# -- hostile input ------------------------------------------------------------------------


def _check_hostile(data: bytes, cap: int = 1 << 24) -> None:
    start = time.monotonic()
    with contextlib.suppress(ContainerError, LimitExceeded):
        _members(data, cap)
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("name", ["copy", "lzma2", "bcj-lzma2"])
@pytest.mark.parametrize("encoded", [True, False])
def test_truncated(name: str, encoded: bool, tmp_path: Path) -> None:
    data = _write(tmp_path, FILTERS[name], encoded=encoded)
    cuts = {*range(0, 40), *range(40, len(data), 97), *range(len(data) - 40, len(data))}
    for cut in sorted(cuts):
        with pytest.raises((ContainerError, LimitExceeded)):
            _members(data[:cut])


@pytest.mark.parametrize("name", ["copy", "lzma2", "bcj-lzma2"])
def test_flipped_bytes(name: str, tmp_path: Path) -> None:
    data = _write(tmp_path, FILTERS[name], encoded=False)
    rng = random.Random(name)
    offset, length = int.from_bytes(data[12:20], "little"), int.from_bytes(data[20:28], "little")
    for i in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        _check_hostile(bytes(mutated))
        # the same mutation with the CRCs recomputed, so the parser itself meets it
        header = mutated[32 + offset : 32 + offset + length]
        if i % 2 == 0:
            header[rng.randrange(length)] = rng.randrange(256)
        _check_hostile(_sign(bytes(mutated[32 : 32 + offset]), bytes(header)))


@pytest.mark.parametrize(
    "body",
    [
        b"\x01\x05" + b"\xff" + b"\xff" * 8 + b"\x00\x00",  # 2**64 - 1 files
        b"\x01\x04\x06\x00\xf0\xff\xff\xff\x09",  # ~1.7e8 pack streams
        b"\x01\x04\x07\x0b\xf0\xff\xff\xff\x00",  # ~1.7e7 folders
        b"\x01\x04\x06\x00\x01\x09\x05\x00\x07\x0b\x01\x00\x7f",  # 127 coders
        b"\x01\x04\x06\x00\x01\x09\x05\x00\x07\x0b\x01\x00\x02\x01\x00\x01\x00\x05\x05",  # bad bond
        b"\x01\x04\x06\xff" + b"\xff" * 8 + b"\x01\x09\x05\x00\x07\x0b\x01\x00\x01\x01\x00"
        b"\x0c\x05\x00\x00",  # pack position far beyond the file
        b"\x17\x06\x00\x01\x09\x7f\x00\x00",  # encoded header without folders
        b"\x01\x04\x00\x05\x01\x11\x03\x00a\x00\x00\x00",  # name without terminator
    ],
)
def test_crafted_headers(body: bytes) -> None:
    with pytest.raises((ContainerError, LimitExceeded)):
        _members(_sign(b"\x00" * 16, body))


def test_header_crc_mismatch_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(_write(tmp_path, None))
    data[-1] ^= 1
    with pytest.raises(ContainerError, match="header CRC mismatch"):
        _members(bytes(data))


def test_data_crc_mismatch_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(_write(tmp_path, [{"id": py7zr.FILTER_COPY}]))
    data[40] ^= 1
    with pytest.raises(ContainerError, match="CRC mismatch"):
        _members(bytes(data))


# -- the cap ------------------------------------------------------------------------------


def test_declared_sizes_over_cap(tmp_path: Path) -> None:
    data = _write(tmp_path, None)
    total = sum(len(v) for v in CONTENTS.values())
    with pytest.raises(LimitExceeded, match=f"{total} > {total - 1}"):
        _members(data, cap=total - 1)
    assert len(_members(data, cap=total) or []) == 4


def test_bomb_stops_at_declared_size(no_fallback: None) -> None:
    """A header that declares far less than the packed data holds gets only what it declared
    (the rest is never decompressed): output cannot outgrow the sizes the cap checked."""
    packed = lzma.compress(b"\x00" * (8 << 20), lzma.FORMAT_RAW, filters=[LZMA2])
    data = _craft(packed, [(b"\x21", b"\x16")], [], [1000], [("bomb", 1000)])
    assert _members(data, cap=1000) == [("bomb", b"\x00" * 1000)]
    huge = _craft(packed, [(b"\x21", b"\x16")], [], [1 << 40], [("bomb", 1 << 40)])
    with pytest.raises(LimitExceeded, match="decompressed bytes"):
        _members(huge, cap=1 << 30)


def test_written_bytes_are_capped() -> None:
    """The running count of bytes written is checked too, not only the declared total."""
    data = b"x" * 300
    folder = Folder(((b"\x00", b""),), 0, 300, 300, None)
    members = [(Entry(f"m{i}", 100, None, 0, None), io.BytesIO()) for i in range(3)]
    with pytest.raises(LimitExceeded, match="250 > 200"):
        sevenzip._unpack(io.BytesIO(data), folder, members, (200, 50), "t.7z")


def test_fallback_cap(tmp_path: Path) -> None:
    with pytest.raises(LimitExceeded):
        _members(_write(tmp_path, FALLBACK["bzip2"]), cap=1000)


def test_read_archive_lists_entries(tmp_path: Path) -> None:
    archive = read_archive(io.BytesIO(_write(tmp_path, None, encoded=False)), "t.7z")
    entries = {e.name: e for e in archive.entries}
    assert entries["top/emptydir"].folder == -1 and entries["top/emptydir"].attributes
    assert entries["top/a.txt"].size == len(CONTENTS["a.txt"])


# -- crafting archives --------------------------------------------------------------------


def _num(value: int) -> bytes:
    """7z NUMBER."""
    for extra in range(8):
        if value < 1 << (7 * (extra + 1)):
            first = (0xFF << (8 - extra)) & 0xFF | value >> (8 * extra)
            return bytes([first]) + value.to_bytes(8, "little")[:extra]
    return b"\xff" + value.to_bytes(8, "little")


def _sign(packed: bytes, header: bytes) -> bytes:
    """Signature header + packed streams + header, with valid CRCs."""
    tail = struct.pack("<QQI", len(packed), len(header), zlib.crc32(header))
    return (
        b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(tail)) + tail + packed + header
    )


def _streams(
    pack_pos: int,
    packed_size: int,
    coders: list[tuple[bytes, bytes]],
    bonds: list[tuple[int, int]],
    sizes: list[int],
    crc: int | None,
) -> bytes:
    out = b"\x06" + _num(pack_pos) + _num(1) + b"\x09" + _num(packed_size) + b"\x00"
    out += b"\x07\x0b" + _num(1) + b"\x00" + _num(len(coders))
    for method, props in coders:
        out += bytes([len(method) | (0x20 if props else 0)]) + method
        out += _num(len(props)) + props if props else b""
    out += b"".join(_num(a) + _num(b) for a, b in bonds)
    out += b"\x0c" + b"".join(_num(s) for s in sizes)
    out += (b"\x0a\x01" + struct.pack("<I", crc) if crc is not None else b"") + b"\x00"
    return out


def _craft(
    packed: bytes,
    coders: list[tuple[bytes, bytes]],
    bonds: list[tuple[int, int]],
    sizes: list[int],
    files: list[tuple[str, int | None]],
    unpacked: bytes | None = None,
) -> bytes:
    """One folder (with a CRC when its ``unpacked`` bytes are given); ``files`` are
    (name, size), size ``None`` for a directory."""
    streams = [s for _n, s in files if s is not None]
    header = b"\x01\x04" + _streams(
        0, len(packed), coders, bonds, sizes, None if unpacked is None else zlib.crc32(unpacked)
    )
    header += b"\x08\x0d" + _num(len(streams)) + b"\x09"
    header += b"".join(_num(s) for s in streams[:-1]) + b"\x00\x00"
    header += b"\x05" + _num(len(files))
    empty = [s is None for _n, s in files]
    if any(empty):
        bits = bytes(
            sum(0x80 >> j for j in range(8) if i + j < len(empty) and empty[i + j])
            for i in range(0, len(empty), 8)
        )
        header += b"\x0e" + _num(len(bits)) + bits
    names = b"".join(n.encode("utf-16-le") + b"\x00\x00" for n, _s in files)
    header += b"\x11" + _num(len(names) + 1) + b"\x00" + names
    attrs = b"".join(struct.pack("<I", 0x10 if s is None else 0x20) for _n, s in files)
    header += b"\x15" + _num(len(attrs) + 2) + b"\x01\x00" + attrs + b"\x00\x00"
    return _sign(packed, header)


def _encode_header(data: bytes) -> bytes:
    """Pack the header of ``data`` with LZMA2 into a kEncodedHeader."""
    offset, length = int.from_bytes(data[12:20], "little"), int.from_bytes(data[20:28], "little")
    packed, header = data[32 : 32 + offset], data[32 + offset : 32 + offset + length]
    squeezed = lzma.compress(header, lzma.FORMAT_RAW, filters=[LZMA2])
    encoded = (
        b"\x17"
        + _streams(
            len(packed), len(squeezed), [(b"\x21", b"\x16")], [], [len(header)], zlib.crc32(header)
        )
        + b"\x00"
    )
    return _sign(packed + squeezed, encoded)
