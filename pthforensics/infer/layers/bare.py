"""Modules that are no torch.nn layer by their tensors: bare parameters, parameter-less.

Tensors with other names directly on a module are bare ``nn.Parameter``s (class tokens,
position embeddings, layer scales): their module is a custom class.  A few well-known
layouts get a low-confidence class name from :data:`~..knowledge.BARE_MODULES` and
:data:`~..knowledge.CONTAINER_LAYOUTS`; the rest is ``unknown`` (confidence 0.2), never a
confident wrong guess.  Parameter-less modules get a row only when their class or name
says what they are (:data:`~..knowledge.PARAMLESS_HINTS`).

Nothing here imports torch.
"""

from __future__ import annotations

import math
from typing import Any

from pthforensics.core import LayerGuess, vocab
from pthforensics.infer.knowledge import (
    BARE_MODULES,
    CLASS_TOKEN_LEAF,
    CONTAINER_LAYOUTS,
    IDENTITY_AT_DEFAULT_NAME,
    LAYER_SCALE_LEAF,
    PARAMLESS_HINTS,
    PARENT_HINTS,
    POSITION_LEAF,
    BareModule,
)

from .context import Context, make_guess, shape_text
from .views import Raw, TensorLayout

__all__ = ["infer_bare", "infer_paramless"]

_KNOWN_LAYOUT = 0.4
"""Confidence of a class named from a layout of bare tensors (not from a class name)."""
_UNKNOWN = 0.2


def infer_paramless(ctx: Context, i: int, raw: Raw) -> LayerGuess | None:
    """A parameter-less module: its pickled class, or what its name says (else no row)."""
    g = raw.group
    if g.has_children:
        return None  # a container (the root of a full-model pickle): no layer of its own
    if g.class_name:
        return make_guess(raw, ctx, g.class_name.rsplit(".", 1)[-1], 1.0, {}, [])
    last = raw.last.lower()
    parent = g.name.rpartition(".")[0].rpartition(".")[2].lower()
    prev = ctx.neighbour(i, -1, (TensorLayout.CONV,))
    d = len(prev.w) - 2 if prev is not None else 2
    if IDENTITY_AT_DEFAULT_NAME.matches(last):
        why = f"its name {raw.last!r}: {IDENTITY_AT_DEFAULT_NAME.meaning}"
        return make_guess(raw, ctx, "Identity", 0.4, {}, [f"parameter-less module; {why}"])
    for ph in PARENT_HINTS:
        if ph.leaf.search(last) and ph.parent.search(parent):
            type_ = ph.type.format(d=d)
            why = f"its name {raw.last!r} under {parent!r} suggests {type_} ({ph.source})"
            return make_guess(raw, ctx, type_, ph.confidence, {}, [f"parameter-less; {why}"])
    for hint in PARAMLESS_HINTS:
        if hint.pattern.search(last):
            type_ = hint.type.format(d=d) if "{d}" in hint.type else hint.type
            return make_guess(
                raw,
                ctx,
                type_,
                hint.confidence,
                {},
                [f"parameter-less module; its name {raw.last!r} suggests {type_}"],
            )
    return None


def infer_bare(ctx: Context, raw: Raw) -> LayerGuess:
    """Bare tensors on a custom module: their roles, and a class when the layout is known."""
    attrs: dict[str, Any] = {}
    roles = [_role(leaf, shape, attrs) for leaf, shape in _shapes(raw)]
    special = next((m for m in BARE_MODULES if _fits(m, raw)), None)
    if special is not None:
        return make_guess(raw, ctx, special.cls, special.confidence, attrs, [special.evidence])
    ev = ["tensors directly on a custom module: " + "; ".join(roles)]
    known = _container(ctx, raw)
    if known is not None:
        return make_guess(raw, ctx, known[0], _KNOWN_LAYOUT, attrs, [*ev, f"layout of {known[1]}"])
    return make_guess(raw, ctx, "unknown", _UNKNOWN, attrs, ev)


def _shapes(raw: Raw) -> list[tuple[str, tuple[int, ...]]]:
    return [(leaf, t.shape) for leaf, t in raw.leaves.items()]


def _role(leaf: str, shape: tuple[int, ...], attrs: dict[str, Any]) -> str:
    """What one bare tensor is; class tokens and position tables also fill ``attrs``."""
    ll = leaf.lower()
    if leaf in vocab.BUFFER_LEAVES:
        return f"buffer {leaf} {shape_text(shape)}"
    if CLASS_TOKEN_LEAF.matches(ll):
        attrs["prefix_tokens"] = attrs.get("prefix_tokens", 0) + (
            shape[-2] if len(shape) >= 2 else 1
        )
        return f"{leaf} {shape_text(shape)}: class/extra token(s)"
    if POSITION_LEAF.matches(ll) and len(shape) >= 2:
        attrs["num_positions"] = shape[-2]
        attrs["token_dim"] = shape[-1]
        return f"{leaf} {shape_text(shape)}: position embedding of {shape[-2]} tokens x {shape[-1]}"
    if LAYER_SCALE_LEAF.matches(ll) and len(shape) <= 1:
        return f"{leaf} {shape_text(shape)}: layer scale"
    return f"{leaf} {shape_text(shape)}"


def _fits(module: BareModule, raw: Raw) -> bool:
    leaves = set(raw.leaves)
    if not leaves <= module.leaves or module.required not in leaves:
        return False
    rank = len(raw.leaves[module.required].shape)
    if module.required_rank is not None and rank != module.required_rank:
        return False
    return module.name is None or module.name.match(raw.last) is not None


def _square_rows(raw: Raw, leaf: str) -> bool:
    shape = raw.shape(leaf)
    return bool(shape) and math.isqrt(shape[0]) ** 2 == shape[0]  # type: ignore[index]


def _container(ctx: Context, raw: Raw) -> tuple[str, str] | None:
    """(class, what) of a known custom container holding these bare tensors."""
    leaves = set(raw.leaves)
    children = ctx.children(raw.group.name)
    for layout in CONTAINER_LAYOUTS:
        if (
            layout.leaves <= leaves
            and layout.children <= children
            and raw.group.name.startswith(layout.prefix)
            and (layout.name is None or layout.name.search(raw.last.lower()) is not None)
            and (not layout.square_rows or _square_rows(raw, layout.square_rows))
        ):
            return layout.cls, layout.what
    if leaves and all(leaf.isdigit() for leaf in leaves):
        return "ParameterList", "numbered bare parameters"
    return None
