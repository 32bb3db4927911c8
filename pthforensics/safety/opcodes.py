"""What CPython's unpickler makes of some bytes, for ``container`` and the nested scans.

* :func:`looks_like_pickle`: whether CPython's unpickler starts to read the bytes and gets
  somewhere (reaches ``STOP``, resolves a global, or runs to the end of the window without
  failing), decided by running the symbolic machine on the first 4 KiB.  No list of
  "pickle-looking" first bytes: any opcode can start a pickle (``C\\x00 0`` then ``PROTO``).
* :func:`simple_values`: the constant value of a small pickle and its persistent ids, read
  with CPython's argument semantics (the legacy formats' header pickles, tar counts).

Nothing here builds objects or imports what a stream names.
"""

from __future__ import annotations

from typing import Any

from pthforensics.core import DEFAULT_LIMITS, LimitExceeded, Limits

from .execute import run_machine
from .rules import KNOWN_ROOTS
from .values import GlobalRef, SymList

__all__ = ["SNIFF_WINDOW", "GlobalConst", "looks_like_nested", "looks_like_pickle", "simple_values"]

#: Bytes of a stream the sniff executes.
SNIFF_WINDOW = 4096
#: Opcodes a stream must run without failing, when it names nothing and has no STOP in
#: the window, to count as a pickle (a short run of valid opcodes is what text makes).
_MIN_OPS = 16
_ZIP_MAGIC = b"PK\x03\x04"
_PROTO = 0x80
_HIGHEST_PROTOCOL = 5


class GlobalConst(str):
    """A ``module.name`` named by GLOBAL/STACK_GLOBAL inside :func:`simple_values`."""

    __slots__ = ()


def _dotted(text: str | None) -> bool:
    return bool(text) and all(part.isidentifier() for part in (text or "").split("."))


def looks_like_pickle(data: bytes | memoryview) -> bool:
    """Whether CPython's unpickler, given these bytes, does something: takes a protocol
    header, reaches ``STOP``, resolves a global of a module we know or calls one it named,
    or runs :data:`_MIN_OPS` opcodes to the end of the window without failing.  Text files
    fail within a few opcodes (``cat\ndog`` names a module ``at`` and stops)."""
    window = bytes(data[:SNIFF_WINDOW])
    if not window:
        return False
    if window[0] == _PROTO and window[1:2] and 2 <= window[1] <= _HIGHEST_PROTOCOL:
        return True  # CPython takes the protocol (every writer since protocol 2 starts so)
    try:
        run = run_machine(window, max_ops=SNIFF_WINDOW)
    except LimitExceeded:
        return True  # thousands of valid opcodes: a pickle
    if run.end is not None:
        return True
    if any(
        _dotted(u.module)
        and _dotted(u.name)
        and (u.called or (u.module or "").split(".")[0] in KNOWN_ROOTS)
        for u in run.machine.uses
    ):
        return True  # CPython imported a module we know, or called what it named
    return run.ops >= _MIN_OPS and run.truncated


def looks_like_nested(data: bytes) -> bool:
    """Whether embedded bytes are worth a nested scan: a pickle, or a torch zip archive."""
    return data[:4] == _ZIP_MAGIC or looks_like_pickle(data)


def simple_values(
    data: bytes, max_ops: int | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[object, list[tuple[object, ...]], int | None]:
    """The constant value of the pickle at the start of ``data``, every persistent id tuple
    (``BINPERSID``/``PERSID``) in order, and the offset past its ``STOP`` (``None`` when
    CPython would fail first; the value is then ``None``).  Globals are
    :class:`GlobalConst`; what a call builds, ``None``."""
    try:
        run = run_machine(data, limits=limits, max_ops=max_ops)
    except LimitExceeded:
        return None, [], None
    machine = run.machine
    uses = machine.uses
    pids: list[tuple[object, ...]] = []
    for pid in machine.pid_values:
        plain = _with_globals(pid, uses)
        pids.append(plain if isinstance(plain, tuple) else (plain,))
    if run.end is None:
        return None, pids, None
    return _with_globals(run.value, uses), pids, run.end


#: Nesting followed when converting a value to plain data.
_MAX_PLAIN_DEPTH = 50


def _with_globals(value: Any, uses: list[Any], depth: int = 0) -> Any:
    """A stack value as plain data: constants and tuples/lists of them, globals as
    :class:`GlobalConst`, anything built by a call (and dicts, sets) as ``None``."""
    t = type(value)
    if t in (str, int, float, bool, bytes) or value is None:
        return value
    if t is GlobalRef:
        use = uses[value.index]
        return GlobalConst(f"{use.module}.{use.name}")
    if depth > _MAX_PLAIN_DEPTH:
        return None
    if t is tuple:
        return tuple(_with_globals(v, uses, depth + 1) for v in value)
    if t is SymList:
        return [_with_globals(v, uses, depth + 1) for v in value]
    return None
