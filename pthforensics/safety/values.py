"""What the symbolic machine keeps on its stack: constants as themselves, containers and
the things a real loader would build as small records that build nothing.

* constants (``None``, bools, ints, floats, ``str``, ``bytes``, ``bytearray``) and tuples are
  plain Python values: they are data whatever the file says;
* :class:`SymList`, :class:`SymDict`, :class:`SymSet` are containers (their items are other
  values; a dict is a list of pairs, so keys need not be hashable here);
* :class:`GlobalRef` is a global the loader resolved (an index into the stream's uses);
* :class:`Result` is what a call returned (its :class:`CallSite` says what was called, with
  which arguments, and what kind of object the call is known to return);
* :class:`Persistent` is what ``persistent_load`` returned for a persistent id.

Kinds (:data:`KIND_DICT`...) say what CPython would do with a value: call it, append to it,
use it as an argument tuple.  ``None`` means "not known": the machine then assumes the
operation succeeds, as the loader might.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Broken",
    "KIND_BYTES",
    "KIND_DICT",
    "KIND_IMMUTABLE",
    "KIND_LIST",
    "KIND_PARTIAL",
    "KIND_SET",
    "KIND_TENSOR",
    "KIND_TUPLE",
    "NOT_CALLABLE",
    "CallSite",
    "GlobalRef",
    "Persistent",
    "Result",
    "SymDict",
    "SymList",
    "Stop",
    "SymSet",
    "kind_of",
]


class Broken(Exception):
    """CPython's unpickler raises here: what follows never runs."""

    def __init__(self, message: str, offset: int, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.truncated = truncated
        """The stream ended (or the window did) inside an opcode."""


class Stop(Exception):
    """``STOP``: the loader returns ``value``; the stream ends at ``end``."""

    def __init__(self, value: object, end: int) -> None:
        super().__init__("STOP")
        self.value = value
        self.end = end


KIND_DICT = "dict"
KIND_LIST = "list"
KIND_SET = "set"
KIND_TUPLE = "tuple"
"""A tuple or a tuple subclass (``torch.Size``): a valid argument tuple."""
KIND_IMMUTABLE = "immutable"
"""str, int, float, bytes, frozenset, range, slice, dtype... (no item assignment, not
callable, no ``append``)."""
KIND_TENSOR = "tensor"
KIND_BYTES = "bytes"
KIND_PARTIAL = "partial"
"""A ``functools.partial``: calling it calls its first argument."""

#: Kinds whose objects CPython cannot call (``REDUCE`` on them raises ``TypeError``).
NOT_CALLABLE = frozenset(
    {KIND_DICT, KIND_LIST, KIND_SET, KIND_TUPLE, KIND_IMMUTABLE, KIND_TENSOR, KIND_BYTES}
)


class SymList(list[Any]):
    """A list the stream built (``EMPTY_LIST``/``LIST``)."""

    __slots__ = ()


class SymDict(list[tuple[Any, Any]]):
    """A dict the stream built, as its (key, value) pairs in insertion order."""

    __slots__ = ()

    def get_text(self, key: str) -> Any:
        """The last value stored under the constant ``key`` (``None`` when absent)."""
        found = None
        for k, v in self:
            if type(k) is str and k == key:
                found = v
        return found


class SymSet(list[Any]):
    """A set (``EMPTY_SET``) or, with ``frozen``, a frozenset (``FROZENSET``)."""

    __slots__ = ("frozen",)

    def __init__(self, items: list[Any] | None = None, *, frozen: bool = False) -> None:
        super().__init__(items or ())
        self.frozen = frozen


class GlobalRef:
    """A global as the loader resolved it: index into the stream's global uses."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


@dataclass(slots=True)
class CallSite:
    """One call the loader makes (directly by an opcode, or inside a function it called)."""

    offset: int
    how: str
    """``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``... or ``via module.name`` when an
    allow-listed function calls what it was given."""
    func: Any
    args: Any
    use: int | None = None
    """Index of the global called, when the callable is a global."""
    kind: str | None = None
    """What the call is known to return (see the module docstring)."""
    value: Any = None
    """The returned value when the machine can compute it (bytes constructors)."""
    held: list[Any] | None = None
    """What the loader stored into the returned object afterwards (``BUILD`` states, items
    of ``APPEND(S)``/``SETITEM(S)``/``ADDITEMS``): reachable from it, as in the real one."""

    def hold(self, values: list[Any]) -> None:
        """Record values stored into the returned object."""
        if self.held is None:
            self.held = []
        self.held.extend(values)


class Result:
    """What a call returned."""

    __slots__ = ("site",)

    def __init__(self, site: CallSite) -> None:
        self.site = site


class Persistent:
    """What ``persistent_load`` returned for ``pid`` (a storage, or for a legacy
    ``('module', cls, ...)`` id the class itself)."""

    __slots__ = ("offset", "pid")

    def __init__(self, pid: Any, offset: int) -> None:
        self.pid = pid
        self.offset = offset


_CONSTANT_KINDS: dict[type, str] = {
    str: KIND_IMMUTABLE,
    int: KIND_IMMUTABLE,
    bool: KIND_IMMUTABLE,
    float: KIND_IMMUTABLE,
    type(None): KIND_IMMUTABLE,
    bytes: KIND_BYTES,
    bytearray: KIND_BYTES,
    tuple: KIND_TUPLE,
    SymList: KIND_LIST,
    SymDict: KIND_DICT,
}


def kind_of(value: Any) -> str | None:
    """The kind of a stack value (``None``: unknown, as for globals and most results)."""
    kind = _CONSTANT_KINDS.get(type(value))
    if kind is not None:
        return kind
    if type(value) is SymSet:
        return KIND_IMMUTABLE if value.frozen else KIND_SET
    if type(value) is Result:
        return value.site.kind
    return None
