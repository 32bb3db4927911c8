"""A mixed zoo for the remote tests: the corpus (benign, malicious and broken files, models,
and the truth files and scripts beside them, which are not checkpoints), a sharded model
with its index, one whose index names a missing shard, a Hugging Face cache layout, a
hidden folder, and three ~10 MB checkpoints (torch zip, legacy, safetensors) made here,
so that the share of bytes a scan reads means something.

Also: scanning through the CLI into JSONL, and the form in which two scans' reports are
compared (path relative to the root scanned; timings and the read counts aside).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests._helpers import CORPUS

#: Files at least this large must be scanned reading at most ``MAX_SHARE`` of their bytes.
BIG = 8 << 20
MAX_SHARE = 0.02
#: Report fields that differ between two scans of the same bytes by nature: where and
#: when they were read, and what reading them cost (``bytes_read`` is compared apart).
VOLATILE = ("path", "seconds", "mtime", "bytes_read", "etag")


def build_zoo(root: Path) -> Path:
    """Write the zoo under ``root`` (see the module docstring); returns ``root``."""
    import torch
    from safetensors.torch import save_file

    for part in ("benign", "malicious", "broken", "models"):
        shutil.copytree(CORPUS / part, root / "corpus" / part)
    sharded = root / "sharded"
    sharded.mkdir()
    weight_map = {}
    for i in (1, 2):
        name = f"model-0000{i}-of-00002.safetensors"
        tensors = {f"layers.{i}.weight": torch.zeros(8, 8), f"layers.{i}.bias": torch.zeros(8)}
        save_file(tensors, sharded / name)
        weight_map.update(dict.fromkeys(tensors, name))
    index = {"metadata": {}, "weight_map": weight_map}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    missing = root / "sharded_missing"
    missing.mkdir()
    shutil.copy(sharded / "model-00001-of-00002.safetensors", missing)
    (missing / "model.safetensors.index.json").write_text(json.dumps(index))
    snapshot = root / "models--org--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    torch.save(torch.nn.Linear(4, 2).state_dict(), snapshot / "pytorch_model.bin")
    (root / ".hidden").mkdir()
    torch.save({}, root / ".hidden" / "skipped.pt")
    (root / "notes.md").write_text("# not a model\n")
    big = root / "big"
    big.mkdir()
    state = {f"blocks.{i}.weight": torch.zeros(256, 1024) for i in range(10)}
    torch.save(state, big / "big_zip.pt")
    torch.save(state, big / "big_legacy.pt", _use_new_zipfile_serialization=False)
    save_file(state, big / "big.safetensors")
    return root


def scan_jsonl(out: Path, paths: Sequence[str], *options: str) -> list[dict[str, Any]]:
    """``pthforensics scan PATHS --jsonl OUT OPTIONS`` in this process; its reports."""
    from pthforensics.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["scan", *paths, "--jsonl", str(out), *options])
    return [json.loads(line) for line in out.read_text().splitlines()]


def by_name(reports: list[dict[str, Any]], root: str) -> dict[str, dict[str, Any]]:
    """Reports by path relative to ``root``, volatile fields removed; every path once."""
    out: dict[str, dict[str, Any]] = {}
    for report in reports:
        path = report["path"]
        assert path.startswith(root), (path, root)
        name = path[len(root) :].lstrip("/")
        assert name not in out, f"{name} reported twice"
        out[name] = {k: v for k, v in report.items() if k not in VOLATILE}
    return out


def storage_args(options: Sequence[str]) -> list[str]:
    """``--storage-option`` flags for ``options``."""
    return [flag for option in options for flag in ("--storage-option", option)]
