"""The legacy stream and tar layouts: header pickles found, storages indexed in place."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from pthforensics.container import read_container
from pthforensics.core import Container, Format, StreamRole
from tests._helpers import CORPUS

_ROLES = [
    StreamRole.MAGIC,
    StreamRole.PROTOCOL,
    StreamRole.SYS_INFO,
    StreamRole.OBJECT,
    StreamRole.STORAGE_KEYS,
]


def _save(tmp_path: Path, obj: object, name: str = "legacy.pt", **kwargs: object) -> Path:
    path = tmp_path / name
    torch.save(obj, path, _use_new_zipfile_serialization=False, **kwargs)  # type: ignore[arg-type]
    return path


def _state() -> dict[str, torch.Tensor]:
    return {
        "a": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "b": torch.arange(5, dtype=torch.int64),
        "c": torch.tensor([1.5, -2.0], dtype=torch.float16),
    }


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("protocol", [2, 4])
def test_storages_point_at_the_tensor_bytes(tmp_path: Path, fast: bool, protocol: int) -> None:
    """Every indexed offset and size covers exactly the bytes torch wrote for the storage."""
    state = _state()
    path = _save(tmp_path, state, pickle_protocol=protocol)
    c = read_container(str(path), fast=fast)
    assert c.format is Format.TORCH_LEGACY and c.storages_complete and not c.findings
    assert [s.role for s in c.streams] == _ROLES
    raw = path.read_bytes()
    payloads = sorted(raw[s.offset : s.offset + s.nbytes] for s in c.storages if s.offset)
    assert payloads == sorted(t.numpy().tobytes() for t in state.values())
    # The header streams tile the file up to the first storage's length field.
    assert b"".join(s.data for s in c.streams) == raw[: min(s.offset or 0 for s in c.storages) - 8]


def test_fast_and_slow_boundaries_agree(tmp_path: Path) -> None:
    path = _save(tmp_path, {"state_dict": _state(), "epoch": 3, "names": ["x", "y"]})
    slow, fast = read_container(str(path)), read_container(str(path), fast=True)
    assert [(s.name, s.data, s.role) for s in slow.streams] == [
        (s.name, s.data, s.role) for s in fast.streams
    ]
    assert slow.storages == fast.storages
    assert fast.streams[3].decoded is not None and slow.streams[3].decoded is None


def test_a_break_in_a_header_pickle(tmp_path: Path) -> None:
    path = _save(tmp_path, _state())
    raw = path.read_bytes()
    c0 = read_container(str(path))
    object_end = sum(len(s.data) for s in c0.streams[:4])
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: object_end - 3])  # inside the object pickle
    c = read_container(str(cut))
    assert [s.role for s in c.streams] == _ROLES[:4]
    assert [f.rule_id for f in c.findings] == ["legacy-truncated"]
    assert not c.storages and not c.storages_complete


def test_a_cut_in_the_storages_keeps_what_is_there(tmp_path: Path) -> None:
    path = _save(tmp_path, _state())
    raw = path.read_bytes()
    full = read_container(str(path))
    last = max(full.storages, key=lambda s: s.offset or 0)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(raw[: (last.offset or 0) + 2])
    c = read_container(str(cut))
    assert len(c.storages) == len(full.storages)
    shortened = next(s for s in c.storages if s.key == last.key)
    assert shortened.nbytes == 2 < last.nbytes
    assert [s for s in c.storages if s.key != last.key] == [
        s for s in full.storages if s.key != last.key
    ]


def test_a_pickle_stacked_after_the_storages(tmp_path: Path) -> None:
    path = _save(tmp_path, _state())
    extra = pickle.dumps({"second": "load"}, protocol=2)
    stacked = tmp_path / "stacked.pt"
    stacked.write_bytes(path.read_bytes() + extra)
    c = read_container(str(stacked))
    trailing = [s for s in c.streams if s.role is StreamRole.TRAILING]
    assert [(s.data, s.loaded) for s in trailing] == [(extra, False)]
    assert not c.findings


def test_junk_after_the_storages(tmp_path: Path) -> None:
    path = _save(tmp_path, _state())
    junk = tmp_path / "junk.pt"
    junk.write_bytes(path.read_bytes() + b"\xff\xfe\xfd junk")
    c = read_container(str(junk))
    assert [f.rule_id for f in c.findings] == ["trailing-bytes"]
    assert c.findings[0].location.offset == path.stat().st_size


def test_unknown_storage_key_leaves_the_index_incomplete(tmp_path: Path) -> None:
    """A key list naming a storage no persistent id typed cannot be sized: indexing stops."""
    path = _save(tmp_path, _state())
    c = read_container(str(path))
    keys_stream = c.streams[4]
    assert keys_stream.role is StreamRole.STORAGE_KEYS
    # Same length, different key: the object pickle's ids no longer match the list.
    key = c.storages[0].key
    other = key[:-1] + ("1" if key[-1] == "0" else "0")
    forged = keys_stream.data.replace(key.encode(), other.encode(), 1)
    assert len(forged) == len(keys_stream.data)
    raw = path.read_bytes()
    at = raw.index(keys_stream.data)
    bad = tmp_path / "forged.pt"
    bad.write_bytes(raw[:at] + forged + raw[at + len(forged) :])
    c2 = read_container(str(bad))
    assert not c2.storages_complete and not c2.storages


def _tar(path: Path) -> Container:
    return read_container(str(path))


def test_legacy_tar_layout() -> None:
    c = _tar(CORPUS / "benign" / "legacy_tar.tar")
    assert c.format is Format.TORCH_TAR
    assert {s.role for s in c.streams} >= {StreamRole.OBJECT, StreamRole.SYS_INFO}
    assert c.header_tensors and c.storages
    keys = {s.key for s in c.storages}
    for t in c.header_tensors:
        assert t.storage_key in keys and t.dtype and t.itemsize
    sizes = {s.key: s.nbytes for s in c.storages}
    for t in c.header_tensors:
        assert t.storage_key is not None
        assert (t.storage_offset + t.numel) * t.itemsize <= sizes[t.storage_key]
