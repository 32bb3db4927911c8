"""What the symbolic machine does when the stream stores into an object (see
:mod:`.machine`): ``BUILD`` (``__setstate__`` or attributes), ``APPEND(S)``,
``SETITEM(S)``, ``ADDITEMS``, and the checks CPython makes on the way (hashable keys, an
argument tuple).  A value the machine knows cannot take the store (a dict has no
``append``, a tuple no items) stops the stream as it stops CPython; a global that takes it
is recorded (its methods run); what is stored into a call result is kept on it, so that
bytes stored there are found (:mod:`.reach`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .machine_calls import Use
from .values import (
    KIND_DICT,
    KIND_LIST,
    KIND_SET,
    KIND_TENSOR,
    Broken,
    GlobalRef,
    Persistent,
    Result,
    SymDict,
    SymList,
    SymSet,
)

__all__ = ["StoreMixin"]

_CONSTANTS = (str, int, float, bool, bytes, bytearray, tuple, SymList, SymDict, SymSet, type(None))


class StoreMixin:
    """Stores into objects; :class:`.machine.Machine` supplies the stack and records."""

    stack: list[Any]
    fence: int
    uses: list[Use]
    builds: int
    global_builds: list[tuple[int, str, str]]
    mutations: list[tuple[int, str, str]]
    indirect: Callable[..., None]  # (CallMixin)

    # -- BUILD and mutations -----------------------------------------------------------------

    def build(self, inst: Any, state: Any, pos: int) -> None:
        """``BUILD``: ``inst.__setstate__(state)``, or the state set as attributes."""
        self.builds += 1
        t = type(inst)
        if t is GlobalRef:
            use = self.uses[inst.index]
            self.global_builds.append((pos, use.qualname, _what_build_sets(state)))
            for value in _objects_in(state):  # set as attributes: methods later calls run
                self.indirect(value, (), pos, "as an attribute BUILD sets on a global", False, 0)
            return
        if t in _CONSTANTS:
            if _changes_anything(state):
                raise Broken(f"a {t.__name__} has no attributes to set", pos)
            return
        if t is Result:
            inst.site.hold([state])
        dict_state = state[0] if type(state) is tuple and len(state) == 2 else state
        slot_state = state[1] if type(state) is tuple and len(state) == 2 else None
        for part in (dict_state, slot_state):
            if type(part) is SymDict:
                setstate = part.get_text("__setstate__")
                if setstate is not None:  # a later BUILD on inst calls it with its state
                    self.indirect(setstate, (), pos, "as __setstate__ set by BUILD", False, 0)

    def _mutate(
        self, target: Any, operation: str, pos: int, allowed_kinds: tuple[str | None, ...]
    ) -> bool:
        """Whether ``target`` takes ``operation``; a global records a mutation."""
        t = type(target)
        if t is GlobalRef:
            self.mutations.append((pos, self.uses[target.index].qualname, operation))
            return False
        if t is Persistent:
            return False
        if t is Result:
            if target.site.kind not in allowed_kinds:
                raise Broken(f"{operation} on a {target.site.kind} is not supported", pos)
            return target.site.kind in (KIND_DICT, KIND_SET)
        if t is SymList and operation == "item assignment":
            return False  # list[i] = v: CPython takes it for an int in range
        if t is SymSet:  # a set's add, a frozenset has none
            raise Broken(f"{operation} on a set is not supported", pos)
        raise Broken(f"{operation} on a {t.__name__} is not supported", pos)

    def _take_items(
        self, start: int, pos: int, *, pairs: bool = False
    ) -> tuple[Any, list[Any]] | None:
        """The object below the mark at ``start`` and the items above it, taken off the
        stack as CPython's ``do_append``/``do_setitems``/``load_additems`` take them
        (``None`` when there are none; ``pairs``: SETITEMS' count must be even)."""
        stack = self.stack
        if start > len(stack) or start <= self.fence:
            raise Broken("unpickling stack underflow", pos - 1)
        if len(stack) == start:
            return None
        if pairs and (len(stack) - start) % 2:
            raise Broken("odd number of items for SETITEMS", pos - 1)
        target = stack[start - 1]
        items = stack[start:]
        del stack[start:]
        return target, items

    def append_from(self, start: int, pos: int) -> int:
        """``do_append``: the items above ``start`` go into the object below it."""
        taken = self._take_items(start, pos)
        if taken is None:
            return pos
        target, items = taken
        if type(target) is SymList:
            target.extend(items)
        else:
            self._mutate(target, "append", pos - 1, (None, KIND_LIST))
            if type(target) is Result:
                target.site.hold(items)
        return pos

    def setitems_from(self, start: int, pos: int) -> int:
        """``do_setitems``: key/value pairs above ``start`` go into the object below it."""
        taken = self._take_items(start, pos, pairs=True)
        if taken is None:
            return pos
        target, items = taken
        pairs = list(zip(items[::2], items[1::2], strict=True))
        if type(target) is SymDict:
            for key, _ in pairs:
                self.check_key(key, pos - 1)
            target.extend(pairs)
        else:
            if self._mutate(
                target, "item assignment", pos - 1, (None, KIND_DICT, KIND_TENSOR, KIND_LIST)
            ):
                for key, _ in pairs:
                    self.check_key(key, pos - 1)
            if type(target) is Result:
                target.site.hold(items)
        return pos

    def additems_from(self, start: int, pos: int) -> int:
        """``load_additems``: the items above ``start`` are added to the set below it."""
        taken = self._take_items(start, pos)
        if taken is None:
            return pos
        target, items = taken
        if type(target) is SymSet and not target.frozen:
            for item in items:
                self.check_key(item, pos - 1)
            target.extend(items)
        else:
            if self._mutate(target, "add", pos - 1, (None, KIND_SET)):
                for item in items:
                    self.check_key(item, pos - 1)
            if type(target) is Result:
                target.site.hold(items)
        return pos

    def check_key(self, key: Any, pos: int) -> None:
        """CPython's ``hash(key)``: lists, dicts, sets and bytearrays are unhashable."""
        t = type(key)
        if t in (SymList, SymDict, bytearray) or (t is SymSet and not key.frozen):
            raise Broken(f"unhashable type: '{t.__name__}'", pos)
        if t is tuple:
            for item in key:
                self.check_key(item, pos)
        elif t is Result and key.site.kind in (KIND_DICT, KIND_LIST, KIND_SET):
            raise Broken(f"unhashable type: a {key.site.kind}", pos)

    def require_tuple(self, args: Any, message: str, pos: int) -> None:
        """``REDUCE``/``NEWOBJ`` need a tuple (or a tuple subclass: ``torch.Size``)."""
        t = type(args)
        if t is tuple or t in (GlobalRef, Persistent):
            return
        if t is Result and args.site.kind in (None, "tuple"):
            return
        raise Broken(message, pos)


def _what_build_sets(state: Any) -> str:
    """``objects`` (the state holds a global or a call result: what later code may call),
    ``slots`` (setattr of a 2-tuple's second dict), ``dict`` (the instance dict) or
    ``nothing``."""
    if _objects_in(state):
        return "objects"
    if type(state) is tuple and len(state) == 2 and _changes_anything(state[1]):
        return "slots"
    if _changes_anything(state[0] if type(state) is tuple and len(state) == 2 else state):
        return "dict"
    return "nothing"


def _objects_in(state: Any) -> list[Any]:
    """The globals, call results and persistent objects ``state`` holds (not constants):
    what later code may call once ``BUILD`` set it on a global."""
    found: list[Any] = []
    seen: set[int] = set()
    todo = [state]
    while todo:
        value = todo.pop()
        t = type(value)
        if t in (GlobalRef, Result, Persistent):
            found.append(value)
        elif t in (tuple, SymList, SymSet, SymDict) and id(value) not in seen:
            seen.add(id(value))
            if t is SymDict:
                for pair in value:
                    todo.extend(pair)
            else:
                todo.extend(value)
    return found


def _changes_anything(state: Any) -> bool:
    """Whether a ``BUILD`` state would set anything (``None``, ``{}``, ``(None, {})`` do not)."""
    if type(state) is tuple and len(state) == 2:
        return _changes_anything(state[0]) or _changes_anything(state[1])
    return not (state is None or (type(state) is SymDict and not state))
