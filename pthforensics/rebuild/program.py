"""Plan the rebuild of a checkpoint: the program that runs its modules, and how much of
the model it covers.

``plan_program`` walks the module tree (:mod:`.traverse`) under one input hypothesis.  When
the walk feeds every module owning tensors, the program is the *whole* model; otherwise
it is the largest verifiable part: the *prefix* from the input to the first module nothing
can feed (it reads the model's own input, so it checks the input guess), or the run of flat
layers ending the model (the *head*), with where and why the walk stopped.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pthforensics.core import (
    InputGuess,
    InputHypothesis,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildPart,
    StateDict,
)
from pthforensics.infer import LayerFamily, layer_dims, layer_type

from .accept_common import LINEAR_TYPES
from .context import Context, default_input, plan_maps
from .specs import buildable
from .traverse import walk_tree
from .tree import build_tree
from .values import ModuleSpec, Op, Value
from .walk import Walker

__all__ = ["Program", "plan_program"]

_FLAT_TYPES = frozenset({*LINEAR_TYPES, "LayerNorm", "RMSNorm", "BatchNorm1d", "PReLU"})
_LISTED = 4
"""Module names quoted in a note at most."""


@dataclass(frozen=True)
class Program:
    """What to build and run: modules, bare tensors, ops, and the part of the model."""

    specs: tuple[ModuleSpec, ...]
    held: tuple[LayerGroup, ...]
    ops: tuple[Op, ...]
    inputs: tuple[Value, ...]
    output: int | None
    part: RebuildPart
    input_shape: tuple[int, ...] | None
    input_dtype: str
    note: str
    covered: frozenset[str]
    """Module paths whose tensors are loaded."""
    unused: tuple[str, ...] = ()
    """Modules loaded but never called (role unknown)."""

    @property
    def hypothetical(self) -> frozenset[str]:
        """Modules whose type or shape attributes are assumed, and ops the rebuild adds."""
        made = {s.path for s in self.specs if s.assumed or s.group is None}
        return frozenset(made | {op.target for op in self.ops if "<" in op.target})

    @property
    def assumptions(self) -> tuple[str, ...]:
        """What changes sizes and is not in the file: the trace's input rests on it."""
        return tuple(f"{s.path}: {s.assumed}" for s in self.specs if s.shapes and s.assumed)


def plan_program(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
    hypothesis: InputHypothesis | None = None,
) -> Program:
    """The program for ``hypothesis`` (default: the guess's own reading); raises
    :class:`~pthforensics.core.RebuildError` when not even one module can be fed."""
    by_name = {g.name: g for g in guesses}
    first = next(
        (g for g in groups if g.tensors and g.name in by_name and buildable(by_name[g.name].type)),
        None,
    )
    if first is None:
        raise RebuildError(
            "no module with a known type owns tensors: nothing to rebuild", path=state.path or None
        )
    plan = hypothesis.plan if hypothesis is not None else input_guess.plan
    planned, after = plan_maps(plan)
    shape_guess = input_guess
    if hypothesis is not None and hypothesis.shape is not None:
        from dataclasses import replace

        shape_guess = replace(input_guess, shape=hypothesis.shape)
    shape, dtype = default_input(by_name.get(first.name), shape_guess)
    text = _hypothesis_text(hypothesis, plan, groups)
    ctx = Context(groups, by_name, input_guess, planned, after, text, shape, dtype)
    w = Walker(ctx)
    walk_tree(w, build_tree(groups, by_name))
    owners = {g.name for g in groups if g.tensors}
    if w.stop is None and owners <= w.covered and w.stream is not None:
        note = "whole model rebuilt"
        if w.unused:
            note += f"; loaded but never called (role unknown): {_names(_unused(w))}"
        return _program(w, RebuildPart.WHOLE, note)
    return _partial(w, groups, by_name, owners, state)


def _hypothesis_text(
    hypothesis: InputHypothesis | None,
    plan: Sequence[tuple[str, str, object]],
    groups: Sequence[LayerGroup],
) -> str:
    """How the plan's attributes are named in notes; empty when they were read from the
    file: the hypothesis says it assumes nothing, and every module it sets is named by a
    full-model pickle (a state_dict stores no stride, padding or pool)."""
    if not plan:
        return ""
    name = f"hypothesis {hypothesis.name!r}" if hypothesis is not None else "the input hypothesis"
    classes = {g.name for g in groups if g.class_name}
    read = (
        hypothesis is not None
        and not hypothesis.assumptions
        and all(m.lstrip("+") in classes for m, _, _ in plan)
    )
    return "" if read else name


def _unused(w: Walker) -> list[str]:
    """``module (tensor, ...)`` for the tensors whose role is unknown, by module."""
    by_module: dict[str, list[str]] = {}
    for key, module in w.unused.items():
        leaf = key[len(module) + 1 :] if module else key
        by_module.setdefault(module, []).append(leaf)
    return [f"{m or '(root)'} ({', '.join(leaves)})" for m, leaves in by_module.items()]


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _program(w: Walker, part: RebuildPart, note: str) -> Program:
    ctx = w.ctx
    return Program(
        tuple(w.specs.values()),
        tuple(w.held),
        tuple(w.ops),
        tuple(w.inputs),
        w.stream.id if w.stream is not None else None,
        part,
        ctx.input_shape,
        ctx.input_dtype,
        note,
        frozenset(w.covered),
        tuple(_unused(w)),
    )


def _partial(
    w: Walker,
    groups: Sequence[LayerGroup],
    by_name: dict[str, LayerGuess],
    owners: set[str],
    state: StateDict,
) -> Program:
    """The prefix up to where the walk stopped, or the flat head, whichever is larger."""
    where, why = w.stop or (next(iter(sorted(owners - w.covered)), ""), "not reached")
    head = _head(groups, by_name, w.ctx)
    prefix_ok = w.tensor_modules > 0 and w.stream is not None
    if head is not None and (
        not prefix_ok or (w.tensor_modules < 2 and head.tensor_modules > w.tensor_modules)
    ):
        names = [s.path for s in head.specs.values() if s.group is not None]
        note = f"head only ({names[0]} .. {names[-1]}): {why} at {where}"
        return _program(head, RebuildPart.HEAD, note)
    if prefix_ok:
        last = next((s.path for s in reversed(w.specs.values()) if s.group is not None), "")
        return _program(w, RebuildPart.PREFIX, f"prefix up to {last}: {why} at {where}")
    raise RebuildError(
        f"no part can be rebuilt: {why} at {where}, and no flat head ends the model",
        path=state.path or None,
    )


def _head(
    groups: Sequence[LayerGroup], by_name: dict[str, LayerGuess], ctx: Context
) -> Walker | None:
    """The run of flat layers ending the model, rebuilt from a vector input."""
    picked: list[LayerGroup] = []
    need: int | None = None
    for group in reversed(groups):
        guess = by_name.get(group.name)
        if not group.tensors:
            if picked or guess is None or layer_type(guess.type).family is LayerFamily.ELEMENTWISE:
                picked.append(group)
            continue
        if guess is None or guess.type not in _FLAT_TYPES:
            break
        din, dout = layer_dims(guess)
        if need is not None and dout != need:
            break
        picked.append(group)
        need = din
    while picked and not picked[-1].tensors:
        picked.pop()
    if not picked or need is None:
        return None
    picked.reverse()
    dtype = next(
        (t.dtype for t in picked[0].tensors if t.dtype.startswith(("float", "bfloat"))), "float32"
    )
    head_ctx = Context(picked, by_name, ctx.input_guess, input_shape=(1, need), input_dtype=dtype)
    w = Walker(head_ctx)
    walk_tree(w, build_tree(picked, by_name))
    return w if w.stop is None and w.tensor_modules else None
