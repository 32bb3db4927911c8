"""Low-level pickle opcode helpers shared by ``container`` and ``static_scan``.

Nothing here builds objects: it only decodes opcodes with :mod:`pickletools` to
find where a stream ends or whether bytes look like a pickle at all.
"""

from __future__ import annotations

import pickletools

__all__ = [
    "PICKLE_TEXT_START",
    "GlobalConst",
    "looks_like_nested",
    "looks_like_pickle",
    "maybe_pickle",
    "simple_values",
]

#: First characters of text that can be a latin-1 encoded pickle (protocol 2 pickles bytes
#: as ``_codecs.encode(text, "latin1")``).
PICKLE_TEXT_START = frozenset("\x80(]}cdeghijlopqrstuNKJIMFGSUVX")

_PROTOCOL_MAGIC = frozenset(range(2, 6))
_PICKLE_FIRST_BYTES = frozenset(b"(]})NKJIMFGSUVXcdeghijlopqrstuN\x80\x88\x89\x8a\x8c\x8d\x8e\x95")


def maybe_pickle(raw: bytes | bytearray) -> bool:
    """Cheap pre-filter: a protocol 2+ header, or protocol 0/1 text with a newline early
    (GLOBAL/INST/STRING arguments end in one); everything else cannot start a pickle that
    names a global."""
    if len(raw) < 8:
        return False
    if raw[:4] == b"PK\x03\x04":
        return True  # a torch zip, as torch.storage._load_from_bytes embeds one
    if raw[0] == 0x80:
        return 2 <= raw[1] <= 5
    return b"\n" in raw[:512]


def looks_like_nested(data: bytes) -> bool:
    """Whether embedded bytes are worth a nested scan: a pickle, or a torch zip archive."""
    return data[:4] == b"PK\x03\x04" or looks_like_pickle(data[:4096])


def looks_like_pickle(data: bytes | memoryview) -> bool:
    """Sniff: a protocol 2+ header, or protocol 0/1 opcodes that a loader would act on.

    Text files decode as opcodes too (``import os`` is INST, ``cat`` a GLOBAL), so for
    protocol 0/1 the window (4 KiB) must either reach ``STOP``, or name an importable global
    and use it (a call or ``BUILD``) before any decoding error, or decode to its very end
    (a long valid opcode run: padding before a payload).  Globals whose module or name are
    not dotted identifiers cannot be imported by a loader, so they mark text, not pickles.
    """
    if len(data) >= 2 and data[0] == 0x80 and data[1] in _PROTOCOL_MAGIC:
        return True
    if not data or data[0] not in _PICKLE_FIRST_BYTES:
        return False
    window = bytes(data[:4096])
    named = used = False
    ops = last = 0
    try:
        for op, arg, pos in pickletools.genops(window):
            ops, last = ops + 1, pos or 0
            name = op.name
            if name == "STOP":
                return True
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                if not (_dotted(module) and _dotted(attr)):
                    return False
                named = True
                used = used or name == "INST"
            elif name in ("REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD") and named:
                used = True
    except Exception:  # noqa: BLE001 - where decoding stops decides, below
        if named and used:
            return True  # a payload followed by garbage still runs
        return ops >= 32 and last + 512 >= len(window)  # the window ran out, not the opcodes
    return ops >= 32 or named


def _dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


_STRING_OPS = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
    }
)
_INT_OPS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})


class GlobalConst(str):
    """A ``module.name`` named by GLOBAL/STACK_GLOBAL inside :func:`simple_values`."""

    __slots__ = ()


def simple_values(
    data: bytes, max_ops: int = 50_000_000
) -> tuple[object, list[tuple[object, ...]], int | None]:
    """Evaluate the constant part of a small pickle without building any object.

    Strings, ints, floats, ``None``, bools, tuples, lists and globals (as
    :class:`GlobalConst`) are tracked through the stack and memo; anything else is
    ``None``.  Returns the top of the stack at ``STOP`` and every persistent id tuple
    (``BINPERSID``/``PERSID``) in order.  Used to read the small header pickles of the
    legacy formats (storage keys, storage arguments) and their persistent ids.
    """
    stack: list[object] = []
    marks: list[list[object]] = []
    memo: dict[int, object] = {}
    pids: list[tuple[object, ...]] = []
    result: object = None
    end: int | None = None
    try:
        ops = pickletools.genops(data)
        for count, (op, arg, pos) in enumerate(ops):
            if count > max_ops:
                break
            name = op.name
            if name == "STOP":
                result = stack[-1] if stack else None
                end = (pos or 0) + 1
                break
            stack, marks = _simple_step(name, arg, stack, marks, memo, pids)
    except Exception:  # noqa: BLE001 - a broken stream: what was read so far stands
        return result, pids, None
    return result, pids, end


def _simple_step(
    name: str,
    arg: object,
    stack: list[object],
    marks: list[list[object]],
    memo: dict[int, object],
    pids: list[tuple[object, ...]],
) -> tuple[list[object], list[list[object]]]:
    """One opcode of :func:`simple_values`; returns the (possibly replaced) stack."""
    if name == "MARK":
        marks.append(stack)
        stack = []
    elif name in _STRING_OPS:
        stack.append(arg.decode("latin1") if isinstance(arg, bytes) else str(arg))
    elif name in _INT_OPS or name in ("BINFLOAT", "FLOAT"):
        stack.append(arg)
    elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
        stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
    elif name == "GLOBAL":
        stack.append(GlobalConst(str(arg).replace(" ", ".", 1)))
    elif name == "STACK_GLOBAL":
        attr, module = (stack.pop() if stack else None), (stack.pop() if stack else None)
        stack.append(GlobalConst(f"{module}.{attr}"))
    elif name in ("TUPLE", "LIST"):
        items = stack
        stack = marks.pop() if marks else []
        stack.append(tuple(items) if name == "TUPLE" else list(items))
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        n = int(name[-1])
        items, stack[-n:] = stack[-n:], []
        stack.append(tuple(items))
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name == "EMPTY_LIST":
        stack.append([])
    elif name in ("APPEND", "APPENDS"):
        items = stack[-1:] if name == "APPEND" else stack
        if name == "APPEND":
            del stack[-1:]
        if name == "APPENDS":
            stack = marks.pop() if marks else []
        if stack and isinstance(stack[-1], list):
            stack[-1].extend(items)
    elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
        memo[_index(arg)] = stack[-1] if stack else None
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1] if stack else None
    elif name in ("BINGET", "LONG_BINGET", "GET"):
        stack.append(memo.get(_index(arg)))
    elif name in ("BINPERSID", "PERSID"):
        pid = stack.pop() if name == "BINPERSID" and stack else arg
        pids.append(pid if isinstance(pid, tuple) else (pid,))
        stack.append(None)
    elif name in ("PROTO", "FRAME"):
        pass
    elif name in ("POP",):
        if stack:
            stack.pop()
    elif name == "DUP":
        stack.append(stack[-1] if stack else None)
    elif name in ("REDUCE", "SETITEM"):
        del stack[-2:]
        if name == "REDUCE":
            stack.append(None)
    elif name == "BUILD":
        del stack[-1:]
    elif name in ("SETITEMS", "POP_MARK"):
        stack = marks.pop() if marks else []
    elif name in ("DICT",):
        stack = marks.pop() if marks else []
        stack.append(None)
    else:
        stack.append(None)
    return stack, marks


def _index(arg: object) -> int:
    """A memo index argument (pickletools decodes them as ints, PUT/GET as text)."""
    return int(arg) if isinstance(arg, int | str) else -1
