"""Zip archives: torch's zip checkpoints, TorchScript archives, and zips of checkpoints.

* torch zip (``torch/serialization.py::_save``): ``<root>/data.pkl`` plus
  ``<root>/data/<key>`` storages, indexed from the directory without reading them.  The
  root and the ``data.pkl`` torch unpickles are found as torch's reader finds them
  (:mod:`.ziplayout`); every other member whose bytes CPython would start to unpickle is a
  stream too, whatever its name or folder (a staged payload for ``pickle.loads``);
* TorchScript zip (``torch.jit.save``): ``constants.pkl`` among the names; its ``code/``
  is judged statically (:func:`pthforensics.safety.judge_code`);
* any other zip (``.npz``, an archive of checkpoints): each member that sniffs as a
  checkpoint is read as a file of its own.

The directory is read by :mod:`.zipread`, as torch's reader reads it; the directories
another reader could take instead (``zipfile``'s shifted view, an earlier end record) are
findings, and their members are scanned too.
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
from pthforensics.safety import judge_code, looks_like_pickle

from .base import Parts, ReadContext
from .sniff import SNIFF_BYTES, FileKind, sniff
from .wrappers import merge_inners
from .zipcheck import zip_anomalies
from .ziplayout import TorchLayout, torch_layout
from .zipread import ZipDirectory, ZipEntry, read_member, read_zip_directory

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
_STORAGE_FOLDER = "data/"
#: TorchScript's tensor constants (payloads of ``constants.pkl``'s persistent ids).
_CONSTANTS_FOLDER = "constants/"
_CODE_FOLDER = "code/"


def read_zip(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A zip: a torch or TorchScript archive, else a zip of checkpoints."""
    directory = read_zip_directory(f, size, ctx.limits, ctx.path, read_local=_not_storage)
    parts = Parts()
    parts.findings.extend(zip_anomalies(directory, size, prefix))
    layout = torch_layout(list(directory.entries), prefix) if directory.prefix == 0 else None
    if not directory.torch_view:
        parts.findings.append(
            Finding(
                "zip-refused-by-torch",
                Severity.SUSPICIOUS,
                Location(prefix or None, directory.eocd_offset),
                "the end record torch's reader takes is unreadable, so torch.load refuses the "
                "archive; an earlier end record describes the directory read here, whose "
                "members another reader may unpickle",
            )
        )
    if layout is None or (layout.object_index is None and not layout.is_script):
        container = _zip_of_checkpoints(ctx, f, directory, size, prefix, wrappers, parts)
    else:
        parts.findings.extend(layout.findings)
        _index_members(ctx, f, directory, layout, prefix, parts)
        parts.streams.sort(
            key=lambda s: (s.role is not StreamRole.OBJECT, s.role is not StreamRole.CONSTANTS)
        )
        if layout.is_script:
            parts.findings.append(
                Finding(
                    "torchscript-code",
                    Severity.SUSPICIOUS,
                    Location(prefix or None),
                    "a TorchScript archive: torch.jit.load compiles and runs the TorchScript "
                    "code stored in its code/ members, so it is a program, not just weights "
                    "(its code calls only submodules and torch operators)",
                )
            )
        container = Container(
            ctx.path,
            Format.TORCHSCRIPT if layout.is_script else Format.TORCH_ZIP,
            size,
            tuple(parts.streams),
            tuple(parts.storages),
            tuple(parts.findings),
            wrappers,
        )
    others = _other_directories(ctx, f, directory, prefix)
    if others.streams or others.findings:
        container = replace(
            container,
            streams=container.streams + tuple(others.streams),
            findings=container.findings + tuple(others.findings),
        )
    return container


def _index_members(
    ctx: ReadContext,
    f: BinaryIO,
    directory: ZipDirectory,
    layout: TorchLayout,
    prefix: str,
    parts: Parts,
) -> None:
    """Storages into the index, every other member judged by :func:`_zip_member`."""
    root_slash = layout.root + "/"
    cut = len(root_slash)
    loadable = layout.loadable and directory.torch_view
    skip = len(_STORAGE_FOLDER)
    storages = parts.storages
    for i, entry in enumerate(directory.entries):
        name = entry.name
        if name.endswith("/"):
            continue
        inner = name[cut:] if name.startswith(root_slash) else name
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
        elif layout.is_script and inner.startswith(_CONSTANTS_FOLDER):
            continue  # TorchScript tensor constants: payloads, never read
        elif i == layout.object_index:
            _loaded_stream(ctx, f, entry, prefix, parts, StreamRole.OBJECT, loadable)
        elif i == layout.constants_index:
            _loaded_stream(ctx, f, entry, prefix, parts, StreamRole.CONSTANTS, loadable)
        else:
            _zip_member(ctx, f, entry, inner, prefix, parts, script=layout.is_script)


def _loaded_stream(
    ctx: ReadContext,
    f: BinaryIO,
    entry: ZipEntry,
    prefix: str,
    parts: Parts,
    role: StreamRole,
    loadable: bool,
) -> None:
    """The member torch unpickles (``data.pkl``; ``constants.pkl`` for TorchScript)."""
    data = member_bytes(ctx, f, entry)
    parts.streams.append(PickleStream(prefix + entry.name, data, role=role, loaded=loadable))


def _zip_member(
    ctx: ReadContext,
    f: BinaryIO,
    entry: ZipEntry,
    inner: str,
    prefix: str,
    parts: Parts,
    *,
    script: bool,
) -> None:
    """A member torch does not unpickle; ``inner`` is its name below the archive root.
    Read when CPython would start to unpickle it (a staged payload), or when it is
    TorchScript code (judged statically); else noted when no torch loader expects it."""
    label = prefix + entry.name
    try:
        head = member_bytes(ctx, f, entry, prefix_only=SNIFF_BYTES)
    except ContainerError as exc:
        parts.findings.append(
            Finding("zip-member-unreadable", Severity.SUSPICIOUS, Location(label), exc.message)
        )
        return
    if looks_like_pickle(head):
        parts.streams.append(
            PickleStream(label, member_bytes(ctx, f, entry), role=StreamRole.MEMBER, loaded=False)
        )
        if not inner.endswith(".debug_pkl"):
            parts.findings.append(
                Finding(
                    "zip-unexpected-pickle",
                    Severity.SUSPICIOUS,
                    Location(label),
                    "a pickle in a member torch.load does not unpickle; another loader "
                    "(pickle.loads of the member) would run it",
                )
            )
    elif script and inner.startswith(_CODE_FOLDER) and inner.endswith(".py"):
        _torchscript_code(ctx, f, entry, label, parts)
    elif inner not in _TORCH_ZIP_EXPECTED and not inner.startswith((".data/", _CODE_FOLDER)):
        parts.findings.append(
            Finding(
                "zip-unexpected-member",
                Severity.INFO,
                Location(label),
                "a member no torch loader expects",
            )
        )


def _torchscript_code(
    ctx: ReadContext, f: BinaryIO, entry: ZipEntry, label: str, parts: Parts
) -> None:
    """A ``code/`` source of a TorchScript archive: malicious when it does more than call
    its submodules and operators (``torch.jit.load`` compiles it)."""
    try:
        source = member_bytes(ctx, f, entry).decode("utf-8", "replace")
    except ContainerError:
        return
    verdict = judge_code(source, torchscript=True)
    if verdict.severity is Severity.MALICIOUS:
        parts.findings.append(
            Finding(
                "torchscript-code-dangerous",
                Severity.MALICIOUS,
                Location(label),
                "TorchScript code that does more than call its submodules and torch "
                "operators: " + "; ".join(verdict.problems[:5]) + "\n" + verdict.shown,
            )
        )


def _other_directories(
    ctx: ReadContext, f: BinaryIO, directory: ZipDirectory, prefix: str
) -> Parts:
    """Directories another reader could take (``zipfile``'s shifted offsets, an earlier end
    record): a finding each, and their members that hold pickles scanned as staged."""
    parts = Parts()
    seen = {(e.header_offset, e.compressed_size) for e in directory.entries}
    for other in directory.others:
        parts.findings.append(
            Finding(
                "zip-other-directory",
                Severity.SUSPICIOUS,
                Location(prefix or None, other.eocd_offset),
                f"another end record at {other.eocd_offset} describes a directory of "
                f"{len(other.entries)} member(s) (at {other.central_offset}) that a different "
                "zip reader takes: its members were scanned too",
            )
        )
        for entry in other.entries:
            key = (entry.header_offset, entry.compressed_size)
            if key in seen or entry.name.endswith("/") or entry.data_offset is None:
                continue
            seen.add(key)
            _zip_member(
                ctx, f, entry, entry.name, f"{prefix}{other.eocd_offset}:", parts, script=False
            )
    return parts


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
    directory: ZipDirectory,
    size: int,
    prefix: str,
    wrappers: tuple[str, ...],
    parts: Parts,
) -> Container:
    """A plain zip holding checkpoints (or pickles): read each one found inside."""
    inners: list[Container] = []
    cap = ctx.limits.max_decompressed_bytes
    for entry in directory.entries:
        if entry.name.endswith("/") or (entry.data_offset is None and entry.local_read):
            continue
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
