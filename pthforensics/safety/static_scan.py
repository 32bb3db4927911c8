"""Opcode-level pass over a pickle stream: every global, every call, with offsets.

A symbolic stack machine (:mod:`.symbolic`, one handler per opcode family) walks the
opcodes (decoded by :mod:`pickletools`) without building any object.  It resolves the
module/name of ``GLOBAL``, ``INST``, ``OBJ``, ``STACK_GLOBAL`` (through the symbolic
stack and memo) and ``EXT1/2/4``, records
which global each ``REDUCE``/``NEWOBJ``/``NEWOBJ_EX``/``INST``/``OBJ`` calls, notes
``BUILD`` on globals, and collects byte constants that are themselves pickles.
When the stream breaks, what precedes the break is kept: a loader executes that
part before it fails.

Sources: CPython ``Lib/pickletools.py`` (opcode table), ``Modules/_pickle.c``
(what each opcode does), fickling ``fickle.py`` (symbolic interpretation).
"""

from __future__ import annotations

import logging
import pickletools
import time
from dataclasses import dataclass

from pthforensics.core import DEFAULT_LIMITS, LimitExceeded, Limits

from .symbolic import GlobalUse, SymbolicWalk

__all__ = ["StreamScan", "scan_stream"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamScan:
    """What the opcode pass saw in one stream."""

    globals: tuple[GlobalUse, ...]
    protocol: int | None
    end: int | None
    """Offset just past ``STOP``; ``None`` when the stream broke first."""
    error: str | None
    """Why decoding stopped early."""
    error_offset: int | None
    ops: int
    nested: tuple[tuple[int, bytes], ...]
    """Byte constants (offset, bytes) that look like pickles themselves."""
    calls_non_global: tuple[int, ...] = ()
    """Offsets of calls whose callable is not a global (a computed callable)."""
    persistent_ids: int = 0
    builds: int = 0
    builds_on_globals: tuple[tuple[int, str], ...] = ()
    """BUILD applied to a global itself (offset, qualname), not to an object it made."""


#: The deadline is checked once per this many opcodes (a power of two, minus one: a mask).
_DEADLINE_EVERY = 4095


def scan_stream(
    data: bytes, *, start: int = 0, limits: Limits = DEFAULT_LIMITS, deadline: float | None = None
) -> StreamScan:
    """Walk the opcodes of the pickle starting at ``data[start]`` symbolically.

    ``deadline`` is a :func:`time.monotonic` value after which the walk gives up with
    :class:`LimitExceeded` (checked every 4096 opcodes).
    """
    walk = SymbolicWalk(limits)
    end: int | None = None
    error: str | None = None
    error_offset: int | None = None
    ops = 0
    max_ops = limits.max_pickle_ops
    handlers = walk.handlers()
    constant = walk.constant
    view = data[start:] if start else data
    try:
        for op, arg, pos in pickletools.genops(view):
            ops += 1
            if ops > max_ops:
                raise LimitExceeded("pickle opcodes", max_ops, ops)
            if deadline is not None and not ops & _DEADLINE_EVERY and time.monotonic() > deadline:
                raise LimitExceeded("seconds per file", limits.max_seconds, "more")
            name = op.name
            if name == "STOP":
                end = (pos or 0) + start + 1
                break
            handlers.get(name, constant)(name, arg, (pos or 0) + start)
    except LimitExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken stream is judged on its prefix
        error = str(exc) or type(exc).__name__
        error_offset = _offset_from_message(error)
    if end is None and error is None:
        error = "pickle data was truncated (no STOP opcode)"
    return StreamScan(
        tuple(walk.uses),
        walk.protocol,
        end,
        error,
        error_offset,
        ops,
        tuple(walk.nested),
        tuple(walk.computed_calls),
        walk.pids,
        walk.builds,
        tuple(walk.builds_on_globals),
    )


def _offset_from_message(message: str) -> int | None:
    marker = "at position "
    if marker in message:
        digits = message.split(marker, 1)[1].split()[0].rstrip(",.:")
        if digits.isdigit():
            return int(digits)
    return None
