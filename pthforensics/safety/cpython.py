"""How CPython's C unpickler reads the text arguments of protocol 0 opcodes.

``pickletools`` parses ``INT``/``LONG`` text with ``int(x)`` (base 10); ``Modules/_pickle.c``
uses C's ``strtol(s, &end, 0)`` and falls back to ``PyLong_FromString(s, NULL, 0)``, so
``I0x10``, ``I010`` (octal 8), ``I0o7`` and ``L0x1fL`` are valid pickles that a
pickletools-based scanner stops at.  Each function here reproduces one C routine on the
bytes of an opcode's line (without its ``\\n``) and returns the value CPython computes,
or raises :class:`ValueError` where CPython raises.

Sources: CPython 3.11 ``Modules/_pickle.c`` (``load_int``, ``load_long``, ``load_float``,
``load_string``, ``load_put``/``load_get``), ``Objects/longobject.c``
(``PyLong_FromString``), ``Python/pystrtod.c`` (``PyOS_string_to_double``), ISO C
``strtol`` (7.22.1.4).
"""

from __future__ import annotations

import codecs
import math
import re

__all__ = ["load_float", "load_int", "load_long", "load_memo_index", "load_string"]

#: C ``isspace`` in the "C" locale.
_C_SPACE = b" \t\n\v\f\r"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1  # C long on LP64 (Linux, macOS)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_FLOAT = re.compile(
    rb"[+-]?(?:(?:inf(?:inity)?|nan)|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", re.IGNORECASE
)


def _c_string(line: bytes) -> bytes:
    """The line as C sees it: up to the first NUL."""
    nul = line.find(b"\0")
    return line if nul < 0 else line[:nul]


def _strtol(text: bytes) -> tuple[int, int, bool]:
    """C ``strtol(text, &end, 0)``: (value, index of ``end``, overflowed)."""
    i, n = 0, len(text)
    while i < n and text[i] in _C_SPACE:
        i += 1
    sign = 1
    if i < n and text[i] in b"+-":
        sign = -1 if text[i] == 0x2D else 1
        i += 1
    base, digits = 10, b"0123456789"
    if text[i : i + 1] == b"0":
        if text[i + 1 : i + 2] in (b"x", b"X") and i + 2 < n and text[i + 2] in _HEX:
            base, digits, i = 16, b"0123456789abcdefABCDEF", i + 2
        else:
            base, digits = 8, b"01234567"
    start = i
    while i < n and text[i] in digits:
        i += 1
    if i == start:
        return 0, 0, False  # no conversion: end is the start of the text
    value = sign * int(text[start:i], base)
    if value > _LONG_MAX or value < _LONG_MIN:
        return 0, i, True
    return value, i, False


def _pylong(text: bytes) -> int:
    """``PyLong_FromString(text, NULL, 0)``: Python literal rules, whole text consumed."""
    if not text.isascii():
        raise ValueError("invalid literal for int() with base 0")
    return int(text.decode("ascii"), 0)


def load_int(line: bytes) -> int | bool:
    """The value of ``I<line>\\n`` (``_pickle.c`` ``load_int``); ``I00``/``I01`` are bools."""
    text = _c_string(line)
    value, end, overflow = _strtol(text)
    if overflow or end != len(text):  # *end is neither the newline nor a NUL
        return _pylong(text)
    if len(line) == 2 and value in (0, 1):  # len == 3 counting the newline
        return bool(value)
    return value


def load_long(line: bytes) -> int:
    """The value of ``L<line>\\n`` (``load_long``: an optional trailing ``L`` is cut)."""
    if line.endswith(b"L"):
        line = line[:-1]
    return _pylong(_c_string(line))


def load_float(line: bytes) -> float:
    """The value of ``F<line>\\n`` (``load_float`` with ``PyOS_string_to_double``)."""
    text = _c_string(line)
    match = _FLOAT.match(text)
    if match is None or match.end() != len(text):
        raise ValueError("could not convert string to float")
    value = float(match.group().decode("ascii"))
    if math.isinf(value) and b"inf" not in match.group().lower():
        raise OverflowError("value too large to convert to float")
    return value


def load_string(line: bytes) -> bytes:
    """The bytes of ``S<line>\\n`` (``load_string``): quoted, backslash escapes decoded."""
    if len(line) < 2 or line[0] != line[-1] or line[0] not in b"'\"":
        raise ValueError("the STRING opcode argument must be quoted")
    return codecs.escape_decode(line[1:-1])[0]


def load_memo_index(line: bytes) -> int:
    """The index of ``PUT``/``GET`` text (``PyLong_FromString(s, NULL, 10)``, no negatives)."""
    text = _c_string(line)
    if not text.isascii():
        raise ValueError("invalid literal for int() with base 10")
    value = int(text.decode("ascii"), 10)
    if value < 0:
        raise ValueError("negative PUT argument")
    return value
