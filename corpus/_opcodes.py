"""A tiny pickle-opcode assembler for the corpus generator.

Malicious samples are written opcode by opcode so that nothing attacker-shaped is ever
produced by (or fed to) a real pickler or unpickler.  ``Asm`` appends opcodes and
returns itself, so a sample reads top to bottom in the order a loader would execute it:

    Asm(2).global_("os", "system").text("echo pthforensics-corpus").tuple1().reduce().stop()

Opcode bytes and argument encodings follow CPython ``Lib/pickle.py`` and
``Lib/pickletools.py`` (protocols 0-5).  ``check`` runs ``pickletools.dis`` on a stream:
it only decodes opcodes and tracks the symbolic stack, it never resolves a global.
"""

from __future__ import annotations

import io
import pickletools
import struct
from typing import Any

__all__ = ["Asm", "check"]


class Asm:
    """Append-only pickle opcode stream; every method returns ``self``."""

    def __init__(self, protocol: int | None = 2) -> None:
        self._buf = bytearray()
        self.protocol = protocol if protocol is not None else 0
        if protocol is not None and protocol >= 2:
            self.proto(protocol)

    # -- framing --------------------------------------------------------------
    @property
    def data(self) -> bytes:
        """The bytes assembled so far."""
        return bytes(self._buf)

    def raw(self, data: bytes) -> Asm:
        """Append bytes as they are (for garbage, truncation, hand-written text pickles)."""
        self._buf += data
        return self

    def proto(self, n: int) -> Asm:
        self._buf += b"\x80" + bytes([n])
        return self

    def frame(self, size: int) -> Asm:
        self._buf += b"\x95" + struct.pack("<Q", size)
        return self

    def stop(self) -> Asm:
        self._buf += b"."
        return self

    # -- constants ------------------------------------------------------------
    def none(self) -> Asm:
        self._buf += b"N"
        return self

    def boolean(self, value: bool) -> Asm:
        if self.protocol >= 2:
            self._buf += b"\x88" if value else b"\x89"
        else:
            self._buf += b"I01\n" if value else b"I00\n"
        return self

    def integer(self, value: int) -> Asm:
        if self.protocol == 0:
            self._buf += b"I%d\n" % value
        elif 0 <= value < 0x100:
            self._buf += b"K" + bytes([value])
        elif 0 <= value < 0x10000:
            self._buf += b"M" + struct.pack("<H", value)
        elif -(2**31) <= value < 2**31:
            self._buf += b"J" + struct.pack("<i", value)
        else:
            n = (value.bit_length() + 8) // 8
            self._buf += b"\x8a" + bytes([n]) + value.to_bytes(n, "little", signed=True)
        return self

    def double(self, value: float) -> Asm:
        self._buf += b"G" + struct.pack(">d", value)
        return self

    def text(self, value: str) -> Asm:
        """A text string: SHORT_BINUNICODE/BINUNICODE, or protocol-0 UNICODE."""
        raw = value.encode("utf-8")
        if self.protocol == 0:
            escaped = value.encode("raw-unicode-escape")
            self._buf += b"V" + escaped + b"\n"
        elif self.protocol >= 4 and len(raw) < 256:
            self._buf += b"\x8c" + bytes([len(raw)]) + raw
        else:
            self._buf += b"X" + struct.pack("<I", len(raw)) + raw
        return self

    def string(self, value: str) -> Asm:
        """A protocol-0 ``S'...'`` string (py2 ``str``)."""
        self._buf += b"S" + repr(value).encode("ascii") + b"\n"
        return self

    def binary(self, value: bytes) -> Asm:
        """SHORT_BINBYTES/BINBYTES (protocol 3+)."""
        if len(value) < 256:
            self._buf += b"C" + bytes([len(value)]) + value
        else:
            self._buf += b"B" + struct.pack("<I", len(value)) + value
        return self

    def value(self, obj: Any) -> Asm:
        """Push a plain literal: None, bool, int, float, str, bytes, tuple, list, dict."""
        if obj is None:
            return self.none()
        if isinstance(obj, bool):
            return self.boolean(obj)
        if isinstance(obj, int):
            return self.integer(obj)
        if isinstance(obj, float):
            return self.double(obj)
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, bytes):
            return self.binary(obj)
        if isinstance(obj, tuple):
            return self.tuple_of(*obj)
        if isinstance(obj, list):
            self.empty_list()
            if obj:
                self.mark()
                for item in obj:
                    self.value(item)
                self.appends()
            return self
        if isinstance(obj, dict):
            self.empty_dict()
            if obj:
                self.mark()
                for key, item in obj.items():
                    self.value(key).value(item)
                self.setitems()
            return self
        raise TypeError(f"no literal encoding for {type(obj).__name__}")

    # -- containers -----------------------------------------------------------
    def mark(self) -> Asm:
        self._buf += b"("
        return self

    def empty_tuple(self) -> Asm:
        self._buf += b")"
        return self

    def tuple(self) -> Asm:
        self._buf += b"t"
        return self

    def tuple1(self) -> Asm:
        self._buf += b"\x85"
        return self

    def tuple2(self) -> Asm:
        self._buf += b"\x86"
        return self

    def tuple3(self) -> Asm:
        self._buf += b"\x87"
        return self

    def tuple_of(self, *items: Any) -> Asm:
        """Push ``tuple(items)`` with the shortest opcode the protocol allows."""
        if not items:
            return self.empty_tuple()
        if self.protocol >= 2 and len(items) <= 3:
            for item in items:
                self.value(item)
            return (self.tuple1, self.tuple2, self.tuple3)[len(items) - 1]()
        self.mark()
        for item in items:
            self.value(item)
        return self.tuple()

    def empty_list(self) -> Asm:
        self._buf += b"]"
        return self

    def empty_dict(self) -> Asm:
        self._buf += b"}"
        return self

    def append(self) -> Asm:
        self._buf += b"a"
        return self

    def appends(self) -> Asm:
        self._buf += b"e"
        return self

    def setitem(self) -> Asm:
        self._buf += b"s"
        return self

    def setitems(self) -> Asm:
        self._buf += b"u"
        return self

    def pop(self) -> Asm:
        self._buf += b"0"
        return self

    def pop_mark(self) -> Asm:
        self._buf += b"1"
        return self

    def dup(self) -> Asm:
        self._buf += b"2"
        return self

    # -- memo -----------------------------------------------------------------
    def put(self, index: int) -> Asm:
        """PUT (text), BINPUT or LONG_BINPUT depending on protocol and index."""
        if self.protocol == 0:
            self._buf += b"p%d\n" % index
        elif index < 256:
            self._buf += b"q" + bytes([index])
        else:
            self._buf += b"r" + struct.pack("<I", index)
        return self

    def get(self, index: int) -> Asm:
        """GET (text), BINGET or LONG_BINGET."""
        if self.protocol == 0:
            self._buf += b"g%d\n" % index
        elif index < 256:
            self._buf += b"h" + bytes([index])
        else:
            self._buf += b"j" + struct.pack("<I", index)
        return self

    def memoize(self) -> Asm:
        """MEMOIZE (protocol 4): store the top of stack at the next memo index."""
        self._buf += b"\x94"
        return self

    # -- globals and calls ----------------------------------------------------
    def global_(self, module: str, name: str) -> Asm:
        """GLOBAL: ``c<module>\\n<name>\\n`` (any protocol)."""
        self._buf += b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        return self

    def stack_global(self, module: str | None = None, name: str | None = None) -> Asm:
        """STACK_GLOBAL (protocol 4); pushes ``module`` and ``name`` first when given."""
        if module is not None and name is not None:
            self.text(module).text(name)
        self._buf += b"\x93"
        return self

    def inst(self, module: str, name: str) -> Asm:
        """INST: call ``module.name(*args since MARK)``."""
        self._buf += b"i" + module.encode() + b"\n" + name.encode() + b"\n"
        return self

    def obj(self) -> Asm:
        """OBJ: ``MARK callable args... OBJ`` calls ``callable(*args)``."""
        self._buf += b"o"
        return self

    def ext1(self, code: int) -> Asm:
        self._buf += b"\x82" + bytes([code])
        return self

    def ext2(self, code: int) -> Asm:
        self._buf += b"\x83" + struct.pack("<H", code)
        return self

    def ext4(self, code: int) -> Asm:
        self._buf += b"\x84" + struct.pack("<i", code)
        return self

    def reduce(self) -> Asm:
        self._buf += b"R"
        return self

    def build(self) -> Asm:
        self._buf += b"b"
        return self

    def newobj(self) -> Asm:
        self._buf += b"\x81"
        return self

    def newobj_ex(self) -> Asm:
        self._buf += b"\x92"
        return self

    def persid(self, pid: str) -> Asm:
        self._buf += b"P" + pid.encode("ascii") + b"\n"
        return self

    def binpersid(self) -> Asm:
        self._buf += b"Q"
        return self

    # -- shorthands -----------------------------------------------------------
    def callable(self, module: str, name: str) -> Asm:
        """Push ``module.name``: GLOBAL below protocol 4, STACK_GLOBAL from 4 on."""
        if self.protocol >= 4:
            return self.stack_global(module, name)
        return self.global_(module, name)

    def call(self, module: str, name: str, *args: Any) -> Asm:
        """Push ``module.name(*args)`` for literal ``args`` (callable, args tuple, REDUCE)."""
        return self.callable(module, name).tuple_of(*args).reduce()


def check(data: bytes) -> None:
    """Decode ``data`` with ``pickletools.dis`` (stack and memo checks only, no imports)."""
    pickletools.dis(data, out=io.StringIO())
