"""Helpers for tests: build small files from trusted data."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from pthforensics.core import StateDict, TensorRecord

#: The repository root and its corpus of samples.
ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def rezip(src: Path, dst: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    """Copy a zip member by member, letting ``mutate(name, data)`` change or drop each."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            out = mutate(info.filename, zin.read(info.filename))
            if out is not None:
                zout.writestr(info.filename, out)
    return dst


def safetensors_bytes(header: dict, data: bytes) -> bytes:  # type: ignore[type-arg]

    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def to_state(
    sd: Any,
    *,
    sort: bool = False,
    metadata: bool = True,
    class_names: tuple[tuple[str, str], ...] = (),
) -> StateDict:
    """``state_dict()`` -> StateDict, as the tensors stage records it (trusted, in-memory
    data).  ``sort`` orders the keys as safetensors does; ``metadata=False`` drops
    ``_metadata``."""
    items = sorted(sd.items()) if sort else list(sd.items())
    tensors = tuple(
        TensorRecord(
            k, tuple(v.shape), str(v.dtype).removeprefix("torch."), itemsize=v.element_size()
        )
        for k, v in items
    )
    keep = metadata and hasattr(sd, "_metadata")
    versions = tuple((k, v.get("version")) for k, v in sd._metadata.items()) if keep else None
    return StateDict("", tensors, module_versions=versions, class_names=class_names)
