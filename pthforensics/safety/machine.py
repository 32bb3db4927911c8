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

from pthforensics.core import LimitExceeded, Limits

from . import cpython
from .machine_calls import CallMixin
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

__all__ = ["HIGHEST_PROTOCOL", "Broken", "Machine", "Stop"]

HIGHEST_PROTOCOL = 5
_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_H = struct.Struct("<H")
_D = struct.Struct(">d")


#: ``handler(machine, pos)`` per opcode byte (``None``: not an opcode); built once, after
#: the class (:data:`_OPCODES` names the methods).
Handler = Callable[["Machine", int], int]


class Machine(CallMixin):
    """One stream's stack, marks, memo and protocol, and what was seen (call semantics
    and what is recorded are in :class:`.machine_calls.CallMixin`)."""

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

    # -- reading -----------------------------------------------------------------------------

    def readline(self, pos: int) -> tuple[bytes, int]:
        """The line at ``pos`` without its newline, and the position after it."""
        end = self.data.find(b"\n", pos)
        if end < 0:
            raise Broken("pickle exhausted before end of frame (no newline)", pos, truncated=True)
        return self.data[pos:end], end + 1

    def read(self, pos: int, n: int) -> bytes:
        """``n`` bytes at ``pos`` (the stream must hold them)."""
        if n < 0 or pos + n > len(self.data):
            raise Broken("pickle data was truncated", pos, truncated=n >= 0)
        return self.data[pos : pos + n]

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

    # -- constants ------------------------------------------------------------------------------

    def op_none(self, pos: int) -> int:
        self.stack.append(None)
        return pos

    def op_true(self, pos: int) -> int:
        self.stack.append(True)
        return pos

    def op_false(self, pos: int) -> int:
        self.stack.append(False)
        return pos

    def op_int(self, pos: int) -> int:
        line, after = self.readline(pos)
        if not line:
            raise Broken("pickle exhausted before end of frame", pos)
        try:
            self.stack.append(cpython.load_int(line))
        except ValueError as exc:
            raise Broken(f"could not convert string to int ({exc})", pos - 1) from None
        return after

    def op_long(self, pos: int) -> int:
        line, after = self.readline(pos)
        if not line:
            raise Broken("pickle exhausted before end of frame", pos)
        try:
            self.stack.append(cpython.load_long(line))
        except ValueError as exc:
            raise Broken(f"invalid LONG literal ({exc})", pos - 1) from None
        return after

    def op_float(self, pos: int) -> int:
        line, after = self.readline(pos)
        try:
            self.stack.append(cpython.load_float(line))
        except (ValueError, OverflowError) as exc:
            raise Broken(f"could not convert string to float ({exc})", pos - 1) from None
        return after

    def op_binint(self, pos: int) -> int:
        try:
            self.stack.append(_I4.unpack_from(self.data, pos)[0])
        except struct.error:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        return pos + 4

    def op_binint1(self, pos: int) -> int:
        try:
            self.stack.append(self.data[pos])
        except IndexError:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        return pos + 1

    def op_binint2(self, pos: int) -> int:
        try:
            self.stack.append(_H.unpack_from(self.data, pos)[0])
        except struct.error:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        return pos + 2

    def op_long1(self, pos: int) -> int:
        n = self.read(pos, 1)[0]
        self.stack.append(int.from_bytes(self.read(pos + 1, n), "little", signed=True))
        return pos + 1 + n

    def op_long4(self, pos: int) -> int:
        n: int = _I4.unpack(self.read(pos, 4))[0]
        if n < 0:
            raise Broken("LONG pickle has negative byte count", pos - 1)
        self.stack.append(int.from_bytes(self.read(pos + 4, n), "little", signed=True))
        return pos + 4 + n

    def op_binfloat(self, pos: int) -> int:
        self.stack.append(_D.unpack(self.read(pos, 8))[0])
        return pos + 8

    def op_string(self, pos: int) -> int:
        line, after = self.readline(pos)
        try:
            raw = cpython.load_string(line)
        except ValueError as exc:
            raise Broken(str(exc), pos - 1) from None
        self.stack.append(raw.decode("latin-1"))
        return after

    def counted_string(self, pos: int, n: int, width: int) -> int:
        """BINSTRING, SHORT_BINSTRING: Python 2 ``str``; decoded as latin-1 (the loader's
        encoding can only make it fail, never make it run more)."""
        self.stack.append(self.read(pos + width, n).decode("latin-1"))
        return pos + width + n

    def op_binstring(self, pos: int) -> int:
        (n,) = _I4.unpack(self.read(pos, 4))
        if n < 0:
            raise Broken("BINSTRING pickle has negative byte count", pos - 1)
        return self.counted_string(pos, n, 4)

    def op_short_binstring(self, pos: int) -> int:
        return self.counted_string(pos, self.read(pos, 1)[0], 1)

    def op_unicode(self, pos: int) -> int:
        line, after = self.readline(pos)
        try:
            self.stack.append(line.decode("raw_unicode_escape"))
        except UnicodeDecodeError as exc:
            raise Broken(f"UNICODE text is invalid ({exc.reason})", pos - 1) from None
        return after

    def text(self, pos: int, n: int, width: int) -> int:
        start = pos + width
        if start + n > len(self.data):
            raise Broken("pickle data was truncated", pos, truncated=True)
        try:
            self.stack.append(self.data[start : start + n].decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError as exc:
            raise Broken(f"text is not UTF-8 ({exc.reason})", pos - 1) from None
        return pos + width + n

    def op_binunicode(self, pos: int) -> int:
        try:
            (n,) = _U4.unpack_from(self.data, pos)
        except struct.error:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        return self.text(pos, n, 4)

    def op_short_binunicode(self, pos: int) -> int:
        return self.text(pos, self.read(pos, 1)[0], 1)

    def op_binunicode8(self, pos: int) -> int:
        return self.text(pos, _U8.unpack(self.read(pos, 8))[0], 8)

    def binary(self, pos: int, n: int, width: int, *, mutable: bool = False) -> int:
        raw = self.read(pos + width, n)
        self.found_bytes(pos - 1, raw)
        self.stack.append(bytearray(raw) if mutable else raw)
        return pos + width + n

    def op_binbytes(self, pos: int) -> int:
        return self.binary(pos, _U4.unpack(self.read(pos, 4))[0], 4)

    def op_short_binbytes(self, pos: int) -> int:
        return self.binary(pos, self.read(pos, 1)[0], 1)

    def op_binbytes8(self, pos: int) -> int:
        return self.binary(pos, _U8.unpack(self.read(pos, 8))[0], 8)

    def op_bytearray8(self, pos: int) -> int:
        return self.binary(pos, _U8.unpack(self.read(pos, 8))[0], 8, mutable=True)

    def op_next_buffer(self, pos: int) -> int:
        raise Broken("pickle stream refers to out-of-band data but no buffers were given", pos - 1)

    def op_readonly_buffer(self, pos: int) -> int:
        if len(self.stack) <= self.fence:
            raise Broken("unpickling stack underflow", pos - 1)
        top = self.stack[-1]
        if type(top) in (str, int, float, bool, tuple, SymList, SymDict, SymSet) or top is None:
            raise Broken("a bytes-like object is required", pos - 1)
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

    # -- memo -----------------------------------------------------------------------------------

    def memo_put(self, index: int, pos: int) -> None:
        stack = self.stack
        if len(stack) <= self.fence:
            raise Broken("unpickling stack underflow", pos)
        if index > self.max_memo:
            raise LimitExceeded("pickle memo index", self.max_memo, index)
        self.memo[index] = stack[-1]

    def memo_get(self, index: int, pos: int) -> None:
        try:
            self.stack.append(self.memo[index])
        except KeyError:
            raise Broken(f"Memo value not found at index {index}", pos) from None

    def op_put(self, pos: int) -> int:
        line, after = self.readline(pos)
        try:
            index = cpython.load_memo_index(line)
        except ValueError as exc:
            raise Broken(str(exc), pos - 1) from None
        self.memo_put(index, pos - 1)
        return after

    def op_binput(self, pos: int) -> int:
        try:
            self.memo_put(self.data[pos], pos - 1)
        except IndexError:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        return pos + 1

    def op_long_binput(self, pos: int) -> int:
        try:
            (index,) = _U4.unpack_from(self.data, pos)
        except struct.error:
            raise Broken("pickle data was truncated", pos, truncated=True) from None
        self.memo_put(index, pos - 1)
        return pos + 4

    def op_memoize(self, pos: int) -> int:
        if len(self.memo) >= self.limits.max_memo:
            raise LimitExceeded("pickle memo size", self.limits.max_memo, len(self.memo) + 1)
        self.memo_put(len(self.memo), pos - 1)
        return pos

    def op_get(self, pos: int) -> int:
        line, after = self.readline(pos)
        try:
            index = cpython.load_memo_index(line)
        except ValueError as exc:
            raise Broken(str(exc), pos - 1) from None
        self.memo_get(index, pos - 1)
        return after

    def op_binget(self, pos: int) -> int:
        try:
            self.stack.append(self.memo[self.data[pos]])
        except (KeyError, IndexError):
            self.memo_get(self.read(pos, 1)[0], pos - 1)
        return pos + 1

    def op_long_binget(self, pos: int) -> int:
        try:
            self.stack.append(self.memo[_U4.unpack_from(self.data, pos)[0]])
        except (KeyError, struct.error):
            self.memo_get(_U4.unpack(self.read(pos, 4))[0], pos - 1)
        return pos + 4

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


#: Opcode byte -> the :class:`Machine` method that executes it (CPython ``Lib/pickle.py``
#: names); any other byte is "invalid load key".
_OPCODES: dict[int, str] = {
    0x80: "op_proto",
    0x95: "op_frame",
    ord("."): "op_stop",
    ord("("): "op_mark",
    ord("0"): "op_pop",
    ord("1"): "op_pop_mark",
    ord("2"): "op_dup",
    ord("N"): "op_none",
    0x88: "op_true",
    0x89: "op_false",
    ord("I"): "op_int",
    ord("L"): "op_long",
    ord("F"): "op_float",
    ord("J"): "op_binint",
    ord("K"): "op_binint1",
    ord("M"): "op_binint2",
    0x8A: "op_long1",
    0x8B: "op_long4",
    ord("G"): "op_binfloat",
    ord("S"): "op_string",
    ord("T"): "op_binstring",
    ord("U"): "op_short_binstring",
    ord("V"): "op_unicode",
    ord("X"): "op_binunicode",
    0x8C: "op_short_binunicode",
    0x8D: "op_binunicode8",
    ord("B"): "op_binbytes",
    ord("C"): "op_short_binbytes",
    0x8E: "op_binbytes8",
    0x96: "op_bytearray8",
    0x97: "op_next_buffer",
    0x98: "op_readonly_buffer",
    ord(")"): "op_empty_tuple",
    ord("t"): "op_tuple",
    0x85: "op_tuple1",
    0x86: "op_tuple2",
    0x87: "op_tuple3",
    ord("]"): "op_empty_list",
    ord("l"): "op_list",
    ord("}"): "op_empty_dict",
    ord("d"): "op_dict",
    0x8F: "op_empty_set",
    0x91: "op_frozenset",
    ord("a"): "op_append",
    ord("e"): "op_appends",
    ord("s"): "op_setitem",
    ord("u"): "op_setitems",
    0x90: "op_additems",
    ord("p"): "op_put",
    ord("q"): "op_binput",
    ord("r"): "op_long_binput",
    0x94: "op_memoize",
    ord("g"): "op_get",
    ord("h"): "op_binget",
    ord("j"): "op_long_binget",
    ord("c"): "op_global",
    0x93: "op_stack_global",
    ord("i"): "op_inst",
    ord("o"): "op_obj",
    0x82: "op_ext1",
    0x83: "op_ext2",
    0x84: "op_ext4",
    ord("R"): "op_reduce",
    0x81: "op_newobj",
    0x92: "op_newobj_ex",
    ord("b"): "op_build",
    ord("P"): "op_persid",
    ord("Q"): "op_binpersid",
}

#: Opcode byte -> name, for messages and tests.
OPCODE_NAMES = {code: method[3:].upper() for code, method in _OPCODES.items()}

#: Opcode byte -> the unbound :class:`Machine` method executing it.
TABLE: list[Handler | None] = [None] * 256
for _code, _method in _OPCODES.items():
    TABLE[_code] = getattr(Machine, _method)
