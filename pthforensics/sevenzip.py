"""Opening 7z archives (through py7zr) with a cap on what they may decompress to.

torch cannot load a 7z file, but a checkpoint shipped inside one is loaded as soon as
someone extracts it, so its members are read and scanned like any nested file.  Members
are written to temporary files by a capped writer factory (py7zr ``WriterFactory``), so
a decompression bomb stops at the cap instead of filling memory or disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, BinaryIO

from .errors import ContainerError, LimitExceeded

__all__ = ["extract_7z"]


@contextmanager
def extract_7z(f: BinaryIO, cap: int, path: str) -> Iterator[list[tuple[str, IO[bytes]]] | None]:
    """Yield ``(name, file)`` for every member, or ``None`` when py7zr is not installed.

    Raises :class:`ContainerError` for a corrupt or encrypted archive and
    :class:`LimitExceeded` when the members add up to more than ``cap`` bytes.
    """
    import tempfile  # noqa: PLC0415 - rare format, keep it off the start-up path

    try:
        import py7zr  # noqa: PLC0415 - optional, rare format
        from py7zr.io import Py7zIO, WriterFactory  # noqa: PLC0415
    except ImportError:
        yield None
        return

    total = [0]
    files: list[tuple[str, IO[bytes]]] = []

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

    try:
        f.seek(0)
        with py7zr.SevenZipFile(f, "r") as archive:
            if archive.needs_password():
                raise ContainerError("7z archive is encrypted: its members cannot be inspected",
                                     path=path)
            declared = sum(i.uncompressed or 0 for i in archive.list())
            if declared > cap:
                raise LimitExceeded("decompressed bytes", cap, declared, path=path)
            archive.extractall(factory=_Factory())
        yield files
    except (LimitExceeded, ContainerError):
        raise
    except Exception as exc:
        raise ContainerError(f"7z archive is corrupt or unsupported ({exc})", path=path) from exc
    finally:
        for _name, handle in files:
            handle.close()
