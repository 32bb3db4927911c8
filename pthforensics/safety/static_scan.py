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
from collections.abc import Callable
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


class _Unknown:
    """A value the walk cannot know (a constant it does not track, a container)."""

    __slots__ = ()


_UNKNOWN = _Unknown()


@dataclass(slots=True)
class _Ref:
    """A symbolic stack value that came from a global or a call."""

    index: int | None  # index into the globals list, for globals; None for other objects
    called: bool = False


#: Text opcodes: protocol 2 pickles bytes as ``_codecs.encode(latin-1 text)``, so a pickle
#: can hide in the text.
_TEXT_OPS = (
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
)
_BYTES_OPS = ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8")
#: Bytes constants shorter than this cannot hold a pickle worth a nested scan.
_MIN_NESTED = 8
#: The deadline is checked once per this many opcodes (a power of two, minus one: a mask).
_DEADLINE_EVERY = 4095


def scan_stream(
    data: bytes, *, start: int = 0, limits: Limits = DEFAULT_LIMITS, deadline: float | None = None
) -> StreamScan:
    """Walk the opcodes of the pickle starting at ``data[start]`` symbolically.

    ``deadline`` is a :func:`time.monotonic` value after which the walk gives up with
    :class:`LimitExceeded` (checked every 4096 opcodes).
    """
    walk = _Walk(limits)
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


_Handler = Callable[[str, Any, int], None]


class _Walk:
    """The symbolic machine of one stream: a stack of values, the mark stack and the memo,
    and what was seen.  One handler per opcode family; each takes the opcode's name (the
    families share handlers), its decoded argument and its absolute offset."""

    __slots__ = (
        "builds",
        "builds_on_globals",
        "computed_calls",
        "limits",
        "memo",
        "metastack",
        "nested",
        "pids",
        "protocol",
        "stack",
        "uses",
    )

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.uses: list[GlobalUse] = []
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.nested: list[tuple[int, bytes]] = []
        self.computed_calls: list[int] = []
        self.builds_on_globals: list[tuple[int, str]] = []
        self.protocol: int | None = None
        self.pids = 0
        self.builds = 0

    def handlers(self) -> dict[str, _Handler]:
        """Opcode name -> bound handler (opcodes not listed are :meth:`constant`)."""
        return {name: getattr(self, method) for name, method in _HANDLERS.items()}

    # -- stack primitives ---------------------------------------------------------------------

    def pop(self) -> Any:
        stack = self.stack
        return stack.pop() if stack else _UNKNOWN

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.metastack.pop() if self.metastack else []
        return items

    def top(self) -> Any:
        stack = self.stack
        return stack[-1] if stack else _UNKNOWN

    def add_global(
        self, module: str | None, name: str | None, pos: int, opcode: str, ext: int | None = None
    ) -> _Ref:
        self.uses.append(GlobalUse(module, name, pos, opcode, ext_code=ext))
        return _Ref(len(self.uses) - 1)

    def mark_called(self, value: Any, pos: int) -> None:
        if isinstance(value, _Ref) and value.index is not None:
            use = self.uses[value.index]
            if not use.called:
                self.uses[value.index] = GlobalUse(
                    use.module, use.name, use.offset, use.opcode, True, pos, use.ext_code
                )
        else:
            self.computed_calls.append(pos)

    # -- framing and marks ---------------------------------------------------------------------

    def proto(self, name: str, arg: Any, pos: int) -> None:
        """PROTO: the protocol version."""
        self.protocol = arg

    def ignore(self, name: str, arg: Any, pos: int) -> None:
        """FRAME, READONLY_BUFFER: no effect on what the stream names or calls."""

    def mark(self, name: str, arg: Any, pos: int) -> None:
        """MARK: start a new stack for the items of a collection or call."""
        self.metastack.append(self.stack)
        self.stack = []

    def discard(self, name: str, arg: Any, pos: int) -> None:
        """POP (past a mark it pops the mark), POP_MARK."""
        if name == "POP" and self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def dup(self, name: str, arg: Any, pos: int) -> None:
        """DUP: push the top again."""
        self.stack.append(self.top())

    # -- globals and calls -----------------------------------------------------------------------

    def global_(self, name: str, arg: Any, pos: int) -> None:
        """GLOBAL, INST: a global named in the opcode's text argument (INST also calls it
        with the items since the mark)."""
        module, _, attr = str(arg).partition(" ")
        ref = self.add_global(module, attr, pos, name)
        if name == "INST":
            self.pop_mark()
            self.mark_called(ref, pos)
            self.stack.append(_Ref(None, True))
        else:
            self.stack.append(ref)

    def stack_global(self, name: str, arg: Any, pos: int) -> None:
        """STACK_GLOBAL: module and name from the stack (unknown unless both are text)."""
        attr_v, module_v = self.pop(), self.pop()
        self.stack.append(
            self.add_global(
                module_v if isinstance(module_v, str) else None,
                attr_v if isinstance(attr_v, str) else None,
                pos,
                name,
            )
        )

    def extension(self, name: str, arg: Any, pos: int) -> None:
        """EXT1/2/4: a global from copyreg's extension registry, unknowable statically."""
        self.stack.append(self.add_global(None, None, pos, name, ext=_int(arg)))

    def call(self, name: str, arg: Any, pos: int) -> None:
        """REDUCE, NEWOBJ, NEWOBJ_EX, OBJ: call the callable below the arguments."""
        if name == "OBJ":
            items = self.pop_mark()
            self.mark_called(items[0] if items else _UNKNOWN, pos)
        else:
            if name == "NEWOBJ_EX":
                self.pop()
            _args, func = self.pop(), self.pop()
            self.mark_called(func, pos)
        self.stack.append(_Ref(None, True))

    def build(self, name: str, arg: Any, pos: int) -> None:
        """BUILD: set state on the object below; on a global itself it monkey-patches."""
        self.pop()
        self.builds += 1
        target = self.top()
        if isinstance(target, _Ref) and target.index is not None:
            self.builds_on_globals.append((pos, self.uses[target.index].qualname))

    # -- memo ---------------------------------------------------------------------------------

    def put(self, name: str, arg: Any, pos: int) -> None:
        """PUT, BINPUT, LONG_BINPUT: memoize the top at an index the stream gives."""
        index = _int(arg)
        if index > self.limits.max_memo:
            raise LimitExceeded("pickle memo index", self.limits.max_memo, index)
        self.memo[index] = self.top()

    def memoize(self, name: str, arg: Any, pos: int) -> None:
        """MEMOIZE: memoize the top at the next index."""
        memo = self.memo
        if len(memo) >= self.limits.max_memo:
            raise LimitExceeded("pickle memo size", self.limits.max_memo, len(memo) + 1)
        memo[len(memo)] = self.top()

    def get(self, name: str, arg: Any, pos: int) -> None:
        """GET, BINGET, LONG_BINGET: push a memoized value."""
        self.stack.append(self.memo.get(_int(arg), _UNKNOWN))

    # -- collections ---------------------------------------------------------------------------

    def collection(self, name: str, arg: Any, pos: int) -> None:
        """TUPLE, LIST, DICT, FROZENSET: the items since the mark become one value."""
        self.pop_mark()
        self.stack.append(_UNKNOWN)

    def small_tuple(self, name: str, arg: Any, pos: int) -> None:
        """TUPLE1, TUPLE2, TUPLE3: the top 1-3 values become one."""
        for _ in range(int(name[-1])):
            self.pop()
        self.stack.append(_UNKNOWN)

    def add_items(self, name: str, arg: Any, pos: int) -> None:
        """APPENDS, SETITEMS, ADDITEMS: the items since the mark go into the container."""
        self.pop_mark()

    def add_item(self, name: str, arg: Any, pos: int) -> None:
        """APPEND (one value), SETITEM (a key and a value) go into the container."""
        self.pop()
        if name == "SETITEM":
            self.pop()

    def persistent_id(self, name: str, arg: Any, pos: int) -> None:
        """PERSID, BINPERSID: a persistent id (torch's storages)."""
        self.pids += 1
        if name == "BINPERSID":
            self.pop()
        self.stack.append(_UNKNOWN)

    # -- constants ---------------------------------------------------------------------------

    def text(self, name: str, arg: Any, pos: int) -> None:
        """String opcodes: the text is pushed (STACK_GLOBAL reads it); latin-1 text that is
        a pickle (protocol 2's encoding of bytes) is kept for a nested scan."""
        text = arg if isinstance(arg, str) else str(arg)
        if len(text) >= _MIN_NESTED and text[0] in PICKLE_TEXT_START:
            raw = text.encode("latin-1", "ignore")
            if maybe_pickle(raw) and looks_like_pickle(raw):
                self.nested.append((pos, raw))
        self.stack.append(text)

    def raw_bytes(self, name: str, arg: Any, pos: int) -> None:
        """Bytes opcodes: bytes that are a pickle or a torch zip are kept for a nested scan."""
        value = bytes(arg) if isinstance(arg, bytes | bytearray) else b""
        if len(value) >= _MIN_NESTED and looks_like_nested(value):
            self.nested.append((pos, value))
        self.stack.append(_UNKNOWN)

    def opaque(self, name: str, arg: Any, pos: int) -> None:
        """NEXT_BUFFER: an out-of-band buffer, unknown here."""
        self.stack.append(_UNKNOWN)

    def constant(self, name: str, arg: Any, pos: int) -> None:
        """Every other opcode pushes a constant (ints, floats, None, bools, empty
        containers...): its argument, or an unknown value."""
        self.stack.append(arg if arg is not None else _UNKNOWN)


#: Opcode name -> the :class:`_Walk` method that handles it.
_HANDLERS: dict[str, str] = {
    "PROTO": "proto",
    "FRAME": "ignore",
    "READONLY_BUFFER": "ignore",
    "MARK": "mark",
    "POP": "discard",
    "POP_MARK": "discard",
    "DUP": "dup",
    "GLOBAL": "global_",
    "INST": "global_",
    "STACK_GLOBAL": "stack_global",
    "EXT1": "extension",
    "EXT2": "extension",
    "EXT4": "extension",
    "REDUCE": "call",
    "NEWOBJ": "call",
    "NEWOBJ_EX": "call",
    "OBJ": "call",
    "BUILD": "build",
    "PUT": "put",
    "BINPUT": "put",
    "LONG_BINPUT": "put",
    "MEMOIZE": "memoize",
    "GET": "get",
    "BINGET": "get",
    "LONG_BINGET": "get",
    "TUPLE": "collection",
    "LIST": "collection",
    "DICT": "collection",
    "FROZENSET": "collection",
    "TUPLE1": "small_tuple",
    "TUPLE2": "small_tuple",
    "TUPLE3": "small_tuple",
    "APPENDS": "add_items",
    "SETITEMS": "add_items",
    "ADDITEMS": "add_items",
    "APPEND": "add_item",
    "SETITEM": "add_item",
    "PERSID": "persistent_id",
    "BINPERSID": "persistent_id",
    **dict.fromkeys(_TEXT_OPS, "text"),
    **dict.fromkeys(_BYTES_OPS, "raw_bytes"),
    "NEXT_BUFFER": "opaque",
}


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
