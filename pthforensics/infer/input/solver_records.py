"""The solver's records: the ops of the main path that change sizes (:class:`SpatialOp`),
a hypothesis for one op (:class:`Choice`), a ranked answer (:class:`Solution`) and what
ranks sizes besides the ops (:class:`SolveContext`).

Pure data: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum, unique

from .costs import PaddingStyle, Pool

__all__ = ["Choice", "OpKind", "PoolHint", "Solution", "SolveContext", "SpatialOp"]


@unique
class OpKind(StrEnum):
    """What a :class:`SpatialOp` is."""

    CONV = "conv"
    CONV_TRANSPOSE = "convT"
    GAP = "gap"
    """Between two convolutions, or before the head: a pool may sit there."""


@unique
class PoolHint(StrEnum):
    """What the modules in a gap say about a pool there."""

    POOL = "pool"
    """A module named/typed as a pool is there."""
    ADAPTIVE = "adaptive"
    """An adaptive pool before the head."""
    NONE = "none"
    """The gap's modules are named activations/dropouts: only a functional pool."""
    UNKNOWN = "unknown"
    """No module information."""
    EMPTY = ""
    """Modules are known, none in the gap."""


@dataclass(frozen=True, slots=True)
class SpatialOp:
    """One op of the main path that changes sizes (or may): a convolution or a gap."""

    kind: OpKind
    name: str
    """The convolution's module path; for a gap the last module before it (anchor)."""
    kernel: tuple[int, ...] = ()
    first: bool = False
    """The first convolution of the model (stems often use stride 2)."""
    modules: tuple[str, ...] = ()
    """Parameter-less modules of unknown type sitting in the gap (candidates for a pool)."""
    pool_hint: PoolHint = PoolHint.EMPTY
    pool_module: str = ""
    """The module named/typed as a pool (or adaptive pool) in the gap, if any."""
    members: tuple[str, ...] = ()
    """Every parameter-less module in the gap, typed or not."""
    known: Choice | None = None
    """What the file stores for this op (a full-model pickle's padding/stride/dilation,
    or its pool module's window): then the only option, at no cost."""
    pin: tuple[int | None, ...] | None = None
    """A size the op's *output* must have per axis (``None``: any), fixed by a table or
    a norm reading that map (``LayerNorm([C, L])`` after it)."""
    pool_type: str = ""
    """The type of :attr:`pool_module` (``AvgPool2d``), when typed."""
    functional: bool = False
    """The model registers no parameter-less module at all (its pools, if any, are
    functional)."""
    consumes: tuple[int, ...] = ()
    """Axes this convolution's window spans whole (its output is 1 there): unpadded."""
    widens: bool | None = None
    """A convolution taking fewer channels than it gives (``None``: unknown, or the
    model's first convolution, which reads the input's channels)."""
    unpooled: bool = False
    """The gap before this convolution is known to hold no pool (its modules are listed,
    none a pool)."""
    patch: bool = False
    """The only convolution before attention over its tokens: a patch embedding."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A hypothesis for one op: padding/stride/dilation of a convolution, or the pool of a
    gap (``pool=None``: no pool)."""

    padding: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    pool: Pool | None = None
    stored: bool = False
    """Read from the file, not assumed."""
    extra: tuple[int, ...] = ()
    """One more padding on the right per axis (``padding='same'`` with an even total)."""

    @property
    def pooled(self) -> bool:
        """A gap choice with a pool that changes sizes."""
        return self.pool is not None and (max(self.pool.kernel) > 1 or max(self.pool.stride) > 1)

    def describe(self) -> str:
        """Short text: ``padding=1 stride=2`` or ``pool 2`` / ``no pool``."""
        if not self.padding and not self.stride:
            return "pool " + self.pool.describe() if self.pooled and self.pool else "no pool"
        pad = self.padding[0] if len(set(self.padding)) == 1 else self.padding
        st = self.stride[0] if len(set(self.stride)) == 1 else self.stride
        text = f"padding={pad} stride={st}"
        if self.dilation and max(self.dilation) > 1:
            dil = self.dilation[0] if len(set(self.dilation)) == 1 else self.dilation
            text += f" dilation={dil}"
        return text


@dataclass(frozen=True, slots=True)
class Solution:
    """An input size (per spatial dim), the interval of sizes that work, and the plan."""

    cost: float
    sizes: tuple[int, ...]
    intervals: tuple[tuple[int, int], ...]
    choices: tuple[Choice, ...]
    style: PaddingStyle
    final: tuple[int, ...] = ()
    """The final map this solution reaches."""
    prior_cost: float = 0.0
    """The part of ``cost`` that is hypothesis (not input-size prior)."""
    stored_size: bool = False
    """The size is one the file stores as a hyper-parameter."""


@dataclass(frozen=True, slots=True)
class SolveContext:
    """What ranks sizes and options besides the ops: the input kind, its channels, which
    axes are active (an axis whose every kernel is 1 is never pooled), the padding style
    costs and sizes the file stores."""

    kind: str
    channels: int | None
    active: tuple[bool, ...] = ()
    """Per axis: some kernel is larger than 1 there."""
    style_costs: tuple[tuple[PaddingStyle, float], ...] = (
        (PaddingStyle.VALID, 0.0),
        (PaddingStyle.SAME, 0.0),
    )
    stored_sizes: frozenset[int] = field(default_factory=frozenset)
    long_axes: tuple[int, ...] = ()
    """Axes along which only ``(1, k)``-shaped kernels move (an anisotropic model: EEG
    temporal convolutions); pools there may be ``(1, k)``."""
    min_input: tuple[int, ...] = ()
    """Per axis, the smallest plausible input: the first convolution's kernel fits in
    it without padding (nobody designs a filter longer than its signal)."""
    exact_axes: tuple[int, ...] = ()
    """Axes whose size a convolution consuming them fixes (EEG electrodes): evidence, so
    no size prior is charged on them."""
    normed: bool = False
    """Most main-path convolutions are followed by a norm (conv-BN-act blocks)."""
    stride_priors: bool = False
    """Apply the conv-norm stride priors (:data:`~.costs.STRIDE2_NORMED`,
    :data:`~.costs.WIDEN_KEEPS_SIZE`).  Only where a stored table fixes a map inside the
    body (:func:`.fixed.grid_input`): elsewhere they would move the plans of adaptive and
    free-size models (an Inception body's branch convolutions read as strided, its minimum
    size as 1) without evidence to check them against."""
