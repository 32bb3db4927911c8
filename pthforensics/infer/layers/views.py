"""Pass 1 of layer inference: each module's tensors by leaf, sorted into a layout.

``classify`` sorts a module's tensors into a structural :class:`TensorLayout`
(convolution weight, linear weight, batch statistics, recurrent weights...) following
torch.nn parameter names (pytorch: torch/nn/modules/*.py), with weight
re-parametrisations (weight_norm, spectral_norm, parametrize) resolved first.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum, unique

from pthforensics.core import LayerGroup, TensorRecord, vocab

__all__ = [
    "NO_LAYER",
    "RNN_KEY",
    "Raw",
    "TensorLayout",
    "classify",
    "effective_leaves",
]

RNN_KEY = re.compile(r"^(weight|bias)_(ih|hh|hr)_l(\d+)(_reverse)?$")
"""pytorch: torch/nn/modules/rnn.py RNNBase._flat_weights_names."""


@unique
class TensorLayout(StrEnum):
    """What the tensors of one module look like, before any neighbour is consulted."""

    EMPTY = "empty"
    """No tensors (a parameter-less module)."""
    UNKNOWN = "unknown"
    """Tensors that fit no torch.nn layout (or an empty dimension)."""
    PARAMS = "params"
    """Bare parameters of a custom module (class tokens, position tables...)."""
    CONV = "conv"
    """``weight`` of rank 3-5 (+ 1-d ``bias``)."""
    LINEAR = "linear"
    """``weight`` of rank 2 (+ 1-d ``bias``)."""
    LAYER_NORM_ND = "ln_nd"
    """``weight`` and ``bias`` of one shape of rank >= 2: LayerNorm over several dims."""
    NORM_WB = "norm_wb"
    """1-d ``weight`` and ``bias`` without running statistics."""
    NORM_W = "norm_w"
    """A lone 1-d ``weight``."""
    BATCH_STATS = "bn"
    """``running_mean``/``running_var`` (+ affine ``weight``/``bias``)."""
    RNN = "rnn"
    """``weight_ih_l0``/``weight_hh_l0``..."""
    RNN_CELL = "rnncell"
    """``weight_ih``/``weight_hh``."""
    ATTENTION = "mha"
    """``in_proj_weight`` or ``q_proj_weight``."""


#: Layouts whose modules carry no layer of their own.
NO_LAYER = (TensorLayout.EMPTY, TensorLayout.PARAMS)


@dataclass
class Raw:
    """Pass-1 view of one group: layout and effective tensors by leaf (scratch)."""

    group: LayerGroup
    kind: TensorLayout
    leaves: dict[str, TensorRecord] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def w(self) -> tuple[int, ...]:
        """Shape of ``weight`` (``()`` without one)."""
        t = self.leaves.get("weight")
        return t.shape if t is not None else ()

    def shape(self, leaf: str) -> tuple[int, ...] | None:
        """Shape of ``leaf``, if the module has it."""
        t = self.leaves.get(leaf)
        return t.shape if t is not None else None

    @property
    def last(self) -> str:
        """The last component of the module path (``conv1`` of ``layer1.0.conv1``)."""
        return self.group.name.rsplit(".", 1)[-1]

    def inputs(self) -> set[int]:
        """Plausible input feature counts (for the neighbour checks)."""
        w = self.w
        if self.kind is TensorLayout.CONV:
            return {w[1]} | ({w[0]} if w[1] == 1 else set())
        if self.kind is TensorLayout.LINEAR and len(w) == 2:
            return {w[1]}
        if self.kind in (TensorLayout.BATCH_STATS, TensorLayout.NORM_WB, TensorLayout.NORM_W):
            return {self.n}
        if self.kind in (TensorLayout.RNN, TensorLayout.RNN_CELL):
            ih = self.shape("weight_ih_l0") or self.shape("weight_ih")
            return {ih[1]} if ih else set()
        if self.kind is TensorLayout.ATTENTION:
            ow = self.shape("in_proj_weight") or self.shape("q_proj_weight")
            return {ow[1]} if ow else set()
        return set()

    @property
    def n(self) -> int:
        """Feature count of a norm (length of its first 1-d tensor)."""
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
    """The pass-1 view of ``group``."""
    leaves, notes = effective_leaves(group)
    return Raw(group, _layout(leaves), leaves, notes)


def _layout(leaves: dict[str, TensorRecord]) -> TensorLayout:
    if not leaves:
        return TensorLayout.EMPTY
    if any(0 in t.shape for t in leaves.values() if t.shape):
        return TensorLayout.UNKNOWN  # an empty dimension: nothing to read from it
    names = set(leaves)
    core = names - vocab.BUFFER_LEAVES.keys() - {"weight_g", "weight_v"}
    w = leaves.get("weight")
    if any(RNN_KEY.match(n) for n in names):
        return TensorLayout.RNN
    if {"weight_ih", "weight_hh"} <= names:
        return TensorLayout.RNN_CELL
    if "in_proj_weight" in names or "q_proj_weight" in names:
        return TensorLayout.ATTENTION
    if {"running_mean", "running_var"} <= names and core <= {"weight", "bias"}:
        return TensorLayout.BATCH_STATS
    if w is not None and core <= {"weight", "bias"}:
        return _weight_layout(w, leaves.get("bias"))
    if w is not None and core - {"weight", "bias"}:
        return TensorLayout.UNKNOWN
    return TensorLayout.PARAMS


def _weight_layout(w: TensorRecord, b: TensorRecord | None) -> TensorLayout:
    """Layout of a module owning ``weight`` (and perhaps ``bias``) only."""
    rank = len(w.shape)
    bias_ok = b is None or len(b.shape) == 1
    if 3 <= rank <= 5 and bias_ok:
        return TensorLayout.CONV
    if rank == 2 and bias_ok:
        return TensorLayout.LINEAR
    if rank >= 2 and b is not None and b.shape == w.shape:
        return TensorLayout.LAYER_NORM_ND
    if rank == 1 and b is not None and b.shape == w.shape:
        return TensorLayout.NORM_WB
    if rank == 1 and b is None:
        return TensorLayout.NORM_W
    return TensorLayout.UNKNOWN
