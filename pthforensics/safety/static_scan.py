"""Opcode-level pass over a pickle stream: every global, every call, with offsets.

:func:`run_machine` executes a stream on the symbolic machine (:mod:`.machine`, CPython's
unpickler without objects) until ``STOP``, the point where CPython would raise, or a
limit; :func:`scan_stream` returns what it saw as a :class:`StreamScan`, which the stream
rules (:mod:`.stream_rules`) turn into findings.  When the stream breaks, what precedes
the break is kept: a loader executes that part before it fails.

Sources: CPython ``Modules/_pickle.c`` (3.11: every opcode and its argument parsing),
fickling ``fickle.py`` (symbolic interpretation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pthforensics.core import DEFAULT_LIMITS, Limits

from .execute import run_machine
from .machine import OPCODE_NAMES
from .machine_calls import Use
from .opcodes import looks_like_nested

__all__ = ["GlobalUse", "StreamScan", "scan_stream"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GlobalUse:
    """One global as a loader would resolve it, and what is done with it."""

    module: str | None
    """Module name, ``None`` when it cannot be known statically."""
    name: str | None
    """Attribute name (may be dotted), ``None`` when it cannot be known statically."""
    offset: int
    """Byte offset of the opcode that names it."""
    opcode: str
    """``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``EXT1``..."""
    called: bool = False
    """Whether the loader calls or constructs it (an opcode, or a function given it)."""
    call_offset: int | None = None
    ext_code: int | None = None
    """The extension code for ``EXT*`` opcodes."""
    proto: int = 0
    """The protocol in effect when it was resolved (a dotted name walks from 4 on)."""
    how: str = ""
    """How it is first called: ``REDUCE``, ``NEWOBJ``, ``via torch._tensor...``."""
    walks: bool = False
    """``builtins.getattr`` whose calls are all constant walks (judged as their own globals)."""

    @property
    def qualname(self) -> str:
        """``module.name`` with ``?`` for what is unknown."""
        return f"{self.module or '?'}.{self.name or '?'}"


@dataclass(frozen=True, slots=True)
class StreamScan:
    """What the opcode pass saw in one stream."""

    globals: tuple[GlobalUse, ...]
    protocol: int | None
    end: int | None
    """Offset just past ``STOP``; ``None`` when the stream broke first."""
    error: str | None
    """Why CPython would stop early."""
    error_offset: int | None
    ops: int
    nested: tuple[tuple[int, bytes], ...]
    """Bytes values (constants and computed ones, each once: offset, bytes) that are a
    pickle or a zip archive themselves."""
    calls_non_global: tuple[tuple[int, str], ...] = ()
    """(offset, what returned it) of calls whose callable an earlier call returned."""
    persistent_ids: int = 0
    builds: int = 0
    builds_on_globals: tuple[tuple[int, str, str], ...] = ()
    """BUILD applied to a global itself (offset, qualname, ``dict``/``slots``/``nothing``)."""
    mutations: tuple[tuple[int, str, str], ...] = ()
    """APPEND/SETITEM/ADDITEMS applied to a global (offset, qualname, operation)."""
    loads: tuple[tuple[int, str, str, bytes | None], ...] = ()
    """Nested loads: (offset, loader, ``torch``/``pickle``, bytes or ``None``: unknown)."""
    code: tuple[tuple[int, str, str | None], ...] = ()
    """Carried code: (offset, carrier, source or ``None``: computed at load time)."""


def _frozen(use: Use) -> GlobalUse:
    return GlobalUse(
        use.module,
        use.name,
        use.offset,
        use.opcode,
        use.called,
        use.call_offset,
        use.ext,
        use.proto,
        use.how,
        use.walks,
    )


def scan_stream(
    data: bytes, *, start: int = 0, limits: Limits = DEFAULT_LIMITS, deadline: float | None = None
) -> StreamScan:
    """Walk the opcodes of the pickle starting at ``data[start]`` symbolically."""
    run = run_machine(data, start=start, limits=limits, deadline=deadline)
    m = run.machine
    seen: set[bytes] = set()
    nested: list[tuple[int, bytes]] = []
    for offset, raw in m.bytes_values:
        if raw not in seen:
            seen.add(raw)
            if looks_like_nested(raw):
                nested.append((offset, raw))
    return StreamScan(
        tuple(_frozen(u) for u in m.uses),
        m.max_proto if m.max_proto or m.proto else None,
        run.end,
        run.error,
        run.error_offset,
        run.ops,
        tuple(nested),
        tuple(m.computed),
        m.pids,
        m.builds,
        tuple(m.global_builds),
        tuple(m.mutations),
        tuple(m.loads),
        tuple(m.code),
    )


def opcode_name(code: int) -> str:
    """The CPython name of an opcode byte (``?`` for invalid ones)."""
    return OPCODE_NAMES.get(code, "?")
