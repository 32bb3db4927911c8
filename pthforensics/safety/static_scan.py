"""Opcode-level pass over a pickle stream: every global, every call, with offsets.

A symbolic stack machine walks the opcodes (decoded by :mod:`pickletools`) without
building any object.  It resolves the module/name of ``GLOBAL``, ``INST``, ``OBJ``,
``STACK_GLOBAL`` (through the symbolic stack and memo) and ``EXT1/2/4``, records
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
from typing import Any

from pthforensics.core import DEFAULT_LIMITS, LimitExceeded, Limits

from .opcodes import PICKLE_TEXT_START, looks_like_nested, looks_like_pickle, maybe_pickle

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
    """``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``, ``EXT1``..."""
    called: bool = False
    """Whether the stream calls it (``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``)."""
    call_offset: int | None = None
    ext_code: int | None = None
    """The extension code for ``EXT*`` opcodes."""

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


class _Mark:
    __slots__ = ()


_MARK = _Mark()


class _Unknown:
    __slots__ = ()


_UNKNOWN = _Unknown()


@dataclass(slots=True)
class _Ref:
    """A symbolic stack value that came from a global or a call."""

    index: int | None  # index into the globals list, for globals; None for other objects
    called: bool = False


def scan_stream(
    data: bytes, *, start: int = 0, limits: Limits = DEFAULT_LIMITS, deadline: float | None = None
) -> StreamScan:
    """Walk the opcodes of the pickle starting at ``data[start]`` symbolically.

    ``deadline`` is a :func:`time.monotonic` value after which the walk gives up with
    :class:`LimitExceeded` (checked every 4096 opcodes).
    """
    uses: list[GlobalUse] = []
    stack: list[Any] = []
    metastack: list[list[Any]] = []
    memo: dict[int, Any] = {}
    nested: list[tuple[int, bytes]] = []
    computed_calls: list[int] = []
    builds_on_globals: list[tuple[int, str]] = []
    protocol: int | None = None
    end: int | None = None
    error: str | None = None
    error_offset: int | None = None
    ops = 0
    pids = 0
    builds = 0

    def pop() -> Any:
        return stack.pop() if stack else _UNKNOWN

    def pop_mark() -> list[Any]:
        nonlocal stack
        items = stack
        stack = metastack.pop() if metastack else []
        return items

    def add_global(
        module: str | None, name: str | None, pos: int, opcode: str, ext: int | None = None
    ) -> _Ref:
        uses.append(GlobalUse(module, name, pos, opcode, ext_code=ext))
        return _Ref(len(uses) - 1)

    def mark_called(value: Any, pos: int) -> None:
        if isinstance(value, _Ref) and value.index is not None:
            use = uses[value.index]
            if not use.called:
                uses[value.index] = GlobalUse(
                    use.module, use.name, use.offset, use.opcode, True, pos, use.ext_code
                )
        else:
            computed_calls.append(pos)

    view = data[start:] if start else data
    try:
        for op, arg, pos in pickletools.genops(view):
            ops += 1
            if ops > limits.max_pickle_ops:
                raise LimitExceeded("pickle opcodes", limits.max_pickle_ops, ops)
            if deadline is not None and not ops & 4095 and time.monotonic() > deadline:
                raise LimitExceeded("seconds per file", limits.max_seconds, "more")
            pos = (pos or 0) + start
            name = op.name
            if name in ("PROTO",):
                protocol = arg
            elif name == "STOP":
                end = pos + 1
                break
            elif name == "FRAME":
                pass
            elif name == "MARK":
                metastack.append(stack)
                stack = []
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                ref = add_global(module, attr, pos, name)
                if name == "INST":
                    pop_mark()
                    mark_called(ref, pos)
                    stack.append(_Ref(None, True))
                else:
                    stack.append(ref)
            elif name == "STACK_GLOBAL":
                attr_v, module_v = pop(), pop()
                stack.append(
                    add_global(
                        module_v if isinstance(module_v, str) else None,
                        attr_v if isinstance(attr_v, str) else None,
                        pos,
                        name,
                    )
                )
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(add_global(None, None, pos, name, ext=_int(arg)))
            elif name == "OBJ":
                items = pop_mark()
                mark_called(items[0] if items else _UNKNOWN, pos)
                stack.append(_Ref(None, True))
            elif name == "REDUCE":
                _args, func = pop(), pop()
                mark_called(func, pos)
                stack.append(_Ref(None, True))
            elif name in ("NEWOBJ", "NEWOBJ_EX"):
                if name == "NEWOBJ_EX":
                    pop()
                _args, cls = pop(), pop()
                mark_called(cls, pos)
                stack.append(_Ref(None, True))
            elif name == "BUILD":
                pop()
                builds += 1
                target = stack[-1] if stack else _UNKNOWN
                if isinstance(target, _Ref) and target.index is not None:
                    builds_on_globals.append((pos, uses[target.index].qualname))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                index = _int(arg)
                if index > limits.max_memo:
                    raise LimitExceeded("pickle memo index", limits.max_memo, index)
                memo[index] = stack[-1] if stack else _UNKNOWN
            elif name == "MEMOIZE":
                if len(memo) >= limits.max_memo:
                    raise LimitExceeded("pickle memo size", limits.max_memo, len(memo) + 1)
                memo[len(memo)] = stack[-1] if stack else _UNKNOWN
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(_int(arg), _UNKNOWN))
            elif name == "POP":
                if stack:
                    stack.pop()
                else:
                    pop_mark()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1] if stack else _UNKNOWN)
            elif name in ("TUPLE", "LIST", "DICT", "FROZENSET"):
                pop_mark()
                stack.append(_UNKNOWN)
            elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
                pop_mark()
            elif name == "APPEND":
                pop()
            elif name == "SETITEM":
                pop()
                pop()
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                for _ in range(int(name[-1])):
                    pop()
                stack.append(_UNKNOWN)
            elif name in ("BINPERSID", "PERSID"):
                pids += 1
                if name == "BINPERSID":
                    pop()
                stack.append(_UNKNOWN)
            elif name in (
                "STRING",
                "BINSTRING",
                "SHORT_BINSTRING",
                "UNICODE",
                "BINUNICODE",
                "SHORT_BINUNICODE",
                "BINUNICODE8",
            ):
                text = arg if isinstance(arg, str) else str(arg)
                # Protocol 2 pickles bytes as _codecs.encode(latin-1 text): a pickle can hide
                # in the text.
                if len(text) >= 8 and text[0] in PICKLE_TEXT_START:
                    raw = text.encode("latin-1", "ignore")
                    if maybe_pickle(raw) and looks_like_pickle(raw):
                        nested.append((pos, raw))
                stack.append(text)
            elif name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                value = bytes(arg) if isinstance(arg, bytes | bytearray) else b""
                if len(value) >= 8 and looks_like_nested(value):
                    nested.append((pos, value))
                stack.append(_UNKNOWN)
            elif name == "NEXT_BUFFER":
                stack.append(_UNKNOWN)
            elif name == "READONLY_BUFFER":
                pass
            else:
                # Constants (ints, floats, None, bools, empty containers...)
                stack.append(arg if arg is not None else _UNKNOWN)
    except LimitExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken stream is judged on its prefix
        error = str(exc) or type(exc).__name__
        error_offset = _offset_from_message(error)
    if end is None and error is None:
        error = "pickle data was truncated (no STOP opcode)"
    return StreamScan(
        tuple(uses),
        protocol,
        end,
        error,
        error_offset,
        ops,
        tuple(nested),
        tuple(computed_calls),
        pids,
        builds,
        tuple(builds_on_globals),
    )


def _offset_from_message(message: str) -> int | None:
    marker = "at position "
    if marker in message:
        digits = message.split(marker, 1)[1].split()[0].rstrip(",.:")
        if digits.isdigit():
            return int(digits)
    return None


def _int(arg: object) -> int:
    """An integer opcode argument (memo index, extension code)."""
    return int(arg) if isinstance(arg, int | str) else -1
