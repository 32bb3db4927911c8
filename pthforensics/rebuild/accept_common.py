"""What every feeding step of :mod:`.accept` shares: a spec's feature counts, a module that
keeps its input's shape, and the permute of a channels-last map back to channels first.

Pure: no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pthforensics.core import LayerGuess
from pthforensics.infer import layer_dims

from .values import Layout, ModuleSpec, Value

if TYPE_CHECKING:
    from .walk import Walker

__all__ = [
    "CELL_TYPES",
    "LINEAR_TYPES",
    "RECURRENT_TYPES",
    "layer_dims_of",
    "same",
    "to_channels_first",
]

#: Linear-like types: they map the last dim.
LINEAR_TYPES = frozenset({"Linear", "NonDynamicallyQuantizableLinear", "Conv1D", "LazyLinear"})
RECURRENT_TYPES = ("RNN", "LSTM", "GRU")
CELL_TYPES = ("RNNCell", "LSTMCell", "GRUCell")


def layer_dims_of(spec: ModuleSpec) -> tuple[int | None, int | None]:
    """(input, output) features of a spec, from its attributes."""
    return layer_dims(LayerGuess(spec.path, spec.type, tuple(spec.attrs.items())))


def same(w: Walker, spec: ModuleSpec, v: Value, need: int | None) -> Value | str:
    """A module that keeps its input's shape."""
    if need is not None and v.features != need:
        return f"takes {need} features but gets {v.features}"
    return w.call(spec, v, w.derive(v, producer=spec.path))


def to_channels_first(w: Walker, v: Value, where: str) -> Value:
    """A channels-last map back to channels first (what a ``Permute`` module does)."""
    return w.permute(v, Layout.MAP, where, "channels-last map back to channels first")
