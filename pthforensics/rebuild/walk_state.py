"""Saving and restoring a :class:`~.walk.Walker`'s state: what :meth:`Walker.trial` undoes
when a module (or a whole container) cannot be fed the way it was tried.

Pure: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .values import ModuleSpec, Op, Value

if TYPE_CHECKING:
    from .walk import Scope, Walker

__all__ = ["Saved", "restore", "save"]


@dataclass(frozen=True, slots=True)
class Saved:
    """A walker's state at the start of a trial."""

    ops: list[Op]
    next_id: int
    specs: frozenset[str]
    pending: list[Value]
    parallel: list[tuple[ModuleSpec, Value, Value]]
    between: list[ModuleSpec]
    scopes: list[tuple[Scope, Value | None, list[Value], list[ModuleSpec]]]
    n_inputs: int
    unused: dict[str, str]
    waiting: list[tuple[ModuleSpec, str, dict[str, Any]]]
    """The deferred modules' types and attributes (a trial may retype them)."""
    whole: tuple[Any, ...] | None
    """The stream, the modules visited and what was held (a container on trial)."""


def save(w: Walker, *, whole: bool) -> Saved:
    """What :func:`restore` needs to undo a trial on ``w``."""
    return Saved(
        ops=list(w.ops),
        next_id=w.next_id,
        specs=frozenset(w.specs),
        pending=list(w.pending),
        parallel=list(w.parallel),
        between=list(w.between),
        scopes=[(s, s.input, list(s.outputs), list(s.deferred)) for s in w.scopes],
        n_inputs=len(w.inputs),
        unused=dict(w.unused),
        waiting=[(sp, sp.type, dict(sp.attrs)) for s in w.scopes for sp in s.deferred],
        whole=_whole(w) if whole else None,
    )


def restore(w: Walker, saved: Saved) -> None:
    """Put ``w`` back as it was when ``saved`` was taken."""
    w.ops[:] = saved.ops  # ops may have been rewired, not only appended
    for key in set(w.specs) - saved.specs:
        del w.specs[key]
    w.next_id = saved.next_id
    w.pending, w.parallel, w.between = saved.pending, saved.parallel, saved.between
    for s, inp, outs, deferred in saved.scopes:
        s.input, s.outputs, s.deferred = inp, outs, deferred
    for sp, type_, attrs in saved.waiting:
        sp.type, sp.attrs = type_, attrs
    del w.inputs[saved.n_inputs :]
    w.unused = saved.unused
    if saved.whole is not None:
        _restore_whole(w, saved.whole)


def _whole(w: Walker) -> tuple[Any, ...]:
    return (
        w.stream,
        w.prev,
        w.last_closed,
        set(w.covered),
        len(w.held),
        dict(w.unused),
        w.tensor_modules,
        w.last_type,
        len(w.inputs),
        w.stop,
        w.tokens_due,
        len(w.closed),
    )


def _restore_whole(w: Walker, state: tuple[Any, ...]) -> None:
    (
        w.stream,
        w.prev,
        w.last_closed,
        w.covered,
        n_held,
        w.unused,
        w.tensor_modules,
        w.last_type,
        n_inputs,
        w.stop,
        w.tokens_due,
        n_closed,
    ) = state
    del w.held[n_held:], w.inputs[n_inputs:]
    del w.closed[n_closed:]
