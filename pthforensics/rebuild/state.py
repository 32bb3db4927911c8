"""The records the rebuild plan walks with: steps, the stream's layout, the walk state.

Pure: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum, unique
from typing import Any

from pthforensics.core import LayerGroup

__all__ = ["AfterMap", "Layout", "PlanMap", "Step", "Tokens", "Walk"]

#: ``module -> (type, attributes)`` from the input hypothesis.
PlanMap = dict[str, tuple[str, dict[str, Any]]]
#: ``module -> ops to insert after it`` from the input hypothesis.
AfterMap = dict[str, list[tuple[str, dict[str, Any]]]]


@unique
class Layout(StrEnum):
    """What the stream carries at a point of the walk."""

    INPUT = "input"
    """Nothing yet: the model's input."""
    SPATIAL = "spatial"
    """A feature map ``(N, C, *spatial)``."""
    FLAT = "flat"
    """Vectors ``(N, features)``."""
    SEQ = "seq"
    """Sequences ``(N, length, features)``."""


@dataclass
class Step:
    """One module of the rebuilt chain (scratch)."""

    path: str
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    group: LayerGroup | None = None


@dataclass(frozen=True)
class Tokens:
    """A ViT-style tokenisation after a patch convolution (scratch)."""

    conv: str
    groups: tuple[LayerGroup, ...]
    cls_keys: tuple[str, ...]
    pos_key: str
    dim: int


@dataclass
class Walk:
    """The state of the walk, and the steps so far (scratch)."""

    steps: list[Step] = field(default_factory=list)
    layout: Layout = Layout.INPUT
    dims: int = 0
    cur: int | None = None
    pooled: bool = False
    """An adaptive pool already reduced the map..."""
    pooled_to_one: bool = False
    """... to a single position."""
    tensor_layers: int = 0
    seq_len: int | None = None
    """Fixed sequence length (flattened into a Linear)."""
    vocab: int | None = None
    """Token table size of a leading Embedding."""
    break_at: str | None = None
    reason: str = ""
