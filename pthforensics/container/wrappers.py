"""Wrappers around a checkpoint: gzip/bz2/xz streams, 7z archives, opaque archives.

torch cannot load a wrapped file, but the checkpoint inside is loaded as soon as someone
unwraps it, so the payload is read as a file of its own (``ctx.read``) under the
decompressed-size cap, written to a temporary file while streaming.  A decompression bomb
stops early: a payload whose first bytes are no checkpoint format is refused at once, runs
of zeros are skipped as holes of a sparse file (no disk), and the cap is checked before
each write.  zstd, rar and lz4 (and 7z archives whose codecs
need py7zr when it is missing) are named in a finding but not opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import BinaryIO, cast

from pthforensics.core import (
    Container,
    Finding,
    Format,
    LimitExceeded,
    Location,
    PthForensicsError,
    Severity,
)

from .base import ReadContext
from .sevenzip import extract_7z
from .sniff import SNIFF_BYTES, FileKind, sniff

__all__ = ["merge_inners", "opaque_archive", "read_compressed", "read_sevenzip"]

#: Decompressed bytes copied per read.
_CHUNK = 1 << 20
#: Output over input a wrapper may reach once it has produced :data:`_RATIO_AFTER` bytes:
#: checkpoint payloads (floats) compress less than 2:1, even a mostly-zero one far below
#: 200:1, while a decompression bomb inflates by 1000:1 (zlib's limit for zeros).
_MAX_RATIO = 200
_RATIO_AFTER = 64 << 20


def read_compressed(
    ctx: ReadContext, f: BinaryIO, kind: FileKind, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A gzip/bz2/xz file: its payload, decompressed to a temporary file, read in turn."""
    import bz2  # noqa: PLC0415 - rare wrappers, keep them off the start-up path
    import gzip  # noqa: PLC0415
    import lzma  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    f.seek(0)
    # Each opener is entered in a `with` below (ruff cannot see through the lambdas).
    openers: dict[FileKind, Callable[[], BinaryIO]] = {
        FileKind.GZIP: lambda: cast(BinaryIO, gzip.GzipFile(fileobj=f, mode="rb")),
        FileKind.BZ2: lambda: cast(BinaryIO, bz2.BZ2File(f, "rb")),
        FileKind.XZ: lambda: cast(BinaryIO, lzma.LZMAFile(f, "rb")),  # noqa: SIM115
    }
    cap = ctx.limits.max_decompressed_bytes
    import tempfile  # noqa: PLC0415 - 4 ms, only for wrapped files

    with tempfile.TemporaryFile() as out:
        try:
            with openers[kind]() as stream:
                total = _inflate(ctx, stream, f, out, kind, cap, prefix)
        except PthForensicsError:
            raise
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
            raise ctx.error(f"{kind} data is corrupt or truncated ({exc})") from exc
        inner = ctx.read(out, total, f"{prefix}{kind}!", (*wrappers, kind.value))
    return replace(inner, size=size)  # the wrapped file's own size, not the payload's


def _inflate(
    ctx: ReadContext,
    stream: BinaryIO,
    source: BinaryIO,
    out: BinaryIO,
    kind: FileKind,
    cap: int,
    prefix: str,
) -> int:
    """Copy the decompressed ``stream`` (read from ``source``) into ``out``: at most ``cap``
    bytes, and past :data:`_RATIO_AFTER` bytes at most :data:`_MAX_RATIO` times what was
    read (a bomb is refused before it costs seconds); the size."""
    head = stream.read(SNIFF_BYTES)
    if sniff(head, cap) is None:
        raise ctx.error(
            f"the {kind} payload is not a checkpoint (first bytes {head[:8]!r})", prefix or None
        )
    out.write(head)
    total = len(head)
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > cap:
            raise LimitExceeded("decompressed bytes", cap, total, path=ctx.path)
        if total > _RATIO_AFTER and total > _MAX_RATIO * max(source.tell(), 1):
            raise LimitExceeded(
                "decompression ratio", _MAX_RATIO, total // max(source.tell(), 1), path=ctx.path
            )
        if chunk.count(0) == len(chunk):
            out.seek(len(chunk), 1)  # a hole: zeros take no disk
        else:
            out.write(chunk)
    out.truncate(total)
    return total


def read_sevenzip(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container | None:
    """A 7z archive: every member that sniffs as a checkpoint, read in turn (``None`` when
    the archive needs py7zr and py7zr is missing)."""
    with extract_7z(f, ctx.limits.max_decompressed_bytes, ctx.path) as members:
        if members is None:
            return None
        inners: list[Container] = []
        for name, handle in members:
            member_size = handle.seek(0, 2)
            handle.seek(0)
            if member_size and sniff(handle.read(SNIFF_BYTES), member_size) is not None:
                inners.append(
                    ctx.read(
                        cast(BinaryIO, handle),
                        member_size,
                        f"{prefix}{name}!",
                        (*wrappers, FileKind.SEVEN_ZIP.value),
                    )
                )
    if not inners:
        raise ctx.error(
            "7z archive holds no checkpoint, pickle or safetensors member", prefix or None
        )
    return merge_inners(inners, ctx.path, size)


def opaque_archive(
    ctx: ReadContext, kind: FileKind, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """An archive that is named, not opened: one finding says so."""
    finding = Finding(
        "opaque-archive",
        Severity.SUSPICIOUS,
        Location(prefix or None),
        f"a {kind} archive: its contents cannot be inspected here; "
        "extract it and scan what it holds",
    )
    return Container(
        ctx.path,
        Format.SEVEN_ZIP if kind is FileKind.SEVEN_ZIP else Format.UNKNOWN,
        size,
        findings=(finding,),
        wrappers=wrappers,
    )


def merge_inners(inners: list[Container], path: str, size: int) -> Container:
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
