"""The legacy torch formats: the stacked-pickle stream and the tar layout.

* stream (``torch.save(..., _use_new_zipfile_serialization=False)``): pickles for the
  magic number, protocol, sys_info, the object and the storage keys, then per storage an
  8-byte element count and the raw bytes (``torch/serialization.py::_legacy_save``);
* tar (torch < 0.4): members ``sys_info``, ``storages``, ``tensors``, ``pickle``
  (``torch/serialization.py::legacy_load``).

Only header pickles and the 8-byte length fields are read, never the storages.  The
reading methods are a mixin of :class:`pthforensics.container._Reader`, which provides
``path``, ``limits``, ``fast`` and ``error``.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from pthforensics.core import (
    Container,
    ContainerError,
    Finding,
    Format,
    LimitExceeded,
    Limits,
    Location,
    PickleStream,
    Severity,
    StorageEntry,
    StreamRole,
    TensorRecord,
    new_record,
)
from pthforensics.core.vocab import storage_dtype
from pthforensics.safety.opcodes import GlobalConst, looks_like_pickle, simple_values
from pthforensics.safety.unpickle import PickleTree, Stub, StubUnpickler, buffered

from .zipread import pread

if TYPE_CHECKING:
    import tarfile

__all__ = ["LEGACY_MAGIC", "LegacyFormats", "Parts"]

_COUNT = struct.Struct("<q")
_WINDOW = 4096

#: ``torch.serialization.MAGIC_NUMBER`` of the legacy stream format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


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


@dataclass
class Parts:
    streams: list[PickleStream] = field(default_factory=list)
    storages: list[StorageEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


class LegacyFormats:
    """Readers of the legacy formats (mixed into the container's reader)."""

    path: str
    limits: Limits
    fast: bool

    def error(self, message: str, member: str | None = None) -> ContainerError:
        """A :class:`ContainerError` about this file (the reader defines it)."""
        raise NotImplementedError

    def _pickle_at(self, f: BinaryIO, start: int, end_limit: int) -> Pickle:
        """The pickle starting at ``start`` (window grown as needed), decoded once."""
        window = 1 << 16
        while True:
            f.seek(start)
            data = f.read(min(window, end_limit - start))
            if self.fast:
                found = _stub_decode(data, start)
                if found is not None:
                    return found
            value, pids, end = simple_values(data, self.limits.max_pickle_ops)
            if end is not None:
                return Pickle(data[:end], start + end, value, pids)
            if start + len(data) >= end_limit or len(data) >= self.limits.max_pickle_bytes:
                if end_limit - start > self.limits.max_pickle_bytes:
                    raise LimitExceeded(
                        "pickle bytes",
                        self.limits.max_pickle_bytes,
                        end_limit - start,
                        path=self.path,
                    )
                return Pickle(data, None, None, pids)
            window *= 4

    def _trailing(self, f: BinaryIO, pos: int, size: int, prefix: str, parts: Parts) -> None:
        """Pickles stacked after the last expected one (a second ``pickle.load`` runs them)."""
        count = 0
        while pos < size and count < self.limits.max_nested_pickles:
            f.seek(pos)
            head = f.read(4096)
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
            found = self._pickle_at(f, pos, size)
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

    def _legacy(
        self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...], magic: bytes, pos: int
    ) -> Container:
        parts = Parts()
        parts.streams.append(PickleStream(f"{prefix}magic", magic, role=StreamRole.MAGIC))
        payloads: list[Pickle] = []
        for role in (
            StreamRole.PROTOCOL,
            StreamRole.SYS_INFO,
            StreamRole.OBJECT,
            StreamRole.STORAGE_KEYS,
        ):
            found = self._pickle_at(f, pos, size)
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
                return Container(
                    self.path,
                    Format.TORCH_LEGACY,
                    size,
                    tuple(parts.streams),
                    (),
                    tuple(parts.findings),
                    wrappers,
                    storages_complete=False,
                )
            pos = found.end
        keys = payloads[3].value
        element = {}
        itemsizes: dict[object, int] = {}  # per storage type: a handful per file
        for pid in payloads[2].pids:
            if len(pid) >= 5 and pid[0] == "storage":
                itemsize = itemsizes.get(pid[1])
                if itemsize is None:
                    itemsize = itemsizes[pid[1]] = storage_dtype(str(pid[1]).rsplit(".", 1)[-1])[1]
                element[str(pid[2])] = itemsize
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
                new_record(
                    StorageEntry, (key, member, pos + 8, max(0, min(nbytes, size - pos - 8)))
                )
            )
            pos += 8 + nbytes
        if complete and pos < size:
            self._trailing(f, pos, size, prefix, parts)
        return Container(
            self.path,
            Format.TORCH_LEGACY,
            size,
            tuple(parts.streams),
            tuple(parts.storages),
            tuple(parts.findings),
            wrappers,
            storages_complete=complete,
        )

    # -- legacy tar ----------------------------------------------------------------------

    def _tar(self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]) -> Container:
        import tarfile  # noqa: PLC0415 - rare format, keep it off the start-up path

        try:
            f.seek(0)
            with tarfile.open(fileobj=f, mode="r:") as tar:
                members = {m.name: m for m in tar.getmembers()[: self.limits.max_members]}
        except (tarfile.TarError, EOFError) as exc:
            raise self.error(f"corrupt tar archive ({exc})") from exc
        parts = Parts()
        tensors: list[TensorRecord] = []
        for name, member in members.items():
            if not member.isfile():
                continue
            f.seek(member.offset_data)
            head = f.read(min(member.size, 4096))
            if name in ("sys_info", "pickle") or looks_like_pickle(head):
                data = self._pickle_at(f, member.offset_data, member.offset_data + member.size).data
                role = (
                    StreamRole.OBJECT
                    if name == "pickle"
                    else (StreamRole.SYS_INFO if name == "sys_info" else StreamRole.MEMBER)
                )
                parts.streams.append(
                    PickleStream(
                        f"{prefix}{name}",
                        data,
                        role=role,
                        loaded=name in ("sys_info", "pickle", "storages", "tensors"),
                    )
                )
        if {"storages", "tensors", "pickle"} <= set(members):
            dtypes = self._tar_storages(f, members["storages"], prefix, parts)
            tensors = self._tar_tensors(f, members["tensors"], dtypes, prefix, parts)
            fmt = Format.TORCH_TAR
        else:
            fmt = Format.UNKNOWN if not parts.streams else Format.PICKLE
            if not parts.streams:
                raise self.error("tar archive holds no torch checkpoint members")
        return Container(
            self.path,
            fmt,
            size,
            tuple(parts.streams),
            tuple(parts.storages),
            tuple(parts.findings),
            wrappers,
            header_tensors=tuple(tensors),
        )

    def _tar_sequence(
        self, f: BinaryIO, member: tarfile.TarInfo, prefix: str, parts: Parts
    ) -> Generator[tuple[object, int], int, None]:
        """Yield (value, position after it) for the count pickle's N argument pickles."""
        end_limit = member.offset_data + member.size
        first = self._pickle_at(f, member.offset_data, end_limit)
        parts.streams.append(
            PickleStream(f"{prefix}{member.name}", first.data, role=StreamRole.MEMBER)
        )
        pos, count = first.end, first.value
        for index in range(count if isinstance(count, int) else 0):
            if pos is None or pos >= end_limit:
                return
            found = self._pickle_at(f, pos, end_limit)
            parts.streams.append(
                PickleStream(
                    f"{prefix}{member.name}#{index}@{pos}", found.data, role=StreamRole.MEMBER
                )
            )
            if found.end is None:
                return
            pos = yield found.value, found.end

    def _tar_storages(
        self, f: BinaryIO, member: tarfile.TarInfo, prefix: str, parts: Parts
    ) -> dict[str, tuple[str, int]]:
        dtypes: dict[str, tuple[str, int]] = {}
        walk = self._tar_sequence(f, member, prefix, parts)
        with contextlib.suppress(StopIteration):
            value, pos = next(walk)
            while True:
                if not (isinstance(value, tuple) and len(value) == 3):
                    return dtypes
                key, _location, storage_type = value
                dtype = storage_dtype(str(storage_type).rsplit(".", 1)[-1])
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
        self,
        f: BinaryIO,
        member: tarfile.TarInfo,
        dtypes: dict[str, tuple[str, int]],
        prefix: str,
        parts: Parts,
    ) -> list[TensorRecord]:
        tensors: list[TensorRecord] = []
        walk = self._tar_sequence(f, member, prefix, parts)
        with contextlib.suppress(StopIteration, struct.error):
            value, pos = next(walk)
            while True:
                if not (isinstance(value, tuple) and len(value) == 3):
                    break
                key, storage_id, _type = value
                f.seek(pos)
                (ndim,) = struct.unpack("<i", f.read(4))
                f.read(4)
                if not 0 <= ndim <= 64:
                    break
                shape = struct.unpack(f"<{ndim}q", f.read(8 * ndim))
                stride = struct.unpack(f"<{ndim}q", f.read(8 * ndim))
                (offset,) = struct.unpack("<q", f.read(8))
                dtype, itemsize = dtypes.get(str(storage_id), ("float32", 4))
                tensors.append(
                    TensorRecord(
                        str(key),
                        tuple(shape),
                        dtype,
                        tuple(stride),
                        str(storage_id),
                        offset,
                        itemsize,
                    )
                )
                value, pos = walk.send(pos + 8 + 16 * ndim + 8)
        return tensors


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
