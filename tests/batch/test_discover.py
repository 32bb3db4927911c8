"""Discovery: files found by content, hidden and excluded ones skipped, links kept inside
their root, a file reached twice reported once, sharded models grouped."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from pthforensics.batch import discover, model_name
from tests.batch.conftest import names


def test_discovery_by_content(zoo: Path) -> None:
    found, _ = discover([str(zoo)])
    assert names(found) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]
    found, _ = discover([str(zoo)], include_hidden=True, exclude=["*.jpg"])
    assert names(found) == ["broken.pt", "lin.pth", "noext", "skip.pth"]


def test_symlink_outside_root_not_followed(zoo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    torch.save({}, outside / "secret.pth")
    (zoo / "link").symlink_to(outside, target_is_directory=True)
    (zoo / "inside-link.pth").symlink_to(zoo / "a" / "lin.pth")
    found, _ = discover([str(zoo)])
    assert "secret.pth" not in names(found)
    # the same file reached twice is reported once
    assert sum(n in ("lin.pth", "inside-link.pth") for n in names(found)) == 1


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
    [group] = groups
    assert group.name == "acme/tiny" and len(group.shards) == 3 and len(group.missing) == 1
    assert model_name(str(snap / "x.bin")) == "acme/tiny"


def test_fifo_is_not_a_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "zoo"
    folder.mkdir()
    os.mkfifo(folder / "pipe.pth")
    torch.save({}, folder / "ok.pth")
    found, _ = discover([str(folder)])
    assert names(found) == ["ok.pth"]


def test_symlink_cycle_terminates(zoo: Path) -> None:
    (zoo / "a" / "loop").symlink_to(zoo, target_is_directory=True)
    found, _ = discover([str(zoo)])
    assert names(found) == ["broken.pt", "lin.pth", "noext", "photo.jpg"]
