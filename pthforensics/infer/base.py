"""Shared views for layer inference: tensors by leaf, neighbours, dims of a guess.

``classify`` sorts a module's tensors into a structural kind (convolution weight, linear
weight, batch statistics, recurrent weights...) following torch.nn parameter names
(pytorch: torch/nn/modules/*.py); ``Context`` answers neighbour questions (previous
output, next input, the dimension of the convolutions around a norm); ``layer_dims`` reads
the input/output feature counts back from a guess.  Internal to the ``infer`` stage.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import LayerGroup, LayerGuess, TensorRecord
from pthforensics.core.vocab import BUFFER_LEAVES, learnable_keys

__all__ = [
    "RNN_KEY",
    "Chain",
    "Context",
    "Raw",
    "classify",
    "layer_dims",
    "make_guess",
    "shape_text",
]

RNN_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$")


@dataclass
class Raw:
    """Pass-1 view of one group: kind and effective tensors by leaf (scratch, private)."""

    group: LayerGroup
    kind: str
    leaves: dict[str, TensorRecord] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def w(self) -> tuple[int, ...]:
        t = self.leaves.get("weight")
        return t.shape if t is not None else ()

    def shape(self, leaf: str) -> tuple[int, ...] | None:
        t = self.leaves.get(leaf)
        return t.shape if t is not None else None

    @property
    def last(self) -> str:
        return self.group.name.rsplit(".", 1)[-1]

    def inputs(self) -> set[int]:
        """Plausible input feature counts (for the neighbour checks)."""
        w = self.w
        if self.kind == "conv":
            return {w[1]} | ({w[0]} if w[1] == 1 else set())
        if self.kind == "linear" and len(w) == 2:
            return {w[1]}
        if self.kind in ("bn", "norm_wb", "norm_w"):
            return {self.n}
        if self.kind in ("rnn", "rnncell"):
            ih = self.shape("weight_ih_l0") or self.shape("weight_ih")
            return {ih[1]} if ih else set()
        if self.kind == "mha":
            ow = self.shape("in_proj_weight") or self.shape("q_proj_weight")
            return {ow[1]} if ow else set()
        return set()

    @property
    def n(self) -> int:
        for leaf in ("weight", "bias", "running_mean"):
            t = self.leaves.get(leaf)
            if t is not None and t.shape:
                return t.shape[0]
        return 0


def effective_leaves(group: LayerGroup) -> tuple[dict[str, TensorRecord], list[str]]:
    """Leaves relative to the module, with weight re-parametrisations resolved."""
    leaves = {t.key[len(group.name) + 1 :] if group.name else t.key: t for t in group.tensors}
    notes = []
    if "parametrizations.weight.original1" in leaves:
        leaves["weight"] = leaves.pop("parametrizations.weight.original1")
        leaves["weight_g"] = leaves.pop("parametrizations.weight.original0", leaves["weight"])
        notes.append("weight is re-parametrised (weight_norm: original0 = g, original1 = v)")
    elif "parametrizations.weight.original" in leaves:
        leaves["weight"] = leaves.pop("parametrizations.weight.original")
        notes.append("weight is re-parametrised (torch.nn.utils.parametrize)")
    elif "weight_orig" in leaves:
        leaves["weight"] = leaves.pop("weight_orig")
        notes.append("spectral_norm: weight_orig with power-iteration buffers weight_u/v")
    elif "weight_g" in leaves and "weight_v" in leaves and "weight" not in leaves:
        leaves["weight"] = leaves.pop("weight_v")
        notes.append("old-style weight_norm: weight_g and weight_v")
    return leaves, notes


def classify(group: LayerGroup) -> Raw:
    leaves, notes = effective_leaves(group)
    names = set(leaves)
    core = names - BUFFER_LEAVES.keys() - {"weight_g", "weight_v"}
    raw = Raw(group, "empty", leaves, notes)
    if not leaves:
        return raw
    if any(0 in t.shape for t in leaves.values() if t.shape):
        raw.kind = "unknown"  # an empty dimension: nothing to read from it
        return raw
    w = leaves.get("weight")
    b = leaves.get("bias")
    if any(RNN_KEY.match(n) for n in names):
        raw.kind = "rnn"
    elif {"weight_ih", "weight_hh"} <= names:
        raw.kind = "rnncell"
    elif "in_proj_weight" in names or "q_proj_weight" in names:
        raw.kind = "mha"
    elif {"running_mean", "running_var"} <= names and core <= {"weight", "bias"}:
        raw.kind = "bn"
    elif w is not None and core <= {"weight", "bias"}:
        rank = len(w.shape)
        bias_ok = b is None or len(b.shape) == 1
        if 3 <= rank <= 5 and bias_ok:
            raw.kind = "conv"
        elif rank == 2 and bias_ok:
            raw.kind = "linear"
        elif rank >= 2 and b is not None and b.shape == w.shape:
            raw.kind = "ln_nd"
        elif rank == 1 and b is not None and b.shape == w.shape:
            raw.kind = "norm_wb"
        elif rank == 1 and b is None:
            raw.kind = "norm_w"
        else:
            raw.kind = "unknown"
    elif w is not None and core - {"weight", "bias"}:
        raw.kind = "unknown"
    else:
        raw.kind = "params"
    return raw


class Context:
    """Neighbour lookups over the pass-1 views."""

    def __init__(self, groups: Sequence[LayerGroup]) -> None:
        self.raws = [classify(g) for g in groups]
        self.by_name = {r.group.name: r for r in self.raws}
        self.hf_conv1d = any(
            r.kind == "linear"
            and "bias" in r.leaves
            and r.shape("bias") == (r.w[1],)
            and r.w[0] != r.w[1]
            for r in self.raws
        )
        self.learnable = learnable_keys([t for g in groups for t in g.tensors])
        # With a guessed order (sorted keys) neighbours are weak evidence.
        self.restored = any(g.order == "restored" for g in groups)
        tensor_layers = [i for i, r in enumerate(self.raws) if r.kind not in ("empty", "params")]
        self.first_layer = tensor_layers[0] if tensor_layers else -1
        # ConvNeXt (torchvision CNBlock.layer_scale (C, 1, 1), timm ConvNeXtBlock.gamma next
        # to conv_dw): its norms between convolutions are LayerNorm2d, not GroupNorm.
        self.convnext = any(
            (r.shape("layer_scale") or ())[1:] == (1, 1)
            or ("gamma" in r.leaves and (r.group.name + ".conv_dw") in self.by_name)
            for r in self.raws
        )
        self._children: dict[str, set[str]] = {}
        for g in groups:
            parts = g.name.split(".") if g.name else []
            for k, comp in enumerate(parts):
                self._children.setdefault(".".join(parts[:k]), set()).add(comp)

    def children(self, name: str) -> set[str]:
        """Names of the direct submodules of ``name`` that lead to any known module."""
        return self._children.get(name, set())

    def neighbour(self, i: int, step: int, kinds: tuple[str, ...] | None = None) -> Raw | None:
        j = i + step
        while 0 <= j < len(self.raws):
            r = self.raws[j]
            if r.kind not in ("empty", "params", "unknown") and (kinds is None or r.kind in kinds):
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
        r = self.neighbour(i, 1)
        return r.inputs() if r is not None else set()

    def spatial_rank(self, i: int, n: int) -> int | None:
        """Dimension (1/2/3) of the convolutions around a norm of ``n`` features, 0 when
        its neighbours are linear/sequence layers, ``None`` when nothing is around."""
        kinds = ("conv", "linear", "rnn", "mha", "rnncell")
        prev = self.neighbour(i, -1, kinds)
        nxt = self.neighbour(i, 1, kinds)

        def rank(r: Raw) -> int:
            return len(r.w) - 2 if r.kind == "conv" else 0

        if prev is not None and (
            n in (prev.w[0], prev.w[1])
            if prev.kind == "conv"
            else prev.kind == "linear" and prev.w[0] == n
        ):
            return rank(prev)
        if prev is not None and prev.kind == "conv":
            # after a convolution whose channels were concatenated/branched (DenseNet's
            # norm5 before the classifier): still a feature map
            return rank(prev)
        if nxt is not None and n in nxt.inputs():
            return rank(nxt)
        for r in (prev, nxt):
            if r is not None:
                return rank(r)
        return None


@dataclass
class Chain:
    prev_out: int | None = None
    seen: set[int] = field(default_factory=set)
    transposed: int = 0


def layer_dims(guess: LayerGuess) -> tuple[int | None, int | None]:
    """(input features/channels, output features/channels) of a guessed layer, from its
    attributes; ``None`` where it does not apply (an Embedding takes token ids)."""
    a = guess.attrs
    if guess.type == "unknown":
        return None, None
    if "in_channels" in a:
        return a["in_channels"], a.get("out_channels")
    if "in_features" in a:
        return a["in_features"], a.get("out_features")
    if "num_features" in a:
        return a["num_features"], a["num_features"]
    if "num_channels" in a:
        return a["num_channels"], a["num_channels"]
    if "normalized_shape" in a:
        ns = a["normalized_shape"]
        last = ns[-1] if isinstance(ns, tuple) else ns
        return last, last
    if "embedding_dim" in a:
        return None, a["embedding_dim"]
    if "input_size" in a:
        h = a.get("proj_size") or a["hidden_size"]
        return a["input_size"], h * (2 if a.get("bidirectional") else 1)
    if "embed_dim" in a:
        return a.get("kdim", a["embed_dim"]), a["embed_dim"]
    if a.get("num_parameters", 1) > 1:
        return a["num_parameters"], a["num_parameters"]
    return None, None


def make_guess(
    raw: Raw,
    ctx: Context,
    type_: str,
    confidence: float,
    attrs: dict[str, Any],
    evidence: list[str],
) -> LayerGuess:
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
    return "(" + ", ".join(str(d) for d in shape) + ")"
