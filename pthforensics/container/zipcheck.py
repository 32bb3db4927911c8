"""Structural anomalies of a zip directory: where a scanner and a loader could disagree.

Duplicate names, local headers that contradict the central directory, encryption flags
(torch's reader ignores them, :mod:`zipfile` gives up), unusual compression, names that
escape the extraction folder, bytes no entry accounts for, overlapping entries and bytes
after the archive.  Each is a ``suspicious`` finding located at its member and offset.

Format: PKWARE APPNOTE.TXT sections 4.3.7 (local header), 4.3.9 (data descriptor),
4.4.4 (general purpose flags).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from pthforensics.core import Finding, Location, Severity

from .zipread import LOCAL_SLACK, ZipDirectory, ZipEntry

__all__ = ["zip_anomalies"]

#: General purpose flag bits that mark encryption (0x1 encrypted, 0x40 strong encryption,
#: 0x2000 masked local header).
_ENCRYPTION_FLAGS = 0x2041
#: The data-descriptor flag (bit 3) and the most a descriptor takes (zip64, signed).
_DESCRIPTOR_FLAG = 0x8
_DESCRIPTOR_MAX = 24
#: Compression methods torch's reader inflates: stored and deflated.
_METHODS = (0, 8)
_FIXED_LOCAL_HEADER = 30


def zip_anomalies(directory: ZipDirectory, size: int, prefix: str) -> Iterator[Finding]:
    """Every anomaly of ``directory`` (of a file of ``size`` bytes; member names prefixed
    with ``prefix``): duplicates, then per entry, then gaps and overlaps."""
    entries = directory.entries
    for name, count in Counter(e.name for e in entries).items():
        if count > 1:
            yield Finding(
                "zip-duplicate-name",
                Severity.SUSPICIOUS,
                Location(prefix + name),
                f"{count} entries share this name; zip readers disagree on which one "
                "counts, so a scanner and a loader can read different bytes",
            )
    for e in entries:
        for rule_id, detail in _entry_anomalies(e):
            yield Finding(
                rule_id, Severity.SUSPICIOUS, Location(prefix + e.name, e.header_offset), detail
            )
    yield from _zip_gaps(directory, size, prefix)


def _entry_anomalies(e: ZipEntry) -> list[tuple[str, str]]:
    """(rule id, detail) for what is odd about one entry: nothing, for almost all (a list,
    not a generator, so the thousands of plain members cost one call each)."""
    found: list[tuple[str, str]] = []
    if e.local_read:
        if e.local_name is None:
            found.append(
                ("zip-bad-local-header", "the central directory points at no valid local header")
            )
        elif e.local_name != e.name:
            found.append(("zip-name-mismatch", f"the local header names it {e.local_name!r}"))
    # (a skipped local header is a tensor storage whose span the layout accounts for)
    if e.flags & _ENCRYPTION_FLAGS:
        found.append(
            (
                "zip-encrypted-entry",
                f"flag bits 0x{e.flags:04x} mark it encrypted; "
                "torch's reader ignores them while zipfile-based scanners give up",
            )
        )
    if e.method not in _METHODS:
        found.append(("zip-unsupported-compression", f"compression method {e.method}"))
    name = e.name
    if (
        name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
        or (".." in name and ".." in name.replace("\\", "/").split("/"))
    ):
        found.append(("zip-path-traversal", "the name escapes the extraction folder"))
    return found


def _zip_gaps(directory: ZipDirectory, size: int, prefix: str) -> Iterator[Finding]:
    # (start, end, slack): a data descriptor (flag bit 3) may follow the data, 12-24 bytes.
    spans = sorted(
        (
            e.header_offset,
            (e.data_offset or e.header_offset + _FIXED_LOCAL_HEADER + e.name_len)
            + e.compressed_size,
            (_DESCRIPTOR_MAX if e.flags & _DESCRIPTOR_FLAG else 0)
            + (0 if e.local_read else LOCAL_SLACK),
        )
        for e in directory.entries
    )
    spans.append((directory.central_offset, directory.central_end, 0))
    pos, slack = directory.prefix, 0
    for start, end, next_slack in spans:
        if start > pos + slack:
            yield Finding(
                "zip-unaccounted-bytes",
                Severity.SUSPICIOUS,
                Location(prefix or None, pos),
                f"{start - pos} byte(s) belong to no zip member",
            )
        elif start < pos:
            yield Finding(
                "zip-overlapping-entries",
                Severity.SUSPICIOUS,
                Location(prefix or None, start),
                "zip entries overlap (several names share the same bytes)",
            )
        if end >= pos:
            pos, slack = end, next_slack
    if pos + slack < size:
        yield Finding(
            "zip-trailing-bytes",
            Severity.SUSPICIOUS,
            Location(prefix or None, pos),
            f"{size - pos} byte(s) follow the end of the zip archive",
        )
