"""Every tensor against the storage index: nothing missing, nothing short, nothing absurd.

A tensor with storage ``key``, offset ``o`` (elements), shape and stride needs
``(o + 1 + sum((size - 1) * stride)) * itemsize`` bytes of that storage (``o + numel`` for
a contiguous one), as ``torch/_utils.py::_rebuild_tensor`` slices it; the largest need
per storage is compared with the bytes the container indexed.  Shapes beyond
``limits.max_tensor_elements`` (or negative) are a finding, never an allocation.  Nothing
is read from the file here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from pthforensics.core import (
    DEFAULT_LIMITS,
    Checkpoint,
    Container,
    Finding,
    Limits,
    Location,
    Severity,
    StorageEntry,
    TensorRecord,
)

__all__ = ["check_integrity", "unreferenced_storages"]


def unreferenced_storages(checkpoint: Checkpoint, container: Container) -> tuple[str, ...]:
    """Keys of indexed storages that no tensor uses."""
    used = {t.storage_key for t in checkpoint.tensors}
    return tuple(s.key for s in container.storages if s.key not in used)


def check_integrity(
    checkpoint: Checkpoint, container: Container, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[Finding, ...]:
    """Every storage a tensor uses exists and is large enough; nothing is silently missing."""
    return tuple(_integrity(checkpoint, container, limits))


@dataclass
class _Needs:
    """Bytes each storage must hold, from the tensors that use it."""

    bytes_by_storage: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Storage key -> (largest need, key of the tensor that needs it)."""
    implausible: list[TensorRecord] = field(default_factory=list)
    """Tensors whose shape no storage could hold."""


def _integrity(checkpoint: Checkpoint, container: Container, limits: Limits) -> Iterator[Finding]:
    if container.header_tensors and not container.storages:
        return  # safetensors: the header validation already checked every byte range
    needs = _storage_needs(checkpoint.tensors, limits.max_tensor_elements)
    if needs.implausible:
        t = needs.implausible[0]
        numel = math.prod(t.shape)
        yield Finding(
            "tensor-shape-implausible",
            Severity.SUSPICIOUS,
            Location(key=t.key),
            f"declares shape {list(t.shape)} ({numel} elements), beyond "
            f"what any storage could hold (limit {limits.max_tensor_elements})",
        )
    index: dict[str, StorageEntry] = {s.key: s for s in container.storages}
    if not container.storages_complete and not index:
        return
    need = needs.bytes_by_storage
    yield from _missing(need, index)
    yield from _short(need, index)
    unused = [k for k in index if k not in need]
    if unused and checkpoint.tensors:
        yield Finding(
            "storage-unreferenced",
            Severity.INFO,
            Location(member=index[unused[0]].member),
            f"{len(unused)} storage(s) are not used by any tensor",
        )


def _storage_needs(tensors: tuple[TensorRecord, ...], cap: int) -> _Needs:
    """The largest byte extent each storage must have, and the implausible shapes."""
    needs = _Needs()
    need = needs.bytes_by_storage
    # Shapes repeat (every BatchNorm vector, every block's kernels): one product and one
    # contiguous-stride tuple per distinct shape.
    numels: dict[tuple[int, ...], tuple[int, tuple[int, ...] | None]] = {}
    for t in tensors:
        shape = t.shape
        known = numels.get(shape)
        if known is None:
            numel = math.prod(shape)
            plausible = numel <= cap and not (shape and min(shape) < 0)
            known = numels[shape] = (numel, _contiguous(shape) if plausible else None)
        numel, contiguous = known
        if contiguous is None:
            needs.implausible.append(t)
            continue
        if t.storage_key is None or numel == 0:
            continue
        stride = t.stride
        if stride is None or stride == contiguous:
            extent = t.storage_offset + numel  # contiguous: the common case, no per-dim sum
        else:
            extent = (
                t.storage_offset
                + 1
                + sum((d - 1) * s for d, s in zip(shape, stride, strict=False) if d > 0)
            )
        nbytes = extent * t.itemsize
        if nbytes > need.get(t.storage_key, (0, ""))[0]:
            need[t.storage_key] = (nbytes, t.key)
    return needs


def _missing(need: dict[str, tuple[int, str]], index: dict[str, StorageEntry]) -> Iterator[Finding]:
    """Storages tensors use that the file does not have."""
    missing = [k for k in need if k not in index]
    if missing:
        yield Finding(
            "storage-missing",
            Severity.SUSPICIOUS,
            Location(key=need[missing[0]][1]),
            f"{len(missing)} storage(s) referenced by tensors are absent from the file "
            f"(first: {missing[0]!r}); a truncated download or a tampered archive",
        )


def _short(need: dict[str, tuple[int, str]], index: dict[str, StorageEntry]) -> Iterator[Finding]:
    """Storages smaller than the tensors that use them."""
    short = [
        (k, n, index[k].nbytes)
        for k, (n, _key) in need.items()
        if k in index and index[k].nbytes < n
    ]
    if short:
        key, needed, have = short[0]
        yield Finding(
            "storage-truncated",
            Severity.SUSPICIOUS,
            Location(member=index[key].member, key=need[key][1]),
            f"{len(short)} storage(s) are shorter than their tensors need (first: "
            f"{needed} bytes needed, {have} present); the file is truncated or the "
            "shapes were tampered with",
        )


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The strides of a contiguous tensor of ``shape`` (``torch.empty(shape).stride()``)."""
    strides: list[int] = []
    step = 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))
