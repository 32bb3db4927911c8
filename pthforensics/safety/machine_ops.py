"""The symbolic machine's constant and memo opcodes (see :mod:`.machine`).

:class:`ValueOps` reads opcode arguments the way ``Modules/_pickle.c`` does (text numbers
through :mod:`.cpython`, counted strings and bytes, buffers) and pushes them;
:class:`MemoOps` stores and fetches memo entries (``MEMOIZE`` at the count of entries,
indices above ``limits.max_memo`` refused).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pthforensics.core import LimitExceeded, Limits

from . import cpython
from .values import Broken, SymDict, SymList, SymSet

__all__ = ["MemoOps", "ValueOps"]

_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_H = struct.Struct("<H")
_D = struct.Struct(">d")


class ValueOps:
    """Reading arguments and pushing constants."""

    data: bytes
    stack: list[Any]
    fence: int

    found_bytes: Callable[[int, bytes], None]  # (CallMixin)

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


class MemoOps:
    """``PUT``/``GET`` and their binary forms, ``MEMOIZE``."""

    data: bytes
    stack: list[Any]
    fence: int
    memo: dict[int, Any]
    max_memo: int
    limits: Limits

    read: Callable[[int, int], bytes]  # (ValueOps)
    readline: Callable[[int], tuple[bytes, int]]

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
