"""Restricted unpickling: structure without execution.

:class:`StubUnpickler` subclasses the C ``pickle.Unpickler``.  Its ``find_class``
returns a *stub class* that only records the ``module``/``name`` it stands for,
and its ``persistent_load`` returns a :class:`StorageRef` record, so nothing named
in a file is ever imported or called: ``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ`` and
``BUILD`` can only ever reach :class:`Stub`, whose methods store their arguments.

The object tree that comes out holds plain Python containers, constants,
:class:`Stub` instances (``stub.pf_global`` says which global built them,
``stub.pf_args`` with which arguments) and :class:`StorageRef`s.  Interpreting it
(which stub is a tensor, which dict a state_dict) is the job of the ``structure`` stage.

Sources: CPython ``Modules/_pickle.c`` (what each opcode calls),
``torch/_weights_only_unpickler.py`` (the persistent-id layout).
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from pthforensics.core import PickleDecodeError, PickleStream, new_record

from .calls import BYTES_BUILDERS
from .evaluate import evaluate_bytes
from .reach import MAX_DEPTH, MAX_ITEMS

__all__ = [
    "GlobalName",
    "MappingStub",
    "PersistentRef",
    "PickleTree",
    "Recorder",
    "StorageRef",
    "Stub",
    "StubUnpickler",
    "TensorCall",
    "buffered",
    "find_pickle_values",
    "unpickle_stream",
]

logger = logging.getLogger(__name__)

#: Bytes values shorter than this cannot hold a pickle worth scanning.
_MIN_NESTED = 8


@dataclass(frozen=True, slots=True)
class GlobalName:
    """A global a pickle names: never resolved."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


class StorageRef(NamedTuple):
    """What a ``('storage', type, key, location, numel)`` persistent id names (a named
    tuple: one is made per tensor, on the hot path)."""

    storage_type: GlobalName | None
    """``torch.FloatStorage`` and friends, or ``torch.UntypedStorage`` (bytes)."""
    key: str
    location: str
    numel: int | None
    """Elements (bytes for an untyped storage), as the file declares."""


@dataclass(frozen=True, slots=True)
class PersistentRef:
    """A persistent id of any other shape (kept as data, never resolved)."""

    pid: Any


class Stub:
    """Base of every class ``find_class`` hands out; instances record how they were made."""

    # Slots, no __dict__: a BUILD can only reach __setstate__ below.
    __slots__ = ("pf_args", "pf_items", "pf_kwargs", "pf_list", "pf_state")
    pf_global: ClassVar[GlobalName] = GlobalName("", "")

    pf_args: tuple[Any, ...]
    pf_kwargs: dict[str, Any]
    pf_state: Any
    pf_items: list[tuple[Any, Any]]
    pf_list: list[Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Stub:
        self = object.__new__(cls)
        self.pf_args = args
        self.pf_kwargs = kwargs
        self.pf_state = None
        self.pf_items = []
        self.pf_list = []
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Arguments were recorded by ``__new__`` (``NEWOBJ`` skips ``__init__``)."""

    def __setstate__(self, state: Any) -> None:
        self.pf_state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.pf_items.append((key, value))

    def append(self, value: Any) -> None:
        """Record an ``APPEND`` onto a stub."""
        self.pf_list.append(value)

    def extend(self, values: Any) -> None:
        """Record an ``APPENDS`` onto a stub."""
        self.pf_list.extend(values)

    def __repr__(self) -> str:
        return f"<stub {self.pf_global}>"


class TensorCall(NamedTuple):
    """A call of one of torch's tensor rebuild functions, recorded, never made."""

    fn: GlobalName
    args: tuple[Any, ...]


class Recorder:
    """Stands for an allow-listed ``torch._utils._rebuild_*`` function: calling it records
    the call as a :class:`TensorCall` (lighter than a stub instance: one per tensor)."""

    __slots__ = ("pf_global",)

    def __init__(self, ref: GlobalName) -> None:
        self.pf_global = ref

    def __call__(self, *args: Any) -> TensorCall:
        return new_record(TensorCall, (self.pf_global, args))

    def __setstate__(self, state: Any) -> None:
        """``BUILD`` on a global: refused, so that the stream takes the opcode pass (which
        reports it) instead of the fast path."""
        raise TypeError("BUILD on a global")

    def __repr__(self) -> str:
        return f"<recorder {self.pf_global}>"


class MappingStub(dict[Any, Any]):
    """Stands for ``collections.OrderedDict``: a plain dict (filled by ``SETITEMS`` at C
    speed) that keeps the state a ``BUILD`` gives it (a state_dict's ``_metadata``)."""

    __slots__ = ("pf_state",)
    pf_global: ClassVar[GlobalName] = GlobalName("collections", "OrderedDict")

    def __setstate__(self, state: Any) -> None:
        self.pf_state = state

    def __repr__(self) -> str:
        return f"<stub {self.pf_global} of {len(self)} items>"


@dataclass(frozen=True, slots=True)
class PickleTree:
    """The object tree of one stream, or how far decoding got."""

    stream: str
    root: Any
    """The unpickled object (stubs inside); ``None`` when decoding failed."""
    globals_seen: tuple[GlobalName, ...]
    """Every global ``find_class`` was asked for, in the order a loader meets them."""
    error: str | None = None
    """Why decoding stopped, when it did not reach ``STOP``."""
    end: int | None = None
    """Offset just past ``STOP``."""
    memo_top: int = -1
    """The largest memo index the stream used (``-1``: none); the opcode pass refuses
    indices above ``limits.max_memo``, so the fast path must see them too."""


class StubUnpickler(pickle.Unpickler):
    """A C unpickler that can build nothing but stubs and storage records."""

    def __init__(self, file: io.BufferedIOBase) -> None:
        super().__init__(file, encoding="latin1")
        self.globals_seen: list[GlobalName] = []
        self.storages: list[StorageRef] = []
        self._classes: dict[tuple[str, str], Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        """Return a stub standing for ``module.name``; nothing is imported.

        Torch's tensor rebuild functions get a :class:`Recorder` and ``OrderedDict`` a
        :class:`MappingStub` (both only record); everything else a :class:`Stub` subclass.
        """
        ref = GlobalName(str(module), str(name))
        self.globals_seen.append(ref)
        cls = self._classes.get((ref.module, ref.name))
        if cls is None:
            if ref.module == "torch._utils" and ref.name.startswith("_rebuild_"):
                cls = Recorder(ref)
            elif ref.module == "collections" and ref.name == "OrderedDict":
                cls = MappingStub
            else:
                cls = type("Stub", (Stub,), {"pf_global": ref, "__slots__": ()})
            self._classes[(ref.module, ref.name)] = cls
        return cls

    def persistent_load(self, pid: Any) -> StorageRef | PersistentRef:
        """Turn a torch storage persistent id into a :class:`StorageRef`."""
        if type(pid) is tuple and len(pid) >= 5 and pid[0] in ("storage", b"storage"):
            _tag, cls, key, location, numel = pid[:5]
            # Only our own stub classes carry pf_global; anything else the file put there
            # (a str, an int) simply has no such attribute.
            ref = new_record(
                StorageRef,
                (
                    getattr(cls, "pf_global", None) if isinstance(cls, type) else None,
                    key if type(key) is str else _text(key),
                    location if type(location) is str else _text(location),
                    numel if type(numel) is int else None,
                ),
            )
            self.storages.append(ref)
            return ref
        return PersistentRef(pid)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


#: Values that cannot hold a pickle: never pushed on the walk's stack.
_LEAVES = frozenset({TensorCall, str, int, float, bool, type(None), complex})


def find_pickle_values(
    root: Any,
    looks_like_pickle: Callable[[bytes], bool],
    *,
    max_items: int = MAX_ITEMS,
    max_depth: int = MAX_DEPTH,
) -> list[bytes]:
    """Bytes values in the tree that are pickles (or torch zips) themselves, each once.

    The same search as :func:`.reach.reachable_bytes` over the opcode pass's values (the
    fast path must find what the opcode pass finds): containers, dict keys and values,
    what stubs were called with and given, the bytes that bytes constructors compute;
    tensor rebuild records are skipped.  Iterative, capped in items and depth.
    """
    found: dict[bytes, None] = {}
    stack: list[tuple[Any, int]] = [(root, 0)]
    seen = 0
    visited: set[int] = set()
    leaves = _LEAVES
    while stack and seen < max_items:
        obj, depth = stack.pop()
        seen += 1
        if isinstance(obj, bytes | bytearray):
            found.setdefault(bytes(obj), None)
            continue
        if depth >= max_depth or type(obj) in leaves or id(obj) in visited:
            continue
        visited.add(id(obj))
        depth += 1
        if isinstance(obj, dict):
            stack.extend(
                [(v, depth) for pair in obj.items() for v in pair if type(v) not in leaves]
            )
            if isinstance(obj, MappingStub):
                stack.append((getattr(obj, "pf_state", None), depth))
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend([(v, depth) for v in obj if type(v) not in leaves])
        elif isinstance(obj, Stub):
            g = obj.pf_global
            if (g.module, g.name) in BYTES_BUILDERS:
                value = evaluate_bytes(g.module, g.name, obj.pf_args)
                if value is not None:
                    found.setdefault(value, None)
                    continue
            stack.append((obj.pf_args, depth))
            stack.append((obj.pf_state, depth))
            stack.extend((v, depth) for pair in obj.pf_items for v in pair)
            stack.extend((v, depth) for v in obj.pf_list)
    return [raw for raw in found if len(raw) >= _MIN_NESTED and looks_like_pickle(raw)]


class _PeekableBytes(io.BytesIO):
    """Bytes the C unpickler can ``peek`` into: it then decodes from 128 KB windows instead
    of calling ``read`` once per opcode (five times slower).  Unlike ``BufferedReader``, a
    read of a huge declared length (``BINBYTES8`` of 2**40) returns what there is instead of
    allocating it first."""

    def peek(self, size: int = 0) -> bytes:
        """The bytes from the position on (at least one), without consuming them."""
        at = self.tell()
        chunk = self.read(max(size, 1))
        self.seek(at)
        return chunk


def buffered(data: bytes) -> io.BytesIO:
    """``data`` as a file the C unpickler reads fast (:class:`_PeekableBytes`).  After a
    successful ``load`` the position is exactly past ``STOP``; after a failure it is not
    (the window's consumed bytes are only skipped at refills and at the end)."""
    return _PeekableBytes(data)


def unpickle_stream(stream: PickleStream) -> PickleTree:
    """Unpickle ``stream`` into stubs; decoding errors are data, not exceptions.

    Raises :class:`PickleDecodeError` only when not a single opcode could be read.
    """
    buf = buffered(stream.data)
    unpickler = StubUnpickler(buf)
    try:
        root = unpickler.load()
    except Exception:  # noqa: BLE001 - decoded again below, where the position is exact
        return _unpickle_failed(stream)
    memo = unpickler.memo.copy()
    return PickleTree(
        stream.name,
        root,
        tuple(unpickler.globals_seen),
        end=buf.tell(),
        memo_top=max(memo, default=-1),
    )


def _unpickle_failed(stream: PickleStream) -> PickleTree:
    """The failure, decoded again read by read so that how far it got is known."""
    buf = io.BytesIO(stream.data)
    unpickler = StubUnpickler(buf)
    try:
        root = unpickler.load()
    except Exception as exc:
        if buf.tell() == 0 and not unpickler.globals_seen:
            raise PickleDecodeError(f"not a pickle stream ({exc})", member=stream.name) from exc
        return PickleTree(
            stream.name, None, tuple(unpickler.globals_seen), error=f"{type(exc).__name__}: {exc}"
        )
    # The same bytes decode the same way; should a transient failure (memory) not recur,
    # the result still stands.
    return PickleTree(stream.name, root, tuple(unpickler.globals_seen), end=buf.tell())
