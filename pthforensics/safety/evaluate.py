"""Computing the bytes a few allow-listed constructors return, with the real codecs.

A nested loader (``torch.storage._load_from_bytes``) is only judged when the bytes it gets
are known.  Protocol 2 pickles bytes as ``_codecs.encode(text, "latin1")``; an attacker
may pick another codec (``utf-16-le``: the text then does not look like the bytes) or
build them with ``bytes([...])`` / ``bytearray([...])``.  These functions compute the
result exactly as CPython would, for the codecs that only transform text (a fixed list:
looking up any other name would import an ``encodings`` module chosen by the file).
``None`` means "cannot be known here": the caller then treats the nested load as unknown.

Sources: CPython ``Modules/_codecsmodule.c`` (``encode(obj, encoding='utf-8',
errors='strict')``), ``Lib/encodings/__init__.py`` (``normalize_encoding``),
``Lib/encodings/aliases.py``, ``Objects/bytesobject.c`` (``bytes()`` arguments).
"""

from __future__ import annotations

from encodings.aliases import aliases
from typing import Any

__all__ = ["MAX_EVALUATED", "codec_encode", "evaluate_bytes"]

#: Largest result computed (larger results are "unknown": ``bytes(10**12)`` is a value).
MAX_EVALUATED = 64 << 20

#: Codecs (canonical ``encodings`` module names) evaluated: str -> bytes transforms.
_TEXT_CODECS = frozenset(
    {
        "utf_8",
        "utf_8_sig",
        "latin_1",
        "ascii",
        "utf_16",
        "utf_16_le",
        "utf_16_be",
        "utf_32",
        "utf_32_le",
        "utf_32_be",
        "utf_7",
        "cp1252",
        "cp437",
        "raw_unicode_escape",
        "unicode_escape",
    }
)
#: bytes -> bytes codecs evaluated (encoding direction only: no decompression).
_BINARY_CODECS = frozenset(
    {"hex_codec", "base64_codec", "quopri_codec", "uu_codec", "zlib_codec", "bz2_codec"}
)
_ERRORS = frozenset(
    {
        "strict",
        "ignore",
        "replace",
        "surrogatepass",
        "surrogateescape",
        "backslashreplace",
        "xmlcharrefreplace",
        "namereplace",
    }
)


def _canonical(encoding: str) -> str:
    """``encodings.normalize_encoding`` then the alias table, as the codec search does."""
    chars: list[str] = []
    punct = False
    for c in encoding.lower().replace(" ", "-"):
        if c.isalnum() or c == ".":
            if punct and chars:
                chars.append("_")
            if c.isascii():
                chars.append(c)
            punct = False
        else:
            punct = True
    norm = "".join(chars)
    return aliases.get(norm) or aliases.get(norm.replace(".", "_")) or norm


def codec_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes | None:
    """``_codecs.encode(obj, encoding, errors)`` for a known codec, else ``None``."""
    if type(encoding) is not str or type(errors) is not str or errors not in _ERRORS:
        return None
    name = _canonical(encoding)
    try:
        if type(obj) is str and name in _TEXT_CODECS and len(obj) <= MAX_EVALUATED // 4:
            return obj.encode(name, errors)
        if (
            type(obj) in (bytes, bytearray)
            and name in _BINARY_CODECS
            and len(obj) <= MAX_EVALUATED // 4
        ):
            import codecs  # noqa: PLC0415 - only for these rare codecs

            encoder: Any = codecs.lookup(name).encode
            return bytes(encoder(bytes(obj), errors)[0])
    except (UnicodeError, ValueError, LookupError, TypeError):
        return None
    return None


def _items(value: Any) -> list[Any] | None:
    if isinstance(value, tuple | list):  # tuples and the machine's lists
        return list(value)
    return None


def evaluate_bytes(module: str, name: str, args: Any) -> bytes | None:
    """The bytes ``module.name(*args)`` returns (a :data:`~.calls.BYTES_BUILDERS` entry),
    or ``None`` when the arguments are not all known values."""
    if type(args) is not tuple:
        return None
    if name == "encode":
        if not args:
            return None
        return codec_encode(*args[:3])
    if len(args) == 0:
        return b""
    first = args[0]
    if type(first) in (bytes, bytearray):
        return bytes(first) if len(args) == 1 else None
    if type(first) is str:
        return codec_encode(first, *args[1:3]) if len(args) >= 2 else None
    if type(first) is int:
        return bytes(first) if 0 <= first <= MAX_EVALUATED and len(args) == 1 else None
    items = _items(first)
    if items is None or len(items) > MAX_EVALUATED or len(args) != 1:
        return None
    if all(type(i) is int and 0 <= i < 256 for i in items):
        return bytes(items)
    return None
