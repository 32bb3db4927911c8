"""The symbolic machine of the opcode pass: a stack of what values stand for, no objects.

Each opcode family has one handler (:data:`_HANDLERS` maps opcode names to them), doing
to the symbolic stack, mark stack and memo what ``Modules/_pickle.c`` does to the real
ones: globals become references that record whether they are called, calls of anything
else are recorded as computed calls, constants are tracked only where a later opcode
needs them (text for ``STACK_GLOBAL``), and bytes or latin-1 text that is itself a
pickle is kept for a nested scan.  :func:`.static_scan.scan_stream` drives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pthforensics.core import LimitExceeded, Limits

from .opcodes import PICKLE_TEXT_START, looks_like_nested, looks_like_pickle, maybe_pickle

__all__ = ["GlobalUse", "SymbolicWalk"]


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
_Handler = Callable[[str, Any, int], None]


class SymbolicWalk:
    """The symbolic machine of one stream: a stack of values, the mark stack and the memo,
    and what was seen (read by ``scan_stream`` when the walk ends).  One handler per
    opcode family; each takes the opcode's name (the families share handlers), its decoded
    argument and its absolute offset."""

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


#: Opcode name -> the :class:`SymbolicWalk` method that handles it.
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


def _int(arg: object) -> int:
    """An integer opcode argument (memo index, extension code)."""
    return int(arg) if isinstance(arg, int | str) else -1
