"""7z StreamsInfo (7-Zip ``DOC/7zFormat.txt``, ``7zIn.cpp``): packed streams, folders and
how each folder's output splits into files; and the bounds-checked cursor every header
parse reads through.

Counts are capped before anything is allocated for them and every read is bounds-checked:
a short or inconsistent header raises :class:`~pthforensics.core.ContainerError`, never an
IndexError.  Only linear coder chains are read (see :func:`_folder`); anything else raises
:class:`.sevenzip_decode.Unsupported`.
"""

from __future__ import annotations

from enum import IntEnum

from pthforensics.core import LimitExceeded

from .sevenzip_decode import Coder, Folder, Unsupported, corrupt

__all__ = ["MAX_ITEMS", "Cursor", "Property", "Streams", "read_streams"]

#: Files, folders, pack streams and substreams one archive may declare (zip's default).
MAX_ITEMS = 200_000
_MAX_CODERS = 64  # 7-Zip refuses folders with more coders


class Property(IntEnum):
    """Header property ids (7zFormat.txt, "Property IDs")."""

    END = 0x00
    HEADER = 0x01
    ARCHIVE_PROPERTIES = 0x02
    ADDITIONAL_STREAMS = 0x03
    MAIN_STREAMS = 0x04
    FILES_INFO = 0x05
    PACK_INFO = 0x06
    UNPACK_INFO = 0x07
    SUBSTREAMS_INFO = 0x08
    SIZE = 0x09
    CRC = 0x0A
    FOLDER = 0x0B
    CODERS_UNPACK_SIZE = 0x0C
    NUM_UNPACK_STREAM = 0x0D
    EMPTY_STREAM = 0x0E
    EMPTY_FILE = 0x0F
    ANTI = 0x10
    NAME = 0x11
    ATTRIBUTES = 0x15
    ENCODED_HEADER = 0x17


class Cursor:
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
            if pid == Property.END:
                raise corrupt(self.path, f"header property {wanted:#x} is missing")
            self.skip_data()


class Streams:
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


def read_streams(r: Cursor, size: int) -> Streams:
    """StreamsInfo: PackInfo, UnpackInfo (folders), SubStreamsInfo, in that order."""
    pack_pos, pack_sizes = 0, list[int]()
    pid = r.number()
    if pid == Property.PACK_INFO:
        pack_pos, pack_sizes = _pack_info(r)
        pid = r.number()
    specs: list[tuple[tuple[Coder, ...], int, int | None]] = []
    if pid == Property.UNPACK_INFO:
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
    if pid == Property.SUBSTREAMS_INFO:
        streams = _substreams(r, folders)
        pid = r.number()
    else:
        streams = Streams(
            folders,
            [x.unpack_size for x in folders],
            [x.crc for x in folders],
            list(range(len(folders))),
        )
    if pid != Property.END:
        raise corrupt(r.path, f"unexpected streams property {pid:#x}")
    return streams


def _pack_info(r: Cursor) -> tuple[int, list[int]]:
    pack_pos = r.number()
    n = r.count("pack streams")
    r.wait(Property.SIZE)
    sizes = [r.number() for _ in range(n)]
    while (pid := r.number()) != Property.END:
        if pid == Property.CRC:
            r.digests(n)
        else:
            r.skip_data()
    return pack_pos, sizes


def _unpack_info(r: Cursor) -> list[tuple[tuple[Coder, ...], int, int | None]]:
    """Folders: coders (decode order), the size of the folder's output and its CRC."""
    r.wait(Property.FOLDER)
    n = r.count("folders")
    if r.byte() != 0:
        raise Unsupported("folders stored outside the header")
    folders = [_folder(r) for _ in range(n)]
    r.wait(Property.CODERS_UNPACK_SIZE)
    sizes = []
    for coders, main in folders:
        out_sizes = [r.number() for _ in coders]
        sizes.append(out_sizes[main])
    crcs: list[int | None] = [None] * n
    while (pid := r.number()) != Property.END:
        if pid == Property.CRC:
            crcs = r.digests(n)
        else:
            r.skip_data()
    return [
        (tuple(c for _, c in sorted(coders)), size, crc)
        for (coders, _main), size, crc in zip(folders, sizes, crcs, strict=True)
    ]


def _folder(r: Cursor) -> tuple[list[tuple[int, Coder]], int]:
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


def _substreams(r: Cursor, folders: list[Folder]) -> Streams:
    """SubStreamsInfo: how each folder's output splits into files (7zIn.cpp semantics)."""
    counts = [1] * len(folders)
    while (pid := r.number()) not in (Property.CRC, Property.SIZE, Property.END):
        if pid == Property.NUM_UNPACK_STREAM:
            counts = [r.count("files in a folder") for _ in folders]
            if sum(counts) > MAX_ITEMS:
                raise LimitExceeded("7z substreams", MAX_ITEMS, sum(counts), path=r.path)
        else:
            r.skip_data()
    streams = Streams(folders, [], [], [])
    for index, (folder, count) in enumerate(zip(folders, counts, strict=True)):
        if count > 1 and pid != Property.SIZE:
            raise corrupt(r.path, "substream sizes are missing")
        sizes = [r.number() for _ in range(count - 1)] if pid == Property.SIZE else []
        if count and sum(sizes) > folder.unpack_size:
            raise corrupt(r.path, "substreams are larger than their folder")
        streams.sizes += [*sizes, folder.unpack_size - sum(sizes)][:count]
        streams.stream_folder += [index] * count
    if pid == Property.SIZE:
        pid = r.number()
    known = [c == 1 and f.crc is not None for f, c in zip(folders, counts, strict=True)]
    missing = sum(c for c, k in zip(counts, known, strict=True) if not k)
    read: list[int | None] = [None] * missing
    while pid != Property.END:
        if pid == Property.CRC:
            read = r.digests(missing)
        else:
            r.skip_data()
        pid = r.number()
    it = iter(read)
    for folder, count, k in zip(folders, counts, known, strict=True):
        streams.crcs += [folder.crc] if k else [next(it) for _ in range(count)]
    return streams
