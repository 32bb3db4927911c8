"""Priors: input sizes people commonly use (the defaults used when nothing is stored are in
:mod:`.defaults`).

These are *priors*, not evidence.  The weights fix what they fix (a flatten head fixes the
final feature map, a position table fixes the token count); the solver then finds the set
of input sizes consistent with that, and a prior only ranks sizes *within* that set or
fills in a size the weights leave free.  The cost of a size is 0 for the commonest and
grows with rarity; a size missing from the table costs :data:`UNLISTED_COST` less a bonus
for round sizes (:func:`round_size_bonus`), so among unlisted sizes the roundest wins, then
the smallest.

Each entry says why it is there: the dataset or library preset that makes the size
common.  Where no single library defines a size, the entry says so.  None of these was
chosen to fit a test sample.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum, unique
from types import MappingProxyType

from pthforensics.core import InputKind

__all__ = [
    "EEG_KIND",
    "PRIOR_ENTRIES",
    "PRIOR_TABLES",
    "ROUND_DECIMAL_BONUS",
    "ROUND_SIZE_MAX_TWOS",
    "ROUND_SIZE_STEP",
    "SPECTROGRAM_KIND",
    "UNLISTED_COST",
    "SizePrior",
    "TEXT_LINE_KIND",
    "SizeTable",
    "prior_table",
    "raw_signal",
    "round_size_bonus",
]


@dataclass(frozen=True, slots=True)
class SizePrior:
    """One common input size, how common (cost: 0 = the commonest), and why."""

    size: int
    cost: float
    why: str


@unique
class SizeTable(StrEnum):
    """Which table a spatial axis draws its prior from."""

    IMAGE_RGB = "image-rgb"
    IMAGE_GRAY = "image-gray"
    IMAGE_4CH = "image-4ch"
    SIGNAL_LENGTH = "signal-length"
    VIDEO_FRAMES = "video-frames"
    VIDEO_SIDE = "video-side"
    FEATURE_FRAMES = "feature-frames"
    EEG_SAMPLES = "eeg-samples"
    SPECTROGRAM_AXIS = "spectrogram-axis"
    TEXT_HEIGHT = "text-height"
    TEXT_WIDTH = "text-width"
    TOKEN_LENGTH = "token-length"


#: Cost of a size that no table lists (above every listed size's cost) ...
UNLISTED_COST = 3.0
#: ... less this per factor of two it holds (up to :data:`ROUND_SIZE_MAX_TWOS`), and
#: :data:`ROUND_DECIMAL_BONUS` for a multiple of ten: people pick round sizes (crops,
#: windows, feature vectors sized 48, 96, 272 or 100, 1000), so within an interval of sizes
#: that all work the roundest is the likeliest design; equal ones go to the smallest.
ROUND_SIZE_STEP = 0.25
ROUND_SIZE_MAX_TWOS = 5
ROUND_DECIMAL_BONUS = 0.25


def round_size_bonus(size: int) -> float:
    """How much rounder than an arbitrary number ``size`` is (see :data:`UNLISTED_COST`)."""
    if size <= 0:
        return 0.0
    twos = (size & -size).bit_length() - 1
    bonus = ROUND_SIZE_STEP * min(twos, ROUND_SIZE_MAX_TWOS)
    return bonus + (ROUND_DECIMAL_BONUS if size % 10 == 0 else 0.0)


_TV = "torchvision: models/"
_NO_DEFAULT = "a common size in published code; no single library default"

_IMAGE_RGB = (
    SizePrior(224, 0.0, _TV + "*.py ImageClassification(crop_size=224): ImageNet classifiers"),
    SizePrior(32, 0.1, "torchvision: datasets/cifar.py: CIFAR-10/100 are 32x32"),
    SizePrior(64, 0.5, "Tiny ImageNet 64x64; pytorch/examples dcgan (image_size 64)"),
    SizePrior(128, 0.5, _NO_DEFAULT + " (power of two, GANs/autoencoders)"),
    SizePrior(96, 0.6, "torchvision: datasets/stl10.py: STL-10 is 96x96"),
    SizePrior(256, 0.6, _TV + "*.py ImageClassification(resize_size=256); LSUN/diffusion"),
    SizePrior(299, 0.7, _TV + "inception.py Inception_V3_Weights(crop_size=299)"),
    SizePrior(227, 0.7, "AlexNet as trained in Caffe (BVLC reference CaffeNet, crop 227)"),
    SizePrior(384, 0.8, _TV + "efficientnet.py V2-S (crop 384); timm *_384 fine-tunes"),
    SizePrior(512, 0.8, _NO_DEFAULT + " (power of two, segmentation/diffusion)"),
    SizePrior(28, 0.8, "torchvision: datasets/mnist.py: MNIST/Fashion-MNIST are 28x28"),
    SizePrior(48, 0.9, "FER-2013 faces are 48x48"),
    SizePrior(112, 0.9, "face-recognition crops (insightface/ArcFace 112x112)"),
    SizePrior(24, 1.0, "MTCNN's R-Net takes 24x24 face candidates (Zhang et al., 2016)"),
    SizePrior(12, 1.2, "MTCNN's P-Net is trained on 12x12 crops (Zhang et al., 2016)"),
    SizePrior(160, 0.9, "facenet-pytorch MTCNN(image_size=160)"),
    SizePrior(192, 0.9, _NO_DEFAULT + " (multiple of 32 between 160 and 224)"),
    SizePrior(240, 1.0, _TV + "efficientnet.py EfficientNet_B1 (crop 240)"),
    SizePrior(260, 1.0, "EfficientNet-B2 resolution in the paper (Tan & Le, 2019)"),
    SizePrior(288, 1.0, _TV + "efficientnet.py EfficientNet_B2 (crop 288)"),
    SizePrior(300, 1.0, _TV + "efficientnet.py EfficientNet_B3 (crop 300); SSD300"),
    SizePrior(320, 1.0, _TV + "detection/ssdlite.py (320x320)"),
    SizePrior(380, 1.0, _TV + "efficientnet.py EfficientNet_B4 (crop 380)"),
    SizePrior(448, 1.0, _NO_DEFAULT + " (fine-grained classification)"),
    SizePrior(456, 1.0, _TV + "efficientnet.py EfficientNet_B5 (crop 456)"),
    SizePrior(480, 1.0, _TV + "efficientnet.py V2-M/L (crop 480)"),
    SizePrior(528, 1.0, _TV + "efficientnet.py EfficientNet_B6 (crop 528)"),
    SizePrior(600, 1.0, _TV + "efficientnet.py EfficientNet_B7 (crop 600)"),
    SizePrior(640, 1.0, "ultralytics YOLO default imgsz=640"),
    SizePrior(40, 1.0, _NO_DEFAULT),
    SizePrior(84, 1.0, "Atari frames after DQN preprocessing (Mnih et al., 2015)"),
    SizePrior(120, 1.2, _NO_DEFAULT),
    SizePrior(150, 1.2, _NO_DEFAULT),
    SizePrior(16, 1.5, _NO_DEFAULT + " (tiny synthetic images)"),
)

# One channel: MNIST-family 28x28 (a LeNet with padding 2 rather than 32x32 unpadded).
_IMAGE_GRAY = (
    SizePrior(28, 0.0, "torchvision: datasets/mnist.py: MNIST/Fashion-MNIST/KMNIST 28x28"),
    SizePrior(32, 0.6, "LeNet-5 as published takes 32x32 (MNIST padded by 2)"),
    SizePrior(64, 0.6, _NO_DEFAULT + " (grayscale crops, spectrogram patches)"),
    SizePrior(48, 0.8, "FER-2013 faces are 48x48 grayscale"),
    SizePrior(96, 0.8, _NO_DEFAULT),
    SizePrior(128, 0.8, _NO_DEFAULT + " (spectrogram patches)"),
    SizePrior(224, 0.8, "ImageNet-size models fed grayscale (medical imaging)"),
    SizePrior(256, 0.9, _NO_DEFAULT),
    SizePrior(40, 1.0, _NO_DEFAULT),
    SizePrior(84, 1.0, "single Atari frame after DQN preprocessing (Mnih et al., 2015)"),
    SizePrior(100, 1.0, _NO_DEFAULT),
    SizePrior(112, 1.0, _NO_DEFAULT),
    SizePrior(16, 1.5, _NO_DEFAULT),
    SizePrior(20, 1.5, _NO_DEFAULT),
)

# Four channels: Atari's stacked 84x84 frames far more often than RGBA/RGB-D.
_ATARI = "4 stacked Atari frames of 84x84 (Mnih et al., 2015; gym AtariPreprocessing)"
_RGBA_SHIFT = 0.6
"""RGBA/RGB-D inputs take the RGB sizes, each a little less likely than Atari's."""
_IMAGE_4CH = (
    SizePrior(84, 0.0, _ATARI),
    SizePrior(64, 0.8, _NO_DEFAULT + " (stacked 64x64 frames)"),
    SizePrior(96, 1.0, _NO_DEFAULT),
    *(
        SizePrior(p.size, p.cost + _RGBA_SHIFT, p.why + " (as RGBA/RGB-D)")
        for p in _IMAGE_RGB
        if p.size not in (84, 64, 96)
    ),
)

_SIGNAL_LENGTH = (
    SizePrior(16000, 0.0, "one second at 16 kHz: torchaudio SPEECHCOMMANDS, LibriSpeech"),
    SizePrior(8000, 0.3, "one second at 8 kHz (telephone speech; M5 on resampled audio)"),
    SizePrior(22050, 0.5, "one second at 22.05 kHz: torchaudio LJSPEECH, librosa default"),
    SizePrior(44100, 0.6, "one second at 44.1 kHz (CD audio)"),
    SizePrior(128, 0.6, _NO_DEFAULT + " (power-of-two window)"),
    SizePrior(256, 0.6, _NO_DEFAULT + " (power-of-two window)"),
    SizePrior(512, 0.6, _NO_DEFAULT + " (power-of-two window)"),
    SizePrior(1024, 0.3, "CREPE frames of 1024 samples at 16 kHz (Kim et al., 2018; torchcrepe)"),
    SizePrior(100, 0.8, _NO_DEFAULT + " (round window)"),
    SizePrior(200, 0.8, _NO_DEFAULT + " (round window)"),
    SizePrior(1000, 0.8, _NO_DEFAULT + " (round window)"),
    SizePrior(4000, 0.8, _NO_DEFAULT + " (round window)"),
    SizePrior(32, 1.0, _NO_DEFAULT),
    SizePrior(64, 1.0, _NO_DEFAULT),
    SizePrior(187, 1.0, "MIT-BIH heartbeat windows (Kaggle ECG Heartbeat Categorization)"),
)

_KINETICS = "torchvision: references/video_classification (clip_len 16 on Kinetics-400)"
_VIDEO_FRAMES = (
    SizePrior(16, 0.0, _KINETICS),
    SizePrior(8, 0.2, "8-frame clips (SlowFast slow pathway, 8x8 setting)"),
    SizePrior(32, 0.4, _NO_DEFAULT + " (long clips)"),
    SizePrior(4, 0.5, _NO_DEFAULT),
    SizePrior(1, 0.8, "a single frame (image models inflated to 3-d)"),
    SizePrior(2, 0.8, _NO_DEFAULT),
    SizePrior(3, 0.8, _NO_DEFAULT),
    SizePrior(10, 1.0, _NO_DEFAULT),
    SizePrior(64, 1.0, _NO_DEFAULT),
)
_VIDEO_SIDE = (
    SizePrior(224, 0.0, _TV + "video/mvit.py, s3d.py, swin_transformer.py (crop 224)"),
    SizePrior(112, 0.1, _TV + "video/resnet.py VideoClassification(crop_size=(112, 112))"),
    SizePrior(128, 0.3, _TV + "video/resnet.py VideoClassification(resize_size=(128, 171))"),
    SizePrior(64, 0.4, _NO_DEFAULT),
    SizePrior(32, 0.5, _NO_DEFAULT),
    SizePrior(160, 0.6, "pytorchvideo X3D-S (160x160 crops)"),
    SizePrior(256, 0.6, _NO_DEFAULT),
    SizePrior(96, 0.7, _NO_DEFAULT),
)


# Frames of feature vectors (mel/CQT/MFCC frames, one every 10 ms): a sequence whose first
# layer reads many channels.
_FEATURE_FRAMES = (
    SizePrior(3000, 0.0, "Whisper: 30 s of 10-ms log-mel frames (Radford et al., 2022)"),
    SizePrior(100, 0.4, "one second of 10-ms frames"),
    SizePrior(1000, 0.5, "ten seconds of 10-ms frames"),
    SizePrior(500, 0.5, "five seconds of 10-ms frames"),
    SizePrior(128, 0.6, _NO_DEFAULT + " (power-of-two frame count)"),
    SizePrior(256, 0.6, _NO_DEFAULT + " (power-of-two frame count)"),
    SizePrior(512, 0.6, _NO_DEFAULT + " (power-of-two frame count)"),
    SizePrior(200, 0.7, "two seconds of 10-ms frames"),
    SizePrior(300, 0.7, "three seconds of 10-ms frames"),
)
_FRAMES_CHANNELS = 4
"""A 1-d input of more channels than this is frames of feature vectors, not a waveform."""

# Samples per trial of an EEG net reading [N, 1, electrodes, time] (a (1, k) temporal then
# a (C, 1) spatial convolution): a sampling rate times an epoch length of a public dataset.
_BCI4_2A = "BCI Competition IV 2a (250 Hz)"
_EEG_SAMPLES = (
    SizePrior(1125, 0.0, _BCI4_2A + ", 4.5-s trials: braindecode's ShallowFBCSPNet/Deep4"),
    SizePrior(128, 0.1, "1 s at 128 Hz: EEGNet's Samples=128 (Lawhern et al., 2018)"),
    SizePrior(256, 0.1, "2 s at 128 Hz: EEGNet on BCI IV 2a resampled (Lawhern et al., 2018)"),
    SizePrior(1000, 0.2, _BCI4_2A + ", the 4-s imagery period"),
    SizePrior(640, 0.3, "4 s at 160 Hz: PhysioNet EEG Motor Movement/Imagery (EEGMMIDB)"),
    SizePrior(500, 0.4, "2 s at 250 Hz"),
    SizePrior(750, 0.4, "3 s at 250 Hz"),
    SizePrior(384, 0.4, "3 s at 128 Hz"),
    SizePrior(512, 0.4, "2 s at 256 Hz or 1 s at 512 Hz"),
    SizePrior(480, 0.5, "3 s at 160 Hz (EEGMMIDB)"),
    SizePrior(1024, 0.5, "4 s at 256 Hz"),
    SizePrior(3000, 0.5, "a 30-s sleep epoch at 100 Hz (Sleep-EDF)"),
)
EEG_KIND = "eeg"
"""The kind the solver uses for [N, 1, electrodes, time] (its time axis reads
:data:`_EEG_SAMPLES`); reported as an image input, as before."""

# Either axis of a one-channel time-frequency map (mel bins and frame counts, in either
# order: [N, 1, F, T] and [N, 1, T, F] are both common).
_FRAMES_1S = "frames of 1 s at 16 kHz, hop 160 (10 ms)"
_SPECTROGRAM_AXIS = (
    SizePrior(40, 0.05, "40 log-mel bins: keyword spotting (Sainath & Parada, 2015)"),
    SizePrior(101, 0.0, _FRAMES_1S + ", center=True: torchaudio MelSpectrogram defaults"),
    SizePrior(64, 0.1, "64 mel bins: VGGish, PANNs (Kong et al., 2020)"),
    SizePrior(80, 0.1, "80 mel bins: Whisper, Tacotron 2 / HiFi-GAN"),
    SizePrior(128, 0.1, "128 mel bins: torchaudio MelSpectrogram/librosa n_mels default"),
    SizePrior(98, 0.2, _FRAMES_1S + ", 25-ms windows: Kaldi fbank (torchaudio.compliance)"),
    SizePrior(100, 0.2, "one second of 10-ms frames"),
    SizePrior(96, 0.2, "VGGish's 0.96-s patches of 96 frames (Hershey et al., 2017)"),
    SizePrior(3000, 0.3, "Whisper: 30 s of 10-ms frames (Radford et al., 2022)"),
    SizePrior(431, 0.3, "10 s at 22.05 kHz, hop 512, center=True (librosa defaults)"),
    SizePrior(216, 0.3, "5 s at 22.05 kHz, hop 512 (librosa defaults; ESC-50 clips)"),
    SizePrior(201, 0.3, "STFT bins of n_fft=400 (torchaudio Spectrogram default)"),
    SizePrior(257, 0.3, "STFT bins of n_fft=512"),
    SizePrior(500, 0.4, "five seconds of 10-ms frames"),
    SizePrior(1000, 0.4, "ten seconds of 10-ms frames"),
    SizePrior(32, 0.5, _NO_DEFAULT + " (short patches)"),
)
SPECTROGRAM_KIND = "spectrogram"
"""The kind the solver uses for a one-channel map read by rectangular kernels (both
axes read :data:`_SPECTROGRAM_AXIS`); reported as an image input, as before."""

_CRNN = "CRNN (Shi et al., 2016): text lines scaled to height 32"
_TEXT_HEIGHT = (
    SizePrior(32, 0.0, _CRNN),
    SizePrior(64, 0.5, _NO_DEFAULT + " (taller text-line crops)"),
    SizePrior(48, 0.6, _NO_DEFAULT + " (text-line crops)"),
    SizePrior(16, 0.8, _NO_DEFAULT),
    SizePrior(24, 0.8, _NO_DEFAULT),
    SizePrior(128, 0.8, "spectrogram CRNNs: 128 mel bins (torchaudio MelSpectrogram n_mels)"),
    SizePrior(40, 0.8, "spectrogram CRNNs: 40 mel bins (keyword spotting)"),
)
_TEXT_WIDTH = (
    SizePrior(128, 0.0, _NO_DEFAULT + " (text-line crops 32 x 128)"),
    SizePrior(100, 0.1, _CRNN + " x 100 wide"),
    SizePrior(256, 0.3, _NO_DEFAULT),
    SizePrior(64, 0.5, _NO_DEFAULT),
)
_TOKEN_LENGTH = (
    SizePrior(128, 0.0, "transformers tokenizers' common max_length; BERT fine-tuning scripts"),
    SizePrior(256, 0.1, _NO_DEFAULT + " (power-of-two sequence length)"),
    SizePrior(512, 0.2, "BERT's max_position_embeddings (Devlin et al., 2019)"),
    SizePrior(1014, 0.3, "character-level CNN input (Zhang et al., 2015)"),
    SizePrior(1024, 0.3, "GPT-2's n_positions"),
    SizePrior(64, 0.4, _NO_DEFAULT),
    SizePrior(32, 0.4, _NO_DEFAULT),
    SizePrior(100, 0.5, _NO_DEFAULT + " (round length)"),
    SizePrior(200, 0.5, _NO_DEFAULT + " (round length)"),
    SizePrior(50, 0.6, _NO_DEFAULT + " (round length)"),
)


def _costs(priors: tuple[SizePrior, ...]) -> Mapping[int, float]:
    return MappingProxyType({p.size: p.cost for p in priors})


#: Every table as ``size -> cost``, read by the solver.
PRIOR_TABLES: Mapping[SizeTable, Mapping[int, float]] = MappingProxyType(
    {
        SizeTable.IMAGE_RGB: _costs(_IMAGE_RGB),
        SizeTable.IMAGE_GRAY: _costs(_IMAGE_GRAY),
        SizeTable.IMAGE_4CH: _costs(_IMAGE_4CH),
        SizeTable.SIGNAL_LENGTH: _costs(_SIGNAL_LENGTH),
        SizeTable.VIDEO_FRAMES: _costs(_VIDEO_FRAMES),
        SizeTable.VIDEO_SIDE: _costs(_VIDEO_SIDE),
        SizeTable.FEATURE_FRAMES: _costs(_FEATURE_FRAMES),
        SizeTable.EEG_SAMPLES: _costs(_EEG_SAMPLES),
        SizeTable.SPECTROGRAM_AXIS: _costs(_SPECTROGRAM_AXIS),
        SizeTable.TEXT_HEIGHT: _costs(_TEXT_HEIGHT),
        SizeTable.TEXT_WIDTH: _costs(_TEXT_WIDTH),
        SizeTable.TOKEN_LENGTH: _costs(_TOKEN_LENGTH),
    }
)

#: The entries themselves (with their reasons), for documentation and tests.
PRIOR_ENTRIES: Mapping[SizeTable, tuple[SizePrior, ...]] = MappingProxyType(
    {
        SizeTable.IMAGE_RGB: _IMAGE_RGB,
        SizeTable.IMAGE_GRAY: _IMAGE_GRAY,
        SizeTable.IMAGE_4CH: _IMAGE_4CH,
        SizeTable.SIGNAL_LENGTH: _SIGNAL_LENGTH,
        SizeTable.VIDEO_FRAMES: _VIDEO_FRAMES,
        SizeTable.VIDEO_SIDE: _VIDEO_SIDE,
        SizeTable.FEATURE_FRAMES: _FEATURE_FRAMES,
        SizeTable.EEG_SAMPLES: _EEG_SAMPLES,
        SizeTable.SPECTROGRAM_AXIS: _SPECTROGRAM_AXIS,
        SizeTable.TEXT_HEIGHT: _TEXT_HEIGHT,
        SizeTable.TEXT_WIDTH: _TEXT_WIDTH,
        SizeTable.TOKEN_LENGTH: _TOKEN_LENGTH,
    }
)


TEXT_LINE_KIND = "text-line"
"""The kind the solver uses for the map a CRNN reads (axis 0 height, axis 1 width)."""


def raw_signal(kind: str, channels: int | None) -> bool:
    """A 1-d input of a few channels: a waveform or sensor signal, not frames of feature
    vectors (:data:`_FRAMES_CHANNELS`)."""
    return kind == InputKind.SEQUENCE and channels is not None and channels <= _FRAMES_CHANNELS


def prior_table(kind: str, channels: int | None, axis: int = 0) -> SizeTable:
    """The table for one spatial axis of an input of this kind (``sequence``, ``volume``,
    :data:`EEG_KIND`, :data:`SPECTROGRAM_KIND`, else an image) with this many channels;
    ``axis`` 0 of a volume is its frames."""
    if kind == InputKind.SEQUENCE:
        many = channels is not None and channels > _FRAMES_CHANNELS
        return SizeTable.FEATURE_FRAMES if many else SizeTable.SIGNAL_LENGTH
    if kind == InputKind.TOKENS:
        return SizeTable.TOKEN_LENGTH
    if kind == EEG_KIND:
        return SizeTable.EEG_SAMPLES
    if kind == SPECTROGRAM_KIND:
        return SizeTable.SPECTROGRAM_AXIS
    if kind == TEXT_LINE_KIND:
        return SizeTable.TEXT_HEIGHT if axis == 0 else SizeTable.TEXT_WIDTH
    if kind == InputKind.VOLUME:
        return SizeTable.VIDEO_FRAMES if axis == 0 else SizeTable.VIDEO_SIDE
    if channels == 1:
        return SizeTable.IMAGE_GRAY
    if channels == 4:
        return SizeTable.IMAGE_4CH
    return SizeTable.IMAGE_RGB
