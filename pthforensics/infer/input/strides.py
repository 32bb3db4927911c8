"""The stride readings of one convolution, and what each costs.

A convolution's stride is not stored.  PyTorch's default (``stride=1``; pytorch:
torch/nn/modules/conv.py) costs nothing unless the kernel says it is the exception (an
even window that downsamples, a long filterbank kernel reading a raw signal); every
departure costs what its comment says.  :mod:`.costs` combines these with the paddings.

Nothing here imports torch.
"""

from __future__ import annotations

__all__ = [
    "EEG_STRIDE",
    "LONG_KERNEL_STRIDE1",
    "STRIDE1_EVEN",
    "STRIDE2_NORMED",
    "STRIDE2_OTHER",
    "WIDEN_KEEPS_SIZE",
    "halving_padding",
    "small_square",
    "stride_options",
]

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
"""Stride 4 of a very large square first kernel: a stem (AlexNet: 11x11 stride 4;
Krizhevsky et al., 2012).  A rectangular window (a spectrogram's ``(20, 8)``) is no such
stem; long 1-d kernels have their own hops (:data:`LONG_KERNEL_STRIDE`)."""
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
LONG_KERNEL_STRIDE1 = LONG_KERNEL_STRIDE + 0.2
"""Stride 1 of a long first kernel reading a raw signal of a few channels: dearer than any
hop (:data:`LONG_KERNEL_STRIDE`).  Such a layer is a learned filterbank, and filterbanks
hop: M5 80/16 and 80/4 (Dai et al., 2017; torchaudio's speech-command tutorial), SoundNet
64/2 (Aytar et al., 2016), CREPE 512/4 (Kim et al., 2018), Conv-TasNet's encoder 16/8 (Luo
& Mesgarani, 2019), wav2vec 2.0 10/5 (Baevski et al., 2020), DeepSleepNet 50/6 (Supratak
et al., 2017); SincNet's 251/1 (Ravanelli & Bengio, 2018) is the exception.  Only the
solver for a fixed size applies it (where the size priors weigh the readings)."""
EEG_STRIDE = 1.0
"""Any stride > 1 in an EEG net (electrodes x time, see :func:`.setting.solve_context`):
its convolutions keep stride 1 and it downsamples time by pools alone (EEGNet: Lawhern et
al., 2018; ShallowConvNet and Deep4: Schirrmeister et al., 2017; braindecode's
EEGNetv4, ShallowFBCSPNet, Deep4Net), so a hop on its temporal filter is no hop of a raw
filterbank (:data:`LONG_KERNEL_STRIDE`)."""
_STEM_KERNEL = 7
_EVEN_KERNEL_MIN = 4
_EVEN_KERNEL_MAX = 8
_LONG_KERNEL = 16
_LONG_KERNEL_STRIDES = (2, 4, 8)
_HALF_KERNEL_MIN = 6
_STRIDE4_KERNEL_MIN = 9


def stride_options(
    k: tuple[int, ...],
    *,
    first: bool,
    transposed: bool,
    normed: bool = False,
    widens_unpooled: bool = False,
    patch: bool = False,
    raw_signal: bool = False,
    eeg: bool = False,
) -> dict[tuple[int, ...], float]:
    """``{stride: cost}`` of a convolution with kernel ``k`` (``raw_signal``: the model's
    input is a raw signal of a few channels, see :data:`LONG_KERNEL_STRIDE1`; ``eeg``: an
    EEG trial, :data:`EEG_STRIDE`)."""
    kmax = max(k)
    square_even = _square_even(k)
    square3 = small_square(k)
    odd_cost = STRIDE2_NORMED if normed and square3 else STRIDE2_OTHER
    keep = STRIDE1_EVEN if square_even and not transposed else 0.0
    if widens_unpooled and square3 and not transposed:
        keep += WIDEN_KEEPS_SIZE
    if first and raw_signal and kmax >= _LONG_KERNEL and sum(x > 1 for x in k) == 1:
        keep = max(keep, LONG_KERNEL_STRIDE1)
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
    if kmax >= _STRIDE4_KERNEL_MIN and first and len(set(k)) == 1:
        strides.setdefault(tuple(4 if x > 1 else 1 for x in k), STRIDE4_LARGE_KERNEL)
    if kmax >= 2:
        strides.setdefault(k, STRIDE_KERNEL)
    if eeg and not transposed:
        strides = {s: c + EEG_STRIDE if max(s) > 1 else c for s, c in strides.items()}
    if transposed:
        strides = {
            s: (0.0 if max(s) == 2 else c + CONVT_ODD_STRIDE_EXTRA)
            if max(s) > 1
            else CONVT_NO_UPSAMPLE
            for s, c in strides.items()
        }
    return strides


def small_square(k: tuple[int, ...]) -> bool:
    """A square 3x3 (or 3x3x3) window: the strided convolution of conv-norm bodies."""
    return len(k) > 1 and len(set(k)) == 1 and k[0] in _NORMED_STRIDE_KERNELS


def halving_padding(kernel: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...] | None:
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
