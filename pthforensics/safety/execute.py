"""Running the symbolic machine over a stream: the driver loop and its limits.

:func:`run_machine` executes the pickle at ``data[start]`` opcode by opcode on a
:class:`.machine.Machine` until ``STOP``, the point where CPython would raise, or a limit
(opcodes, seconds).  :mod:`.static_scan` (findings) and :mod:`.opcodes` (sniffing,
constant values) both read what it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pthforensics.core import DEFAULT_LIMITS, LimitExceeded, Limits

from .machine import TABLE, Machine
from .values import Broken, Stop

__all__ = ["Run", "run_machine"]


@dataclass(slots=True)
class Run:
    """How one execution of the machine ended."""

    machine: Machine
    end: int | None
    value: Any
    error: str | None
    error_offset: int | None
    ops: int
    truncated: bool = False
    """The stream (or the window given) ended inside an opcode, not at a CPython error."""


#: The opcode cap and the deadline are checked once per this many opcodes (a power of two,
#: minus one: a mask); the cap is a multiple of it in effect.
_CHECK_EVERY = 1023


def run_machine(
    data: bytes,
    *,
    start: int = 0,
    limits: Limits = DEFAULT_LIMITS,
    deadline: float | None = None,
    max_ops: int | None = None,
) -> Run:
    """Execute the pickle at ``data[start]`` on the symbolic machine.

    Raises :class:`LimitExceeded` past ``max_ops`` (default ``limits.max_pickle_ops``)
    opcodes or after ``deadline`` (a :func:`time.monotonic` value); both are checked every
    1024 opcodes.
    """
    machine = Machine(data, limits)
    table = TABLE
    cap = limits.max_pickle_ops if max_ops is None else max_ops
    mask = _CHECK_EVERY if cap > 4 * _CHECK_EVERY else 0  # small caps are exact
    pos, ops = start, 0
    try:
        while True:
            try:
                handler = table[data[pos]]
            except IndexError:
                raise Broken(
                    "pickle data was truncated (no STOP opcode)", pos, truncated=True
                ) from None
            if handler is None:
                raise Broken(f"invalid load key, {chr(data[pos])!r}", pos)
            ops += 1
            if not ops & mask:
                if ops > cap:
                    raise LimitExceeded("pickle opcodes", cap, ops)
                if deadline is not None and time.monotonic() > deadline:
                    raise LimitExceeded("seconds per file", limits.max_seconds, "more")
            pos = handler(machine, pos + 1)
    except Stop as stop:
        return Run(machine, stop.end, stop.value, None, None, ops)
    except Broken as broken:
        return Run(machine, None, None, broken.message, broken.offset, ops, broken.truncated)
