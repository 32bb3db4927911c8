"""The symbolic machine: CPython's unpickler, opcode by opcode, building nothing.

Each opcode does to a stack of :mod:`.values` what ``Modules/_pickle.c`` (3.11) does to
real objects: the same argument parsing (:mod:`.cpython`: ``I0x10`` is 16), the same mark
and fence rules (``POP`` past a mark drops the mark), the same memo (``MEMOIZE`` stores at
the count of entries), the same failures (stack underflow, a non-tuple argument list,
calling a constant, an unhashable dict key, a missing memo entry...).  Where CPython would
stop, the machine stops (:class:`Broken`): nothing after that point runs.  Where success
depends on an object the machine cannot know (what a user class does), it assumes the
loader goes on, and judges the rest.

Globals are recorded in order with the protocol in effect (a dotted name is an attribute
walk only from protocol 4 on); every call records what is called and how
(:meth:`Machine.invoke`), following the functions of :mod:`.calls` into their arguments.

:func:`.static_scan.scan_stream` drives it and turns what it saw into a ``StreamScan``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pthforensics.core import Limits

from .machine_calls import CallMixin
from .machine_ops import MemoOps, ValueOps
from .machine_store import StoreMixin
from .opcode_table import OPCODE_METHODS, OPCODE_NAMES
from .values import (
    KIND_IMMUTABLE,
    Broken,
    GlobalRef,
    Persistent,
    Result,
    Stop,
    SymDict,
    SymList,
    SymSet,
)

__all__ = ["HIGHEST_PROTOCOL", "OPCODE_NAMES", "TABLE", "Broken", "Machine", "Stop"]

HIGHEST_PROTOCOL = 5
_I4 = struct.Struct("<i")
_U8 = struct.Struct("<Q")


#: ``handler(machine, pos)`` per opcode byte (``None``: not an opcode); built once, after
#: the class (:data:`.opcode_table.OPCODE_METHODS` names the methods).
Handler = Callable[["Machine", int], int]


class Machine(ValueOps, MemoOps, StoreMixin, CallMixin):
    """One stream's stack, marks, memo and protocol, and what was seen: the stack, framing,
    container, global and call opcodes here; constants and memo opcodes in
    :mod:`.machine_ops`; what calls call and what is recorded in :mod:`.machine_calls`;
    ``BUILD`` and stores into objects in :mod:`.machine_store`."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        super().__init__(limits)
        self.data = data
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.fence = 0
        self.memo: dict[int, Any] = {}
        self.max_memo = limits.max_memo
        self.proto = 0
        self.max_proto = 0

    # -- stack primitives (PDATA_POP, marker(), Pdata_poptuple) ---------------------------

    def pop(self, pos: int) -> Any:
        if len(self.stack) <= self.fence:
            raise Broken("unpickling stack underflow", pos)
        return self.stack.pop()

    def marker(self, pos: int) -> int:
        if not self.marks:
            raise Broken("could not find MARK", pos)
        mark = self.marks.pop()
        self.fence = self.marks[-1] if self.marks else 0
        return mark

    def pop_from(self, start: int, pos: int) -> list[Any]:
        if start < self.fence or start > len(self.stack):
            raise Broken("unpickling stack underflow", pos)
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def push(self, value: Any) -> None:
        self.stack.append(value)

    # -- framing ------------------------------------------------------------------------------

    def op_proto(self, pos: int) -> int:
        version = self.read(pos, 1)[0]
        if version > HIGHEST_PROTOCOL:
            raise Broken(f"unsupported pickle protocol: {version}", pos - 1)
        self.proto = version
        self.max_proto = max(self.max_proto, version)
        return pos + 1

    def op_frame(self, pos: int) -> int:
        (size,) = _U8.unpack(self.read(pos, 8))
        if size > (1 << 63) - 1:
            raise Broken("FRAME length exceeds system's maximum", pos - 1)
        self.read(pos + 8, size)  # the frame must be there; reading goes on inside it
        return pos + 8

    def op_stop(self, pos: int) -> int:
        raise Stop(self.pop(pos - 1), pos)

    def op_mark(self, pos: int) -> int:
        self.marks.append(len(self.stack))
        self.fence = len(self.stack)
        return pos

    def op_pop(self, pos: int) -> int:
        stack = self.stack
        if len(stack) > self.fence:
            stack.pop()
        elif self.marks and self.marks[-1] == len(stack):
            self.marker(pos - 1)  # POP with nothing above the mark pops the mark
        else:
            raise Broken("unpickling stack underflow", pos - 1)
        return pos

    def op_pop_mark(self, pos: int) -> int:
        del self.stack[self.marker(pos - 1) :]
        return pos

    def op_dup(self, pos: int) -> int:
        if len(self.stack) <= self.fence:
            raise Broken("unpickling stack underflow", pos - 1)
        self.stack.append(self.stack[-1])
        return pos

    # -- containers -----------------------------------------------------------------------------

    def op_empty_tuple(self, pos: int) -> int:
        self.stack.append(())
        return pos

    def op_tuple(self, pos: int) -> int:
        self.stack.append(tuple(self.pop_from(self.marker(pos - 1), pos - 1)))
        return pos

    def op_tuple1(self, pos: int) -> int:
        self.stack.append(tuple(self.pop_from(len(self.stack) - 1, pos - 1)))
        return pos

    def op_tuple2(self, pos: int) -> int:
        self.stack.append(tuple(self.pop_from(len(self.stack) - 2, pos - 1)))
        return pos

    def op_tuple3(self, pos: int) -> int:
        self.stack.append(tuple(self.pop_from(len(self.stack) - 3, pos - 1)))
        return pos

    def op_empty_list(self, pos: int) -> int:
        self.stack.append(SymList())
        return pos

    def op_list(self, pos: int) -> int:
        self.stack.append(SymList(self.pop_from(self.marker(pos - 1), pos - 1)))
        return pos

    def op_empty_dict(self, pos: int) -> int:
        self.stack.append(SymDict())
        return pos

    def op_dict(self, pos: int) -> int:
        items = self.pop_from(self.marker(pos - 1), pos - 1)
        if len(items) % 2:
            raise Broken("odd number of items for DICT", pos - 1)
        pairs = SymDict(zip(items[::2], items[1::2], strict=True))
        for key, _ in pairs:
            self.check_key(key, pos - 1)
        self.stack.append(pairs)
        return pos

    def op_empty_set(self, pos: int) -> int:
        self.stack.append(SymSet())
        return pos

    def op_frozenset(self, pos: int) -> int:
        items = self.pop_from(self.marker(pos - 1), pos - 1)
        for item in items:
            self.check_key(item, pos - 1)
        self.stack.append(SymSet(items, frozen=True))
        return pos

    def op_append(self, pos: int) -> int:
        if len(self.stack) - 1 <= self.fence:
            raise Broken("unpickling stack underflow", pos - 1)
        return self.append_from(len(self.stack) - 1, pos)

    def op_appends(self, pos: int) -> int:
        return self.append_from(self.marker(pos - 1), pos)

    def op_setitem(self, pos: int) -> int:
        return self.setitems_from(len(self.stack) - 2, pos)

    def op_setitems(self, pos: int) -> int:
        return self.setitems_from(self.marker(pos - 1), pos)

    def op_additems(self, pos: int) -> int:
        return self.additems_from(self.marker(pos - 1), pos)

    # -- globals, calls, persistent ids -----------------------------------------------------------

    def op_global(self, pos: int) -> int:
        module, after = self.readline(pos)
        name, after = self.readline(after)
        if not name:
            raise Broken("pickle exhausted before end of frame", after)
        try:
            self.stack.append(
                self.resolve(module.decode("utf-8"), name.decode("utf-8"), pos - 1, "GLOBAL")
            )
        except UnicodeDecodeError:
            raise Broken("GLOBAL names are not UTF-8", pos - 1) from None
        return after

    def op_stack_global(self, pos: int) -> int:
        name = self.text_or_unknown(self.pop(pos - 1), pos - 1)
        module = self.text_or_unknown(self.pop(pos - 1), pos - 1)
        self.stack.append(self.resolve(module, name, pos - 1, "STACK_GLOBAL"))
        return pos

    def text_or_unknown(self, value: Any, pos: int) -> str | None:
        """A ``STACK_GLOBAL`` operand: text, or ``None`` when a global or a call result
        (which may be a ``str``: ``builtins.str(...)``) supplies it at load time."""
        if type(value) is str:
            return value
        if type(value) in (GlobalRef, Persistent) or (
            type(value) is Result and value.site.kind in (None, KIND_IMMUTABLE)
        ):
            return None
        raise Broken("STACK_GLOBAL requires str", pos)

    def op_inst(self, pos: int) -> int:
        start = self.marker(pos - 1)
        module, after = self.readline(pos)
        name, after = self.readline(after)
        if not module or not name or not (module + name).isascii():
            raise Broken("INST names must be ASCII lines", pos - 1)
        cls = self.resolve(module.decode("ascii"), name.decode("ascii"), pos - 1, "INST")
        args = tuple(self.pop_from(start, pos - 1))
        self.stack.append(self.invoke(cls, args, pos - 1, "INST"))
        return after

    def op_obj(self, pos: int) -> int:
        start = self.marker(pos - 1)
        if len(self.stack) - start < 1:
            raise Broken("unpickling stack underflow", pos - 1)
        items = self.pop_from(start, pos - 1)
        self.stack.append(self.invoke(items[0], tuple(items[1:]), pos - 1, "OBJ"))
        return pos

    def op_ext(self, pos: int, width: int) -> int:
        raw = self.read(pos, width)
        code = _I4.unpack(raw)[0] if width == 4 else int.from_bytes(raw, "little")
        if code <= 0:
            raise Broken("EXT specifies code <= 0", pos - 1)
        self.stack.append(self.resolve(None, None, pos - 1, f"EXT{width}", ext=code))
        return pos + width

    def op_ext1(self, pos: int) -> int:
        return self.op_ext(pos, 1)

    def op_ext2(self, pos: int) -> int:
        return self.op_ext(pos, 2)

    def op_ext4(self, pos: int) -> int:
        return self.op_ext(pos, 4)

    def op_reduce(self, pos: int) -> int:
        args = self.pop(pos - 1)
        func = self.pop(pos - 1)
        self.require_tuple(args, "argument list must be a tuple", pos - 1)
        self.stack.append(self.invoke(func, args, pos - 1, "REDUCE"))
        return pos

    def op_newobj(self, pos: int) -> int:
        args = self.pop(pos - 1)
        cls = self.pop(pos - 1)
        self.require_tuple(args, "NEWOBJ args argument must be a tuple", pos - 1)
        self.stack.append(self.invoke(cls, args, pos - 1, "NEWOBJ", construct=True))
        return pos

    def op_newobj_ex(self, pos: int) -> int:
        kwargs = self.pop(pos - 1)
        args = self.pop(pos - 1)
        cls = self.pop(pos - 1)
        self.require_tuple(args, "NEWOBJ_EX args argument must be a tuple", pos - 1)
        if type(kwargs) in (str, int, float, bool, tuple, bytes, SymList, SymSet) or kwargs is None:
            raise Broken("NEWOBJ_EX kwargs argument must be a dict", pos - 1)
        self.stack.append(self.invoke(cls, args, pos - 1, "NEWOBJ_EX", construct=True))
        return pos

    def op_build(self, pos: int) -> int:
        if len(self.stack) - 2 < self.fence:
            raise Broken("unpickling stack underflow", pos - 1)
        state = self.stack.pop()
        self.build(self.stack[-1], state, pos - 1)
        return pos

    def op_persid(self, pos: int) -> int:
        line, after = self.readline(pos)
        if not line.isascii():
            raise Broken("persistent IDs in protocol 0 must be ASCII strings", pos - 1)
        self.stack.append(self.persistent(line.decode("ascii"), pos - 1))
        return after

    def op_binpersid(self, pos: int) -> int:
        pid = self.pop(pos - 1)
        self.stack.append(self.persistent(pid, pos - 1))
        return pos


#: Opcode byte -> the unbound :class:`Machine` method executing it.
TABLE: list[Handler | None] = [None] * 256
for _code, _method in OPCODE_METHODS.items():
    TABLE[_code] = getattr(Machine, _method)
