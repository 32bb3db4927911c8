"""Neighbour questions for layer inference, and how a guess is made.

``Context`` holds the pass-1 views of every module and answers: the previous output, the
next input, the dimension of the convolutions around a norm, whether the model carries a
whole-model marker (GPT-2's transposed Linear, ConvNeXt's layer scales).  ``Chain`` is the
running state of the walk (outputs seen so far).  ``make_guess`` builds the record.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import LayerGroup, LayerGuess, LayerOrder, vocab
from pthforensics.infer.knowledge import CHANNELS_FIRST_NORM_MARKERS, LayerScaleMarker

from .views import NO_LAYER, Raw, TensorLayout, classify

__all__ = ["Chain", "Context", "make_guess", "shape_text"]

#: Layouts that carry features along the chain (the neighbours of a norm).
_FEATURE_LAYOUTS = (
    TensorLayout.CONV,
    TensorLayout.LINEAR,
    TensorLayout.RNN,
    TensorLayout.ATTENTION,
    TensorLayout.RNN_CELL,
)


class Context:
    """Neighbour lookups over the pass-1 views."""

    def __init__(self, groups: Sequence[LayerGroup]) -> None:
        self.raws = [classify(g) for g in groups]
        self.by_name = {r.group.name: r for r in self.raws}
        self.hf_conv1d = any(_transposed_linear(r) for r in self.raws)
        """transformers ``Conv1D`` (weights stored ``(in, out)``) is in this model."""
        self.learnable = vocab.learnable_keys([t for g in groups for t in g.tensors])
        # With a guessed order (sorted keys) neighbours are weak evidence.
        self.restored = any(g.order == LayerOrder.RESTORED for g in groups)
        tensor_layers = [i for i, r in enumerate(self.raws) if r.kind not in NO_LAYER]
        self.first_layer = tensor_layers[0] if tensor_layers else -1
        self.convnext = any(
            _marks(m, r, self.by_name) for r in self.raws for m in CHANNELS_FIRST_NORM_MARKERS
        )
        """Its norms between convolutions are channels-first LayerNorm2d, not GroupNorm."""
        self._children: dict[str, set[str]] = {}
        for g in groups:
            parts = g.name.split(".") if g.name else []
            for k, comp in enumerate(parts):
                self._children.setdefault(".".join(parts[:k]), set()).add(comp)

    def children(self, name: str) -> set[str]:
        """Names of the direct submodules of ``name`` that lead to any known module."""
        return self._children.get(name, set())

    def neighbour(
        self, i: int, step: int, kinds: tuple[TensorLayout, ...] | None = None
    ) -> Raw | None:
        """The nearest module owning a layer before (``step=-1``) or after (``+1``) ``i``,
        of one of ``kinds`` if given."""
        j = i + step
        while 0 <= j < len(self.raws):
            r = self.raws[j]
            if (r.kind not in NO_LAYER and r.kind is not TensorLayout.UNKNOWN) and (
                kinds is None or r.kind in kinds
            ):
                return r
            j += step
        return None

    def numbered_neighbours(self, i: int) -> bool:
        """Whether the tensor-owning neighbours of ``i`` sit with it in one numbered
        container (``main.0``, ``main.1``): their order survives a sort of the keys."""

        def parent(r: Raw | None) -> str | None:
            if r is None:
                return None
            head, _, last = r.group.name.rpartition(".")
            return head if last.isdigit() else None

        mine = parent(self.raws[i])
        return mine is not None and all(
            r is None or parent(r) == mine for r in (self.neighbour(i, -1), self.neighbour(i, 1))
        )

    def next_inputs(self, i: int) -> set[int]:
        """Plausible input feature counts of the next layer."""
        r = self.neighbour(i, 1)
        return r.inputs() if r is not None else set()

    def spatial_rank(self, i: int, n: int) -> int | None:
        """Dimension (1/2/3) of the convolutions around a norm of ``n`` features, 0 when
        its neighbours are linear/sequence layers, ``None`` when nothing is around."""
        prev = self.neighbour(i, -1, _FEATURE_LAYOUTS)
        nxt = self.neighbour(i, 1, _FEATURE_LAYOUTS)

        def rank(r: Raw) -> int:
            return len(r.w) - 2 if r.kind is TensorLayout.CONV else 0

        if (
            prev is not None
            and prev.kind is TensorLayout.LINEAR
            and nxt is not None
            and nxt.kind is TensorLayout.CONV
            and n in nxt.inputs()
        ):
            return rank(nxt)  # a pre-norm before a convolution normalises its map (MaxViT)
        if prev is not None and (
            n in (prev.w[0], prev.w[1])
            if prev.kind is TensorLayout.CONV
            else prev.kind is TensorLayout.LINEAR and prev.w[0] == n
        ):
            return rank(prev)
        if prev is not None and prev.kind is TensorLayout.CONV:
            # after a convolution whose channels were concatenated/branched (DenseNet's
            # norm5 before the classifier): still a feature map
            return rank(prev)
        if nxt is not None and n in nxt.inputs():
            return rank(nxt)
        for r in (prev, nxt):
            if r is not None:
                return rank(r)
        return None


def _transposed_linear(r: Raw) -> bool:
    """A rank-2 weight whose bias matches ``shape[1]``: stored ``(in, out)``, as
    transformers' ``Conv1D`` does (transformers: pytorch_utils.py)."""
    return (
        r.kind is TensorLayout.LINEAR
        and "bias" in r.leaves
        and r.shape("bias") == (r.w[1],)
        and r.w[0] != r.w[1]
    )


def _marks(marker: LayerScaleMarker, r: Raw, by_name: dict[str, Raw]) -> bool:
    shape = r.shape(marker.leaf)
    if shape is None:
        return False
    if marker.trailing is not None and shape[1:] != marker.trailing:
        return False
    return marker.child is None or (r.group.name + "." + marker.child) in by_name


@dataclass
class Chain:
    """Running state of the walk over the modules (scratch)."""

    prev_out: int | None = None
    """Output features of the previous layer."""
    seen: set[int] = field(default_factory=set)
    """Every earlier output (before the previous one)."""
    transposed: int = 0
    """Transposed convolutions met so far."""


def make_guess(
    raw: Raw,
    ctx: Context,
    type_: str,
    confidence: float,
    attrs: dict[str, Any],
    evidence: list[str],
) -> LayerGuess:
    """The record for ``raw`` guessed as ``type_`` (parameters counted from its learnable
    tensors)."""
    params = sum(t.numel for t in raw.group.tensors if t.key in ctx.learnable)
    return LayerGuess(
        name=raw.group.name,
        type=type_,
        attributes=tuple(attrs.items()),
        confidence=round(confidence, 2),
        evidence=tuple(evidence + raw.notes),
        parameters=params,
        tensor_keys=tuple(t.key for t in raw.group.tensors),
    )


def shape_text(shape: tuple[int, ...]) -> str:
    """``(3, 4)``."""
    return "(" + ", ".join(str(d) for d in shape) + ")"
