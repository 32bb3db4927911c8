"""Decoding 7z folders: the coder chain as one :mod:`lzma` raw filter chain.

A folder is one packed stream and its coders (7-Zip ``DOC/Methods.txt`` ids): Copy, LZMA,
LZMA2, Delta and the BCJ branch filters run as one raw chain; anything else raises
:class:`Unsupported` so that :mod:`.sevenzip` hands the archive to py7zr.  The output is
requested in chunks with ``max_length``, so it never exceeds the size the header declares,
whatever the packed data claims, and a dictionary larger than that output is never
allocated.  The headers that describe folders are parsed by :mod:`.sevenzip_header`.
"""

from __future__ import annotations

import lzma
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from pthforensics.core import ContainerError

__all__ = ["Coder", "Folder", "Unsupported", "corrupt", "folder_chunks"]

_CHUNK = 1 << 20

#: A coder: (method id, properties).
Coder = tuple[bytes, bytes]

_COPY = b"\x00"
_LZMA = b"\x03\x01\x01"
_LZMA2 = b"\x21"
_DELTA = b"\x03"
_BCJ = {
    b"\x03\x03\x01\x03": lzma.FILTER_X86,
    b"\x03\x03\x02\x05": lzma.FILTER_POWERPC,
    b"\x03\x03\x04\x01": lzma.FILTER_IA64,
    b"\x03\x03\x05\x01": lzma.FILTER_ARM,
    b"\x03\x03\x07\x01": lzma.FILTER_ARMTHUMB,
    b"\x03\x03\x08\x05": lzma.FILTER_SPARC,
}


class Unsupported(Exception):
    """A well-formed archive uses a feature only py7zr reads: the caller falls back."""


class Folder(NamedTuple):
    """One packed stream and the coders that unpack it, in decode order."""

    coders: tuple[Coder, ...]
    pack_offset: int
    pack_size: int
    unpack_size: int
    crc: int | None


def corrupt(path: str, why: str) -> ContainerError:
    return ContainerError(f"7z archive is corrupt ({why})", path=path)


def _filter(coder: Coder, unpack_size: int) -> dict[str, int] | None:
    """The lzma raw filter of one coder (``None`` for Copy); the dictionary never needs
    to be larger than the output, so a hostile 4 GiB dictionary is not allocated."""
    method, props = coder
    if method == _COPY:
        return None
    dict_cap = max(4096, unpack_size)
    if method == _LZMA2 and len(props) == 1 and props[0] <= 40:
        p = props[0]
        dict_size = 0xFFFFFFFF if p == 40 else (2 | p & 1) << (p // 2 + 11)
        return {"id": lzma.FILTER_LZMA2, "dict_size": min(dict_size, dict_cap)}
    if method == _LZMA and len(props) == 5 and props[0] < 9 * 5 * 5:
        dict_size = max(4096, min(int.from_bytes(props[1:], "little"), dict_cap))
        return {
            "id": lzma.FILTER_LZMA1,
            "dict_size": dict_size,
            "lc": props[0] % 9,
            "lp": props[0] // 9 % 5,
            "pb": props[0] // 45,
        }
    if method == _DELTA and len(props) == 1:
        return {"id": lzma.FILTER_DELTA, "dist": props[0] + 1}
    if method in _BCJ and len(props) in (0, 4):
        start = {"start_offset": int.from_bytes(props, "little")} if props else {}
        return {"id": _BCJ[method], **start}
    raise Unsupported(f"7z coder {method.hex()}")


def folder_chunks(f: BinaryIO, folder: Folder, path: str) -> Iterator[bytes]:
    """Yield a folder's unpacked bytes, exactly ``unpack_size`` of them, in chunks.

    The coders run as one lzma raw chain (lzma lists filters in encode order, the folder
    in decode order, hence the reversal).  Output is requested with ``max_length`` so it
    never exceeds the declared size, whatever the packed data claims.
    """
    found = [_filter(c, folder.unpack_size) for c in folder.coders]
    filters = [x for x in reversed(found) if x is not None]
    f.seek(folder.pack_offset)
    if not filters:
        yield from _copy_chunks(f, folder, path)
        return
    try:
        decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
    except (lzma.LZMAError, ValueError) as exc:  # e.g. lc + lp > 4, BCJ without LZMA
        raise Unsupported(f"coder chain {filters}") from exc
    remaining_in, remaining_out, stalled = folder.pack_size, folder.unpack_size, 0
    while remaining_out > 0:
        data = b""
        if (
            decoder.needs_input
            and remaining_in == 0
            and len(filters) > 1
            and filters[-1]["id"] == lzma.FILTER_LZMA1
        ):
            # A branch filter holds back its last bytes until the LZMA1 stream ends, which
            # Python cannot signal (no LZMA_FINISH) when the stream has no end marker.
            raise Unsupported("branch filter over LZMA1 without an end marker")
        if decoder.eof or (decoder.needs_input and remaining_in == 0) or stalled > 1:
            raise corrupt(path, f"packed data ends {remaining_out} bytes short of its size")
        if decoder.needs_input:
            data = f.read(min(_CHUNK, remaining_in))
            if not data:
                raise corrupt(path, "packed data is truncated")
            remaining_in -= len(data)
        try:
            out = decoder.decompress(data, max_length=min(_CHUNK, remaining_out))
        except lzma.LZMAError as exc:
            raise corrupt(path, f"packed data does not decode: {exc}") from exc
        stalled = 0 if out or data else stalled + 1
        remaining_out -= len(out)
        if out:
            yield out


def _copy_chunks(f: BinaryIO, folder: Folder, path: str) -> Iterator[bytes]:
    if folder.unpack_size > folder.pack_size:
        raise corrupt(path, "stored data is shorter than its size")
    remaining = folder.unpack_size
    while remaining > 0:
        data = f.read(min(_CHUNK, remaining))
        if not data:
            raise corrupt(path, "stored data is truncated")
        remaining -= len(data)
        yield data
