"""The legacy tar layout of torch < 0.4: members ``sys_info``, ``storages``, ``tensors``,
``pickle`` (``torch/serialization.py::legacy_load``).

``storages`` is a count pickle, then per storage a ``(key, location, storage type)``
pickle, an 8-byte element count and the raw bytes; ``tensors`` is a count pickle, then per
tensor a ``(key, storage id, type)`` pickle and its ndim, shape, stride and offset as
little-endian integers.  Only the pickles and the integers are read, never the storages.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Generator
from typing import TYPE_CHECKING, BinaryIO

from pthforensics.core import (
    Container,
    Format,
    PickleStream,
    StorageEntry,
    StreamRole,
    TensorRecord,
    vocab,
)
from pthforensics.safety import looks_like_pickle

from .base import Parts, ReadContext
from .legacy import pickle_at
from .positional import pread

if TYPE_CHECKING:
    import tarfile

__all__ = ["read_tar"]

#: The members ``torch.load`` reads from a legacy tar (``legacy_load``).
_LOADED = ("sys_info", "pickle", "storages", "tensors")
_REQUIRED = frozenset({"storages", "tensors", "pickle"})
#: Bytes looked at to decide whether another member is a pickle.
_SNIFF = 4096
#: Dimensions a tensor record may declare (torch's own limit is 64).
_MAX_NDIM = 64
#: The dtype of a tensor whose storage was not indexed.
_UNKNOWN_STORAGE_DTYPE = ("float32", vocab.itemsize("float32"))


def read_tar(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A tar archive: the legacy torch layout, or pickles in any member."""
    members = _members(ctx, f)
    parts = Parts()
    tensors: list[TensorRecord] = []
    for name, member in members.items():
        if member.isfile():
            _member_pickle(ctx, f, name, member, prefix, parts)
    if _REQUIRED.issubset(members):
        dtypes = _tar_storages(ctx, f, members["storages"], prefix, parts)
        tensors = _tar_tensors(ctx, f, members["tensors"], dtypes, prefix, parts)
        fmt = Format.TORCH_TAR
    else:
        fmt = Format.UNKNOWN if not parts.streams else Format.PICKLE
        if not parts.streams:
            raise ctx.error("tar archive holds no torch checkpoint members")
    return Container(
        ctx.path,
        fmt,
        size,
        tuple(parts.streams),
        tuple(parts.storages),
        tuple(parts.findings),
        wrappers,
        header_tensors=tuple(tensors),
    )


def _members(ctx: ReadContext, f: BinaryIO) -> dict[str, tarfile.TarInfo]:
    import tarfile  # noqa: PLC0415 - rare format, keep it off the start-up path

    try:
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:") as tar:
            return {m.name: m for m in tar.getmembers()[: ctx.limits.max_members]}
    except (tarfile.TarError, EOFError) as exc:
        raise ctx.error(f"corrupt tar archive ({exc})") from exc


def _member_pickle(
    ctx: ReadContext, f: BinaryIO, name: str, member: tarfile.TarInfo, prefix: str, parts: Parts
) -> None:
    """The first pickle of a member torch reads, or of any member that holds one."""
    f.seek(member.offset_data)
    head = f.read(min(member.size, _SNIFF))
    if not (name in ("sys_info", "pickle") or looks_like_pickle(head)):
        return
    data = pickle_at(ctx, f, member.offset_data, member.offset_data + member.size).data
    role = (
        StreamRole.OBJECT
        if name == "pickle"
        else (StreamRole.SYS_INFO if name == "sys_info" else StreamRole.MEMBER)
    )
    parts.streams.append(PickleStream(f"{prefix}{name}", data, role=role, loaded=name in _LOADED))


def _tar_sequence(
    ctx: ReadContext, f: BinaryIO, member: tarfile.TarInfo, prefix: str, parts: Parts
) -> Generator[tuple[object, int], int, None]:
    """Yield (value, position after it) for the count pickle's N argument pickles; the
    caller sends back where the next pickle starts."""
    end_limit = member.offset_data + member.size
    first = pickle_at(ctx, f, member.offset_data, end_limit)
    parts.streams.append(PickleStream(f"{prefix}{member.name}", first.data, role=StreamRole.MEMBER))
    pos, count = first.end, first.value
    for index in range(count if isinstance(count, int) else 0):
        if pos is None or pos >= end_limit:
            return
        found = pickle_at(ctx, f, pos, end_limit)
        parts.streams.append(
            PickleStream(f"{prefix}{member.name}#{index}@{pos}", found.data, role=StreamRole.MEMBER)
        )
        if found.end is None:
            return
        pos = yield found.value, found.end


def _tar_storages(
    ctx: ReadContext, f: BinaryIO, member: tarfile.TarInfo, prefix: str, parts: Parts
) -> dict[str, tuple[str, int]]:
    """Index the ``storages`` member; returns storage key -> (dtype, item size)."""
    dtypes: dict[str, tuple[str, int]] = {}
    walk = _tar_sequence(ctx, f, member, prefix, parts)
    with contextlib.suppress(StopIteration):
        value, pos = next(walk)
        while True:
            if not (isinstance(value, tuple) and len(value) == 3):
                return dtypes
            key, _location, storage_type = value
            dtype = vocab.storage_dtype(str(storage_type).rsplit(".", 1)[-1])
            raw = pread(f, 8, pos)
            if len(raw) < 8:
                return dtypes
            (numel,) = struct.unpack("<q", raw)
            nbytes = max(0, numel) * dtype[1]
            parts.storages.append(StorageEntry(str(key), f"{prefix}storages", pos + 8, nbytes))
            dtypes[str(key)] = dtype
            value, pos = walk.send(pos + 8 + nbytes)
    return dtypes


def _tar_tensors(
    ctx: ReadContext,
    f: BinaryIO,
    member: tarfile.TarInfo,
    dtypes: dict[str, tuple[str, int]],
    prefix: str,
    parts: Parts,
) -> list[TensorRecord]:
    """The tensor records of the ``tensors`` member (dtype from their storage)."""
    tensors: list[TensorRecord] = []
    walk = _tar_sequence(ctx, f, member, prefix, parts)
    with contextlib.suppress(StopIteration, struct.error):
        value, pos = next(walk)
        while True:
            if not (isinstance(value, tuple) and len(value) == 3):
                break
            key, storage_id, _type = value
            f.seek(pos)
            (ndim,) = struct.unpack("<i", f.read(4))
            f.read(4)
            if not 0 <= ndim <= _MAX_NDIM:
                break
            shape = struct.unpack(f"<{ndim}q", f.read(8 * ndim))
            stride = struct.unpack(f"<{ndim}q", f.read(8 * ndim))
            (offset,) = struct.unpack("<q", f.read(8))
            dtype, itemsize = dtypes.get(str(storage_id), _UNKNOWN_STORAGE_DTYPE)
            tensors.append(
                TensorRecord(
                    str(key), tuple(shape), dtype, tuple(stride), str(storage_id), offset, itemsize
                )
            )
            value, pos = walk.send(pos + 8 + 16 * ndim + 8)
    return tensors
