"""The hypothesis space of one op, and what each hypothesis costs.

The weights do not store a convolution's padding, stride or dilation, nor whether a pool
sits between two convolutions (or which).  For each op this module lists the readings
people actually write, each with a cost.  The costs are *priors on how models are
written*, not evidence: PyTorch's defaults (``padding=0``, ``stride=1``, no pool,
``ceil_mode=False``; pytorch: torch/nn/modules/conv.py, pooling.py) cost nothing, and every
departure costs what its comment says.  Evidence (a pool module in the gap, a stored
hyper-parameter, a position table) changes the options, never these numbers.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, unique

from .strides import (
    STRIDE1_EVEN,
    STRIDE2_NORMED,
    STRIDE2_OTHER,
    WIDEN_KEEPS_SIZE,
    halving_padding,
    small_square,
    stride_options,
)

__all__ = [
    "IRREGULAR_POOLING",
    "NO_DOWNSAMPLING",
    "SAME_STYLE",
    "STRIDE1_EVEN",
    "STRIDE2_NORMED",
    "WIDEN_KEEPS_SIZE",
    "SAME_STYLE_NORMED",
    "GapSituation",
    "PaddingStyle",
    "Pool",
    "conv_options",
    "gap_options",
]


@unique
class PaddingStyle(StrEnum):
    """The padding convention assumed for a whole model."""

    VALID = "valid"
    """``padding=0``: PyTorch's default."""
    SAME = "same"
    """``padding=(k-1)//2``: stride-1 convolutions keep the size (odd kernels)."""
    HALF = "half"
    """``padding=k//2``: the same for odd kernels, one more for even ones (braindecode's
    EEGNetv4: ``Conv2d(1, F1, (1, 64), padding=(0, 32))``, separable ``(1, 16)`` padding
    ``(0, 8)``)."""
    EXACT = "exact-same"
    """``(k-1)//2`` left and ``k//2`` right: even kernels keep the size exactly
    (``padding='same'`` of PyTorch >= 1.9 and of Keras, whose ports pad this way: CREPE's
    ``ZeroPad2d`` before every ``(k, 1)`` convolution, torchcrepe model.py)."""


@dataclass(frozen=True, slots=True)
class Pool:
    """A pooling window: ``MaxPool*d``/``AvgPool*d`` hyper-parameters, per axis."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...] = ()
    ceil_mode: bool = False

    @property
    def pads(self) -> tuple[int, ...]:
        """``padding`` (zeros when not given)."""
        return self.padding or tuple(0 for _ in self.kernel)

    def describe(self) -> str:
        """``2``, ``3/2``, ``(1, 3)``, with ``ceil`` when ``ceil_mode``."""
        k = self.kernel[0] if len(set(self.kernel)) == 1 else self.kernel
        s = self.stride[0] if len(set(self.stride)) == 1 else self.stride
        text = f"{k}" if k == s else f"{k}/{s}"
        if any(self.pads):
            text += f" pad {max(self.pads)}"
        return text + (" ceil" if self.ceil_mode else "")


# --- convolutions ----------------------------------------------------------------------------

SAME_STYLE = 1.5
"""'Same' padding for the whole model when nothing suggests it: PyTorch's default is
``padding=0``, and classic hand-written nets (LeNet, the PyTorch MNIST example, MTCNN,
character CNNs) keep it."""
SAME_STYLE_NORMED = 0.2
"""'Same' padding when the convolutions are followed by BatchNorm/GroupNorm: conv-norm-act
blocks come with the VGG/ResNet convention of size-keeping 3x3 convolutions (Simonyan &
Zisserman, 2014; Ioffe & Szegedy, 2015; He et al., 2016; torchvision's
Conv2dNormActivation pads ``(k-1)//2``)."""

OTHER_STYLE_PADDING = 1.0
"""A padding of the other style than the one assumed for the whole model: code uses one
convention throughout."""
HALF_PADDING = 0.4
"""``k//2`` padding of an even kernel: nearly as common as ``(k-1)//2``."""
EXACT_SAME_EVEN = 0.2
"""The exact size-keeping padding of an even kernel (``(k-1)//2`` left, ``k//2`` right:
``padding='same'``, CREPE's ``ZeroPad2d``): it needs asymmetric padding, so it is written
less often than the symmetric ``(k-1)//2``."""
_UNSEEN = 9.0
"""Placeholder above every cost, for the first padding of its kind."""

# --- gaps ------------------------------------------------------------------------------------


@unique
class GapSituation(StrEnum):
    """What is known of the modules between two convolutions (or before the head)."""

    POOL = "pool"
    """A module named or typed as a pool is there: pooling is all but certain."""
    UNKNOWN = "unknown"
    """Nothing is known of the modules (no ``_metadata``, no numbering gap)."""
    SEVERAL = "several"
    """Two or more untyped modules (activation + pool is the classic pattern)."""
    ONE = "one"
    """One untyped module: most likely an activation."""
    NONE = "none"
    """The modules are known and none is a pool: only a functional pool could be there."""
    FUNCTIONAL = "functional"
    """The modules are known, the gap is empty and the model registers no parameter-less
    module anywhere: its activations and pools all live in ``forward()`` (LeNet as most
    tutorials write it, the PyTorch MNIST example), so a pool here is as likely as not."""


#: (cost of a pool, cost of no pool) in a gap, by what its modules say.
GAP_COSTS: dict[GapSituation, tuple[float, float]] = {
    GapSituation.POOL: (0.0, 3.0),
    GapSituation.UNKNOWN: (0.5, 0.0),  # PyTorch's default, no pool, is cheaper
    GapSituation.SEVERAL: (0.0, 1.0),
    GapSituation.ONE: (0.6, 0.2),
    GapSituation.NONE: (0.5, 0.0),
    GapSituation.FUNCTIONAL: (0.35, 0.0),
}

POOL_OVERLAPPING = 0.4
"""``MaxPool(3, stride=2)``: AlexNet (Krizhevsky et al., 2012), ResNet's stem (with
``padding=1``), GoogLeNet; dearer than the 2x2 window of VGG/LeNet."""
POOL_CEIL_MODE = 0.3
"""``ceil_mode=True`` on top of an overlapping pool: Caffe ports (MTCNN's ``MaxPool2d(3,
2, ceil_mode=True)`` in facenet-pytorch models/mtcnn.py, GoogLeNet in torchvision)."""
POOL_WIDE_1D = 0.2
"""A window of 3 or 4 on a 1-d signal: torchaudio's M5 tutorial (``MaxPool1d(4)``),
character CNNs (Zhang et al., 2015: pools of 3), SincNet (pools of 3)."""
POOL_SPATIAL_ONLY = 0.3
"""A 3-d pool over space only ((1, 2, 2), as in C3D's first pool)."""
POOL_ONE_AXIS = 0.6
"""A 2-d pool along one axis only ((2, 1)): spectrogram and signal nets pool frequency or
time alone (CREPE's ``MaxPool2d((2, 1))``); a window of 3 or 4 along it costs
:data:`POOL_WIDE_1D` more (sound-event CRNNs pool frequency by ``(4, 1)`` and keep time:
Cakir et al., 2017; keyword-spotting CNNs pool time by ``(1, 3)``: Sainath & Parada,
2015)."""
POOL_ONE_AXIS_TF = 0.2
""":data:`POOL_ONE_AXIS` on a time-frequency map (a spectrogram, read by rectangular
kernels): there pooling one axis alone is the rule (Sainath & Parada, 2015: ``(1, 3)``
along time after a ``(20, 8)`` convolution; Cakir et al., 2017: frequency only; CREPE),
not the exception."""
_WIDE_1D_WINDOWS = (3, 4)
_LONG_AXIS_WINDOWS = (3, 4, 8)
"""Windows along the long axis of an anisotropic 2-d model: EEGNet's ``AvgPool2d((1, 4))``
and ``((1, 8))`` (Lawhern et al., 2018), spectrogram nets' ``(1, 3)`` along time."""
_LONG_AXIS_OVERLAPPING = ((75, 15),)
"""Overlapping (window, stride) pools along such an axis: ShallowConvNet's mean pool of 75
samples every 15 over the squared activations (Schirrmeister et al., 2017; braindecode
ShallowFBCSPNet ``pool_time_length=75, pool_time_stride=15``); they cost
:data:`POOL_ONE_AXIS` + :data:`POOL_OVERLAPPING`."""
EEG_NARROW_POOL = 0.3
"""A window of 2 along the time axis of an EEG net (electrodes x time): their time pools
are wide, at 128-250 Hz a pool of 2 barely reduces (EEGNet 4 then 8: Lawhern et al., 2018;
Deep4 3/3 and ShallowConvNet 75/15: Schirrmeister et al., 2017; EEG-TCNet and ATCNet 8
then 7: Ingolfsson et al., 2020, Altaheri et al., 2022)."""
NO_DOWNSAMPLING = 1.0
"""A body that neither pools nor strides before a flatten head: convolutional bodies
reduce their map (LeNet 32 -> 5, AlexNet 227 -> 6, VGG 224 -> 7), so a reading in which
the input is barely larger than the final map is unlikely."""
IRREGULAR_POOLING = 0.8
"""Per extra kind of pool among gaps that look alike (same situation): a forward() written
by hand repeats its pattern (conv -> act -> pool per stage), so a hypothesis pooling some
alike gaps and not others, or with different windows, is less likely."""


def _padding_options(
    k: tuple[int, ...], style: PaddingStyle
) -> dict[tuple[tuple[int, ...], tuple[int, ...]], float]:
    """``{(padding, extra right padding): cost}``; for odd kernels the 'same' readings
    coincide."""
    zeros = tuple(0 for _ in k)
    same = tuple((x - 1) // 2 for x in k)
    half = tuple(x // 2 for x in k)
    exact_extra = tuple((x - 1) % 2 for x in k)
    pads: dict[tuple[tuple[int, ...], tuple[int, ...]], float] = {}

    def add(key: tuple[tuple[int, ...], tuple[int, ...]], cost: float) -> None:
        pads[key] = min(pads.get(key, _UNSEEN), cost)

    if style is PaddingStyle.VALID:
        add((zeros, zeros), 0.0)
        add((same, exact_extra), OTHER_STYLE_PADDING)
        add((half, zeros), OTHER_STYLE_PADDING)
    else:
        # (k-1)//2 each side: DCGAN's 4x4 padding 1, CRNN's 2x2 0; under the exact style it
        # is also what a strided even convolution keeps of the asymmetric padding
        add((same, zeros), HALF_PADDING if style is PaddingStyle.HALF and same != half else 0.0)
        add((half, zeros), 0.0 if style is PaddingStyle.HALF else HALF_PADDING)
        add((same, exact_extra), 0.0 if style is PaddingStyle.EXACT else EXACT_SAME_EVEN)
        add((zeros, zeros), OTHER_STYLE_PADDING)
    return pads


def conv_options(
    kernel: tuple[int, ...],
    style: PaddingStyle,
    *,
    first: bool,
    transposed: bool,
    normed: bool = False,
    widens_unpooled: bool = False,
    patch: bool = False,
    raw_signal: bool = False,
    eeg: bool = False,
) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], float]]:
    """``(padding, extra right padding, stride, cost)`` readings of a convolution under a
    padding ``style`` (``normed``: the model's convolutions are followed by norms;
    ``widens_unpooled``: and this one widens the channels after a gap without a pool;
    ``raw_signal``: the input is a raw signal, :data:`~.strides.LONG_KERNEL_STRIDE1`;
    ``eeg``: an EEG trial, :data:`~.strides.EEG_STRIDE`)."""
    pads = _padding_options(kernel, style)
    strides = stride_options(
        kernel,
        first=first,
        transposed=transposed,
        normed=normed,
        widens_unpooled=widens_unpooled,
        patch=patch,
        raw_signal=raw_signal,
        eeg=eeg,
    )
    out = [
        (p, extra, s, pc + sc)
        for (p, extra), pc in pads.items()
        for s, sc in strides.items()
        if not (max(extra) and (max(s) > 1 or transposed))  # exact 'same' keeps the size
    ]
    zeros = tuple(0 for _ in kernel)
    if normed and not transposed:  # the normed stride prior is for padded convolutions
        unpadded = STRIDE2_OTHER - STRIDE2_NORMED
        out = [
            (p, e, s, c + unpadded if max(s) == 2 and p == zeros and small_square(kernel) else c)
            for p, e, s, c in out
        ]
    for s, sc in strides.items():
        halving = halving_padding(kernel, s)
        if halving is not None and not transposed:
            out = [o for o in out if (o[0], o[2]) != (halving, s)]
            out.append((halving, zeros, s, sc))
    return out


def gap_options(
    situation: GapSituation,
    ndim: int,
    active: tuple[bool, ...],
    *,
    adaptive: bool,
    long_axes: tuple[int, ...] = (),
    time_frequency: bool = False,
    eeg: bool = False,
) -> list[tuple[Pool | None, float]]:
    """``(pool or None, cost)`` readings of a gap; pools act on ``active`` axes only, and
    along an axis that only ``(1, k)`` kernels move on, windows of 3, 4 or 8 along it
    (``time_frequency``: the map is a spectrogram, :data:`POOL_ONE_AXIS_TF`; ``eeg``: an
    EEG trial, :data:`EEG_NARROW_POOL`)."""
    if adaptive:
        return [(None, 0.0)]

    def window(k: int, s: int, *, ceil: bool = False) -> Pool:
        return Pool(
            tuple(k if a else 1 for a in active), tuple(s if a else 1 for a in active), (), ceil
        )

    pooled, unpooled = GAP_COSTS[situation]
    out: list[tuple[Pool | None, float]] = [(None, unpooled), (window(2, 2), pooled)]
    n_active = sum(active)
    if n_active == 1:
        out.extend((window(k, k), pooled + POOL_WIDE_1D) for k in _WIDE_1D_WINDOWS)
    if n_active >= 2:
        out.append((window(3, 2), pooled + POOL_OVERLAPPING))
        out.append((window(3, 2, ceil=True), pooled + POOL_OVERLAPPING + POOL_CEIL_MODE))
    if ndim == 3 and all(active):
        out.append((Pool((1, 2, 2), (1, 2, 2)), pooled + POOL_SPATIAL_ONLY))
    if ndim == 2 and all(active):
        one = POOL_ONE_AXIS_TF if time_frequency else POOL_ONE_AXIS
        out.extend((Pool(k, k), pooled + one) for k in ((2, 1), (1, 2)))
        for w in _WIDE_1D_WINDOWS:  # (1, 3) along time, (4, 1) along frequency
            out.extend((Pool(k, k), pooled + one + POOL_WIDE_1D) for k in ((w, 1), (1, w)))
    for axis in long_axes if ndim == 2 else ():
        for w in _LONG_AXIS_WINDOWS:
            k = tuple(w if a == axis else 1 for a in range(ndim))
            out.append((Pool(k, k), pooled + POOL_ONE_AXIS))
        for w, st in _LONG_AXIS_OVERLAPPING:
            k, s = (tuple(x if a == axis else 1 for a in range(ndim)) for x in (w, st))
            out.append((Pool(k, s), pooled + POOL_ONE_AXIS + POOL_OVERLAPPING))
    if eeg:
        out = [(p, c + _eeg_narrow(p, long_axes)) for p, c in out]
    return out


def _eeg_narrow(pool: Pool | None, long_axes: tuple[int, ...]) -> float:
    """:data:`EEG_NARROW_POOL` for a window of 2 along a time axis."""
    narrow = pool is not None and any(pool.kernel[a] == 2 for a in long_axes)
    return EEG_NARROW_POOL if narrow else 0.0
