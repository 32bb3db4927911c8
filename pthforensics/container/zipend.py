"""Where a zip's end-of-central-directory record lies, as torch's reader finds it.

miniz (``mz_zip_reader_locate_header_sig``) scans the file backwards in 4 KiB chunks that
overlap by 3 bytes and takes the last signature with 22 bytes after it; it gives up after
the chunk that starts 64 KiB + 22 bytes from the end, so a record behind a full comment and
up to a chunk of trailing bytes is still found.  :func:`end_records` lists every candidate
it could reach (the first is its choice; the others are end records a different reader, or
a comment, holds), and :class:`Budget` caps the directory bytes read for the others.

Source: miniz 3.0.2 ``miniz_zip.c``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BUDGET", "EOCD", "Budget", "end_records"]

EOCD = b"PK\x05\x06"
_MAX_COMMENT = 0xFFFF
_CHUNK = 4096
#: Central-directory bytes read for the directories torch's reader does not take.
BUDGET = 64 << 20


@dataclass
class Budget:
    """Central-directory bytes read for end records other than miniz's choice."""

    left: int = BUDGET

    def take(self, n: int) -> bool:
        self.left -= n
        return self.left >= 0

    def spent(self) -> bool:
        return self.left < 0


def end_records(tail: bytes, base: int, size: int) -> list[int]:
    """Absolute offsets of every end-record signature with 22 bytes after it that miniz's
    backward search (``mz_zip_reader_locate_header_sig``) reaches, last first: 4 KiB
    chunks overlapping by 3 bytes, until one starts 64 KiB + 22 bytes from the end."""
    lowest = _miniz_search_floor(size)
    found: list[int] = []
    pos = tail.rfind(EOCD)
    while pos >= 0:
        if base + pos >= lowest and size - (base + pos) >= 22 and pos + 22 <= len(tail):
            found.append(base + pos)
        pos = tail.rfind(EOCD, 0, pos)
    return found


def _miniz_search_floor(size: int) -> int:
    """The lowest offset miniz's end-record search reads."""
    chunk = _CHUNK
    at = max(size - chunk, 0)
    while at and size - at < _MAX_COMMENT + 22:
        at = max(at - (chunk - 3), 0)
    return at
