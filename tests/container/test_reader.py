"""Container recognition and indexing, zip anomalies, wrappers, safetensors validation."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from pathlib import Path

import pytest
import torch

from pthforensics.container import read_container
from pthforensics.core import ContainerError, Format, LimitExceeded, Limits, PthForensicsError
from tests._helpers import rezip, safetensors_bytes


def _rules(container) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.rule_id for f in container.findings}


def test_torch_zip_indexes_storages_without_findings(state_dict_zip: Path) -> None:
    c = read_container(str(state_dict_zip))
    assert c.format is Format.TORCH_ZIP
    assert [s.role for s in c.streams] == ["object"]
    # Storage sizes come from the directory; offsets only where a local header was read.
    assert len(c.storages) == 9 and all(s.nbytes for s in c.storages)
    assert c.findings == ()


def test_any_root_folder_name(tmp_path: Path) -> None:
    path = tmp_path / "a-very-odd-name.bin"
    torch.save({"w": torch.zeros(2)}, path)
    c = read_container(str(path))
    assert c.format is Format.TORCH_ZIP and c.streams[0].name.endswith("/data.pkl")


def test_legacy_stream(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pt"
    torch.save(
        {"w": torch.zeros(3, 2), "b": torch.ones(2, dtype=torch.float16)},
        path,
        _use_new_zipfile_serialization=False,
    )
    c = read_container(str(path))
    assert c.format is Format.TORCH_LEGACY
    assert [s.role for s in c.streams] == [
        "magic",
        "protocol",
        "sys_info",
        "object",
        "storage_keys",
    ]
    assert sorted(s.nbytes for s in c.storages) == [4, 24]
    assert not c.findings


def test_extra_pickle_member_is_scanned(state_dict_zip: Path, tmp_path: Path) -> None:
    def add(name: str, data: bytes) -> bytes:
        return data

    dst = rezip(state_dict_zip, tmp_path / "x.pth", add)
    with zipfile.ZipFile(dst, "a") as z:
        z.writestr("model/extra.bin", b"\x80\x02cos\nsystem\nq\x00.")
    c = read_container(str(dst))
    assert any(s.name.endswith("extra.bin") and not s.loaded for s in c.streams)
    assert "zip-unexpected-pickle" in _rules(c)


def test_duplicate_names_are_flagged(state_dict_zip: Path, tmp_path: Path) -> None:
    dst = rezip(state_dict_zip, tmp_path / "dup.pth", lambda n, d: d)
    with pytest.warns(UserWarning), zipfile.ZipFile(dst, "a") as z:
        z.writestr("model/data.pkl", b"\x80\x02N.")
    c = read_container(str(dst))
    assert "zip-duplicate-name" in _rules(c)
    assert sum(s.name.endswith("data.pkl") for s in c.streams) == 2


def test_encrypted_flag_bit_does_not_hide_member(state_dict_zip: Path, tmp_path: Path) -> None:
    raw = bytearray(state_dict_zip.read_bytes())
    # Set bit 0 (encrypted) in every central directory entry's flags.
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        raw[at + 8] |= 1
        at = raw.find(b"PK\x01\x02", at + 4)
    path = tmp_path / "enc.pth"
    path.write_bytes(bytes(raw))
    c = read_container(str(path))
    assert "zip-encrypted-entry" in _rules(c)
    assert c.streams and c.streams[0].role == "object"


def test_truncated_zip_is_an_error(state_dict_zip: Path, tmp_path: Path) -> None:
    data = state_dict_zip.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ContainerError, match="truncated"):
        read_container(str(path))


def test_gzip_wrapper(state_dict_zip: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.pth.gz"
    path.write_bytes(gzip.compress(state_dict_zip.read_bytes()))
    c = read_container(str(path))
    assert c.format is Format.TORCH_ZIP and c.wrappers == ("gzip",)


def test_decompression_cap(state_dict_zip: Path, tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    # A payload that starts like a checkpoint is inflated up to the cap (zeros as holes).
    path.write_bytes(gzip.compress(b"\x80\x02" + b"\0" * 5_000_000))
    with pytest.raises(LimitExceeded):
        read_container(str(path), limits=Limits(max_decompressed_bytes=1_000_000))
    # Past 64 MB, a payload may not inflate beyond 200 times what was read (a bomb).
    path.write_bytes(gzip.compress(b"\x80\x02" + b"\0" * (100 << 20)))
    with pytest.raises(LimitExceeded, match="ratio"):
        read_container(str(path))
    # One that does not is refused at its first bytes, whatever it would inflate to.
    path.write_bytes(gzip.compress(b"\0" * 5_000_000))
    with pytest.raises(ContainerError, match="not a checkpoint"):
        read_container(str(path), limits=Limits(max_decompressed_bytes=1_000_000))


def test_zip_in_zip(state_dict_zip: Path, tmp_path: Path) -> None:
    outer = tmp_path / "bundle.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("README.txt", "hello")
        z.write(state_dict_zip, "weights/model.pth")
    c = read_container(str(outer))
    assert c.format is Format.TORCH_ZIP and c.wrappers == ("zip",)
    assert c.streams[0].name.startswith("weights/model.pth!")


def test_polyglot_scans_both_faces(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    path = tmp_path / "poly.pt"
    path.write_bytes(b"\x80\x02cos\nsystem\nq\x00." + buf.getvalue())
    c = read_container(str(path))
    assert c.format is Format.PICKLE
    assert "pickle-zip-polyglot" in _rules(c)
    assert c.streams[0].data.startswith(b"\x80\x02cos")


def test_plain_pickle_is_one_stream_with_its_trailing_bytes(tmp_path: Path) -> None:
    # The scan, not the container, splits stacked pickles (see test_pipeline).
    path = tmp_path / "two.pkl"
    path.write_bytes(b"\x80\x02N." + b"\x80\x02cos\nsystem\n.")
    c = read_container(str(path))
    assert [s.role for s in c.streams] == ["object"] and len(c.streams[0].data) == 18


def test_safetensors_header(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    header = {
        "b": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [4, 20]},
        "__metadata__": {"format": "pt"},
    }
    path.write_bytes(safetensors_bytes(header, b"\0" * 20))
    c = read_container(str(path))
    assert c.format is Format.SAFETENSORS
    assert {t.key: (t.shape, t.dtype) for t in c.header_tensors} == {
        "a": ((2, 2), "float32"),
        "b": ((2,), "float16"),
    }
    assert c.header_metadata == (("format", "pt"),)


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8"),
        (
            {
                "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]},
            },
            b"\0" * 6,
            "overlaps",
        ),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 2, "truncated"),
        ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
        (
            {"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "unknown dtype",
        ),
        (
            {"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "invalid shape",
        ),
        (
            {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
            b"\0" * 4,
            "invalid shape",
        ),
        (
            {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
            b"\0" * 4,
            "invalid data_offsets",
        ),
    ],
)
def test_safetensors_validation(
    tmp_path: Path,
    header: dict,
    data: bytes,  # type: ignore[type-arg]
    message: str,
) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes(header, data))
    with pytest.raises(ContainerError, match=message):
        read_container(str(path))


def test_safetensors_duplicate_key(tmp_path: Path) -> None:
    entry = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    header = f'{{"a": {entry}, "b": {entry}, "a": {entry}}}'.encode()
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(ContainerError, match="duplicate key 'a'"):
        read_container(str(path))


def test_safetensors_header_length_beyond_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b'{"a": 1}')
    with pytest.raises(ContainerError, match="exceeds the file"):
        read_container(str(path))


@pytest.mark.parametrize("data", [b"", b"hello world, not a model", bytes(range(256)) * 4])
def test_unreadable_inputs_raise_our_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(data)
    with pytest.raises(PthForensicsError):
        read_container(str(path))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="directory"):
        read_container(str(tmp_path))
    with pytest.raises(ContainerError, match="cannot read"):
        read_container(str(tmp_path / "missing.pth"))


def test_numpy_files(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "a.npy", np.zeros((3, 4), dtype=np.float32))
    c = read_container(str(tmp_path / "a.npy"))
    assert c.format is Format.NUMPY and c.header_tensors[0].shape == (3, 4)
    assert c.header_tensors[0].dtype == "float32" and not c.streams
    np.savez(tmp_path / "b.npz", x=np.zeros(3), y=np.ones((2, 2), dtype=np.int64))
    c = read_container(str(tmp_path / "b.npz"))
    assert {t.key: t.dtype for t in c.header_tensors} == {"x": "float64", "y": "int64"}
    # Item sizes come from the vocabulary (they were 4 bytes whatever the dtype).
    assert {t.key: t.nbytes for t in c.header_tensors} == {"x": 24, "y": 32}
    # An object array carries a pickle after the header: it becomes a stream to scan.
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }".ljust(117) + "\n"
    evil = tmp_path / "evil.npy"
    evil.write_bytes(
        b"\x93NUMPY\x01\x00"
        + len(header).to_bytes(2, "little")
        + header.encode()
        + b"cos\nsystem\n(S'echo x'\ntR."
    )
    c = read_container(str(evil))
    assert c.format is Format.NUMPY and c.streams[0].data.startswith(b"cos\nsystem")


def test_bytes_hidden_between_storages_are_found(tmp_path: Path) -> None:
    """Storage members' local headers are skipped only when the layout leaves no room."""
    path = tmp_path / "gap.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/data/0", b"\0" * 64)
        z.fp.write(b"cos\nsystem\n(S'echo hidden'\ntR." * 4)  # bytes outside any member
        z.start_dir = z.fp.tell()  # the next member goes after them
        z.writestr("archive/data/1", b"\0" * 64)
    c = read_container(str(path))
    assert "zip-unaccounted-bytes" in _rules(c)


def _central_entries(data: bytes) -> tuple[int, int, list[bytes]]:
    """(start, end, entries) of a zip's central directory, split entry by entry."""
    eocd = data.rindex(b"PK\x05\x06")
    count, size, start = struct.unpack("<HLL", data[eocd + 10 : eocd + 20])
    entries, at = [], start
    for _ in range(count):
        n, e, c = struct.unpack("<HHH", data[at + 28 : at + 34])
        entries.append(data[at : at + 46 + n + e + c])
        at += 46 + n + e + c
    return start, start + size, entries


def test_central_directory_out_of_offset_order(state_dict_zip: Path, tmp_path: Path) -> None:
    """Entries listed in any order are located from the layout, not from their rank."""
    data = state_dict_zip.read_bytes()
    start, end, entries = _central_entries(data)
    path = tmp_path / "reversed.pth"
    path.write_bytes(data[:start] + b"".join(reversed(entries)) + data[end:])
    original, shuffled = read_container(str(state_dict_zip)), read_container(str(path))
    assert len(entries) > 3 and shuffled.findings == ()
    assert sorted(shuffled.storages) == sorted(original.storages)


def test_overlapping_entries_are_flagged(state_dict_zip: Path, tmp_path: Path) -> None:
    """A second central entry pointing into another member's data: two names, same bytes."""
    plain = rezip(state_dict_zip, tmp_path / "plain.pth", lambda _name, data: data)  # no zip64
    data = plain.read_bytes()
    start, end, entries = _central_entries(data)
    assert not read_container(str(plain)).findings
    storage = next(e for e in entries if b"/data/0" in e)
    offset = struct.unpack("<L", storage[42:46])[0]
    alias = (
        storage[:42] + struct.pack("<L", offset + 8) + storage[46:].replace(b"/data/0", b"/data/x")
    )
    path = tmp_path / "overlap.pth"
    eocd = data[end:]
    count = struct.unpack("<H", eocd[10:12])[0] + 1
    eocd = eocd[:8] + struct.pack("<HHL", count, count, end - start + len(alias)) + eocd[16:]
    path.write_bytes(data[:end] + alias + eocd)
    assert "zip-overlapping-entries" in _rules(read_container(str(path)))
