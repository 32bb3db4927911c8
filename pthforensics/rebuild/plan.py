"""Plan the chain ``rebuild`` builds: which modules, in which order, with what inserted.

Walks the modules in registration order with the state a forward pass would have
(:class:`Layout` ``input``/``spatial``/``flat``/``seq``, channel count) and turns every
guess into a ``Step``: layers from their guesses (stride/padding from
``InputGuess.plan``; :mod:`.steps`), parameter-less modules from the plan or their names,
and the ops a forward() applies without a module (global pooling + flatten before a
Linear, a flatten of a fixed-length sequence, ViT tokens after a patch convolution).  It
stops at the first layer whose input the chain cannot deliver, and says why.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pthforensics.core import InputGuess, LayerGroup, LayerGuess
from pthforensics.infer import LayerFamily, layer_type

from .state import AfterMap, Layout, PlanMap, Step, Tokens, Walk
from .steps import add_layer

__all__ = ["add_op", "plan_maps", "walk_chain"]

#: Types a parameter-less module keeps in the rebuild (the rest become Identity).
_KEPT_FAMILIES = (LayerFamily.ELEMENTWISE, LayerFamily.SOFTMAX, LayerFamily.UPSAMPLE)


def walk_chain(
    groups: Sequence[LayerGroup],
    guesses: dict[str, LayerGuess],
    plan: PlanMap,
    after: AfterMap,
    start_layout: Layout,
    seq_len: int | None = None,
    tokens: Tokens | None = None,
) -> Walk:
    """Walk ``groups`` in order; stop at the first layer the chain cannot feed."""
    w = Walk(layout=start_layout, seq_len=seq_len)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    for group in groups:
        guess = guesses.get(group.name)
        if group.name in token_groups:
            w.steps.append(Step(group.name, "Parameters", {}, group))
            continue
        if group.tensors:
            if guess is None:
                return _stop(w, group.name, "no guess for a module owning tensors")
            reason = add_layer(w, group, guess, plan.get(group.name))
            if reason:
                return _stop(w, group.name, reason)
            w.tensor_layers += 1
            if tokens is not None and group.name == tokens.conv and w.layout is Layout.SPATIAL:
                w.steps.append(Step(f"{group.name}+tokens", "Tokens", {"tokens": tokens}))
                w.layout, w.dims, w.cur = Layout.SEQ, 0, tokens.dim
        else:
            _add_paramless(w, group, guess, plan.get(group.name))
        for type_, attrs in after.get(group.name, ()):
            add_op(w, f"{group.name}+{type_}", type_, attrs)
    return w


def _stop(w: Walk, name: str, reason: str) -> Walk:
    w.break_at, w.reason = name, reason
    return w


def add_op(w: Walk, path: str, type_: str, attrs: dict[str, Any]) -> None:
    """A flatten or a pool a forward() applies (no-op where it cannot apply)."""
    lt = layer_type(type_)
    if lt.family is LayerFamily.FLATTEN:
        if w.layout is Layout.SPATIAL:
            w.steps.append(Step(path, "Flatten"))
            w.layout, w.dims = Layout.FLAT, 0
            # channels x remaining positions: known only after a global pool
            w.cur = w.cur if w.pooled_to_one else None
        return
    if w.layout is not Layout.SPATIAL:
        return  # a pool after the spatial part would fail; the plan did not expect it
    if lt.dims and lt.dims != w.dims:
        type_ = type_[:-2] + f"{w.dims}d"
    if lt.family is LayerFamily.ADAPTIVE_POOL:
        w.pooled = True
        size = attrs.get("output_size", 1)
        w.pooled_to_one = size == 1 or (isinstance(size, tuple) and set(size) == {1})
    w.steps.append(Step(path, type_, attrs))


def _add_paramless(
    w: Walk, group: LayerGroup, guess: LayerGuess | None, planned: tuple[str, dict[str, Any]] | None
) -> None:
    """A parameter-less module: as planned, as guessed, or an Identity."""
    if planned is not None:
        type_, attrs = planned
    elif guess is not None:
        type_, attrs = guess.type, {}
    else:
        type_, attrs = "Identity", {}
    family = layer_type(type_).family
    if family in (LayerFamily.POOL, LayerFamily.ADAPTIVE_POOL, LayerFamily.FLATTEN):
        if w.layout is not Layout.SPATIAL:
            type_, attrs, family = "Identity", {}, LayerFamily.ELEMENTWISE
        else:
            add_op(w, group.name, type_, attrs)
            return
    if family not in _KEPT_FAMILIES or (
        family is LayerFamily.UPSAMPLE and w.layout is not Layout.SPATIAL
    ):
        type_ = "Identity"
    w.steps.append(Step(group.name, type_, attrs, group))


def plan_maps(input_guess: InputGuess) -> tuple[PlanMap, AfterMap]:
    """The input hypothesis as ``module -> (type, attrs)`` and ``module -> ops after it``."""
    plan: PlanMap = {}
    after: AfterMap = {}
    for name, type_, attrs in input_guess.plan:
        if name.startswith("+"):
            after.setdefault(name[1:], []).append((type_, dict(attrs)))
        else:
            plan[name] = (type_, dict(attrs))
    return plan, after
