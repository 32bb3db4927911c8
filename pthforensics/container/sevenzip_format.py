"""The 7z container format (7-Zip ``DOC/7zFormat.txt``), read with the standard library.

Only what 7-Zip and py7zr write for ordinary archives is read here: one packed stream
per folder, a linear chain of one-in/one-out coders that :mod:`lzma` runs as one raw
filter chain (Copy, LZMA, LZMA2, Delta, the BCJ branch filters), names and attributes
stored in the header itself.  Anything else (AES, BCJ2, PPMd, BZip2, Deflate, zstd,
data kept in additional streams, ...) raises :class:`Unsupported`, and
:mod:`pthforensics.sevenzip` hands the archive to py7zr, so importing py7zr (50-70 ms)
is only paid for the rare archive that needs it.

The input is hostile.  Counts are capped before anything is allocated for them, every
read of the header is bounds-checked, offsets are checked against the file size, the
header CRCs are verified, and decoders never produce more than the declared size: a
short or inconsistent archive raises :class:`ContainerError`, never an IndexError.
The parse follows 7-Zip's own reader (``7zIn.cpp``) where the format leaves room for
interpretation, so that the members scanned are the ones 7-Zip would extract.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from pthforensics.core import ContainerError, LimitExceeded

__all__ = [
    "MAX_ITEMS",
    "Archive",
    "Entry",
    "Folder",
    "Unsupported",
    "folder_chunks",
    "read_archive",
]

MAGIC = b"7z\xbc\xaf\x27\x1c"
#: Files, folders, pack streams and substreams one archive may declare (zip's default).
MAX_ITEMS = 200_000
#: Largest header, packed or unpacked (100 000 names take a few MiB).
MAX_HEADER = 64 << 20
_MAX_CODERS = 64  # 7-Zip refuses folders with more coders
_MAX_ENCODED = 4  # kEncodedHeader wrapping kEncodedHeader ...
_CHUNK = 1 << 20

(
    _END,
    _HEADER,
    _ARCHIVE_PROPERTIES,
    _ADDITIONAL_STREAMS,
    _MAIN_STREAMS,
    _FILES_INFO,
    _PACK_INFO,
    _UNPACK_INFO,
    _SUBSTREAMS_INFO,
    _SIZE,
    _CRC,
    _FOLDER,
    _CODERS_UNPACK_SIZE,
    _NUM_UNPACK_STREAM,
    _EMPTY_STREAM,
    _EMPTY_FILE,
    _ANTI,
    _NAME,
) = range(18)
_ATTRIBUTES = 0x15
_ENCODED_HEADER = 0x17

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

Coder = tuple[bytes, bytes]  # (method id, properties)


class Unsupported(Exception):
    """A well-formed archive uses a feature only py7zr reads: the caller falls back."""


class Folder(NamedTuple):
    """One packed stream and the coders that unpack it, in decode order."""

    coders: tuple[Coder, ...]
    pack_offset: int
    pack_size: int
    unpack_size: int
    crc: int | None


class Entry(NamedTuple):
    """One file record; ``folder`` is -1 for an empty stream (directory, empty file)."""

    name: str
    size: int
    crc: int | None
    folder: int
    attributes: int | None


class Archive(NamedTuple):
    folders: tuple[Folder, ...]
    entries: tuple[Entry, ...]


class _Streams:
    """StreamsInfo: folders and their substreams (one per file with data)."""

    __slots__ = ("crcs", "folders", "sizes", "stream_folder")

    def __init__(
        self,
        folders: list[Folder],
        sizes: list[int],
        crcs: list[int | None],
        stream_folder: list[int],
    ) -> None:
        self.folders = folders
        self.sizes = sizes
        self.crcs = crcs
        self.stream_folder = stream_folder


def corrupt(path: str, why: str) -> ContainerError:
    return ContainerError(f"7z archive is corrupt ({why})", path=path)


class _Bytes:
    """A bounds-checked cursor over header bytes (every short read is a ContainerError)."""

    __slots__ = ("data", "path", "pos")

    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise corrupt(self.path, "header is truncated")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise corrupt(self.path, "header is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def number(self) -> int:
        """7z NUMBER: the leading one bits of the first byte count the bytes that follow."""
        first = self.byte()
        value = 0
        for i in range(8):
            mask = 0x80 >> i
            if not first & mask:
                return value | (first & (mask - 1)) << (8 * i)
            value |= self.byte() << (8 * i)
        return value

    def count(self, what: str, limit: int = MAX_ITEMS) -> int:
        n = self.number()
        if n > limit:
            raise LimitExceeded(f"7z {what}", limit, n, path=self.path)
        return n

    def uint32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def bits(self, n: int) -> list[bool]:
        raw = self.take((n + 7) // 8)
        return [bool(raw[i >> 3] & (0x80 >> (i & 7))) for i in range(n)]

    def defined(self, n: int) -> list[bool]:
        """A bit vector preceded by an ``AllAreDefined`` byte."""
        return [True] * n if self.byte() else self.bits(n)

    def digests(self, n: int) -> list[int | None]:
        return [self.uint32() if d else None for d in self.defined(n)]

    def skip_data(self) -> None:
        self.take(self.number())

    def wait(self, wanted: int) -> None:
        """Skip properties up to ``wanted`` (7-Zip's WaitId)."""
        while (pid := self.number()) != wanted:
            if pid == _END:
                raise corrupt(self.path, f"header property {wanted:#x} is missing")
            self.skip_data()


def read_archive(f: BinaryIO, path: str) -> Archive:
    """Parse the headers of the 7z archive ``f`` (nothing is decompressed but headers)."""
    size = f.seek(0, 2)
    f.seek(0)
    start = f.read(32)
    if len(start) < 32 or not start.startswith(MAGIC):
        raise corrupt(path, "signature header is truncated")
    if start[6] != 0:
        raise corrupt(path, f"unknown format version {start[6]}.{start[7]}")
    start_crc, offset, length, header_crc = struct.unpack_from("<IQQI", start, 8)
    if zlib.crc32(start[12:32]) != start_crc:
        raise corrupt(path, "start header CRC mismatch")
    if length == 0:
        return Archive((), ())
    if length > MAX_HEADER:
        raise LimitExceeded("7z header bytes", MAX_HEADER, length, path=path)
    if 32 + offset + length > size:
        raise corrupt(path, "its header lies beyond the end of the file: truncated?")
    f.seek(32 + offset)
    header = f.read(length)
    if zlib.crc32(header) != header_crc:
        raise corrupt(path, "header CRC mismatch")
    for _ in range(_MAX_ENCODED):
        r = _Bytes(header, path)
        kind = r.number()
        if kind == _HEADER:
            return _header(r, size)
        if kind != _ENCODED_HEADER:
            raise corrupt(path, f"unknown header type {kind:#x}")
        header = _decode_header(f, r, size)
    raise corrupt(path, "too many nested encoded headers")


def _decode_header(f: BinaryIO, r: _Bytes, size: int) -> bytes:
    """kEncodedHeader: the real header is the output of one packed folder."""
    streams = _streams(r, size)
    if len(streams.folders) != 1:
        raise corrupt(r.path, "encoded header must be one folder")
    folder = streams.folders[0]
    if folder.unpack_size > MAX_HEADER:
        raise LimitExceeded("7z header bytes", MAX_HEADER, folder.unpack_size, path=r.path)
    data = b"".join(folder_chunks(f, folder, r.path))
    if folder.crc is not None and zlib.crc32(data) != folder.crc:
        raise corrupt(r.path, "encoded header CRC mismatch")
    return data


def _header(r: _Bytes, size: int) -> Archive:
    pid = r.number()
    if pid == _ARCHIVE_PROPERTIES:
        while r.number() != _END:
            r.skip_data()
        pid = r.number()
    if pid == _ADDITIONAL_STREAMS:
        raise Unsupported("additional streams")
    streams = _Streams([], [], [], [])
    if pid == _MAIN_STREAMS:
        streams = _streams(r, size)
        pid = r.number()
    if pid == _END:
        return Archive(tuple(streams.folders), ())
    if pid != _FILES_INFO:
        raise corrupt(r.path, f"unexpected header property {pid:#x}")
    return Archive(tuple(streams.folders), _files(r, streams))


def _streams(r: _Bytes, size: int) -> _Streams:
    """StreamsInfo: PackInfo, UnpackInfo (folders), SubStreamsInfo, in that order."""
    pack_pos, pack_sizes = 0, list[int]()
    pid = r.number()
    if pid == _PACK_INFO:
        pack_pos, pack_sizes = _pack_info(r)
        pid = r.number()
    specs: list[tuple[tuple[Coder, ...], int, int | None]] = []
    if pid == _UNPACK_INFO:
        specs = _unpack_info(r)
        pid = r.number()
    if len(specs) > len(pack_sizes):
        raise corrupt(r.path, f"{len(specs)} folders but {len(pack_sizes)} packed streams")
    folders, offset = [], 32 + pack_pos
    for (coders, unpack_size, crc), pack_size in zip(specs, pack_sizes, strict=False):
        if offset + pack_size > size:
            raise corrupt(r.path, "packed data lies beyond the end of the file: truncated?")
        folders.append(Folder(coders, offset, pack_size, unpack_size, crc))
        offset += pack_size
    if pid == _SUBSTREAMS_INFO:
        streams = _substreams(r, folders)
        pid = r.number()
    else:
        streams = _Streams(
            folders,
            [x.unpack_size for x in folders],
            [x.crc for x in folders],
            list(range(len(folders))),
        )
    if pid != _END:
        raise corrupt(r.path, f"unexpected streams property {pid:#x}")
    return streams


def _pack_info(r: _Bytes) -> tuple[int, list[int]]:
    pack_pos = r.number()
    n = r.count("pack streams")
    r.wait(_SIZE)
    sizes = [r.number() for _ in range(n)]
    while (pid := r.number()) != _END:
        if pid == _CRC:
            r.digests(n)
        else:
            r.skip_data()
    return pack_pos, sizes


def _unpack_info(r: _Bytes) -> list[tuple[tuple[Coder, ...], int, int | None]]:
    """Folders: coders (decode order), the size of the folder's output and its CRC."""
    r.wait(_FOLDER)
    n = r.count("folders")
    if r.byte() != 0:
        raise Unsupported("folders stored outside the header")
    folders = [_folder(r) for _ in range(n)]
    r.wait(_CODERS_UNPACK_SIZE)
    sizes = []
    for coders, main in folders:
        out_sizes = [r.number() for _ in coders]
        sizes.append(out_sizes[main])
    crcs: list[int | None] = [None] * n
    while (pid := r.number()) != _END:
        if pid == _CRC:
            crcs = r.digests(n)
        else:
            r.skip_data()
    return [
        (tuple(c for _, c in sorted(coders)), size, crc)
        for (coders, _main), size, crc in zip(folders, sizes, crcs, strict=True)
    ]


def _folder(r: _Bytes) -> tuple[list[tuple[int, Coder]], int]:
    """One folder's coders as ``(decode position, coder)`` in file order, and the index of
    the coder whose output is the folder's output.

    Only linear chains are read: every coder takes one stream and gives one, so coder i
    owns in-stream i and out-stream i, a bind pair (in, out) feeds coder ``out``'s output
    to coder ``in``, and the single unbound in-stream is where the packed data enters.
    """
    n = r.number()
    if not 1 <= n <= _MAX_CODERS:
        raise corrupt(r.path, f"a folder with {n} coders")
    coders: list[Coder] = []
    for _ in range(n):
        flags = r.byte()
        if flags & 0xC0:
            raise Unsupported("coder with alternative methods")
        method = r.take(flags & 0x0F)
        if flags & 0x10 and (r.number(), r.number()) != (1, 1):
            raise Unsupported(f"multi-stream coder {method.hex()}")
        coders.append((method, r.take(r.number()) if flags & 0x20 else b""))
    feeds: dict[int, int] = {}  # coder -> the coder its output goes to
    for _ in range(n - 1):
        to, source = r.number(), r.number()
        if to >= n or source >= n or to in feeds.values() or source in feeds:
            raise corrupt(r.path, "invalid bind pair")
        feeds[source] = to
    first = next(i for i in range(n) if i not in feeds.values())
    order = [first]
    while order[-1] in feeds and len(order) <= n:
        order.append(feeds[order[-1]])
    if len(order) != n:
        raise corrupt(r.path, "coders do not form a chain")
    return [(order.index(i), coder) for i, coder in enumerate(coders)], order[-1]


def _substreams(r: _Bytes, folders: list[Folder]) -> _Streams:
    """SubStreamsInfo: how each folder's output splits into files (7zIn.cpp semantics)."""
    counts = [1] * len(folders)
    while (pid := r.number()) not in (_CRC, _SIZE, _END):
        if pid == _NUM_UNPACK_STREAM:
            counts = [r.count("files in a folder") for _ in folders]
            if sum(counts) > MAX_ITEMS:
                raise LimitExceeded("7z substreams", MAX_ITEMS, sum(counts), path=r.path)
        else:
            r.skip_data()
    streams = _Streams(folders, [], [], [])
    for index, (folder, count) in enumerate(zip(folders, counts, strict=True)):
        if count > 1 and pid != _SIZE:
            raise corrupt(r.path, "substream sizes are missing")
        sizes = [r.number() for _ in range(count - 1)] if pid == _SIZE else []
        if count and sum(sizes) > folder.unpack_size:
            raise corrupt(r.path, "substreams are larger than their folder")
        streams.sizes += [*sizes, folder.unpack_size - sum(sizes)][:count]
        streams.stream_folder += [index] * count
    if pid == _SIZE:
        pid = r.number()
    known = [c == 1 and f.crc is not None for f, c in zip(folders, counts, strict=True)]
    missing = sum(c for c, k in zip(counts, known, strict=True) if not k)
    read: list[int | None] = [None] * missing
    while pid != _END:
        if pid == _CRC:
            read = r.digests(missing)
        else:
            r.skip_data()
        pid = r.number()
    it = iter(read)
    for folder, count, k in zip(folders, counts, known, strict=True):
        streams.crcs += [folder.crc] if k else [next(it) for _ in range(count)]
    return streams


def _files(r: _Bytes, streams: _Streams) -> tuple[Entry, ...]:
    """FilesInfo: names, empty-stream flags and attributes; other properties are skipped."""
    n = r.count("files")
    empty: list[bool] = [False] * n
    names: list[str] | None = None
    attributes: list[int | None] = [None] * n
    while (pid := r.number()) != _END:
        prop = _Bytes(r.take(r.number()), r.path)
        if pid == _EMPTY_STREAM:
            empty = prop.bits(n)
        elif pid in (_EMPTY_FILE, _ANTI):
            prop.bits(sum(empty))
        elif pid == _NAME:
            names = _names(prop, n)
        elif pid == _ATTRIBUTES:
            attributes = _attributes(prop, n)
    if names is None:
        raise Unsupported("files without names")
    if n - sum(empty) != len(streams.sizes):
        raise corrupt(r.path, f"{n - sum(empty)} files with data but {len(streams.sizes)} streams")
    entries, k = [], 0
    for i in range(n):
        if empty[i]:
            entries.append(Entry(names[i], 0, None, -1, attributes[i]))
        else:
            entries.append(
                Entry(
                    names[i],
                    streams.sizes[k],
                    streams.crcs[k],
                    streams.stream_folder[k],
                    attributes[i],
                )
            )
            k += 1
    return tuple(entries)


def _names(prop: _Bytes, n: int) -> list[str]:
    if prop.byte() != 0:
        raise Unsupported("names stored outside the header")
    raw = prop.data[prop.pos :]
    try:
        names = raw[: len(raw) & ~1].decode("utf-16-le").split("\x00")
    except UnicodeDecodeError as exc:
        raise Unsupported("names that are not UTF-16") from exc
    if len(names) <= n:
        raise corrupt(prop.path, "file names are truncated")
    return [name.replace("\\", "/") for name in names[:n]]


def _attributes(prop: _Bytes, n: int) -> list[int | None]:
    defined = prop.defined(n)
    if prop.byte() != 0:
        raise Unsupported("attributes stored outside the header")
    return [prop.uint32() if d else None for d in defined]


# -- decoding ------------------------------------------------------------------------------


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
