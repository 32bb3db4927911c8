"""Zip archives: torch's zip checkpoints, TorchScript archives, and zips of checkpoints.

* torch zip (``torch/serialization.py::_save``): ``<root>/data.pkl`` plus
  ``<root>/data/<key>`` storages, indexed from the directory without reading them; any
  other member that holds a pickle is a stream too;
* TorchScript zip (``torch.jit.save``): ``code/`` and ``constants.pkl`` members;
* any other zip (``.npz``, an archive of checkpoints): each member that sniffs as a
  checkpoint is read as a file of its own.

The directory is read by :mod:`.zipread`, which accepts what torch's reader accepts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import BinaryIO

from pthforensics.core import (
    Container,
    ContainerError,
    Finding,
    Format,
    LimitExceeded,
    Location,
    PickleStream,
    Severity,
    StorageEntry,
    StreamRole,
    new_record,
)
from pthforensics.safety import looks_like_pickle

from .base import Parts, ReadContext
from .sniff import SNIFF_BYTES, FileKind, sniff
from .wrappers import merge_inners
from .zipcheck import zip_anomalies
from .zipread import ZipEntry, read_member, read_zip_directory

__all__ = ["hidden_pickles", "member_bytes", "read_zip"]

#: Members of a torch zip besides data.pkl and the storages (names below the root).
_TORCH_ZIP_EXPECTED = frozenset(
    {
        "data.pkl",
        "version",
        ".data/version",
        "byteorder",
        ".data/serialization_id",
        ".format_version",
        ".storage_alignment",
        "serialization_id",
    }
)
#: Folders of members torch reads as text or raw data (a ``.pkl`` among them is a pickle).
_NON_PICKLE_FOLDERS = ("code/", "constants/", "extra/", ".data/")
#: Members a loader unpickles, and their role.
_LOADED_ROLES = {"data.pkl": StreamRole.OBJECT, "constants.pkl": StreamRole.CONSTANTS}
_STORAGE_FOLDER = "data/"


def read_zip(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A zip: a torch or TorchScript archive, else a zip of checkpoints."""
    directory = read_zip_directory(f, size, ctx.limits, ctx.path, read_local=_not_storage)
    parts = Parts()
    parts.findings.extend(zip_anomalies(directory, size, prefix))
    entries = [e for e in directory.entries if not e.name.endswith("/")]
    names = [e.name for e in entries]
    # One search over all names (thousands of members) instead of a test per name.
    listing = "\n" + "\n".join(names) + "\n"
    is_script = "/code/" in listing or "\ncode/" in listing or "constants.pkl\n" in listing
    data_pkls = [
        e
        for e in entries
        if e.name.endswith("data.pkl") and e.name.rsplit("/", 1)[-1] == "data.pkl"
    ]
    if not data_pkls and not is_script:
        return _zip_of_checkpoints(ctx, f, entries, size, prefix, wrappers, parts)
    root = (
        data_pkls[0].name.rsplit("/", 1)[0]
        if data_pkls and "/" in data_pkls[0].name
        else (names[0].split("/", 1)[0] if "/" in names[0] else "")
    )
    _index_members(ctx, f, entries, root, prefix, parts)
    parts.streams.sort(
        key=lambda s: (s.role is not StreamRole.OBJECT, s.role is not StreamRole.CONSTANTS)
    )
    if is_script:
        parts.findings.append(
            Finding(
                "torchscript-code",
                Severity.SUSPICIOUS,
                Location(prefix or None),
                "a TorchScript archive: torch.jit.load compiles and runs the TorchScript code "
                "stored in its code/ members, so it is a program, not just weights",
            )
        )
    return Container(
        ctx.path,
        Format.TORCHSCRIPT if is_script else Format.TORCH_ZIP,
        size,
        tuple(parts.streams),
        tuple(parts.storages),
        tuple(parts.findings),
        wrappers,
    )


def _index_members(
    ctx: ReadContext, f: BinaryIO, entries: list[ZipEntry], root: str, prefix: str, parts: Parts
) -> None:
    """Storages into the index, every other member judged by :func:`_zip_member`."""
    root_slash = root + "/" if root else ""
    cut = len(root_slash)
    skip = len(_STORAGE_FOLDER)
    storages = parts.storages
    for entry in entries:
        name = entry.name
        inner = name[cut:] if cut and name.startswith(root_slash) else name
        if inner.startswith(_STORAGE_FOLDER) and inner.find("/", skip) < 0:
            # <root>/data/<key>: a tensor storage (thousands per archive), indexed only,
            # in this loop rather than a call per member.
            storages.append(
                new_record(
                    StorageEntry,
                    (
                        inner[skip:],
                        prefix + name,
                        entry.data_offset if not prefix else None,
                        entry.size,
                    ),
                )
            )
        else:
            _zip_member(ctx, f, entry, inner, prefix, parts)


def _zip_member(
    ctx: ReadContext, f: BinaryIO, entry: ZipEntry, inner: str, prefix: str, parts: Parts
) -> None:
    """A member other than a storage; ``inner`` is its name below the archive root."""
    label = prefix + entry.name
    if inner.startswith(_NON_PICKLE_FOLDERS) and not inner.endswith(".pkl"):
        return
    head = member_bytes(ctx, f, entry, prefix_only=SNIFF_BYTES)
    if inner.endswith(".pkl") or looks_like_pickle(head):
        data = member_bytes(ctx, f, entry)
        role = _LOADED_ROLES.get(inner, StreamRole.MEMBER)
        parts.streams.append(
            PickleStream(
                label, data, role=role, loaded=role in (StreamRole.OBJECT, StreamRole.CONSTANTS)
            )
        )
        if role is StreamRole.MEMBER:
            parts.findings.append(
                Finding(
                    "zip-unexpected-pickle",
                    Severity.SUSPICIOUS,
                    Location(label),
                    "a pickle in a member torch.load does not read; another loader might",
                )
            )
    elif inner not in _TORCH_ZIP_EXPECTED and not inner.startswith(".data/"):
        parts.findings.append(
            Finding(
                "zip-unexpected-member",
                Severity.INFO,
                Location(label),
                "a member no torch loader expects",
            )
        )


def member_bytes(ctx: ReadContext, f: BinaryIO, entry: ZipEntry, prefix_only: int = 0) -> bytes:
    """A member's bytes (its first ``prefix_only`` bytes when set), under the pickle cap."""
    if prefix_only:
        prefix_only = min(prefix_only, entry.size) or 1
    try:
        return read_member(f, entry, ctx.limits.max_pickle_bytes, ctx.path, prefix_only=prefix_only)
    except ContainerError:
        raise
    except OSError as exc:
        raise ctx.error(f"cannot read member ({exc})", entry.name) from exc


def _zip_of_checkpoints(
    ctx: ReadContext,
    f: BinaryIO,
    entries: list[ZipEntry],
    size: int,
    prefix: str,
    wrappers: tuple[str, ...],
    parts: Parts,
) -> Container:
    """A plain zip holding checkpoints (or pickles): read each one found inside."""
    inners: list[Container] = []
    cap = ctx.limits.max_decompressed_bytes
    for entry in entries:
        head = member_bytes(ctx, f, entry, prefix_only=SNIFF_BYTES)
        if sniff(head, entry.size) is None:
            continue
        if entry.size > cap:
            raise LimitExceeded("member size", cap, entry.size, path=ctx.path, member=entry.name)
        import tempfile  # noqa: PLC0415 - 4 ms, only for archives of checkpoints

        with tempfile.TemporaryFile() as tmp:
            tmp.write(read_member(f, entry, cap, ctx.path))
            inners.append(
                ctx.read(tmp, entry.size, f"{prefix}{entry.name}!", (*wrappers, FileKind.ZIP.value))
            )
    if not inners:
        raise ctx.error(
            "zip archive holds no checkpoint, pickle or safetensors member", prefix or None
        )
    merged = merge_inners(inners, ctx.path, size)
    return replace(merged, findings=tuple(parts.findings) + merged.findings)


def hidden_pickles(
    ctx: ReadContext, f: BinaryIO, size: int, wanted: set[str]
) -> tuple[PickleStream, ...]:
    """Pickles in the members named in ``wanted`` (storages no tensor uses: only their first
    bytes are sniffed, so no tensor payload is read)."""
    streams: list[PickleStream] = []
    directory = read_zip_directory(f, size, ctx.limits, ctx.path)
    for entry in directory.entries:
        if entry.name not in wanted:
            continue
        head = member_bytes(ctx, f, entry, prefix_only=SNIFF_BYTES)
        if looks_like_pickle(head):
            streams.append(
                PickleStream(
                    entry.name, member_bytes(ctx, f, entry), role=StreamRole.MEMBER, loaded=False
                )
            )
    return tuple(streams)


def _not_storage(name: str) -> bool:
    """Whether a member is anything but a tensor storage (``<root>/data/<key>``); storages'
    local headers are skipped when the layout accounts for them."""
    head, _, key = name.rpartition("/")
    return not (key and (head == "data" or head.endswith("/data")) and "." not in key)
