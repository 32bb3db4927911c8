"""Strings from a file made safe to print: control characters escaped.

A file name, zip member, global name or metadata value is chosen by whoever made the file.
Printed raw, a newline splits a table row (a forged line of output), an ANSI escape
sequence recolours or rewrites the terminal, a bidirectional override reorders what is
read.  Text renderers therefore escape every such string: C0 and C1 controls and DEL
(``\\n``, ``\\r``, ``\\t``, else ``\\xNN``), Unicode format and separator characters that
change how text is laid out (bidirectional controls, zero-width characters, line and
paragraph separators, the byte-order mark) as ``\\uNNNN``, and the lone surrogates
Python uses for the bytes of a file name that are not UTF-8 (``\\xNN``, the byte itself).
JSON, JSONL, CSV and SARIF are not escaped: their own quoting keeps the exact string.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

__all__ = ["escape", "escape_record"]

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: ``os.fsdecode`` maps an undecodable byte B to the lone surrogate U+DC00 + B.
_SURROGATE_BYTES = range(0xDC80, 0xDD00)

T = TypeVar("T")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code in _SURROGATE_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control, layout-changing or undecodable character escaped
    (the same object when there is none)."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escaped, text)


def escape_record(value: T) -> T:
    """A copy of ``value`` (a report, a record, a tuple, a dict...) with every string in
    it escaped; enums and numbers as they are.  Renderers escape what they are given
    once, here, so no field can be forgotten."""
    return _walk(value)  # type: ignore[no-any-return]


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value)  # a StrEnum member has no control character: kept as it is
    if isinstance(value, tuple):
        items = [_walk(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, dict):
        return {_walk(k): _walk(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for f in fields(value):
            old = getattr(value, f.name)
            new = _walk(old)
            if new is not old:
                changed[f.name] = new
        return replace(value, **changed) if changed else value
    return value
