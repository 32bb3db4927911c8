"""What the solver needs to know of the model besides its ops
(:class:`~.solver_records.SolveContext`): the axes the kernels move along, the padding
styles and what each costs, and sizes the file stores as hyper-parameters.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pthforensics.infer.layer_types import layer_type
from pthforensics.infer.priors import EEG_KIND, SPECTROGRAM_KIND

from .context import Entry, InputContext
from .costs import EXACT_SAME_EVEN, HALF_PADDING, SAME_STYLE, SAME_STYLE_NORMED, PaddingStyle
from .solver_records import OpKind, SolveContext, SpatialOp

__all__ = ["INPUT_SIZE_NAME", "solve_context", "stored_sizes"]

INPUT_SIZE_NAME = re.compile(
    r"(^|_)(in|inp|input|dim_?in|in_?dim|n_?mels|n_?bins|bins|mels|size|len|length|"
    r"samples|frames|window|img|image|width|height|seq)(_|$|\d)"
)
"""Names of a custom model's attributes that hold an input size (BeatNet's ``dim_in``,
``input_size``, ``n_mels``, ``img_size``, ``seq_len``...)."""
_MIN_STORED_SIZE = 4
"""Smaller integers are counts (layers, heads), not sizes."""
_NORMED_SHARE = 0.25
"""Share of main-path convolutions followed by a norm for a model to count as normed."""


def solve_context(ctx: InputContext, entry: Entry, ops: Sequence[SpatialOp]) -> SolveContext:
    """The solver's context for the map input read by ``entry``.  A one-channel map whose
    kernels move along one axis alone (``(1, k)``) and that a convolution consumes whole
    along the other (``(C, 1)``) is an EEG trial, electrodes x time (EEGNet, Lawhern et
    al., 2018; ShallowConvNet/Deep4, Schirrmeister et al., 2017): its time axis reads the
    EEG size priors (:data:`~pthforensics.infer.priors.EEG_KIND`).  One whose convolutions
    read rectangular windows (``(20, 8)``, ``(10, 4)``: Sainath & Parada, 2015, span more
    frequency bins than frames) is a time-frequency map, each axis a mel/STFT bin count or a
    frame count (:data:`~pthforensics.infer.priors.SPECTROGRAM_KIND`); images are read by
    square windows."""
    normed = _normed(ctx, ops)
    long_axes = _long_axes(ops, entry.dims)
    exact_axes = _collapsed_axes(ops)
    return SolveContext(
        kind=_kind(entry, ops, long_axes, exact_axes),
        channels=entry.channels,
        active=_active_axes(ops, entry.dims),
        style_costs=_style_costs(ops, SAME_STYLE_NORMED if normed else SAME_STYLE),
        stored_sizes=frozenset(stored_sizes(ctx)),
        long_axes=long_axes,
        min_input=_min_input(ops, entry.dims),
        exact_axes=exact_axes,
        normed=normed,
    )


def _kind(
    entry: Entry, ops: Sequence[SpatialOp], long_axes: tuple[int, ...], exact: tuple[int, ...]
) -> str:
    """The kind whose size priors the input reads: an EEG trial or a spectrogram for
    one-channel maps that say so by their kernels (see :func:`solve_context`), else the
    entry's."""
    if entry.dims != 2 or entry.channels != 1:
        return entry.kind
    if long_axes and exact:
        return EEG_KIND
    if not exact and any(_rectangular(op) for op in ops):
        return SPECTROGRAM_KIND
    return entry.kind


def _rectangular(op: SpatialOp) -> bool:
    """A 2-d kernel longer on one axis than the other, both above 1 (``(20, 8)``)."""
    k = op.kernel
    return op.kind is OpKind.CONV and len(k) == 2 and min(k) > 1 and k[0] != k[1]


def _style_costs(ops: Sequence[SpatialOp], same: float) -> tuple[tuple[PaddingStyle, float], ...]:
    """The padding styles tried and what each costs.  A model with even kernels that do
    not downsample by design (not the square 4x4-8x8 windows, which take the halving
    padding in any style) also gets the two conventions of even kernels as a whole-model
    style: ``k//2`` (:attr:`~.costs.PaddingStyle.HALF`) and the exact asymmetric 'same'
    (:attr:`~.costs.PaddingStyle.EXACT`).  Code pads all its convolutions one way, so the
    departure is charged once for the model (:data:`~.costs.HALF_PADDING`,
    :data:`~.costs.EXACT_SAME_EVEN` on top of the 'same' style), not once per layer."""
    styles = ((PaddingStyle.VALID, 0.0), (PaddingStyle.SAME, same))
    if not any(_free_even(op) for op in ops):
        return styles
    return (
        *styles,
        (PaddingStyle.HALF, same + HALF_PADDING),
        (PaddingStyle.EXACT, same + EXACT_SAME_EVEN),
    )


def _free_even(op: SpatialOp) -> bool:
    """A convolution whose padding is not stored with an even side > 1 that is not a square
    downsampling window (4x4, 8x8: see :func:`~.strides.halving_padding`) nor an axis it
    consumes whole (an EEG net's ``(C, 1)`` over C electrodes)."""
    if op.kind is not OpKind.CONV or op.known is not None:
        return False
    k = op.kernel
    square = len(k) > 1 and len(set(k)) == 1
    free = [x for a, x in enumerate(k) if a not in op.consumes]  # not the electrodes' C
    return any(x > 1 and x % 2 == 0 for x in free) and not square


def _collapsed_axes(ops: Sequence[SpatialOp]) -> tuple[int, ...]:
    """Axes a convolution's window consumes whole (pinned to 1 after it, see
    :func:`.maps.spatial_ops`): their size is the window, read from the file."""
    return tuple(sorted({a for op in ops for a in op.consumes}))


def _long_axes(ops: Sequence[SpatialOp], d: int) -> tuple[int, ...]:
    """Axes some convolution moves along alone with a kernel of at least 3 (``(1, 64)``:
    the time axis of an EEG net)."""
    if d != 2:
        return ()
    kernels = [op.kernel for op in ops if op.kind is not OpKind.GAP and len(op.kernel) == d]
    return tuple(
        a
        for a in range(d)
        if any(k[a] >= 3 and all(k[b] == 1 for b in range(d) if b != a) for k in kernels)
    )


def _min_input(ops: Sequence[SpatialOp], d: int) -> tuple[int, ...]:
    """The first convolution's kernel per axis: its filter fits in the input unpadded."""
    first = next((op for op in ops if op.kind is OpKind.CONV), None)
    if first is None or len(first.kernel) != d or first.known is not None:
        return ()
    return first.kernel


def _active_axes(ops: Sequence[SpatialOp], d: int) -> tuple[bool, ...]:
    """Per axis: some convolution's kernel is larger than 1 along it (all axes when none
    is: a 1x1 body says nothing)."""
    kernels = [op.kernel for op in ops if op.kind is not OpKind.GAP and len(op.kernel) == d]
    active = tuple(any(k[a] > 1 for k in kernels) for a in range(d))
    return active if any(active) else tuple(True for _ in range(d))


def _normed(ctx: InputContext, ops: Sequence[SpatialOp]) -> bool:
    """Most main-path convolutions are followed by a norm (conv-BN-ReLU blocks)."""
    convs = [op.name for op in ops if op.kind is not OpKind.GAP]
    if not convs:
        return False
    followed = 0
    for name in convs:
        i = ctx.position.get(name)
        if i is None:
            continue
        nxt = next((g for g in ctx.groups[i + 1 :] if g.tensors), None)
        guess = ctx.guesses.get(nxt.name) if nxt is not None else None
        if guess is not None and layer_type(guess.type).is_norm:
            followed += 1
    return followed >= _NORMED_SHARE * len(convs)


def stored_sizes(ctx: InputContext) -> list[int]:
    """Integers the root module of a full-model pickle stores under a name that holds an
    input size (``dim_in=272``)."""
    out = []
    for g in ctx.groups:
        if g.name:
            continue
        for name, value in g.attributes:
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and value >= _MIN_STORED_SIZE
                and INPUT_SIZE_NAME.search(name.lower())
            ):
                out.append(value)
    return out
