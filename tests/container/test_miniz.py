"""Reading a zip as torch's reader (miniz) reads it: the member it unpickles, the directory
it takes, the root; and a tar as tarfile accepts it (issue 9, classes 3 and 4)."""

from __future__ import annotations

import io
import pickle
import random
import tarfile
import warnings
from pathlib import Path

import pytest

from pthforensics.container import read_container, read_zip_directory
from pthforensics.container.miniz import MinizIndex, archive_root
from pthforensics.container.sniff import FileKind, sniff, tar_header
from pthforensics.core import Limits, StreamRole
from tests.safety.oracle.archives import Member, legacy_tar, torch_zip, zip_bytes

_NAMES = [
    "archive/data.pkl",
    "archive/DATA.PKL",
    "archive/Data.pkl",
    "archive/x",
    "archive/version",
    "archive/data/0",
    "archive/zz",
    "archive/A",
]


def _object_member(path: Path) -> str:
    container = read_container(str(path))
    [obj] = [s for s in container.streams if s.role is StreamRole.OBJECT]
    return obj.name


@pytest.mark.torch
def test_lookup_matches_torch_on_random_layouts() -> None:
    """The member miniz opens for data.pkl (duplicates, case variants, any order) is the one
    torch.load loads: checked with weights_only=True on plain-data pickles made here."""
    import torch

    rng = random.Random(5)
    checked = 0
    for _ in range(120):
        names = ["archive/version"] + [rng.choice(_NAMES) for _ in range(rng.randint(2, 7))]
        names.append(rng.choice(_NAMES[:3]))
        rng.shuffle(names)
        members = [
            Member(n, b"3\n" if n.lower() == "archive/version" else pickle.dumps({"i": i}, 2))
            for i, n in enumerate(names)
        ]
        blob = zip_bytes(members)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loaded = torch.load(io.BytesIO(blob), weights_only=True)
        except Exception:  # noqa: BLE001 - torch refuses some layouts (no root, ...)
            continue
        index = MinizIndex([n.encode() for n in names]).locate(b"archive/data.pkl")
        assert loaded == {"i": index}, names
        checked += 1
    assert checked > 50


def test_root_is_the_first_name() -> None:
    assert archive_root(b"data/version") == b"data"
    assert archive_root(b"version") is None  # torch refuses: not in a subdirectory


def test_object_stream_is_the_member_torch_opens(tmp_path: Path) -> None:
    good, evil = pickle.dumps({"a": 1}), pickle.dumps({"b": 2})
    path = tmp_path / "case.pt"
    path.write_bytes(torch_zip(evil, pkl_name="DATA.PKL"))
    assert _object_member(path) == "archive/DATA.PKL"
    path.write_bytes(
        zip_bytes(
            [
                Member("data/version", b"3\n"),
                Member("data/x/data.pkl", good),
                Member("data/data.pkl", evil),
            ]
        )
    )
    assert _object_member(path) == "data/data.pkl"  # root "data", not "data/x"


def test_staged_members_are_streams_whatever_their_folder(tmp_path: Path) -> None:
    staged = pickle.dumps({"c": 3}, protocol=2)
    for member in ("archive/extra/notes.txt", "archive/code/__torch__/m.py", "archive/constants/0"):
        path = tmp_path / "staged.pt"
        path.write_bytes(torch_zip(pickle.dumps({}), extra=[Member(member, staged)]))
        streams = {s.name: s.role for s in read_container(str(path)).streams}
        assert streams.get(member) is StreamRole.MEMBER, member


def test_second_directory_and_hidden_end_record_are_other_directories() -> None:
    from tests.safety.oracle.zips import _shift

    good, evil = pickle.dumps({"a": 1}), pickle.dumps({"b": 2})
    decoy = zip_bytes(
        [Member("archive/data.pkl", evil), Member("archive/version", b"3\n")],
        decoy_directory=[Member("archive/data.pkl", good), Member("archive/version", b"3\n")],
    )
    directory = read_zip_directory(io.BytesIO(decoy), len(decoy), Limits(), "x")
    assert directory.prefix == 0 and len(directory.others) == 1  # miniz's and zipfile's views
    first = zip_bytes([Member("archive/data.pkl", evil), Member("archive/version", b"3\n")])
    second = zip_bytes([Member("archive/data.pkl", good), Member("archive/version", b"3\n")])
    both = first + _shift(second, len(first))
    directory = read_zip_directory(io.BytesIO(both), len(both), Limits(), "x")
    assert directory.central_offset > len(first) and directory.others  # the last end record


@pytest.mark.parametrize("ustar", [True, False])
def test_tar_headers_as_tarfile_takes_them(ustar: bool) -> None:
    blob = legacy_tar([("sys_info", b"x"), ("pickle", pickle.dumps({}))], ustar=ustar)
    assert tar_header(blob) and sniff(blob[:4096], len(blob)) is FileKind.TAR
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
        assert tar.getnames() == ["sys_info", "pickle"]


def test_tar_header_checks_agree_with_tarfile_on_mutations() -> None:
    rng = random.Random(3)
    base = bytearray(legacy_tar([("storages", b"x" * 10)], ustar=False))[:512]
    for _ in range(2000):
        block = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            block[rng.randrange(148)] = rng.randrange(256)  # name, mode..mtime: no type flag
        block[148:156] = b" " * 8
        block[148:156] = b"%06o\x00 " % sum(block)
        try:
            with tarfile.open(fileobj=io.BytesIO(bytes(block) + bytes(1024)), mode="r:"):
                accepted = True
        except tarfile.TarError:
            accepted = False
        assert tar_header(bytes(block)) == accepted, bytes(block[:160])
