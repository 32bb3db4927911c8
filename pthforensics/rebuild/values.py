"""The records of a rebuild program: values flowing between modules, the ops that make
them, and the modules the program calls.

A *value* is what a forward pass carries between two modules: its layout (token ids, a
channels-first map, a channels-last map, a sequence of vectors, a vector), its feature
count, and its extent -- the sizes of its other axes, each an affine function ``a*S + b``
of the input size ``S`` (floors ignored) so that two values can be told to have the same
size whatever the input, plus the concrete sizes at the planned input when it is known.
Residual additions and concatenations need equal extents; that is how the planner picks
the earlier value a skip connection reads and the stride a projected shortcut has.

Pure: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum, unique
from fractions import Fraction
from typing import Any

from pthforensics.core import LayerGroup

__all__ = [
    "Affine",
    "Layout",
    "ModuleSpec",
    "Op",
    "OpKind",
    "Value",
]


@dataclass(frozen=True, slots=True)
class Affine:
    """One axis size as ``scale * S + offset`` of the input size ``S``."""

    scale: Fraction
    offset: Fraction

    @classmethod
    def input(cls) -> Affine:
        """The input's own size."""
        return cls(Fraction(1), Fraction(0))

    @classmethod
    def fixed(cls, n: int) -> Affine:
        """A size that does not depend on the input."""
        return cls(Fraction(0), Fraction(n))

    def conv(self, k: int, s: int, p: int, d: int = 1) -> Affine:
        """After a convolution or pool (pytorch: torch/nn/modules/conv.py, ``L_out``)."""
        return Affine(self.scale / s, (self.offset + 2 * p - d * (k - 1) - 1) / s + 1)

    def conv_transpose(self, k: int, s: int, p: int, d: int = 1, out_pad: int = 0) -> Affine:
        """After a transposed convolution (``(L-1)*s - 2p + d(k-1) + out_pad + 1``)."""
        return Affine(self.scale * s, (self.offset - 1) * s - 2 * p + d * (k - 1) + out_pad + 1)

    def times(self, f: Fraction | int) -> Affine:
        """Scaled by ``f`` (upsampling, space-to-depth)."""
        return Affine(self.scale * f, self.offset * f)


@unique
class Layout(StrEnum):
    """What a value is."""

    IDS = "ids"
    """Integer token ids ``(N, T)``."""
    MAP = "map"
    """A channels-first feature map ``(N, C, *spatial)``."""
    LAST = "last"
    """A channels-last feature map ``(N, *spatial, C)`` (ConvNeXt/Swin blocks)."""
    SEQ = "seq"
    """A sequence of vectors ``(N, T, F)``."""
    FLAT = "flat"
    """Vectors ``(N, F)``."""


@dataclass(frozen=True, slots=True)
class Value:
    """One tensor of the forward pass, as the planner sees it."""

    id: int
    layout: Layout
    features: int | None
    """Channels of a map, the last dim of a sequence or vector; ``None`` for token ids."""
    extent: tuple[Any, ...] = ()
    """Symbolic sizes of the non-feature axes (``Affine`` per spatial axis of a map; the
    length key of a sequence; empty for a vector).  Equal extents mean equal sizes."""
    sizes: tuple[int, ...] | None = None
    """The same sizes at the planned input, when it is known."""
    pooled: bool = False
    """A global pool reduced the map to one position."""
    producer: str = ""
    """Module path or op that made it."""
    side: bool = False
    """Read off an earlier value rather than the stream (a side branch: aux head)."""

    @property
    def dims(self) -> int:
        """Spatial dims of a map (0 otherwise)."""
        return len(self.extent) if self.layout in (Layout.MAP, Layout.LAST) else 0

    @property
    def positions(self) -> int | None:
        """Positions of a map at the planned input (``None`` if unknown)."""
        if self.sizes is None or self.layout not in (Layout.MAP, Layout.LAST):
            return None
        out = 1
        for s in self.sizes:
            out *= s
        return out


@unique
class OpKind(StrEnum):
    """What an op of the program does."""

    CALL = "call"
    """Call a module (of the checkpoint, or one the rebuild inserted)."""
    ADD = "add"
    """Residual sum of values of equal shape."""
    MUL = "mul"
    """Product: a gate (``x * g``, ``g`` broadcast) or a gated unit."""
    CAT = "cat"
    """Concatenation along the features (dense blocks, inception, U-Net skips)."""
    ATTEND = "attend"
    """``softmax(q k^T) v`` of projections (separate, or one packed q/k/v value)."""
    MHA = "mha"
    """``nn.MultiheadAttention(x, x, x)``."""
    TOKENS = "tokens"
    """Patch map -> tokens: flatten, prepend class tokens, add the position table."""
    EMBED_ADD = "embed-add"
    """Add a position/segment table looked up at the token positions."""
    SCALE = "scale"
    """Multiply by a stored per-channel scale (layer scale)."""
    SELECT = "select"
    """Keep one token (``first``/``last``) or the mean of the sequence."""
    PERMUTE = "permute"
    """Change layout: channels-first <-> channels-last, map <-> sequence."""
    MERGE = "merge"
    """Space-to-depth: 2x2 neighbours into channels (Swin patch merging)."""
    FLATTEN = "flatten"
    """Flatten a map into vectors (``torch.flatten(x, 1)``)."""
    APPEND = "append"
    """Append a stored map's channels, broadcast over the other axes (a coordinate map)."""


@dataclass(frozen=True, slots=True)
class Op:
    """One step of the program's forward."""

    kind: OpKind
    inputs: tuple[int, ...]
    output: int
    target: str = ""
    """Module path (``call``, ``mha``, ``embed-add``) or a parameter key (``scale``)."""
    attrs: tuple[tuple[str, Any], ...] = ()

    @property
    def attr(self) -> dict[str, Any]:
        """``attrs`` as a dict."""
        return dict(self.attrs)


@dataclass
class ModuleSpec:
    """A module the program makes (scratch while planning)."""

    path: str
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    group: LayerGroup | None = None
    """The checkpoint module it stands for (``None``: inserted by the rebuild)."""
    assumed: str = ""
    """What of it is a hypothesis, not the file (empty: read or fixed by stored shapes)."""
    shapes: bool = False
    """The assumption changes sizes (stride, padding, pool, upsampling): the input a
    trace runs is only as sure as it."""
