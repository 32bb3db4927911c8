"""What every format reader of the container stage shares.

A :class:`ReadContext` is the file being read (path, limits, whether the fast path may
decode header pickles) plus the dispatcher that reads a nested file (a member of a zip,
the payload of a gzip wrapper) as a file of its own.  :class:`Parts` collects what one
reader finds before it becomes a frozen :class:`~pthforensics.core.Container`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from pthforensics.core import (
    Container,
    ContainerError,
    Finding,
    Limits,
    PickleStream,
    StorageEntry,
)

__all__ = ["Dispatch", "Parts", "ReadContext"]

#: ``dispatch(ctx, f, size, prefix, wrappers)``: identify and read the file ``f`` (``size``
#: bytes) whose members are named ``prefix + name``, inside the ``wrappers`` removed so far.
Dispatch = Callable[["ReadContext", BinaryIO, int, str, tuple[str, ...]], Container]


@dataclass(frozen=True, slots=True)
class ReadContext:
    """One file being read and how."""

    path: str
    """The file as given (every error names it)."""
    limits: Limits
    """Caps on what reading may cost."""
    dispatch: Dispatch
    """Reads a nested file (``reader._dispatch``): formats recurse through it."""
    fast: bool = False
    """Find the legacy formats' header pickles with the C stub unpickler (only in a process
    with a memory cap; see ``read_container``)."""

    def error(self, message: str, member: str | None = None) -> ContainerError:
        """A :class:`ContainerError` about this file."""
        return ContainerError(message, path=self.path, member=member)

    def read(self, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]) -> Container:
        """Read a nested file as a file of its own."""
        return self.dispatch(self, f, size, prefix, wrappers)


@dataclass
class Parts:
    """What one reader collects, in order (local to the reader, then frozen)."""

    streams: list[PickleStream] = field(default_factory=list)
    storages: list[StorageEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
