"""Opening 7z archives with a cap on what they may decompress to.

torch cannot load a 7z file, but a checkpoint shipped inside one is loaded as soon as
someone extracts it, so its members are read and scanned like any nested file.

Most archives (Copy, LZMA or LZMA2, with Delta or BCJ filters: what 7-Zip and py7zr
write by default) are read by :mod:`.sevenzip_header` and :mod:`.sevenzip_decode` with the standard
library.  py7zr, whose import costs 50-70 ms a process, is imported only for the rest
(AES, BCJ2, PPMd, BZip2, Deflate, zstd, unsafe names, ...).  Both paths give the same
members: regular files, empty ones included, named and ordered as py7zr's extraction
names and orders them, directories and sockets left out.  Members are written to
temporary files under a cap, so a decompression bomb stops at the cap instead of
filling memory or disk.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, BinaryIO

from pthforensics.core import ContainerError, LimitExceeded

if TYPE_CHECKING:
    from .sevenzip_decode import Folder
    from .sevenzip_header import Entry

__all__ = ["extract_7z"]

_DIRECTORY = 0x10  # FILE_ATTRIBUTE_DIRECTORY
_UNIX_EXTENSION = 0x8000  # the high 16 bits hold st_mode (p7zip, py7zr)
_S_IFSOCK = 0o140000

Members = list[tuple[str, IO[bytes]]]


@contextmanager
def extract_7z(f: BinaryIO, cap: int, path: str) -> Iterator[Members | None]:
    """Yield ``(name, file)`` for every member, or ``None`` when the archive needs py7zr
    and py7zr is not installed.

    Raises :class:`ContainerError` for a corrupt or encrypted archive and
    :class:`LimitExceeded` when the members add up to more than ``cap`` bytes.
    """
    files: Members = []
    found = False
    try:
        found = _extract_native(f, cap, path, files) or _extract_py7zr(f, cap, path, files)
        if found:
            yield files
    except (LimitExceeded, ContainerError):
        raise
    except Exception as exc:
        raise ContainerError(f"7z archive is corrupt or unsupported ({exc})", path=path) from exc
    finally:
        _close(files)
    if not found:
        yield None


def _close(files: Members) -> None:
    for _name, handle in files:
        handle.close()


# -- the standard-library reader ------------------------------------------------------------


def _extract_native(f: BinaryIO, cap: int, path: str, files: Members) -> bool:
    """Extract into ``files``; ``False`` (and nothing kept) when py7zr has to do it."""
    # imported on the first 7z archive only: container.py imports this module at start-up
    from .sevenzip_decode import Unsupported  # noqa: PLC0415
    from .sevenzip_header import read_archive  # noqa: PLC0415

    try:
        archive = read_archive(f, path)
        declared = sum(entry.size for entry in archive.entries)
        if declared > cap:
            raise LimitExceeded("decompressed bytes", cap, declared, path=path)
        outputs = _outputs(archive.entries, len(archive.folders), files)
        by_folder: dict[int, list[tuple[Entry, IO[bytes] | None]]] = {}
        for entry, out in zip(archive.entries, outputs, strict=True):
            by_folder.setdefault(entry.folder, []).append((entry, out))
        total = 0
        for index, folder in enumerate(archive.folders):
            members = by_folder.get(index, [])
            # like py7zr, a folder holding only directories is not decoded at all
            if any(out is not None for _entry, out in members):
                total = _unpack(f, folder, members, (cap, total), path)
    except Unsupported:
        _close(files)
        files.clear()
        return False
    for _name, handle in files:
        handle.seek(0)
    return True


def _outputs(entries: tuple[Entry, ...], n_folders: int, files: Members) -> list[IO[bytes] | None]:
    """Open one output per extracted entry, appending ``(name, file)`` to ``files`` in the
    order py7zr extracts them: archive order for one folder, else empty files first."""
    import io  # noqa: PLC0415 - rare format, keep it off the start-up path
    import tempfile  # noqa: PLC0415

    names = _py7zr_names(entries)
    order = (
        range(len(entries))
        if n_folders == 1
        else sorted(range(len(entries)), key=lambda i: entries[i].folder >= 0)
    )
    outputs: list[IO[bytes] | None] = [None] * len(entries)
    for i in order:
        name = names[i]
        if name is not None:
            # closed in extract_7z's finally, after the scan of the member
            handle = tempfile.TemporaryFile() if entries[i].size else io.BytesIO()  # noqa: SIM115
            outputs[i] = handle
            files.append((name, handle))
    return outputs


def _py7zr_names(entries: tuple[Entry, ...]) -> list[str | None]:
    """The names py7zr gives members (``None``: a directory or socket, not extracted).

    A repeated name gets ``_0``, ``_1``... appended; a name py7zr refuses (``..``, a
    drive letter, absolute after its clean-up) sends the archive to py7zr, which raises
    the error it always raised.
    """
    from .sevenzip_decode import Unsupported  # noqa: PLC0415

    seen: dict[str, int] = {}
    out: list[str | None] = []
    for entry in entries:
        name = entry.name
        if name in seen:
            name = f"{name}_{seen[name]}"
            seen[entry.name] += 1
        else:
            seen[name] = 0
        safe = _safe_name(name)
        if safe is None:
            raise Unsupported(f"member name {name!r}")
        out.append(safe if _is_extracted(entry.attributes) else None)
    return out


def _safe_name(name: str) -> str | None:
    """py7zr's ``_sanitize_member_name`` step by step (``None`` where it refuses)."""

    def drive(s: str) -> bool:
        return s[1:2] == ":" and s[:1].isascii() and s[:1].isalpha()

    if drive(name):
        return None
    name = name.lstrip("/")
    name = name.removeprefix("./")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or name.startswith("/") or drive(name):
        return None
    return "/".join(parts)


def _is_extracted(attributes: int | None) -> bool:
    if attributes is None:
        return True
    if attributes & _DIRECTORY:
        return False
    return not (attributes & _UNIX_EXTENSION and (attributes >> 16) & 0o170000 == _S_IFSOCK)


def _unpack(
    f: BinaryIO,
    folder: Folder,
    members: list[tuple[Entry, IO[bytes] | None]],
    budget: tuple[int, int],
    path: str,
) -> int:
    """Decode one folder, splitting its output into its files by their sizes; CRCs are
    checked (they cost far less than decoding).  ``budget`` is (cap, bytes written so
    far); returns the new total."""
    from .sevenzip_decode import corrupt, folder_chunks  # noqa: PLC0415

    chunks = folder_chunks(f, folder, path)
    (cap, written), view, folder_crc = budget, memoryview(b""), 0
    # one file per folder (the usual non-solid case) carries the folder's CRC itself
    check_folder = folder.crc is not None and [e.crc for e, _out in members] != [folder.crc]
    for entry, out in members:
        need, crc = entry.size, 0
        while need:
            if not view:
                view = memoryview(next(chunks, b""))
                if not view:
                    raise corrupt(path, "a folder is shorter than its files")
                if check_folder:
                    folder_crc = zlib.crc32(view, folder_crc)
            piece, view = view[:need], view[need:]
            need -= len(piece)
            crc = zlib.crc32(piece, crc)
            if out is not None:
                written += len(piece)
                if written > cap:
                    raise LimitExceeded("decompressed bytes", cap, written, path=path)
                out.write(piece)
        if entry.crc is not None and crc != entry.crc:
            raise corrupt(path, f"CRC mismatch in {entry.name!r}")
    if check_folder and folder_crc != folder.crc:
        raise corrupt(path, "folder CRC mismatch")
    return written


# -- py7zr, for everything else -----------------------------------------------------------------


def _extract_py7zr(f: BinaryIO, cap: int, path: str, files: Members) -> bool:
    """Extract into ``files`` through py7zr; ``False`` when py7zr is not installed."""
    import tempfile  # noqa: PLC0415 - rare format, keep it off the start-up path

    try:
        import py7zr  # noqa: PLC0415 - optional, rare format
        from py7zr.io import Py7zIO, WriterFactory  # noqa: PLC0415
    except ImportError:
        return False

    total = [0]

    class _Capped(Py7zIO):
        def __init__(self, name: str) -> None:
            # closed in extract_7z's finally, after the scan of the member
            self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
            files.append((name, self.file))

        def write(self, s: bytes | bytearray) -> int:
            total[0] += len(s)
            if total[0] > cap:
                raise LimitExceeded("decompressed bytes", cap, total[0], path=path)
            return self.file.write(s)

        def read(self, size: int | None = None) -> bytes:
            return self.file.read(size if size is not None else -1)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.file.seek(offset, whence)

        def flush(self) -> None:
            self.file.flush()

        def size(self) -> int:
            return self.file.seek(0, 2)

    class _Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            return _Capped(filename)

    encrypted = ContainerError(
        "7z archive is encrypted: its members cannot be inspected", path=path
    )
    f.seek(0)
    try:
        with py7zr.SevenZipFile(f, "r") as archive:
            if archive.needs_password():
                raise encrypted
            declared = sum(i.uncompressed or 0 for i in archive.list())
            if declared > cap:
                raise LimitExceeded("decompressed bytes", cap, declared, path=path)
            archive.extractall(factory=_Factory())
    except py7zr.PasswordRequired as exc:  # an encrypted header: not even names are readable
        raise encrypted from exc
    return True
