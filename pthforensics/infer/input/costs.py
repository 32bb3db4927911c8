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
    """``padding=k//2``: the same for odd kernels, one more for even ones."""


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
EXACT_SAME_EVEN = 0.2
"""The exact size-keeping padding of an even kernel (``(k-1)//2`` left, ``k//2`` right:
``padding='same'``, CREPE's ``ZeroPad2d``): it needs asymmetric padding, so it is written
less often than the symmetric ``(k-1)//2``."""
"""``k//2`` padding of an even kernel: nearly as common as ``(k-1)//2``."""
STRIDE2_STEM_OR_EVEN = 0.3
"""Stride 2 of a large stem (ResNet's 7x7/2) or of a small even kernel (DCGAN's 4x4/2)."""
LONG_KERNEL_STRIDE = 0.4
"""A stride of 2, 4 or 8 (or a quarter/half of the kernel) on a long kernel: the first
layer of a raw-signal net is a filterbank whose hop varies from model to model (CREPE
512/4, M5 80/16, SincNet 251/1, wav2vec2 10/5); no hop is likelier than another."""
STRIDE2_OTHER = 1.2
"""Stride 2 of an odd small kernel: a little dearer than a 2x pool (classic nets pool)."""
STRIDE2_NORMED = 0.3
"""Stride 2 of a square 3x3 kernel in a model whose convolutions are followed by a norm
(conv-BN-act blocks): such models halve their maps with strided convolutions, not pools
(ResNet's downsampling blocks, MobileNet/EfficientNet/RegNet stages, LeViT's and
EfficientFormer's stems of 3x3/2 convolutions; torchvision's
``Conv2dNormActivation(stride=2)``, padded ``(k-1)//2``: He et al., 2016; Sandler et al.,
2018).  Unpadded, such a stride costs :data:`STRIDE2_OTHER` as elsewhere."""
_NORMED_STRIDE_KERNELS = (3,)
WIDEN_KEEPS_SIZE = STRIDE2_NORMED
"""Stride 1 of such a convolution that widens the channels with no pool before it: "when
the feature map size is halved, the number of filters is doubled" (He et al., 2016, 3.3;
VGG doubles its widths after each pool), so in a conv-norm body without pool modules the
widening convolution is where the map halves; keeping the size costs as much as striding
elsewhere."""
STRIDE1_EVEN = STRIDE2_OTHER
"""Stride 1 of a square even kernel of 4-8 (2-d/3-d): the mirror of :data:`STRIDE2_OTHER`.
An even window cannot keep the size with symmetric padding, so it is chosen to downsample
by its stride (DCGAN's 4x4/2 and ICLabel's 4x4/2 with the halving padding, DQN's 8x8/4 and
4x4/2); stride 1 is the exception (a PatchGAN's last layers), and stride 2 costs nothing."""
STRIDE_SPATIAL_ONLY = 0.6
"""A 3-d convolution striding space but not time (torchvision video stems, (1, 2, 2))."""
STRIDE_HALF_KERNEL = 0.6
"""Stride k/2 of a large kernel (Nature DQN: 8x8 stride 4), or (k+1)/2 of an odd first one:
the overlapping patch embedding of CvT, PVTv2, SegFormer (7x7, stride 4, padding 3) and
MViTv2 (3x7x7, stride (2, 4, 4): torchvision models/video/mvit.py)."""
STRIDE4_LARGE_KERNEL = 0.6
"""Stride 4 of a very large kernel (AlexNet: 11x11 stride 4)."""
PATCH_STRIDE = 0.3
"""Stride = kernel, or the overlapping (k+1)/2, of a patch embedding (the only convolution
before attention over its tokens): it patchifies (ViT, Swin: stride = kernel; CvT, PVTv2,
SegFormer, MViTv2: 7x7 stride 4); a stem's stride 2 there costs
:data:`STRIDE_HALF_KERNEL` at least."""
STRIDE_KERNEL = 1.5
"""Stride = kernel (non-overlapping patches): possible, but a patchify layer is rare."""
CONVT_NO_UPSAMPLE = 0.2
"""A transposed convolution with stride 1 (it does not upsample)."""
CONVT_ODD_STRIDE_EXTRA = 0.3
"""A transposed convolution upsampling by other than 2 (decoders double)."""
_STEM_KERNEL = 7
_EVEN_KERNEL_MIN = 4
_EVEN_KERNEL_MAX = 8
_LONG_KERNEL = 16
_LONG_KERNEL_STRIDES = (2, 4, 8)
_HALF_KERNEL_MIN = 6
_STRIDE4_KERNEL_MIN = 9
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
_WIDE_1D_WINDOWS = (3, 4)
_LONG_AXIS_WINDOWS = (3, 4, 8)
"""Windows along the long axis of an anisotropic 2-d model: EEGNet's ``AvgPool2d((1, 4))``
and ``((1, 8))`` (Lawhern et al., 2018), spectrogram nets' ``(1, 3)`` along time."""
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
        add((same, zeros), 0.0)  # (k-1)//2 each side: DCGAN's 4x4 padding 1, CRNN's 2x2 0
        add((half, zeros), 0.0 if style is PaddingStyle.HALF else HALF_PADDING)
        add((same, exact_extra), EXACT_SAME_EVEN)
        add((zeros, zeros), OTHER_STYLE_PADDING)
    return pads


def _stride_options(
    k: tuple[int, ...],
    *,
    first: bool,
    transposed: bool,
    normed: bool = False,
    widens_unpooled: bool = False,
    patch: bool = False,
) -> dict[tuple[int, ...], float]:
    kmax = max(k)
    square_even = _square_even(k)
    small_square = _small_square(k)
    odd_cost = STRIDE2_NORMED if normed and small_square else STRIDE2_OTHER
    keep = STRIDE1_EVEN if square_even and not transposed else 0.0
    if widens_unpooled and small_square and not transposed:
        keep += WIDEN_KEEPS_SIZE
    strides: dict[tuple[int, ...], float] = {tuple(1 for _ in k): keep}
    if kmax >= _LONG_KERNEL:
        for s in (*_LONG_KERNEL_STRIDES, kmax // 4, kmax // 2):
            strides.setdefault(tuple(s if x > 1 else 1 for x in k), LONG_KERNEL_STRIDE)
    stem = first and kmax >= _STEM_KERNEL and len(k) > 1  # ResNet-style 2-d/3-d stems
    even = kmax % 2 == 0 and _EVEN_KERNEL_MIN <= kmax <= _EVEN_KERNEL_MAX
    strides.setdefault(
        tuple(2 if x > 1 or len(k) == 1 else 1 for x in k),
        0.0 if square_even else STRIDE2_STEM_OR_EVEN if stem or even else odd_cost,
    )
    if len(k) == 3:
        strides.setdefault((1, 2, 2), STRIDE_SPATIAL_ONLY)
    if kmax >= _HALF_KERNEL_MIN and len(k) > 1:  # DQN's 8x8/4 is a 2-d habit
        strides.setdefault(tuple(max(1, x // 2) for x in k), STRIDE_HALF_KERNEL)
    if first and kmax >= _STEM_KERNEL and len(k) > 1 and kmax % 2:
        overlapping = tuple((x + 1) // 2 if x > 1 else 1 for x in k)
        strides.setdefault(overlapping, PATCH_STRIDE if patch else STRIDE_HALF_KERNEL)
    if patch and kmax >= 2:
        strides[k] = PATCH_STRIDE
        two = tuple(2 if x > 1 else 1 for x in k)
        if two in strides:
            strides[two] = max(strides[two], STRIDE_HALF_KERNEL)
    if kmax >= _STRIDE4_KERNEL_MIN:
        strides.setdefault(tuple(4 if x > 1 else 1 for x in k), STRIDE4_LARGE_KERNEL)
    if kmax >= 2:
        strides.setdefault(k, STRIDE_KERNEL)
    if transposed:
        strides = {
            s: (0.0 if max(s) == 2 else c + CONVT_ODD_STRIDE_EXTRA)
            if max(s) > 1
            else CONVT_NO_UPSAMPLE
            for s, c in strides.items()
        }
    return strides


def conv_options(
    kernel: tuple[int, ...],
    style: PaddingStyle,
    *,
    first: bool,
    transposed: bool,
    normed: bool = False,
    widens_unpooled: bool = False,
    patch: bool = False,
) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], float]]:
    """``(padding, extra right padding, stride, cost)`` readings of a convolution under a
    padding ``style`` (``normed``: the model's convolutions are followed by norms;
    ``widens_unpooled``: and this one widens the channels after a gap without a pool)."""
    pads = _padding_options(kernel, style)
    strides = _stride_options(
        kernel,
        first=first,
        transposed=transposed,
        normed=normed,
        widens_unpooled=widens_unpooled,
        patch=patch,
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
            (p, e, s, c + unpadded if max(s) == 2 and p == zeros and _small_square(kernel) else c)
            for p, e, s, c in out
        ]
    for s, sc in strides.items():
        halving = _halving_padding(kernel, s)
        if halving is not None and not transposed:
            out = [o for o in out if (o[0], o[2]) != (halving, s)]
            out.append((halving, zeros, s, sc))
    return out


def _small_square(k: tuple[int, ...]) -> bool:
    """A square 3x3 (or 3x3x3) window: the strided convolution of conv-norm bodies."""
    return len(k) > 1 and len(set(k)) == 1 and k[0] in _NORMED_STRIDE_KERNELS


def _halving_padding(kernel: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...] | None:
    """``(k - s) / 2`` on every axis of a square even kernel with stride ``s > 1``: the padding
    under which the convolution divides the size by its stride exactly (DCGAN's 4x4,
    stride 2, padding 1: Radford et al., 2016; pix2pix/CycleGAN discriminators, ICLabel).
    Written with such convolutions whatever the rest of the model does, so it costs no
    padding in either style; ``None`` when it does not apply."""
    if max(stride) <= 1 or len(stride) != len(kernel) or not _square_even(kernel):
        return None
    pads = []
    for k, s in zip(kernel, stride, strict=True):
        if k <= s or (k - s) % 2:
            return None
        pads.append((k - s) // 2)
    return tuple(pads)


def _square_even(k: tuple[int, ...]) -> bool:
    """A 2-d/3-d window of one even size from 4 to 8 (4x4, 8x8): a downsampling window."""
    return (
        len(k) > 1
        and len(set(k)) == 1
        and k[0] % 2 == 0
        and _EVEN_KERNEL_MIN <= k[0] <= _EVEN_KERNEL_MAX
    )


def gap_options(
    situation: GapSituation,
    ndim: int,
    active: tuple[bool, ...],
    *,
    adaptive: bool,
    long_axes: tuple[int, ...] = (),
) -> list[tuple[Pool | None, float]]:
    """``(pool or None, cost)`` readings of a gap; pools act on ``active`` axes only, and
    along an axis that only ``(1, k)`` kernels move on, windows of 3, 4 or 8 along it."""
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
        out.extend((Pool(k, k), pooled + POOL_ONE_AXIS) for k in ((2, 1), (1, 2)))
        for w in _WIDE_1D_WINDOWS:  # (1, 3) along time, (4, 1) along frequency
            out.extend(
                (Pool(k, k), pooled + POOL_ONE_AXIS + POOL_WIDE_1D) for k in ((w, 1), (1, w))
            )
    for axis in long_axes if ndim == 2 else ():
        for w in _LONG_AXIS_WINDOWS:
            k = tuple(w if a == axis else 1 for a in range(ndim))
            out.append((Pool(k, k), pooled + POOL_ONE_AXIS))
    return out
