"""Small signal models whose input size rests on documented conventions the weights do not
store (issue 10, item 1): the solver's hypotheses for them and the size priors of their
input's kind.  Each builder returns a ``torch.nn`` model written the way the cited code
writes that network (smaller widths, other sizes) and the input it was built for;
``generate_models.py`` registers them with its other reference models.

- ``pitch_frames``: a CREPE-style pitch tracker (Kim et al., 2018; torchcrepe model.py)
  written with ``Conv1d``: a long first kernel with a hop, exact 'same' padding of even
  kernels (``ConstantPad1d((k-1)//2, k//2)``), pools of 2, flatten head.
- ``eeg_shallow``: braindecode's ShallowFBCSPNet (Schirrmeister et al., 2017): a (1, k)
  temporal and a (C, 1) spatial convolution, mean pool of 75 samples every 15, flatten
  head, on 4 s at 250 Hz.
- ``kws_spectrogram``: a keyword-spotting CNN after Sainath & Parada (2015,
  cnn-trad-fpool3): rectangular kernels on 64 log-mel bins x 101 frames, a pool along
  one axis, flatten head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from structures import input_truth
from torch import nn

Builder = Callable[[], tuple[nn.Module, dict[str, Any]]]
SIGNALS: dict[str, Builder] = {}


def _register(fn: Builder) -> Builder:
    SIGNALS[fn.__name__] = fn
    return fn


def _same(k: int) -> nn.ConstantPad1d:
    """Exact 'same' padding of an even kernel (as Keras ``padding='same'``)."""
    return nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0)


class PitchFrames(nn.Module):
    """1024-sample frames at 16 kHz: 256-tap filterbank with a hop of 8, four 32-tap
    convolutions, each followed by ReLU, BatchNorm and a pool of 2."""

    def __init__(self, bins: int = 60) -> None:
        super().__init__()
        widths = [1, 16, 8, 8, 16, 16]
        layers: list[nn.Module] = []
        for i in range(5):
            k, s = (256, 8) if i == 0 else (32, 1)
            layers += [
                _same(k),
                nn.Conv1d(widths[i], widths[i + 1], k, s),
                nn.ReLU(),
                nn.BatchNorm1d(widths[i + 1]),
                nn.MaxPool1d(2),
            ]
        self.convs = nn.Sequential(*layers)
        self.classifier = nn.Linear(16 * 4, bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.classifier(torch.flatten(self.convs(x), 1)))


@_register
def pitch_frames():
    return PitchFrames(), input_truth("fixed", "sequence", (1, 1, 1024))


class EEGShallow(nn.Module):
    """ShallowFBCSPNet on 8 electrodes x 1000 samples (4 s at 250 Hz)."""

    def __init__(self, chans: int = 8, samples: int = 1000, classes: int = 3) -> None:
        super().__init__()
        self.conv_time = nn.Conv2d(1, 16, (1, 13))
        self.conv_spat = nn.Conv2d(16, 16, (chans, 1), bias=False)
        self.bnorm = nn.BatchNorm2d(16)
        self.pool = nn.AvgPool2d((1, 75), (1, 15))
        self.drop = nn.Dropout(0.5)
        out_t = (samples - 12 - 75) // 15 + 1
        self.classifier = nn.Linear(16 * out_t, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bnorm(self.conv_spat(self.conv_time(x)))
        x = torch.log(torch.clamp(self.pool(x * x), min=1e-6))
        return self.classifier(torch.flatten(self.drop(x), 1))


@_register
def eeg_shallow():
    return EEGShallow(), input_truth("fixed", "image", (1, 1, 8, 1000))


class KwsSpectrogram(nn.Module):
    """64 log-mel bins x 101 frames (1 s at 16 kHz, hop 10 ms): (16, 8) and (8, 4)
    kernels, a pool of 2 along time between them."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, (16, 8))
        self.pool1 = nn.MaxPool2d((1, 2))
        self.conv2 = nn.Conv2d(8, 4, (8, 4))
        self.fc = nn.Linear(4 * 42 * 44, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(torch.relu(self.conv1(x)))
        return self.fc(torch.flatten(torch.relu(self.conv2(x)), 1))


@_register
def kws_spectrogram():
    return KwsSpectrogram(), input_truth("fixed", "image", (1, 1, 64, 101))
