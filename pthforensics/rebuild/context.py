"""What the planner consults besides the value at hand: the input hypothesis, the head of
the model, the patch tokenisation, the order of the modules.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import InputGuess, InputKind, LayerGroup, LayerGuess, LayerOrder
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

from .tree import numbered

__all__ = ["AfterMap", "Context", "PlanMap", "Tokens", "default_input", "plan_maps"]

#: ``module -> (type, attributes)`` from the input hypothesis.
PlanMap = dict[str, tuple[str, dict[str, Any]]]
#: ``module -> ops to insert after it`` from the input hypothesis.
AfterMap = dict[str, list[tuple[str, dict[str, Any]]]]

#: Types a head may hold: they keep vectors flat.
_HEAD_TYPES = frozenset(
    {"Linear", "NonDynamicallyQuantizableLinear", "Conv1D", "LayerNorm", "RMSNorm", "PReLU"}
)
#: Types reading channels-first maps (a Linear before one is inside a block).
_MAP_FAMILIES = (
    LayerFamily.CONV,
    LayerFamily.CONV_TRANSPOSE,
    LayerFamily.BATCH_NORM,
    LayerFamily.INSTANCE_NORM,
    LayerFamily.GROUP_NORM,
)


@dataclass(frozen=True)
class Tokens:
    """A ViT-style tokenisation after a patch convolution."""

    conv: str
    cls_keys: tuple[str, ...]
    pos_key: str
    dim: int
    prefix: int


@dataclass
class Context:
    """The model as the planner consults it (scratch)."""

    groups: Sequence[LayerGroup]
    guesses: dict[str, LayerGuess]
    input_guess: InputGuess
    plan: PlanMap = field(default_factory=dict)
    after: AfterMap = field(default_factory=dict)
    hypothesis: str = ""
    """What the plan assumes (empty: its attributes were read from the file)."""
    input_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"

    def __post_init__(self) -> None:
        self.order = {g.name: i for i, g in enumerate(self.groups)}
        self.restored = any(g.order is LayerOrder.RESTORED for g in self.groups)
        """The keys were sorted: the registration order is a guess."""
        self.head = _head(self.groups, self.guesses)
        self.tokens = token_plan(self.groups, self.guesses)
        self.vocab = next(
            (
                g.attrs.get("num_embeddings")
                for g in self.guesses.values()
                if layer_type(g.type).family is LayerFamily.EMBEDDING
            ),
            None,
        )
        last_map = max(
            (
                self.order[g.name]
                for g in self.guesses.values()
                if g.name in self.order and layer_type(g.type).family in _MAP_FAMILIES
            ),
            default=-1,
        )
        self.last_map = last_map

    def in_head(self, path: str) -> bool:
        """Whether module ``path`` belongs to the head ending the model."""
        return path in self.head

    def maps_later(self, path: str) -> bool:
        """Whether a module reading channels-first maps comes after ``path``."""
        return self.order.get(path.split("<")[0], len(self.groups)) < self.last_map

    @property
    def prefix_tokens(self) -> int:
        """Class/distillation tokens prepended to patch tokens."""
        return self.tokens.prefix if self.tokens else 0


def plan_maps(
    plan: Sequence[tuple[str, str, tuple[tuple[str, Any], ...]]],
) -> tuple[PlanMap, AfterMap]:
    """A hypothesis's plan as ``module -> (type, attrs)`` and ``module -> ops after it``."""
    planned: PlanMap = {}
    after: AfterMap = {}
    for name, type_, attrs in plan:
        if name.startswith("+"):
            after.setdefault(name[1:], []).append((type_, dict(attrs)))
        else:
            planned[name] = (type_, dict(attrs))
    return planned, after


def _head(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> frozenset[str]:
    """The modules ending the model outside any repeated block that keep vectors flat
    (a pooler, a final norm, a classifier)."""
    head: list[str] = []
    for group in reversed(groups):
        guess = guesses.get(group.name)
        if not group.tensors:
            head.append(group.name)
            continue
        if numbered(group.name) or guess is None or guess.type not in _HEAD_TYPES:
            break
        head.append(group.name)
    return frozenset(head)


def _leaf(group: LayerGroup, key: str) -> str:
    return key[len(group.name) + 1 :] if group.name else key


def token_plan(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> Tokens | None:
    """Class tokens and a position table on custom modules, fed by a patch convolution
    whose width is the table's (timm/torchvision/HF ViT layouts and their copies)."""
    owners = [
        g
        for g in groups
        if g.tensors
        and g.name in guesses
        and {"num_positions", "prefix_tokens"} & set(guesses[g.name].attrs)
    ]
    pos = next(
        (
            t
            for g in owners
            for t in g.tensors
            if len(t.shape) >= 2 and POSITION_LEAF.matches(_leaf(g, t.key).lower())
        ),
        None,
    )
    if pos is None:
        return None
    cls_keys = tuple(
        t.key
        for g in owners
        for t in g.tensors
        if CLASS_TOKEN_LEAF.matches(_leaf(g, t.key).lower())
    )
    conv = next(
        (
            g
            for g in groups
            if g.name in guesses
            and layer_type(guesses[g.name].type).conv_dims
            and guesses[g.name].attrs.get("out_channels") == pos.shape[-1]
        ),
        None,
    )
    if conv is None:
        return None
    prefix = sum(
        (t.shape[-2] if len(t.shape) >= 2 else 1)
        for g in owners
        for t in g.tensors
        if t.key in cls_keys
    )
    return Tokens(conv.name, cls_keys, pos.key, pos.shape[-1], prefix)


def default_input(
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
    if lt.family is LayerFamily.RNN:
        return (1, DEFAULT_STEPS, din or 1), input_guess.dtype
    if input_guess.kind is InputKind.TOKENS:
        return (1, DEFAULT_TOKENS), "int64"
    return ((1, din), input_guess.dtype) if din else (None, input_guess.dtype)
