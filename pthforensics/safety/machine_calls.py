"""What the symbolic machine records, and what calls do.

:class:`CallMixin` holds the records of one stream (globals in order with the protocol in
effect, calls, computed calls, ``BUILD`` on globals, bytes values, nested loads, carried
code) and calls a value the way the loader would (:meth:`CallMixin.invoke`), following
the functions of :mod:`.calls` into the arguments they call, construct, unpickle or exec.
Calling what the machine knows CPython cannot call (a tensor, a constant) stops the
stream; calling what it cannot know (a user object) lets it go on.  Stores into objects
are in :mod:`.machine_store`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pthforensics.core import Limits, vocab

from .calls import (
    ARGUMENT_CALLS,
    BYTES_BUILDERS,
    CODE_CARRIERS,
    CONSTRUCT,
    NESTED_LOADERS,
    RESULT_KINDS,
)
from .evaluate import evaluate_bytes
from .names import WALK_PROTOCOL as _WALK_PROTOCOL
from .names import loader_name
from .values import (
    KIND_PARTIAL,
    NOT_CALLABLE,
    Broken,
    CallSite,
    GlobalRef,
    Persistent,
    Result,
    SymDict,
    SymList,
)

__all__ = ["CallMixin", "Use"]

#: How deep calls of calls are followed (a partial of a partial of...).
_MAX_DEPTH = 16
#: Bytes values shorter than this cannot hold a pickle worth scanning.
_MIN_NESTED = 8
_GETATTR = ("builtins", "getattr")


@dataclass(slots=True)
class Use:
    """One global the loader resolves, as the walk sees it (mutable while walking)."""

    module: str | None
    name: str | None
    offset: int
    opcode: str
    proto: int
    ext: int | None = None
    called: bool = False
    call_offset: int | None = None
    how: str = ""
    """The first call of it: ``REDUCE``, ``NEWOBJ``, ``via torch._tensor...``."""
    key: tuple[str, str] | None = None
    """(module, name) as the loader resolves them (``None`` for EXT codes)."""
    walks: bool = False
    """``builtins.getattr`` called on a global with a constant name: each such call is a
    walk judged as its own (derived) global."""

    @property
    def qualname(self) -> str:
        return f"{self.module or '?'}.{self.name or '?'}"


class CallMixin:
    """Call semantics and records; :class:`.machine.Machine` adds the opcodes."""

    stack: list[Any]
    fence: int
    proto: int

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.uses: list[Use] = []
        self.computed: list[tuple[int, str]] = []
        """(offset, what returned the callable) of calls of call results."""
        self.builds = 0
        self.global_builds: list[tuple[int, str, str]] = []
        """(offset, qualname, what the state sets: ``dict``, ``slots`` or ``nothing``) of
        BUILD on a global."""
        self.mutations: list[tuple[int, str, str]] = []
        """(offset, qualname, operation) of APPEND/SETITEM/ADDITEMS applied to a global."""
        self.pids = 0
        self.pid_values: list[Any] = []
        self.bytes_values: list[tuple[int, bytes]] = []
        self.loads: list[tuple[int, str, str, bytes | None]] = []
        """(offset, loader qualname, ``torch``/``pickle``, the bytes or ``None``)."""
        self.code: list[tuple[int, str, str | None]] = []
        """(offset, carrier qualname, the source or ``None`` when computed at load time)."""

    # -- globals -------------------------------------------------------------------------------

    def resolve(
        self, module: str | None, name: str | None, pos: int, opcode: str, ext: int | None = None
    ) -> GlobalRef:
        """``find_class(module, name)``: recorded; a module name that is not a dotted
        identifier cannot be imported, so CPython stops there, unless the name is a storage
        class, which torch's loaders resolve without importing the module
        (``UnpicklerWrapper.find_class``: ``StorageType(name)``)."""
        if (
            module is not None
            and name not in vocab.STORAGE_DTYPES
            and not all(part.isidentifier() for part in module.split("."))
        ):
            raise Broken(f"No module named {module!r}", pos)
        key = None if module is None or name is None else loader_name(module, name, self.proto)
        self.uses.append(Use(module, name, pos, opcode, self.proto, ext, key=key))
        return GlobalRef(len(self.uses) - 1)

    def found_bytes(self, pos: int, raw: bytes) -> None:
        if len(raw) >= _MIN_NESTED:
            self.bytes_values.append((pos, bytes(raw)))

    # -- calls -------------------------------------------------------------------------------

    def invoke(
        self,
        func: Any,
        args: Any,
        pos: int,
        how: str,
        construct: bool = False,
        depth: int = 0,
    ) -> Result | GlobalRef:
        """Call ``func`` with ``args`` as the loader would; the result (a global for
        ``getattr(global, "name")``)."""
        t = type(func)
        if t is GlobalRef:
            return self._call_global(func.index, args, pos, how, depth)
        if t is Result:
            return self._call_result(func, args, pos, how, construct, depth)
        if t is Persistent:
            targets = [
                v
                for v in (func.pid[:2] if type(func.pid) is tuple else ())
                if type(v) in (GlobalRef, Result, Persistent)
            ]
            if not targets:
                raise Broken("a persistent-load result is not callable", pos)
            for target in targets:
                self.indirect(target, args, pos, f"{how} of a persistent id", construct, depth)
            return Result(CallSite(pos, how, func, args))
        raise Broken(f"'{type(func).__name__}' object is not callable", pos)

    def _call_global(
        self, index: int, args: Any, pos: int, how: str, depth: int
    ) -> Result | GlobalRef:
        use = self.uses[index]
        if use.key == _GETATTR and type(args) is tuple and 2 <= len(args) <= 3:
            walk = self._getattr_walk(use, args, pos)
            if walk is not None:
                return walk
        if not use.called:
            use.called, use.call_offset, use.how = True, pos, how
        site = CallSite(pos, how, GlobalRef(index), args, index)
        key = use.key
        if key is None:
            return Result(site)
        site.kind = RESULT_KINDS.get(key)
        if key in BYTES_BUILDERS:
            site.value = evaluate_bytes(key[0], key[1], args)
            if site.value is not None:
                self.found_bytes(pos, site.value)
        if depth < _MAX_DEPTH and type(args) is tuple:
            self._apply_semantics(key, args, pos, depth)
        return Result(site)

    def _getattr_walk(self, use: Use, args: tuple[Any, ...], pos: int) -> GlobalRef | None:
        """``getattr(global, "name")``: the attribute walk ``global.name`` (how protocol 2
        pickles ``torch.relu`` and nested classes), judged as a global of its own."""
        base, attr = args[0], args[1]
        if type(base) is not GlobalRef or type(attr) is not str:
            return None
        origin = self.uses[base.index]
        if origin.key is None or origin.module is None or origin.name is None:
            return None
        use.walks = True
        name = f"{origin.name}.{attr}"
        key = (origin.key[0], f"{origin.key[1]}.{attr}")
        proto = max(origin.proto, _WALK_PROTOCOL)  # getattr always walks
        self.uses.append(Use(origin.module, name, pos, "getattr", proto, key=key))
        return GlobalRef(len(self.uses) - 1)

    def _call_result(
        self, func: Result, args: Any, pos: int, how: str, construct: bool, depth: int
    ) -> Result | GlobalRef:
        site = func.site
        if site.kind == KIND_PARTIAL and not construct:
            inner = site.args
            if type(inner) is tuple and inner and depth < _MAX_DEPTH:
                extra = args if type(args) is tuple else ()
                return self.invoke(
                    inner[0],
                    inner[1:] + extra,
                    pos,
                    f"{how} of the partial at {site.offset}",
                    depth=depth + 1,
                )
            return Result(CallSite(pos, how, func, args))
        if site.kind is not None and (site.kind in NOT_CALLABLE or construct):
            raise Broken(f"a {site.kind} returned at offset {site.offset} is not callable", pos)
        origin = "a computed value"
        if site.use is not None:
            used = self.uses[site.use]
            origin = ".".join(used.key) if used.key else used.qualname
        self.computed.append((pos, origin))
        return Result(CallSite(pos, how, func, args))

    def indirect(
        self, value: Any, args: Any, pos: int, how: str, construct: bool, depth: int
    ) -> None:
        """A function the loader called calls (or constructs) ``value``: judge it as
        called; constants are skipped, and a failure is the function's, not the stream's."""
        if type(value) in (SymList, tuple) and not construct:
            for item in value:
                self.indirect(item, args, pos, how, construct, depth)
            return
        if type(value) not in (GlobalRef, Result, Persistent) or depth >= _MAX_DEPTH:
            return
        with contextlib.suppress(Broken):  # the function fails there, not the stream
            self.invoke(value, args if type(args) is tuple else (), pos, how, construct, depth + 1)

    def _apply_semantics(
        self, key: tuple[str, str], args: tuple[Any, ...], pos: int, depth: int
    ) -> None:
        qualname = f"{key[0]}.{key[1]}"
        for rule in ARGUMENT_CALLS.get(key, ()):
            if rule.position < len(args):
                star = (
                    args[rule.star_args]
                    if rule.star_args is not None and rule.star_args < len(args)
                    else ()
                )
                self.indirect(
                    args[rule.position], star, pos, f"via {qualname}", rule.mode == CONSTRUCT, depth
                )
        loader = NESTED_LOADERS.get(key)
        if loader is not None:
            data = concrete_bytes(args[loader.position]) if loader.position < len(args) else None
            self.loads.append((pos, qualname, loader.loader, data))
        carrier = CODE_CARRIERS.get(key)
        if carrier is not None:
            self.code.append((pos, qualname, _carried_code(args, carrier.body, carrier.prefix)))

    def persistent(self, pid: Any, pos: int) -> Persistent:
        self.pids += 1
        self.pid_values.append(pid)
        return Persistent(pid, pos)


def concrete_bytes(value: Any) -> bytes | None:
    """The bytes ``value`` is, when the machine knows them."""
    if type(value) in (bytes, bytearray):
        return bytes(value)
    if type(value) is Result and type(value.site.value) is bytes:
        return value.site.value
    return None


def _carried_code(args: tuple[Any, ...], body_at: int, prefix_at: int) -> str | None:
    """``prefix + body['_code']`` when both are text constants, else ``None``."""
    if body_at >= len(args) or prefix_at >= len(args):
        return None
    body, prefix = args[body_at], args[prefix_at]
    if type(body) is not SymDict or type(prefix) is not str:
        return None
    code = body.get_text("_code") or body.get_text("code")
    return prefix + code if type(code) is str else None
