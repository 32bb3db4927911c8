"""Helpers for tests: build small files from trusted data."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path


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


