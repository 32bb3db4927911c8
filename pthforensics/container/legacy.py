"""The legacy torch stream format: stacked pickles, then the raw storages.

``torch.save(..., _use_new_zipfile_serialization=False)`` writes pickles for the magic
number, protocol, sys_info, the object and the storage keys, then per storage an 8-byte
element count and the raw bytes (``torch/serialization.py::_legacy_save``).  Only the
header pickles and the 8-byte length fields are read, never the storages.  The tar layout
of torch < 0.4 is in :mod:`.tar`; both find pickles with :func:`pickle_at`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import BinaryIO

from pthforensics.core import (
    Container,
    Finding,
    Format,
    LimitExceeded,
    Location,
    PickleStream,
    Severity,
    StorageEntry,
    StreamRole,
    new_record,
    vocab,
)
from pthforensics.safety import (
    GlobalConst,
    PickleTree,
    Stub,
    StubUnpickler,
    buffered,
    looks_like_pickle,
    simple_values,
)

from .base import Parts, ReadContext
from .positional import pread

__all__ = ["LEGACY_MAGIC", "Pickle", "pickle_at", "read_legacy"]

_COUNT = struct.Struct("<q")
#: Bytes read at once around the storages' 8-byte element counts.
_WINDOW = 4096
#: First window a header pickle is decoded from (grown fourfold until it holds the pickle).
_FIRST_WINDOW = 1 << 16
#: Bytes looked at to decide whether what follows the last storage is another pickle.
_TRAILING_SNIFF = 4096

#: ``torch.serialization.MAGIC_NUMBER`` of the legacy stream format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

#: The pickles after the magic number, in the order ``_legacy_save`` writes them.
_HEADER_ROLES = (
    StreamRole.PROTOCOL,
    StreamRole.SYS_INFO,
    StreamRole.OBJECT,
    StreamRole.STORAGE_KEYS,
)


@dataclass(frozen=True, slots=True)
class Pickle:
    """One pickle read by the container: its bytes, where it ends, its constant value."""

    data: bytes
    end: int | None
    """Absolute offset past ``STOP``; ``None`` when the stream breaks or is cut."""
    value: object
    pids: list[tuple]  # type: ignore[type-arg]
    tree: PickleTree | None = None
    """The stub tree, when the C stub unpickler decoded it (fast path)."""


def pickle_at(ctx: ReadContext, f: BinaryIO, start: int, end_limit: int) -> Pickle:
    """The pickle starting at ``start`` (window grown as needed), decoded once."""
    limits = ctx.limits
    window = _FIRST_WINDOW
    while True:
        f.seek(start)
        data = f.read(min(window, end_limit - start))
        if ctx.fast:
            found = _stub_decode(data, start)
            if found is not None:
                return found
        value, pids, end = simple_values(data, limits.max_pickle_ops)
        if end is not None:
            return Pickle(data[:end], start + end, value, pids)
        if start + len(data) >= end_limit or len(data) >= limits.max_pickle_bytes:
            if end_limit - start > limits.max_pickle_bytes:
                raise LimitExceeded(
                    "pickle bytes", limits.max_pickle_bytes, end_limit - start, path=ctx.path
                )
            return Pickle(data, None, None, pids)
        window *= 4


def read_legacy(
    ctx: ReadContext,
    f: BinaryIO,
    size: int,
    prefix: str,
    wrappers: tuple[str, ...],
    magic: bytes,
    pos: int,
) -> Container:
    """The legacy stream whose magic-number pickle (``magic``) ends at ``pos``."""
    parts = Parts()
    parts.streams.append(PickleStream(f"{prefix}magic", magic, role=StreamRole.MAGIC))
    header = _header_pickles(ctx, f, size, prefix, parts, pos)
    if header is None:
        return _legacy_container(ctx, size, wrappers, parts, complete=False)
    payloads, pos = header
    complete, pos = _index_storages(f, size, prefix, payloads, parts, pos)
    if complete and pos < size:
        _trailing(ctx, f, pos, size, prefix, parts)
    return _legacy_container(ctx, size, wrappers, parts, complete=complete)


def _legacy_container(
    ctx: ReadContext, size: int, wrappers: tuple[str, ...], parts: Parts, *, complete: bool
) -> Container:
    return Container(
        ctx.path,
        Format.TORCH_LEGACY,
        size,
        tuple(parts.streams),
        tuple(parts.storages),
        tuple(parts.findings),
        wrappers,
        storages_complete=complete,
    )


def _header_pickles(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, parts: Parts, pos: int
) -> tuple[list[Pickle], int] | None:
    """The protocol, sys_info, object and storage-key pickles and the position after them
    (``None`` when the stream breaks in one of them; what was read is in ``parts``)."""
    payloads: list[Pickle] = []
    for role in _HEADER_ROLES:
        found = pickle_at(ctx, f, pos, size)
        name = f"{prefix}{role}@{pos}"
        parts.streams.append(
            PickleStream(
                name,
                found.data,
                role=role,
                decoded=replace(found.tree, stream=name) if found.tree is not None else None,
            )
        )
        payloads.append(found)
        if found.end is None:
            parts.findings.append(
                Finding(
                    "legacy-truncated",
                    Severity.SUSPICIOUS,
                    Location(prefix or None, pos),
                    f"the legacy stream breaks in its {role} pickle",
                )
            )
            return None
        pos = found.end
    return payloads, pos


def _index_storages(
    f: BinaryIO, size: int, prefix: str, payloads: list[Pickle], parts: Parts, pos: int
) -> tuple[bool, int]:
    """Index the storages after the header: (whether every key was placed, position after
    the last one)."""
    keys = payloads[3].value
    element = _element_sizes(payloads[2].pids)
    complete = True
    member = f"{prefix}storages"
    # Each storage is an 8-byte element count and its payload.  Small storages are
    # read from one 4 KiB window; a jump beyond it costs one small pread, never the
    # payload itself.
    window, window_at = b"", 0
    for key in keys if isinstance(keys, list) else []:
        key = str(key)
        itemsize = element.get(key)
        if itemsize is None:
            complete = False
            break
        if pos + 8 > size:
            break  # the file ends before this storage: integrity reports it missing
        at = pos - window_at
        if not 0 <= at <= len(window) - 8:
            window, window_at, at = pread(f, _WINDOW, pos), pos, 0
            if len(window) < 8:
                break
        (numel,) = _COUNT.unpack_from(window, at)
        nbytes = max(0, numel) * itemsize
        parts.storages.append(
            new_record(StorageEntry, (key, member, pos + 8, max(0, min(nbytes, size - pos - 8))))
        )
        pos += 8 + nbytes
    return complete, pos


def _element_sizes(pids: list[tuple]) -> dict[str, int]:  # type: ignore[type-arg]
    """Storage key -> bytes per element, from the object pickle's persistent ids."""
    element: dict[str, int] = {}
    itemsizes: dict[object, int] = {}  # per storage type: a handful per file
    for pid in pids:
        if len(pid) >= 5 and pid[0] == "storage":
            itemsize = itemsizes.get(pid[1])
            if itemsize is None:
                storage_class = str(pid[1]).rsplit(".", 1)[-1]
                itemsize = itemsizes[pid[1]] = vocab.storage_dtype(storage_class)[1]
            element[str(pid[2])] = itemsize
    return element


def _trailing(
    ctx: ReadContext, f: BinaryIO, pos: int, size: int, prefix: str, parts: Parts
) -> None:
    """Pickles stacked after the last expected one (a second ``pickle.load`` runs them)."""
    count = 0
    while pos < size and count < ctx.limits.max_nested_pickles:
        f.seek(pos)
        head = f.read(_TRAILING_SNIFF)
        if not looks_like_pickle(head):
            parts.findings.append(
                Finding(
                    "trailing-bytes",
                    Severity.SUSPICIOUS,
                    Location(prefix or None, pos),
                    f"{size - pos} unexplained byte(s) after the last pickle",
                )
            )
            return
        found = pickle_at(ctx, f, pos, size)
        count += 1
        parts.streams.append(
            PickleStream(
                f"{prefix}pickle#{count + 1}@{pos}",
                found.data,
                role=StreamRole.TRAILING,
                loaded=False,
            )
        )
        if found.end is None:
            return
        pos = found.end


def _stub_decode(data: bytes, start: int) -> Pickle | None:
    """The first pickle in ``data`` through the C stub unpickler (nothing is imported or
    called); ``None`` when it does not decode cleanly, so the opcode walk decides."""
    buf = buffered(data)
    unpickler = StubUnpickler(buf)
    try:
        value = unpickler.load()
    except Exception:  # noqa: BLE001 - any failure: fall back to the opcode walk
        return None
    end = buf.tell()
    types = {t: str(t) for t in {ref.storage_type for ref in unpickler.storages}}
    pids = [
        ("storage", types[ref.storage_type], ref.key, ref.location, ref.numel)
        for ref in unpickler.storages
    ]
    tree = PickleTree("", value, tuple(unpickler.globals_seen), end=end)  # named by the caller
    return Pickle(data[:end], start + end, _plain(value), pids, tree)


def _plain(value: object) -> object:
    """The constant part of a stub-decoded value, shaped as :func:`simple_values` gives it
    (globals as ``module.name`` strings, anything built by a call as ``None``)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, type) and issubclass(value, Stub):
        return GlobalConst(str(value.pf_global))
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        if all(type(v) is str for v in value):
            return value  # a legacy file's storage keys: nothing to convert
        return [_plain(v) for v in value]
    return None
