"""Discovery: files found by content or by a checkpoint name, unreadable ones kept (as
errors to report), the rest skipped and counted by reason, links kept inside their root,
a file reached by several paths read once with its other paths as aliases, sharded models
grouped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from pthforensics.batch import SKIP_REASONS, discover, discover_tree, model_name, skip_reason
from tests.batch.conftest import names


def test_discovery_by_content(zoo: Path) -> None:
    found = discover_tree([str(zoo)])
    assert names(found.files) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]
    assert dict(found.skipped) == {"hidden": 1, "not-a-checkpoint": 1}  # .hidden/, readme.md
    found = discover_tree([str(zoo)], include_hidden=True, exclude=["*.jpg"])
    assert names(found.files) == ["broken.pt", "lin.pth", "noext", "skip.pth"]
    assert dict(found.skipped) == {"excluded": 1, "not-a-checkpoint": 1}
    assert set(dict(found.skipped)) <= set(SKIP_REASONS)


def test_a_checkpoint_name_is_always_reported(tmp_path: Path) -> None:
    """Random bytes, a damaged header, an empty file: with a checkpoint's name, each is
    reported (the pipeline says what is wrong), never dropped as "not a checkpoint"."""
    (tmp_path / "noise.pt").write_bytes(os.urandom(4096))
    (tmp_path / "model.pth.gz").write_bytes(b"\x1f\x8c" + os.urandom(100))  # magic hit
    (tmp_path / "photos.zip").write_bytes(os.urandom(100))  # an archive of anything
    (tmp_path / "HEADER.SAFETENSORS").write_bytes(b"\xff" * 8 + b"{}")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "blank").write_bytes(b"")
    found = discover_tree([str(tmp_path)])
    assert names(found.files) == ["HEADER.SAFETENSORS", "empty.ckpt", "model.pth.gz", "noise.pt"]
    assert dict(found.skipped) == {"empty": 1, "not-a-checkpoint": 2}


def test_what_cannot_be_read_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dangling link (no stat) and a file open() refuses are reported, not skipped:
    whatever their name, nothing says they are not checkpoints."""
    import builtins

    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    locked = tmp_path / "locked"
    locked.write_bytes(b"whatever")
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    assert skip_reason(str(locked), locked.stat()) is None
    found = discover_tree([str(tmp_path)])
    assert names(found.files) == ["dangling", "locked"]
    dangling = next(c for c in found.files if c.path.endswith("dangling"))
    assert dangling.size is None


def test_hard_and_symbolic_links_are_aliases(tmp_path: Path) -> None:
    """One file, four paths: read once, under the first path found; the other three are
    its aliases.  A root given twice adds nothing."""
    torch.save({"w": torch.zeros(2)}, tmp_path / "a.pt")
    (tmp_path / "sub").mkdir()
    os.link(tmp_path / "a.pt", tmp_path / "sub" / "hard.pt")
    (tmp_path / "sub" / "soft.pt").symlink_to(tmp_path / "a.pt")
    (tmp_path / "linked").symlink_to(tmp_path / "sub", target_is_directory=True)
    found = discover_tree([str(tmp_path), str(tmp_path)])
    [only] = found.files
    assert only.path == str(tmp_path / "a.pt")
    assert sorted(only.aliases) == sorted(
        str(tmp_path / p) for p in ("sub/hard.pt", "sub/soft.pt")
    ) or sorted(only.aliases) == sorted(
        str(tmp_path / p) for p in ("linked/hard.pt", "linked/soft.pt")
    )
    assert dict(found.skipped) == {"folder-already-walked": 1}


def test_symlink_outside_root_not_followed(zoo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    torch.save({}, outside / "secret.pth")
    (zoo / "link").symlink_to(outside, target_is_directory=True)
    (zoo / "inside-link.pth").symlink_to(zoo / "a" / "lin.pth")
    found = discover_tree([str(zoo)])
    assert "secret.pth" not in names(found.files)
    assert dict(found.skipped)["link-outside-root"] == 1
    # the same file reached twice is read once, the other path an alias
    [lin] = [c for c in found.files if c.path.endswith(("lin.pth", "inside-link.pth"))]
    assert len(lin.aliases) == 1


def test_hf_cache_and_shards(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    snap = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    blobs = tmp_path / "hub" / "models--acme--tiny" / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir(parents=True)
    weight_map = {}
    for i in range(2):
        blob = blobs / f"hash{i}"
        save_file({f"layer{i}.weight": torch.zeros(2, 2)}, blob)
        (snap / f"model-0000{i + 1}-of-00003.safetensors").symlink_to(blob)
        weight_map[f"layer{i}.weight"] = f"model-0000{i + 1}-of-00003.safetensors"
    weight_map["layer2.weight"] = "model-00003-of-00003.safetensors"  # missing shard
    (snap / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    found, groups = discover([str(tmp_path / "hub")])
    assert len(found) == 2 and all(c.model == "acme/tiny" for c in found)
    assert all("snapshots" in c.path for c in found)  # the readable name, not the blob
    found, _ = discover([str(tmp_path / "hub")])
    assert all(len(c.aliases) == 1 and "/blobs/" in c.aliases[0] for c in found)
    [group] = groups
    assert group.name == "acme/tiny" and len(group.shards) == 3 and len(group.missing) == 1
    assert model_name(str(snap / "x.bin")) == "acme/tiny"


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    """A FIFO is not opened by discovery (that would block); with a checkpoint name it is
    reported (the reader refuses it without opening it), without one it is skipped."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    os.mkfifo(folder / "pipe.pth")
    os.mkfifo(folder / "pipe")
    torch.save({}, folder / "ok.pth")
    found = discover_tree([str(folder)])
    assert names(found.files) == ["ok.pth", "pipe.pth"]
    assert dict(found.skipped) == {"special-file": 1}


def test_symlink_cycle_terminates(zoo: Path) -> None:
    (zoo / "a" / "loop").symlink_to(zoo, target_is_directory=True)
    found, _ = discover([str(zoo)])
    assert names(found) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]


#: Raw pickles whose first opcode is none a writer starts with (SHORT_BINBYTES, BINSTRING,
#: BYTEARRAY8, BINBYTES): CPython's unpickler reads each (the payload ones run
#: ``posix.system``), so each is a pickle to scan, whatever its name.
_ODD_FIRST_OPCODES = {
    "short-binbytes.dat": b"C\x00" + b"0" + b"cposix\nsystem\nX\x04\x00\x00\x00true\x85R.",
    "bytearray8": b"\x96" + bytes(8) + b"0" + b"cposix\nsystem\nX\x04\x00\x00\x00true\x85R.",
    "binbytes.blob": b"B\x01\x00\x00\x00x0\x8c\x05posix\x8c\x06system\x93S'true'\n\x85R.",
    "binstring.data": b"T\x02\x00\x00\x00hi.",  # data only: still a pickle (clean)
}


def test_a_pickle_with_an_odd_first_opcode_is_scanned(tmp_path: Path) -> None:
    """Discovery sniffs as the scan does (any bytes CPython's unpickler starts to read are
    a pickle), so a payload without a checkpoint name and with an unusual first opcode is
    not skipped; text that only decodes as a few opcodes still is."""
    import pthforensics
    from pthforensics.core import Verdict

    for name, data in _ODD_FIRST_OPCODES.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "notes.txt").write_text("hello world\n")  # BINGET 'e': CPython fails at once
    (tmp_path / "cat.txt").write_text("cat\ndog\n")  # GLOBAL 'at' 'dog': not importable
    found = discover_tree([str(tmp_path)])
    assert names(found.files) == sorted(_ODD_FIRST_OPCODES)
    assert dict(found.skipped) == {"not-a-checkpoint": 2}
    verdicts = {Path(r.path).name: r.verdict for r in pthforensics.scan_tree([tmp_path], jobs=1)}
    expected = {n: Verdict.MALICIOUS for n in _ODD_FIRST_OPCODES if n != "binstring.data"}
    assert verdicts == {**expected, "binstring.data": Verdict.CLEAN}
