"""Identify a checkpoint file and index it without reading tensor payloads.

The only stage that opens input files.  Formats (sniffed from content, never the
extension), and what ``torch.load`` would do with each:

* torch zip (``PK\\x03\\x04`` first): ``<root>/data.pkl`` plus ``<root>/data/<key>``
  storages (``torch/serialization.py::_save``); any other pickle member is scanned too.
* TorchScript zip: ``code/`` and ``constants.pkl`` members (``torch.jit.save``).
* legacy stream and legacy tar layouts: see :mod:`pthforensics.legacy`.
* any other pickle of protocol 0-5, and pickles stacked after it.
* safetensors: header only (see :mod:`pthforensics.safetensors_header`).
* gzip / bz2 / xz (decompressed under a size cap), zip-in-zip, 7z (through py7zr, under
  the same cap); zstd, rar and lz4 are named but not opened.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import BinaryIO, cast

from pthforensics.core import (
    DEFAULT_LIMITS,
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
from pthforensics.safety.opcodes import looks_like_pickle, simple_values

from .legacy import LEGACY_MAGIC, LegacyFormats, Parts
from .npy import MAGIC as NPY_MAGIC
from .npy import read_npy_header
from .safetensors_header import read_safetensors_header, sniff_safetensors
from .sevenzip import extract_7z
from .zipread import ZipEntry, read_member, read_zip_directory, zip_anomalies

__all__ = [
    "LEGACY_MAGIC",
    "read_container",
    "read_embedded",
    "read_hidden_pickles",
    "read_shard_index",
    "sniff",
    "sniff_file",
]

logger = logging.getLogger(__name__)

_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_OPAQUE = {
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"Rar!\x1a\x07": "rar",
    b"\x04\x22\x4d\x18": "lz4",
}

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
_MAX_WRAPPERS = 8


def sniff(head: bytes, size: int) -> str | None:
    """What the first bytes say the file is (``None``: not a checkpoint we know)."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    for magic, kind in (*_COMPRESSED.items(), *_OPAQUE.items()):
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if sniff_safetensors(head, size):
        return "safetensors"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if looks_like_pickle(head):
        return "pickle"
    return None


def sniff_file(path: str, st: os.stat_result | None = None) -> str | None:
    """:func:`sniff` on the first 4 KiB of ``path`` (``None`` for empty, unreadable or
    non-regular files: opening a FIFO would block); ``st``: its ``stat``, when known."""
    try:
        st = st or os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        size = st.st_size
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    return sniff(head, size) if size else None


def read_shard_index(path: str, max_bytes: int = 64 << 20) -> dict[str, str]:
    """The ``weight_map`` (tensor name -> shard file name) of a sharded-model index
    (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``)."""
    import json  # noqa: PLC0415

    try:
        if os.path.getsize(path) > max_bytes:
            raise LimitExceeded("index bytes", max_bytes, os.path.getsize(path), path=path)
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except OSError as exc:
        raise ContainerError(f"cannot read shard index ({exc.strerror or exc})", path=path) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContainerError(f"shard index is not valid JSON ({exc})", path=path) from exc
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise ContainerError("shard index has no weight_map of tensor name -> file", path=path)
    return weight_map


def read_hidden_pickles(
    container: Container, keys: Sequence[str], *, limits: Limits = DEFAULT_LIMITS
) -> tuple[PickleStream, ...]:
    """Pickles stored in storage members no tensor uses (``archive/data/<key>``).

    torch never unpickles a storage member, but a tampered archive can park a payload
    there for another loader; only unreferenced members are sniffed, so no tensor payload
    is read.  Only top-level torch zips are handled (nested ones were read from a
    temporary file that no longer exists).
    """
    if container.wrappers or container.format not in (Format.TORCH_ZIP, Format.TORCHSCRIPT):
        return ()
    wanted = {s.member for s in container.storages if s.key in set(keys)}
    if not wanted:
        return ()
    reader = _Reader(container.path, limits)
    streams: list[PickleStream] = []
    try:
        with open(container.path, "rb") as f:
            directory = read_zip_directory(f, container.size, limits, container.path)
            for entry in directory.entries:
                if entry.name not in wanted:
                    continue
                head = reader._member_bytes(f, entry, prefix_only=4096)
                if looks_like_pickle(head):
                    streams.append(
                        PickleStream(
                            entry.name,
                            reader._member_bytes(f, entry),
                            role=StreamRole.MEMBER,
                            loaded=False,
                        )
                    )
    except OSError as exc:
        raise ContainerError(f"cannot re-read archive ({exc})", path=container.path) from exc
    return tuple(streams)


def read_embedded(
    data: bytes, path: str, name: str, *, limits: Limits = DEFAULT_LIMITS
) -> Container:
    """A checkpoint embedded as bytes in another one (``torch.storage._load_from_bytes``
    carries a whole torch zip); member names are prefixed with ``name!``."""
    return _Reader(path, limits).read(io.BytesIO(data), len(data), f"{name}!", ())


def read_container(path: str, *, limits: Limits = DEFAULT_LIMITS, fast: bool = False) -> Container:
    """Identify ``path`` and index it; raise :class:`ContainerError` when impossible.

    ``fast`` finds the boundaries of the legacy formats' header pickles with the C stub
    unpickler instead of an opcode walk; like the scan's fast path, only for a process
    with a memory cap (CPython's C unpickler sizes its memo from indices in the file).
    """
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ContainerError("is a directory, not a checkpoint file", path=path)
        if not stat.S_ISREG(st.st_mode):
            raise ContainerError(
                "not a regular file (a pipe, socket or device); refusing to read it", path=path
            )
        size = st.st_size
        with open(path, "rb") as f:
            return _Reader(path, limits, fast).read(f, size, "", ())
    except OSError as exc:
        raise ContainerError(f"cannot read file ({exc.strerror or exc})", path=path) from exc


class _Reader(LegacyFormats):
    """Reads one file (and the files nested in it) into a :class:`Container`."""

    def __init__(self, path: str, limits: Limits, fast: bool = False) -> None:
        self.path = path
        self.limits = limits
        self.fast = fast

    def error(self, message: str, member: str | None = None) -> ContainerError:
        return ContainerError(message, path=self.path, member=member)

    def read(self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]) -> Container:
        if len(wrappers) > _MAX_WRAPPERS:
            raise LimitExceeded("nested wrappers", _MAX_WRAPPERS, len(wrappers), path=self.path)
        if size == 0:
            raise self.error(f"{prefix or 'file'} is empty (0 bytes)")
        f.seek(0)
        head = f.read(4096)
        kind = sniff(head, size)
        if kind == "zip":
            return self._zip(f, size, prefix, wrappers)
        if kind in ("gzip", "bz2", "xz"):
            return self._decompress(f, kind, size, prefix, wrappers)
        if kind == "7z":
            inner = self._sevenzip(f, size, prefix, wrappers)
            if inner is not None:
                return inner
        if kind in ("7z", "zstd", "rar", "lz4"):
            finding = Finding(
                "opaque-archive",
                Severity.SUSPICIOUS,
                Location(prefix or None),
                f"a {kind} archive: its contents cannot be inspected here; "
                "extract it and scan what it holds",
            )
            return Container(
                self.path,
                Format.SEVEN_ZIP if kind == "7z" else Format.UNKNOWN,
                size,
                findings=(finding,),
                wrappers=wrappers,
            )
        if kind == "tar":
            return self._tar(f, size, prefix, wrappers)
        if kind == "safetensors":
            tensors, metadata = read_safetensors_header(f, size, self.path, self.limits.max_tensors)
            return Container(
                self.path,
                Format.SAFETENSORS,
                size,
                wrappers=wrappers,
                header_tensors=tensors,
                header_metadata=metadata,
            )
        if kind == "pickle":
            return self._pickle_file(f, size, prefix, wrappers)
        if kind == "npy":
            return self._npy(f, size, prefix, wrappers)
        if _find_eocd(f, size):
            return self._zip(f, size, prefix, wrappers)
        raise self.error(
            f"not a recognised checkpoint format (first bytes {head[:8]!r}); "
            "expected a torch zip, a pickle, safetensors or a compressed wrapper",
            prefix or None,
        )

    # -- pickles -----------------------------------------------------------------------------

    def _pickle_file(
        self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
    ) -> Container:
        parts = Parts()
        f.seek(0)
        value, _pids, end = simple_values(f.read(64))
        if end is not None and type(value) is int and value == LEGACY_MAGIC:
            f.seek(0)
            return self._legacy(f, size, prefix, wrappers, f.read(end), end)
        if size > self.limits.max_pickle_bytes:
            raise LimitExceeded("pickle bytes", self.limits.max_pickle_bytes, size, path=self.path)
        # The whole file is one stream: the scan judges bytes after STOP (a second pickle,
        # or junk) itself, as it does for pickles inside archives.
        f.seek(0)
        parts.streams.append(PickleStream(f"{prefix}pickle", f.read(size)))
        if _find_eocd(f, size):
            # torch.load reads a file that does not start with PK\x03\x04 as a pickle, while
            # zip tools read the archive at its end: scan both faces of the polyglot.
            parts.findings.append(
                Finding(
                    "pickle-zip-polyglot",
                    Severity.SUSPICIOUS,
                    Location(prefix or None, 0),
                    "the file is both a pickle (what torch.load runs) and a zip archive (what "
                    "zip-based scanners read)",
                )
            )
            with contextlib.suppress(ContainerError):
                inner = self._zip(f, size, prefix + "zip!", wrappers)
                parts.streams.extend(replace(s, loaded=False) for s in inner.streams)
                parts.findings.extend(inner.findings)
        return Container(
            self.path,
            Format.PICKLE,
            size,
            tuple(parts.streams),
            (),
            tuple(parts.findings),
            wrappers,
        )

    def _npy(self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]) -> Container:
        shape, dtype, offset, is_object = read_npy_header(f, size, self.path)
        if not is_object:
            # Named after the .npz member it came from ("x.npy!" -> "x"), else "array".
            key = prefix.rstrip("!").rsplit("!", 1)[-1].rsplit("/", 1)[-1].removesuffix(".npy")
            record = TensorRecord(key or "array", shape, dtype, storage_key=key or "array")
            return Container(
                self.path, Format.NUMPY, size, wrappers=wrappers, header_tensors=(record,)
            )
        # An object array is a pickle after the header: np.load(allow_pickle=True) runs it.
        if size - offset > self.limits.max_pickle_bytes:
            raise LimitExceeded(
                "pickle bytes", self.limits.max_pickle_bytes, size - offset, path=self.path
            )
        f.seek(offset)
        stream = PickleStream(f"{prefix}npy@{offset}", f.read(size - offset))
        finding = Finding(
            "numpy-object-array",
            Severity.INFO,
            Location(prefix or None, offset),
            "an object array: its data is a pickle, which np.load(allow_pickle="
            "True) unpickles; it was scanned",
        )
        return Container(
            self.path, Format.NUMPY, size, (stream,), findings=(finding,), wrappers=wrappers
        )

    # -- compressed wrappers -------------------------------------------------------------

    def _sevenzip(
        self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
    ) -> Container | None:
        with extract_7z(f, self.limits.max_decompressed_bytes, self.path) as members:
            if members is None:
                return None
            inners: list[Container] = []
            for name, handle in members:
                member_size = handle.seek(0, 2)
                handle.seek(0)
                if member_size and sniff(handle.read(4096), member_size) is not None:
                    inners.append(
                        self.read(
                            cast(BinaryIO, handle),
                            member_size,
                            f"{prefix}{name}!",
                            (*wrappers, "7z"),
                        )
                    )
        if not inners:
            raise self.error(
                "7z archive holds no checkpoint, pickle or safetensors member", prefix or None
            )
        return _merge(inners, self.path, size)

    def _decompress(
        self, f: BinaryIO, kind: str, size: int, prefix: str, wrappers: tuple[str, ...]
    ) -> Container:
        import bz2  # noqa: PLC0415 - rare wrappers, keep them off the start-up path
        import gzip  # noqa: PLC0415
        import lzma  # noqa: PLC0415
        import zlib  # noqa: PLC0415

        f.seek(0)
        # Each opener is entered in a `with` below (ruff cannot see through the lambdas).
        openers: dict[str, Callable[[], BinaryIO]] = {
            "gzip": lambda: cast(BinaryIO, gzip.GzipFile(fileobj=f, mode="rb")),
            "bz2": lambda: cast(BinaryIO, bz2.BZ2File(f, "rb")),
            "xz": lambda: cast(BinaryIO, lzma.LZMAFile(f, "rb")),  # noqa: SIM115
        }
        cap = self.limits.max_decompressed_bytes
        import tempfile  # noqa: PLC0415 - 4 ms, only for wrapped files

        with tempfile.TemporaryFile() as out:
            total = 0
            try:
                with openers[kind]() as stream:
                    while chunk := stream.read(1 << 20):
                        total += len(chunk)
                        if total > cap:
                            raise LimitExceeded("decompressed bytes", cap, total, path=self.path)
                        out.write(chunk)
            except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
                raise self.error(f"{kind} data is corrupt or truncated ({exc})") from exc
            inner = self.read(out, total, f"{prefix}{kind}!", (*wrappers, kind))
        return replace(inner, size=size)  # the wrapped file's own size, not the payload's

    # -- zip -----------------------------------------------------------------------------

    def _zip(self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]) -> Container:
        directory = read_zip_directory(f, size, self.limits, self.path, read_local=_not_storage)
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
            return self._zip_wrapper(f, entries, size, prefix, wrappers, parts)
        root = (
            data_pkls[0].name.rsplit("/", 1)[0]
            if data_pkls and "/" in data_pkls[0].name
            else (names[0].split("/", 1)[0] if "/" in names[0] else "")
        )
        root_slash = root + "/" if root else ""
        cut = len(root_slash)
        storages = parts.storages
        for entry in entries:
            name = entry.name
            inner = name[cut:] if cut and name.startswith(root_slash) else name
            if inner.startswith("data/") and inner.find("/", 5) < 0:
                # <root>/data/<key>: a tensor storage (thousands per archive), indexed only,
                # in this loop rather than a call per member.
                storages.append(
                    new_record(
                        StorageEntry,
                        (
                            inner[5:],
                            prefix + name,
                            entry.data_offset if not prefix else None,
                            entry.size,
                        ),
                    )
                )
            else:
                self._zip_member(f, entry, inner, prefix, parts)
        parts.streams.sort(key=lambda s: (s.role != "object", s.role != "constants"))
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
            self.path,
            Format.TORCHSCRIPT if is_script else Format.TORCH_ZIP,
            size,
            tuple(parts.streams),
            tuple(parts.storages),
            tuple(parts.findings),
            wrappers,
        )

    def _zip_member(
        self, f: BinaryIO, entry: ZipEntry, inner: str, prefix: str, parts: Parts
    ) -> None:
        """A member other than a storage; ``inner`` is its name below the archive root."""
        label = prefix + entry.name
        if inner.startswith(("code/", "constants/", "extra/", ".data/")) and not inner.endswith(
            ".pkl"
        ):
            return
        head = self._member_bytes(f, entry, prefix_only=4096)
        if inner.endswith(".pkl") or looks_like_pickle(head):
            data = self._member_bytes(f, entry)
            role = {"data.pkl": StreamRole.OBJECT, "constants.pkl": StreamRole.CONSTANTS}.get(
                inner, StreamRole.MEMBER
            )
            parts.streams.append(
                PickleStream(
                    label, data, role=role, loaded=role in (StreamRole.OBJECT, StreamRole.CONSTANTS)
                )
            )
            if role == "member":
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

    def _member_bytes(self, f: BinaryIO, entry: ZipEntry, prefix_only: int = 0) -> bytes:
        if prefix_only:
            prefix_only = min(prefix_only, entry.size) or 1
        try:
            return read_member(
                f, entry, self.limits.max_pickle_bytes, self.path, prefix_only=prefix_only
            )
        except ContainerError:
            raise
        except OSError as exc:
            raise self.error(f"cannot read member ({exc})", entry.name) from exc

    def _zip_wrapper(
        self,
        f: BinaryIO,
        entries: list[ZipEntry],
        size: int,
        prefix: str,
        wrappers: tuple[str, ...],
        parts: Parts,
    ) -> Container:
        """A plain zip holding checkpoints (or pickles): read each one found inside."""
        inners: list[Container] = []
        for entry in entries:
            head = self._member_bytes(f, entry, prefix_only=4096)
            if sniff(head, entry.size) is None:
                continue
            if entry.size > self.limits.max_decompressed_bytes:
                raise LimitExceeded(
                    "member size",
                    self.limits.max_decompressed_bytes,
                    entry.size,
                    path=self.path,
                    member=entry.name,
                )
            import tempfile  # noqa: PLC0415 - 4 ms, only for archives of checkpoints

            with tempfile.TemporaryFile() as tmp:
                tmp.write(read_member(f, entry, self.limits.max_decompressed_bytes, self.path))
                inners.append(
                    self.read(tmp, entry.size, f"{prefix}{entry.name}!", (*wrappers, "zip"))
                )
        if not inners:
            raise self.error(
                "zip archive holds no checkpoint, pickle or safetensors member", prefix or None
            )
        merged = _merge(inners, self.path, size)
        return replace(merged, findings=tuple(parts.findings) + merged.findings)


def _not_storage(name: str) -> bool:
    """Whether a member is anything but a tensor storage (``<root>/data/<key>``); storages'
    local headers are skipped when the layout accounts for them."""
    head, _, key = name.rpartition("/")
    return not (key and (head == "data" or head.endswith("/data")) and "." not in key)


def _merge(inners: list[Container], path: str, size: int) -> Container:
    """The first checkpoint found in an archive, with every other member's streams and
    findings kept for the scan (``loaded=False``: no loader reads them directly)."""
    main = inners[0]
    streams = list(main.streams)
    findings = list(main.findings)
    for other in inners[1:]:
        streams.extend(replace(s, loaded=False) for s in other.streams)
        findings.extend(other.findings)
    tensors = main.header_tensors
    if all(c.format is Format.NUMPY and not c.streams for c in inners):
        # An .npz: every member is one array, named after the member.
        tensors = tuple(t for c in inners for t in c.header_tensors)
    return replace(
        main,
        path=path,
        size=size,
        streams=tuple(streams),
        findings=tuple(findings),
        header_tensors=tensors,
    )


def _find_eocd(f: BinaryIO, size: int) -> bool:
    tail = min(size, 22 + 0xFFFF)
    f.seek(size - tail)
    return b"PK\x05\x06" in f.read(tail)
