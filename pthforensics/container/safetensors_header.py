"""Reading and validating a safetensors header (the payload is never read).

Layout (huggingface/safetensors ``safetensors/src/tensor.rs``): an 8-byte little-
endian header length N, N bytes of JSON mapping tensor names to ``{"dtype",
"shape", "data_offsets": [begin, end]}`` (offsets relative to the byte after the
header) plus an optional ``__metadata__`` str->str map, then the data.  The
validation mirrors ``validate``: known dtypes, offsets in bounds, ordered, non-
overlapping, contiguous, and ``end - begin == numel * itemsize``.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, BinaryIO

from pthforensics.core import ContainerError, LimitExceeded, TensorRecord, new_record, vocab

__all__ = ["MAX_HEADER", "read_safetensors_header", "sniff_safetensors"]


#: Largest header accepted (safetensors itself caps it at 100 MB).
MAX_HEADER = 100_000_000


def sniff_safetensors(head: bytes, size: int) -> bool:
    """Whether the first bytes look like a safetensors header."""
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return n >= 2 and head[8:9] == b"{" and (n <= size - 8 or n <= MAX_HEADER)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # the rare case: find the culprit
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return out


_OFFSETS_KEY = b'"data_offsets"'


def _parse(raw: bytes, declared: int, path: str) -> Any:
    """The header object: parsed at C speed, then, when the number of top-level keys does
    not match the entries counted (a duplicate key keeps only its last value, or a name
    holds the text ``"data_offsets"``), parsed again key by key to find the duplicate."""
    try:
        header = json.loads(raw.decode("utf-8"))
        if isinstance(header, dict) and len(header) - ("__metadata__" in header) != declared:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContainerError(f"safetensors header is not valid JSON ({exc})", path=path) from exc
    return header


def read_safetensors_header(
    f: BinaryIO, size: int, path: str, max_tensors: int
) -> tuple[tuple[TensorRecord, ...], tuple[tuple[str, str], ...]]:
    """Tensors and ``__metadata__`` declared by the header; raise on any invalid field."""
    f.seek(0)
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER:
        raise LimitExceeded("safetensors header bytes", MAX_HEADER, n, path=path)
    if n > size - 8:
        raise ContainerError(
            f"safetensors header length {n} exceeds the file ({size} bytes): truncated or corrupt",
            path=path,
        )
    raw = f.read(n)
    # Every entry has one "data_offsets" key: counted at C speed, so that a header of a
    # million entries is refused before a million objects are built.
    declared = raw.count(_OFFSETS_KEY)
    if declared > max_tensors:
        raise LimitExceeded("tensors", max_tensors, declared, path=path)
    header = _parse(raw, declared, path)
    if not isinstance(header, dict):
        raise ContainerError("safetensors header is not a JSON object", path=path)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ContainerError("safetensors __metadata__ must map strings to strings", path=path)
    if len(header) > max_tensors:
        raise LimitExceeded("tensors", max_tensors, len(header), path=path)
    data_len = size - 8 - n
    tensors: list[tuple[int, int, TensorRecord]] = []
    for name, info in header.items():
        tensors.append(_tensor(name, info, path))
    by_offset = sorted(tensors, key=lambda t: (t[0], t[1]))
    expected = 0
    for begin, end, record in by_offset:
        if begin != expected:
            what = "overlaps the previous tensor" if begin < expected else "leaves a hole"
            raise ContainerError(
                f"safetensors tensor {record.key!r} {what} (data offset "
                f"{begin}, expected {expected})",
                path=path,
            )
        expected = end
    if expected > data_len:
        raise ContainerError(
            f"safetensors data ends at {expected} but the file holds only "
            f"{data_len} data bytes: truncated",
            path=path,
        )
    # Header order (sorted names) is kept; `layers` restores the natural module order.
    return tuple(t[2] for t in tensors), tuple(sorted(metadata.items()))


def _tensor(name: str, info: Any, path: str) -> tuple[int, int, TensorRecord]:
    if (
        type(info) is not dict
        or "dtype" not in info
        or "shape" not in info
        or "data_offsets" not in info
    ):
        raise ContainerError(
            f"safetensors entry {name!r} lacks dtype/shape/data_offsets", path=path
        )
    dtype = info["dtype"]
    if type(dtype) is not str or dtype not in vocab.SAFETENSORS_DTYPES:
        raise ContainerError(f"safetensors entry {name!r} has unknown dtype {dtype!r}", path=path)
    shape = info["shape"]
    offsets = info["data_offsets"]
    # JSON integers only (a bool is an int to isinstance, not to the format).
    if type(shape) is not list or not _naturals(shape):
        raise ContainerError(
            f"safetensors entry {name!r} has an invalid shape {shape!r}", path=path
        )
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or not _naturals(offsets)
        or offsets[0] > offsets[1]
    ):
        raise ContainerError(
            f"safetensors entry {name!r} has invalid data_offsets {offsets!r}", path=path
        )
    torch_name, bits = vocab.SAFETENSORS_DTYPES[dtype]
    nbytes = (math.prod(shape) * bits + 7) // 8
    if offsets[1] - offsets[0] != nbytes:
        raise ContainerError(
            f"safetensors entry {name!r}: {offsets[1] - offsets[0]} data "
            f"bytes for shape {shape} of {dtype} (needs {nbytes})",
            path=path,
        )
    record = new_record(
        TensorRecord,
        (name, tuple(shape), torch_name, None, name, 0, max(1, bits // 8), False, False),
    )
    return offsets[0], offsets[1], record


def _naturals(values: list[Any]) -> bool:
    """Whether every value is a non-negative JSON integer."""
    return all(type(v) is int for v in values) and (not values or min(values) >= 0)
