"""Which part of the model to rebuild: the whole chain, a prefix, or a flat head.

``plan_rebuild`` walks the model from its first buildable layer (:mod:`.plan`).  When the
walk reaches the end it is the whole model; otherwise the prefix up to the break (it
reads the model's own input, so it checks the input guess) or the run of flat layers
ending the model (``head_groups``), whichever covers more.  A ViT-style tokenisation
(class tokens and a position table on custom modules fed by a patch convolution) is
planned by ``token_plan`` so the prefix can run past it.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pthforensics.core import (
    InputGuess,
    InputKind,
    InputStatus,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildPart,
    StateDict,
)
from pthforensics.infer import (
    CLASS_TOKEN_LEAF,
    DEFAULT_SHAPES,
    DEFAULT_STEPS,
    DEFAULT_TOKENS,
    POSITION_LEAF,
    LayerFamily,
    layer_dims,
    layer_type,
)

from .plan import plan_maps, walk_chain
from .state import Layout, Step, Tokens, Walk
from .steps import BUILT_BY_NAME, RECURRENT

__all__ = [
    "Part",
    "buildable",
    "float_dtype",
    "head_groups",
    "plan_rebuild",
    "token_plan",
]

#: Types that keep vectors flat: the run of them ending a model is its head.
_FLAT_TYPES = frozenset(
    {"Linear", "NonDynamicallyQuantizableLinear", "LayerNorm", "RMSNorm", "BatchNorm1d", "PReLU"}
)
_FLOAT_PREFIXES = ("float", "bfloat")


@dataclass(frozen=True)
class Part:
    """The part to build: its steps, which part it is, the input it takes, and why."""

    steps: tuple[Step, ...]
    part: RebuildPart
    input_shape: tuple[int, ...] | None
    input_dtype: str
    note: str


def plan_rebuild(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
) -> Part:
    """Plan the largest part that can be rebuilt; :class:`RebuildError` when none."""
    by_name = {g.name: g for g in guesses}
    plan, after = plan_maps(input_guess)
    order = list(groups)
    first_owner = next(
        (
            i
            for i, g in enumerate(order)
            if g.tensors and g.name in by_name and buildable(by_name[g.name].type)
        ),
        None,
    )
    if first_owner is None:
        raise RebuildError(
            "no module with a known type owns tensors: nothing to rebuild", path=state.path or None
        )
    tokens = token_plan(order, by_name)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    skipped_bare = [
        g.name or "(root)" for g in order[:first_owner] if g.tensors and g.name not in token_groups
    ]
    body = [g for g in order[:first_owner] if g.name in token_groups] + order[first_owner:]
    whole = walk_chain(body, by_name, plan, after, Layout.INPUT, _seq_len(input_guess), tokens)
    shape, dtype = _default_input(by_name.get(order[first_owner].name), input_guess)
    if whole.break_at is None and not skipped_bare:
        return Part(tuple(whole.steps), RebuildPart.WHOLE, shape, dtype, "whole model is a chain")
    return _partial(order, by_name, body, whole, skipped_bare, tokens, shape, dtype, state)


def _seq_len(input_guess: InputGuess) -> int | None:
    """The fixed length of a token/sequence input (a head may read it flattened)."""
    shape = input_guess.shape
    if (
        input_guess.status == InputStatus.FIXED
        and shape
        and input_guess.kind in (InputKind.TOKENS, InputKind.SEQUENCE)
        and len(shape) >= 2
    ):
        return shape[1]
    return None


def _partial(
    order: list[LayerGroup],
    by_name: dict[str, LayerGuess],
    body: list[LayerGroup],
    whole: Walk,
    skipped_bare: list[str],
    tokens: Tokens | None,
    shape: tuple[int, ...] | None,
    dtype: str,
    state: StateDict,
) -> Part:
    """The prefix up to the break, or the flat head, when the model is no chain."""
    where = whole.break_at or (skipped_bare[0] if skipped_bare else "")
    why = whole.reason or "bare parameters (class token / position table) on a custom module"
    head_part = head_groups(order, by_name)
    head = walk_chain(head_part, by_name, {}, {}, Layout.INPUT) if head_part else None
    if head is not None and head.break_at is not None:
        head = None
    prefix_ok = whole.tensor_layers > 0 and not skipped_bare
    tokenised = any(st.type == "Tokens" for st in whole.steps)
    # A prefix reads the model's own input, so it checks the input guess: prefer it
    # unless it is a lone layer and a longer head exists.
    prefix_first = prefix_ok and (whole.tensor_layers >= 2 or tokenised)
    if (
        head is not None
        and not prefix_first
        and (not prefix_ok or head.tensor_layers > whole.tensor_layers)
    ):
        din, _ = layer_dims(by_name[head_part[0].name])
        note = f"head only ({head_part[0].name} .. {head_part[-1].name}): {why} at {where}"
        return Part(
            tuple(head.steps), RebuildPart.HEAD, (1, din or 1), float_dtype(head_part[0]), note
        )
    if prefix_ok:
        last = whole.steps[-1].path if whole.steps else body[0].name
        note = f"prefix up to {last}: {why} at {where}"
        if tokens is not None and tokenised:
            note += f" (the patch tokens of {tokens.conv} meet the position table {tokens.pos_key})"
        return Part(tuple(whole.steps), RebuildPart.PREFIX, shape, dtype, note)
    raise RebuildError(
        f"no chain can be built: {why} at {where}, and no flat head ends the model",
        path=state.path or None,
    )


def _leaf(group: LayerGroup, key: str) -> str:
    """The tensor's name relative to its module (``weight``, ``cls_token``)."""
    return key[len(group.name) + 1 :] if group.name else key


def token_plan(order: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> Tokens | None:
    """Class tokens and a position table on custom modules, fed by a patch convolution."""
    groups = tuple(
        g
        for g in order
        if g.tensors
        and g.name in guesses
        and {"num_positions", "prefix_tokens"} & set(guesses[g.name].attrs)
    )
    pos = next(
        (
            t
            for g in groups
            for t in g.tensors
            if len(t.shape) >= 2 and POSITION_LEAF.matches(_leaf(g, t.key).lower())
        ),
        None,
    )
    if pos is None:
        return None
    cls_keys = tuple(
        t.key
        for g in groups
        for t in g.tensors
        if CLASS_TOKEN_LEAF.matches(_leaf(g, t.key).lower())
    )
    conv = next(
        (
            g
            for g in order
            if g.name in guesses
            and layer_type(guesses[g.name].type).conv_dims
            and guesses[g.name].attrs.get("out_channels") == pos.shape[-1]
        ),
        None,
    )
    if conv is None:
        return None
    return Tokens(conv.name, groups, cls_keys, pos.key, pos.shape[-1])


def head_groups(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> list[LayerGroup]:
    """The run of flat layers ending the model, whose channels chain."""
    picked: list[LayerGroup] = []
    need: int | None = None
    for group in reversed(groups):
        guess = guesses.get(group.name)
        if not group.tensors:
            if picked or guess is None or layer_type(guess.type).family is LayerFamily.ELEMENTWISE:
                picked.append(group)
                continue
            break
        if guess is None or guess.type not in _FLAT_TYPES:
            break
        din, dout = layer_dims(guess)
        if need is not None and dout != need:
            break
        picked.append(group)
        need = din
    while picked and not picked[-1].tensors:
        picked.pop()
    return list(reversed(picked))


def _default_input(
    guess: LayerGuess | None, input_guess: InputGuess
) -> tuple[tuple[int, ...] | None, str]:
    """The input guess's shape, else a default by the first layer's kind."""
    if input_guess.shape is not None:
        return input_guess.shape, input_guess.dtype
    if guess is None:
        return None, input_guess.dtype
    din, _ = layer_dims(guess)
    lt = layer_type(guess.type)
    if lt.family is LayerFamily.EMBEDDING:
        return (1, DEFAULT_TOKENS), "int64"
    if lt.conv_dims:
        return (1, din or 1, *DEFAULT_SHAPES[lt.conv_dims]), input_guess.dtype
    if guess.type in RECURRENT:
        return (1, DEFAULT_STEPS, din or 1), input_guess.dtype
    return ((1, din), input_guess.dtype) if din else (None, input_guess.dtype)


def buildable(type_: str) -> bool:
    """Whether a guessed type is a torch.nn layer the rebuild can make."""
    lt = layer_type(type_)
    return (
        bool(lt.conv_dims)
        or type_ in BUILT_BY_NAME
        or lt.family in (LayerFamily.BATCH_NORM, LayerFamily.INSTANCE_NORM)
    )


def float_dtype(group: LayerGroup) -> str:
    """The first floating dtype among the group's tensors (``float32`` if none)."""
    return next((t.dtype for t in group.tensors if t.dtype.startswith(_FLOAT_PREFIXES)), "float32")
