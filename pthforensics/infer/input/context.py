"""What the input rules look up: groups, guesses and chain links by name.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pthforensics.core import InputKind, LayerGroup, LayerGuess, LayerSource
from pthforensics.infer.chain import ChainLink

__all__ = ["FLOAT_PREFIXES", "Entry", "InputContext", "Plan", "PlanEntry"]

#: Dtype names a first layer's weight has when the input is floating point.
FLOAT_PREFIXES = ("float", "bfloat")

#: One entry of :attr:`~pthforensics.core.InputGuess.plan`: (module, type, attributes).
PlanEntry = tuple[str, str, tuple[tuple[str, Any], ...]]
Plan = list[PlanEntry]


@dataclass(frozen=True, slots=True)
class Entry:
    """The convolution reading a map input, and what it tells of the input."""

    link: ChainLink
    dims: int
    """Spatial dims of the input (the convolution's)."""
    kind: InputKind
    channels: int
    dtype: str


class InputContext:
    """The model as the input rules see it."""

    def __init__(
        self,
        groups: Sequence[LayerGroup],
        guesses: Sequence[LayerGuess],
        links: Sequence[ChainLink],
    ) -> None:
        self.groups = list(groups)
        self.guesses = {g.name: g for g in guesses}
        self.links = list(links)
        self.link = {lk.name: lk for lk in links}
        self.position = {g.name: i for i, g in enumerate(groups)}
        # _metadata lists every module: with it, a gap without modules has no pool module.
        self.meta = any(
            g.source == LayerSource.METADATA or g.class_name or g.version is not None
            for g in groups
        )
        self.index_gaps = any(g.source == LayerSource.INDEX_GAP for g in groups)
        # modules known, and none without tensors: activations and pools live in forward()
        self.functional = self.meta and not any(
            g.name and not g.tensors and not g.has_children for g in groups
        )

    def dtype(self, name: str) -> str:
        """Floating dtype of the tensors of module ``name`` (``float32`` if none)."""
        i = self.position.get(name)
        if i is not None:
            for t in self.groups[i].tensors:
                if t.dtype.startswith(FLOAT_PREFIXES):
                    return t.dtype
        return "float32"

    def pos_embedding(self, dim: int) -> tuple[int, int, str] | None:
        """(positions, prefix tokens, name) of a position table of width ``dim``."""
        prefix = 0
        found = None
        for g in self.guesses.values():
            a = g.attrs
            prefix += a.get("prefix_tokens", 0)
            if found is None and a.get("token_dim") == dim and "num_positions" in a:
                found = (a["num_positions"], g.name)
            if found is None and a.get("role") == "position" and a.get("embedding_dim") == dim:
                found = (a["num_embeddings"], g.name)
        return (found[0], prefix, found[1]) if found else None
