# /// script
# requires-python = ">=3.11"
# dependencies = ["torch>=2.1", "safetensors"]
# ///
"""Small reference models with known architecture, for the analysis stages.

Each builder returns a ``torch.nn`` model (torch.nn only: no torchvision/timm/transformers)
written the way the usual zoos write them (torchvision/timm/Hugging Face naming), and the
input it runs on.  ``main()`` saves every model's ``state_dict()`` as ``<name>.pt`` (and a
few as ``.safetensors``, whose keys are sorted and carry no ``_metadata``) next to a
``<name>.truth.json``::

    {"layers": {module: type}, "input_status": "fixed"|"free", "input_kind": ...,
     "input_shape": [...], "input_dtype": ..., "output_shape": [...]}

``layers`` lists every leaf module and every module owning tensors, typed by
``type(module).__name__``.  Run: ``python corpus/models/generate_models.py``.
Tests import ``BUILDERS`` from here to check inference against the same models.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the name everybody uses
from signals import SIGNALS  # signal models resting on documented conventions (issue 10)
from structures import STRUCTURES  # the non-chain structures (issue 10), same directory
from structures import input_truth as _truth
from torch import nn

Builder = Callable[[], tuple[nn.Module, dict[str, Any]]]
BUILDERS: dict[str, Builder] = {}


def _register(fn: Builder) -> Builder:
    BUILDERS[fn.__name__] = fn
    return fn


# --- classic CNNs with flatten heads -------------------------------------------------------


@_register
def lenet_seq():
    """LeNet-5 as an nn.Sequential pair on MNIST, 1x28x28 (padding 2 on the first conv):
    Linear(400) after flatten.  (An unpadded 1x32x32 LeNet stores the same shapes; for one
    channel the inference prefers MNIST's 28.)"""
    model = nn.Sequential()
    model.add_module(
        "features",
        nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ),
    )
    model.add_module(
        "classifier",
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(400, 32),
            nn.ReLU(),
            nn.Linear(32, 16),
            nn.ReLU(),
            nn.Linear(16, 10),
        ),
    )
    return model, _truth("fixed", "image", (1, 1, 28, 28))


class MnistNet(nn.Module):
    """The PyTorch MNIST example (functional relu/max_pool), 1x28x28."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 12 * 12, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        return self.fc2(self.dropout2(torch.relu(self.fc1(x))))


@_register
def mnist_net():
    return MnistNet(), _truth("fixed", "image", (1, 1, 28, 28))


class CifarNet(nn.Module):
    """The PyTorch CIFAR-10 tutorial net (one pool module used twice), 3x32x32."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 32)
        self.fc2 = nn.Linear(32, 24)
        self.fc3 = nn.Linear(24, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


@_register
def cifar_net():
    return CifarNet(), _truth("fixed", "image", (1, 3, 32, 32))


@_register
def keras_style_cnn():
    """conv-conv-pool x2 with 'same' padding and BatchNorm, 3x32x32 -> 8x8 flatten."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    model = nn.Sequential(
        *block(3, 8), *block(8, 16), nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 8 * 8, 10)
    )
    return model, _truth("fixed", "image", (1, 3, 32, 32))


class AtariDQN(nn.Module):
    """Nature-DQN: 4x84x84 stacked frames, strides 4/2/1, Linear(3136)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 8, stride=4)
        self.conv2 = nn.Conv2d(8, 16, 4, stride=2)
        self.conv3 = nn.Conv2d(16, 16, 3, stride=1)
        self.fc = nn.Linear(16 * 7 * 7, 32)
        self.head = nn.Linear(32, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x))))))
        return self.head(torch.relu(self.fc(x.flatten(1))))


@_register
def atari_dqn():
    return AtariDQN(), _truth("fixed", "image", (1, 4, 84, 84))


# --- free-size CNNs ------------------------------------------------------------------------


def _vgg(width: int, out_size: int) -> nn.Module:
    cfg = [width, "M", 2 * width, "M", 4 * width, 4 * width, "M", 8 * width, "M", 8 * width, "M"]
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(*layers))
    model.add_module("avgpool", nn.AdaptiveAvgPool2d((out_size, out_size)))
    model.add_module("flatten", nn.Flatten())
    model.add_module(
        "classifier",
        nn.Sequential(
            nn.Linear(cin * out_size * out_size, 8),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(8, 8),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(8, 10),
        ),
    )
    return model


@_register
def vgg_like():
    """torchvision-style VGG: features / avgpool=AdaptiveAvgPool2d((7,7)) / classifier."""
    return _vgg(4, 7), _truth("free", "image", (1, 3, 224, 224))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


class ResNetLike(nn.Module):
    """torchvision ResNet layout: conv1/bn1/relu/maxpool/layer1..3/avgpool/fc."""

    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(
            BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width)
        )
        self.layer3 = nn.Sequential(BasicBlock(2 * width, 4 * width, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@_register
def resnet_like():
    return ResNetLike(), _truth("free", "image", (1, 3, 224, 224))


def _conv_bn(cin: int, cout: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            cin,
            cout,
            3 if groups > 1 or cin == 3 else 1,
            stride,
            1 if groups > 1 or cin == 3 else 0,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


# --- global reductions before the head, written in forward() ---------------------------------


class _FunctionalBlock(nn.Module):
    """kuangliu/pytorch-cifar models/resnet.py BasicBlock: ``F.relu`` in forward(), an
    empty ``nn.Sequential()`` as the identity shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class KuangliuResNet(nn.Module):
    """kuangliu/pytorch-cifar ResNet18's layout (one block per stage, narrow): four stages
    halving the map three times, ``F.avg_pool2d(out, 4)``, a Linear of the last width.  The
    fixed window makes the 32x32 input fixed (29..60 run), though the head reads only the
    channels."""

    def __init__(self, width: int = 4, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        widths = (width, 2 * width, 4 * width, 8 * width)
        self.layer1 = nn.Sequential(_FunctionalBlock(width, widths[0]))
        self.layer2 = nn.Sequential(_FunctionalBlock(widths[0], widths[1], 2))
        self.layer3 = nn.Sequential(_FunctionalBlock(widths[1], widths[2], 2))
        self.layer4 = nn.Sequential(_FunctionalBlock(widths[2], widths[3], 2))
        self.linear = nn.Linear(widths[3], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


@_register
def kuangliu_resnet():
    return KuangliuResNet(), _truth("fixed", "image", (1, 3, 32, 32))


class FunctionalGapCNN(nn.Module):
    """torchvision MobileNetV2's habit: activation modules registered, the global pool
    applied in forward() (``F.adaptive_avg_pool2d(x, (1, 1))``, no module): any size runs."""

    def __init__(self, width: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, 2, 1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                )
                for cin, cout in ((3, width), (width, 2 * width), (2 * width, 4 * width))
            )
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(4 * width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


@_register
def functional_gap_cnn():
    return FunctionalGapCNN(), _truth("free", "image", (1, 3, 224, 224))


@_register
def mobilenet_like():
    """Depthwise-separable MobileNetV1 chain: features.N.{0,1,2} / classifier."""
    feats = [_conv_bn(3, 8, 2)]
    cin = 8
    for cout, stride in ((16, 1), (32, 2), (32, 1)):
        feats += [_conv_bn(cin, cin, stride, groups=cin), _conv_bn(cin, cout, 1)]
        cin = cout
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(*feats))
    model.add_module("pool", nn.AdaptiveAvgPool2d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("classifier", nn.Sequential(nn.Dropout(0.2), nn.Linear(cin, 10)))
    return model, _truth("free", "image", (1, 3, 224, 224))


class M5(nn.Module):
    """Conv1d audio net (the torchaudio tutorial M5): 1x16000 waveform, global avg pool."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 16, 80, stride=16)
        self.bn1 = nn.BatchNorm1d(16)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(16, 16, 3)
        self.bn2 = nn.BatchNorm1d(16)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(16, 32, 3)
        self.bn3 = nn.BatchNorm1d(32)
        self.pool3 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(32, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(torch.relu(self.bn2(self.conv2(x))))
        x = self.pool3(torch.relu(self.bn3(self.conv3(x))))
        x = torch.nn.functional.avg_pool1d(x, x.shape[-1]).squeeze(-1)
        return self.fc1(x)


@_register
def audio_m5():
    return M5(), _truth("free", "sequence", (1, 1, 16000))


@_register
def video_c3d():
    """Conv3d clip classifier: stem / BatchNorm3d / MaxPool3d / AdaptiveAvgPool3d / fc."""
    model = nn.Sequential()
    model.add_module(
        "stem",
        nn.Sequential(
            nn.Conv3d(3, 8, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
            nn.BatchNorm3d(8),
            nn.ReLU(inplace=True),
        ),
    )
    model.add_module("pool", nn.MaxPool3d((1, 2, 2)))
    model.add_module(
        "block",
        nn.Sequential(
            nn.Conv3d(8, 16, 3, padding=1, bias=False), nn.BatchNorm3d(16), nn.ReLU(inplace=True)
        ),
    )
    model.add_module("avgpool", nn.AdaptiveAvgPool3d(1))
    model.add_module("flatten", nn.Flatten())
    model.add_module("fc", nn.Linear(16, 5))
    return model, _truth("free", "volume", (1, 3, 16, 112, 112))


@_register
def dcgan_generator():
    """DCGAN generator: ConvTranspose2d chain from a 16x1x1 latent to 3x32x32."""
    model = nn.Sequential()
    model.add_module(
        "main",
        nn.Sequential(
            nn.ConvTranspose2d(16, 32, 4, 1, 0, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(True),
            nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        ),
    )
    return model, _truth("free", "latent", (1, 16, 1, 1))


@_register
def dcgan_discriminator():
    """pytorch/examples dcgan Discriminator (ndf 8): four 4x4/2 convolutions padded 1 halve
    64x64 to 4x4, and the last 4x4 convolution covers that map: one score per image
    (``view(-1)``), so the size is fixed."""
    model = nn.Sequential()
    model.add_module(
        "main",
        nn.Sequential(
            nn.Conv2d(3, 8, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(8, 16, 4, 2, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(16, 32, 4, 2, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(32, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(64, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
            nn.Flatten(0),
        ),
    )
    return model, _truth("fixed", "image", (1, 3, 64, 64))


class EEGNet(nn.Module):
    """EEGNet-4,2 (Lawhern et al., 2018; arl-eegmodels defaults Samples=128) on 8
    electrodes x 128 samples: a (1, 32) temporal convolution, a depthwise (8, 1) spatial
    convolution over every electrode (it consumes that axis), (1, 4) and (1, 8) average
    pools, a separable convolution and a flatten head."""

    def __init__(self, chans: int = 8, samples: int = 128, classes: int = 3) -> None:
        super().__init__()
        self.conv_temporal = nn.Conv2d(1, 4, (1, 32), padding=(0, 16), bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv_spatial = nn.Conv2d(4, 8, (chans, 1), groups=4, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool1 = nn.AvgPool2d((1, 4))
        self.conv_depth = nn.Conv2d(8, 8, (1, 16), padding=(0, 8), groups=8, bias=False)
        self.conv_point = nn.Conv2d(8, 8, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.pool2 = nn.AvgPool2d((1, 8))
        self.classify = nn.Linear(8 * (((samples + 1) // 4 + 1) // 8), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv_temporal(x))
        x = self.pool1(F.elu(self.bn2(self.conv_spatial(x))))
        x = self.pool2(F.elu(self.bn3(self.conv_point(self.conv_depth(x)))))
        return self.classify(torch.flatten(x, 1))


@_register
def eegnet():
    return EEGNet(), _truth("fixed", "image", (1, 1, 8, 128))


class TinyDetector(nn.Module):
    """A two-stage detector laid out as torchvision's Faster R-CNN (``backbone``, ``rpn.head``,
    ``roi_heads.box_head``/``box_predictor``): ``forward`` takes a list of ``[3, H, W]``
    images of any sizes, resizes and batches them itself (``GeneralizedRCNNTransform``), and
    the box head reads 7x7 crops (here the whole map pooled to 7x7 stands for RoIAlign), so
    its flatten Linear fixes no input size."""

    takes_image_list = True
    size = 64

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.rpn = nn.Module()
        self.rpn.head = nn.Module()
        self.rpn.head.conv = nn.Conv2d(16, 16, 3, padding=1)
        self.rpn.head.cls_logits = nn.Conv2d(16, 3, 1)
        self.rpn.head.bbox_pred = nn.Conv2d(16, 12, 1)
        self.roi_heads = nn.Module()
        self.roi_heads.box_head = nn.Module()
        self.roi_heads.box_head.fc6 = nn.Linear(16 * 7 * 7, 32)
        self.roi_heads.box_head.fc7 = nn.Linear(32, 32)
        self.roi_heads.box_predictor = nn.Module()
        self.roi_heads.box_predictor.cls_score = nn.Linear(32, classes)
        self.roi_heads.box_predictor.bbox_pred = nn.Linear(32, 4 * classes)

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        if not isinstance(images, list) or any(i.dim() != 3 for i in images):
            raise ValueError("images is expected to be a list of 3d tensors [C, H, W]")
        batch = torch.stack(
            [F.interpolate(i[None], size=(self.size, self.size))[0] for i in images]
        )
        feat = self.backbone(batch)
        rpn = self.rpn.head
        objectness = rpn.cls_logits(F.relu(rpn.conv(feat)))
        crops = F.adaptive_avg_pool2d(feat * torch.sigmoid(objectness).mean(1, keepdim=True), 7)
        box = self.roi_heads.box_head
        x = F.relu(box.fc7(F.relu(box.fc6(torch.flatten(crops, 1)))))
        return self.roi_heads.box_predictor.cls_score(x)


@_register
def tiny_detector():
    return TinyDetector(), _truth("free", "image", (3, 64, 64))


class TinyUNet(nn.Module):
    """Two-level UNet: concatenating skips, ConvTranspose2d up-sampling (with bias)."""

    def __init__(self) -> None:
        super().__init__()

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            )

        self.inc = double(3, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), double(8, 16))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), double(16, 32))
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.conv1 = double(32, 16)
        self.up2 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.conv2 = double(16, 8)
        self.outc = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        y = self.conv1(torch.cat([x2, self.up1(x3)], 1))
        y = self.conv2(torch.cat([x1, self.up2(y)], 1))
        return self.outc(y)


@_register
def unet_tiny():
    return TinyUNet(), _truth("free", "image", (1, 3, 224, 224))


class NormZoo(nn.Module):
    """GroupNorm, PReLU, affine InstanceNorm between convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.gn1 = nn.GroupNorm(4, 16)
        self.act1 = nn.PReLU(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.norm2 = nn.InstanceNorm2d(16, affine=True)
        self.act2 = nn.PReLU()
        self.conv3 = nn.Conv2d(16, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.gn1(self.conv1(x)))
        x = self.act2(self.norm2(self.conv2(x)))
        return self.fc(self.pool(self.conv3(x)).flatten(1))


@_register
def norm_zoo():
    return NormZoo(), _truth("free", "image", (1, 3, 224, 224))


# --- sequences and tokens ------------------------------------------------------------------


class TextRNN(nn.Module):
    """Embedding -> 2-layer bidirectional LSTM (batch_first) -> Linear on the last step."""

    def __init__(self, cell: type[nn.Module] = nn.LSTM) -> None:
        super().__init__()
        self.embedding = nn.Embedding(500, 16)
        self.rnn = cell(16, 24, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(48, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embedding(x))
        return self.fc(out[:, -1])


@_register
def text_lstm():
    return TextRNN(nn.LSTM), _truth("free", "tokens", (1, 32), "int64")


@_register
def text_gru():
    return TextRNN(nn.GRU), _truth("free", "tokens", (1, 32), "int64")


class TinyViT(nn.Module):
    """timm VisionTransformer layout: patch_embed.proj, cls_token, pos_embed, blocks
    (here nn.TransformerEncoder), norm, head; 3x32x32, patch 8 -> 16 + 1 tokens."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 8, 8)
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


@_register
def tiny_vit():
    return TinyViT(), _truth("fixed", "image", (1, 3, 32, 32))


class DistilledEmbeddings(nn.Module):
    """transformers DeiTEmbeddings / ASTEmbeddings layout: ``cls_token``,
    ``distillation_token``, ``position_embeddings`` (1, patches + 2, D) and
    ``patch_embeddings.projection``."""

    def __init__(self, dim: int, patches: int) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, patches + 2, dim))
        self.patch_embeddings = nn.Module()
        self.patch_embeddings.projection = nn.Conv2d(3, dim, 8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
        extra = [t.expand(x.shape[0], -1, -1) for t in (self.cls_token, self.distillation_token)]
        return torch.cat([*extra, x], 1) + self.position_embeddings


class TinyDistilledViT(nn.Module):
    """DeiT distilled (Touvron et al., 2021) in transformers' naming: two extra tokens
    (class and distillation) before the 4x4 patches of a 3x32x32 image, so the position
    table holds 18 rows; a class head and a distillation head average their logits."""

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.embeddings = DistilledEmbeddings(dim, 16)
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.layernorm = nn.LayerNorm(dim)
        self.cls_classifier = nn.Linear(dim, 10)
        self.distillation_classifier = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layernorm(self.encoder(self.embeddings(x)))
        return (self.cls_classifier(x[:, 0]) + self.distillation_classifier(x[:, 1])) / 2


@_register
def tiny_distilled_vit():
    return TinyDistilledViT(), _truth("fixed", "image", (1, 3, 32, 32))


def _windows(x: torch.Tensor, w: int) -> torch.Tensor:
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def _unwindows(x: torch.Tensor, w: int, h: int, wd: int) -> torch.Tensor:
    b = x.shape[0] // ((h // w) * (wd // w))
    x = x.view(b, h // w, wd // w, w, w, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, wd, -1)


class WindowAttention(nn.Module):
    """qkv, proj and a ((2w-1)^2, heads) relative position bias table."""

    def __init__(self, dim: int, w: int) -> None:
        super().__init__()
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, 2))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)


class SwinBlock(nn.Module):
    """microsoft/Swin-Transformer ``SwinTransformerBlock``: window attention (qkv, proj,
    a ((2w-1)^2, heads) relative bias table), shifted by w/2 in odd blocks, whose mask over
    the windows of its ``res x res`` map is a persistent buffer ``attn_mask`` (nW, w^2, w^2)
    and whose forward asserts that map (``L == H * W``)."""

    def __init__(self, dim: int, res: int, w: int, shift: int) -> None:
        super().__init__()
        self.res, self.w, self.shift = res, w, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, w)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 2 * dim)
        self.mlp.fc2 = nn.Linear(2 * dim, dim)
        if shift:
            img = torch.zeros(1, res, res, 1)
            cuts = (slice(0, -w), slice(-w, -shift), slice(-shift, None))
            for n, (hs, ws) in enumerate((a, b) for a in cuts for b in cuts):
                img[:, hs, ws, :] = n
            ids = _windows(img, w).squeeze(-1)
            mask = (ids[:, None, :] - ids[:, :, None]).ne(0).float() * -100.0
            self.register_buffer("attn_mask", mask)
        else:
            self.attn_mask = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        assert n == self.res * self.res, "input feature has wrong size"
        y = self.norm1(x).view(b, self.res, self.res, c)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), (1, 2))
        win = _windows(y, self.w)
        q, k, v = self.attn.qkv(win).chunk(3, -1)
        a = q @ k.transpose(1, 2) / c**0.5
        if self.attn_mask is not None:
            a = a.view(b, -1, a.shape[-2], a.shape[-1]) + self.attn_mask[None]
            a = a.view(-1, a.shape[-2], a.shape[-1])
        y = _unwindows(self.attn.proj(a.softmax(-1) @ v), self.w, self.res, self.res)
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), (1, 2))
        x = x + y.reshape(b, n, c)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class PatchMerging(nn.Module):
    """Swin's downsampling between stages: 2x2 neighbours concatenated, 4C -> 2C."""

    def __init__(self, dim: int, res: int) -> None:
        super().__init__()
        self.res = res
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        x = x.view(b, self.res, self.res, c)
        parts = [x[:, i::2, j::2] for j in (0, 1) for i in (0, 1)]
        return self.reduction(self.norm(torch.cat(parts, -1).view(b, -1, 4 * c)))


class TinySwin(nn.Module):
    """Swin (Liu et al., 2021) in the official layout: patch 4 on 3x32x32 -> an 8x8 map,
    windows of 4, so the shifted block's stored ``attn_mask`` is (4, 16, 16); merging to
    4x4 (one window, no shift); average pooling and a head."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.patch_embed.norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList([nn.Module(), nn.Module()])
        self.layers[0].blocks = nn.ModuleList([SwinBlock(dim, 8, 4, 0), SwinBlock(dim, 8, 4, 2)])
        self.layers[0].downsample = PatchMerging(dim, 8)
        self.layers[1].blocks = nn.ModuleList([SwinBlock(2 * dim, 4, 4, 0)])
        self.norm = nn.LayerNorm(2 * dim)
        self.head = nn.Linear(2 * dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.norm(self.patch_embed.proj(x).flatten(2).transpose(1, 2))
        for block in self.layers[0].blocks:
            x = block(x)
        x = self.layers[0].downsample(x)
        for block in self.layers[1].blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


@_register
def tiny_swin():
    return TinySwin(), _truth("fixed", "image", (1, 3, 32, 32))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class GatedMLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.input_layernorm = nn.RMSNorm(dim)
        self.self_attn = Attention(dim, 4, 2)
        self.post_attention_layernorm = nn.RMSNorm(dim)
        self.mlp = GatedMLP(dim, 3 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyGPT(nn.Module):
    """GPT/LLaMA-like decoder: wte + wpe, q/k/v/o projections, gated MLP, lm_head."""

    def __init__(self, vocab: int = 256, dim: int = 32, ctx: int = 64) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(ctx, dim)
        self.layers = nn.ModuleList([DecoderLayer(dim) for _ in range(2)])
        self.norm = nn.RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


@_register
def tiny_gpt():
    return TinyGPT(), _truth("free", "tokens", (1, 32), "int64")


@_register
def mlp():
    model = nn.Sequential(
        nn.Linear(20, 64),
        nn.ReLU(),
        nn.BatchNorm1d(64),
        nn.Linear(64, 32),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(32, 3),
    )
    return model, _truth("fixed", "vector", (1, 20))


# --- clues the weights hold besides the layers (issue 10, item 2) ----------------------------


@_register
def features_no_avgpool():
    """torchvision-style ``features``/``classifier`` names but *no* adaptive pool: with
    ``_metadata`` listing every module and no ``avgpool`` among them, the 7x7 flatten head
    fixes the size (28x28) instead of reading as torchvision's adaptive-pool convention."""
    model = nn.Sequential()
    model.add_module(
        "features",
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ),
    )
    model.add_module(
        "classifier", nn.Sequential(nn.Flatten(), nn.Linear(8 * 7 * 7, 16), nn.Linear(16, 10))
    )
    return model, _truth("fixed", "image", (1, 1, 28, 28))


class BeitAttention(nn.Module):
    """Attention with a relative position bias over the whole grid (timm beit.py)."""

    def __init__(self, dim: int, grid: int, heads: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * grid - 1) ** 2 + 3, heads)
        )
        n = grid * grid + 1
        index = torch.arange(n * n).remainder((2 * grid - 1) ** 2 + 3).view(n, n)
        self.register_buffer("relative_position_index", index)
        self.proj = nn.Linear(dim, dim)


class TinyBeit(nn.Module):
    """BEiT-style relative position bias over the whole patch grid plus a class token:
    ``relative_position_bias_table`` has (2g-1)^2 + 3 rows (timm models/beit.py); patch 8
    on 32x32 -> a 4x4 grid, no absolute position table."""

    def __init__(self, dim: int = 16, grid: int = 4, heads: int = 2) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 8, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.attn = BeitAttention(dim, grid, heads)
        self.heads = heads
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        b, n, c = x.shape
        q, k, v = self.attn.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        idx = self.attn.relative_position_index.view(-1)
        bias = self.attn.relative_position_bias_table[idx].view(n, n, -1).permute(2, 0, 1)
        a = (q @ k.transpose(-1, -2) + bias).softmax(-1)
        x = self.attn.proj((a @ v).transpose(1, 2).reshape(b, n, c))
        return self.head(x[:, 0])


@_register
def tiny_beit():
    return TinyBeit(), _truth("fixed", "image", (1, 3, 32, 32))


class ConvNorm(nn.Module):
    """A convolution and its BatchNorm (timm levit.py ``ConvNorm``: ``linear`` + ``bn``)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.linear = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(x))


class LevitAttention(nn.Module):
    """qkv/proj and one bias per head and per offset ``(|dx|, |dy|)`` of the ``res x res``
    map (timm levit.py ``Attention``)."""

    def __init__(self, dim: int, heads: int, res: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        pts = [(i, j) for i in range(res) for j in range(res)]
        offsets: dict[tuple[int, int], int] = {}
        idxs = []
        for p1 in pts:
            for p2 in pts:
                off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                idxs.append(offsets.setdefault(off, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(heads, len(offsets)))
        self.register_buffer("attention_bias_idxs", torch.tensor(idxs).view(len(pts), len(pts)))


class TinyLevit(nn.Module):
    """LeViT-style (Graham et al., 2021; timm models/levit.py): a stem of conv-BN 3x3/2
    blocks that double the channels (64 -> 8x8), then attention over the whole 8x8 map
    with one learned bias per head and per offset, ``attention_biases`` (heads, 64), which
    fixes the map (and so the input), and global average pooling before the head."""

    def __init__(self, dim: int = 32, heads: int = 2, res: int = 8) -> None:
        super().__init__()
        self.stem = nn.Module()
        self.stem.conv1 = ConvNorm(3, dim // 4, 2)
        self.stem.act1 = nn.Hardswish()
        self.stem.conv2 = ConvNorm(dim // 4, dim // 2, 2)
        self.stem.act2 = nn.Hardswish()
        self.stem.conv3 = ConvNorm(dim // 2, dim, 2)
        self.attn = LevitAttention(dim, heads, res)
        self.heads = heads
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem
        x = s.conv3(s.act2(s.conv2(s.act1(s.conv1(x))))).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q, k, v = self.attn.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        bias = self.attn.attention_biases[:, self.attn.attention_bias_idxs]
        a = (q @ k.transpose(-1, -2) + bias).softmax(-1)
        x = self.attn.proj((a @ v).transpose(1, 2).reshape(b, n, c))
        return self.head(x.mean(1))


@_register
def tiny_levit():
    return TinyLevit(), _truth("fixed", "image", (1, 3, 64, 64))


class DecomposedAttention(nn.Module):
    """Attention over the whole ``size x size`` map with MViTv2's decomposed relative
    positions (Li et al., 2022; torchvision models/video/mvit.py ``_add_rel_pos``): one
    table per axis, ``rel_pos_h``/``rel_pos_w`` of ``2 * size - 1`` rows."""

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * size - 1, dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * size - 1, dim))
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        s = self.size
        q, k, v = self.qkv(x).view(b, n, 3, c).unbind(2)
        idx = torch.arange(s)[:, None] - torch.arange(s)[None, :] + s - 1
        qm = q.view(b, s, s, c)
        bias_h = torch.einsum("bhwc,hkc->bhwk", qm, self.rel_pos_h[idx])
        bias_w = torch.einsum("bhwc,wkc->bhwk", qm, self.rel_pos_w[idx])
        a = (q @ k.transpose(-1, -2)).view(b, s, s, s, s)
        a = a + bias_h[:, :, :, :, None] + bias_w[:, :, :, None, :]
        return self.proj(a.view(b, n, n).softmax(-1) @ v)


class TinyMvit(nn.Module):
    """MViTv2-style 2-d: an overlapping patch embedding (7x7, stride 4, padding 3: also
    CvT, PVTv2, SegFormer) on 64x64 -> a 16x16 map, attention with decomposed relative
    positions over it (which fix it), mean pooling and a head."""

    def __init__(self, dim: int = 16, size: int = 16) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, 7, 4, 3)
        self.attn = DecomposedAttention(dim, size)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        return self.head(self.attn(x).mean(1))


@_register
def tiny_mvit():
    return TinyMvit(), _truth("fixed", "image", (1, 3, 64, 64))


class TinyMixer(nn.Module):
    """MLP-Mixer: the token-mixing MLP's width is the patch count (timm mlp_mixer.py
    ``mlp_tokens``): patch 8 on 32x32 -> 16 tokens."""

    def __init__(self, dim: int = 24, tokens: int = 16) -> None:
        super().__init__()
        self.stem = nn.Module()
        self.stem.proj = nn.Conv2d(3, dim, 8, 8)
        self.block = nn.Module()
        self.block.norm1 = nn.LayerNorm(dim)
        self.block.mlp_tokens = nn.Sequential(nn.Linear(tokens, 8), nn.GELU(), nn.Linear(8, tokens))
        self.block.norm2 = nn.LayerNorm(dim)
        self.block.mlp_channels = nn.Sequential(nn.Linear(dim, 32), nn.GELU(), nn.Linear(32, dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem.proj(x).flatten(2).transpose(1, 2)
        x = x + self.block.mlp_tokens(self.block.norm1(x).transpose(1, 2)).transpose(1, 2)
        x = x + self.block.mlp_channels(self.block.norm2(x))
        return self.head(x.mean(1))


@_register
def tiny_mixer():
    return TinyMixer(), _truth("fixed", "image", (1, 3, 32, 32))


class CoordBlock(nn.Module):
    """A CoordConv block storing its coordinate map as a parameter (batdetect2's
    ``ConvBlockDownCoordF``): the map of 64 rows is concatenated to the input."""

    def __init__(self, cin: int, cout: int, rows: int) -> None:
        super().__init__()
        self.coords = nn.Parameter(torch.linspace(-1, 1, rows)[None, None, :, None])
        self.conv = nn.Conv2d(cin + 1, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.coords.expand(x.shape[0], 1, x.shape[2], x.shape[3])
        return torch.relu(self.conv(torch.cat([x, c], 1)))


class CoordNet(nn.Module):
    """Spectrogram [N, 1, 64 bins, T]: the coordinate map fixes 64 rows; T is free."""

    def __init__(self) -> None:
        super().__init__()
        self.block = CoordBlock(1, 8, 64)
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(x))


@_register
def coord_net():
    return CoordNet(), _truth("free", "image", (1, 1, 64, 64))


class LayerNormFront(nn.Module):
    """PESTO-style: ``LayerNorm([1, 48])`` reads the input, then Conv1d(1, ...): CQT
    frames [N, 1, 48] exactly.  (Names keep their order under a natural sort.)"""

    def __init__(self) -> None:
        super().__init__()
        self.input_norm = nn.LayerNorm([1, 48])
        self.proj = nn.Conv1d(1, 4, 5, padding=2)
        self.readout = nn.Linear(4 * 48, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(torch.relu(self.proj(self.input_norm(x))).flatten(1))


@_register
def layernorm_front():
    return LayerNormFront(), _truth("fixed", "sequence", (1, 1, 48))


class ColumnSignal(nn.Module):
    """CREPE-style: frames [N, 256] laid out as [N, 1, 256, 1]; Conv2d kernels (k, 1),
    pools (2, 1), a flatten head on 8 x 4 positions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, (16, 1), (2, 1), (7, 0))
        self.conv1_BN = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, (5, 1), padding=(2, 0))
        self.conv2_BN = nn.BatchNorm2d(8)
        self.classifier = nn.Linear(8 * 32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, None, :, None]
        x = F.max_pool2d(self.conv1_BN(torch.relu(self.conv1(x))), (2, 1))
        x = F.max_pool2d(self.conv2_BN(torch.relu(self.conv2(x))), (2, 1))
        return self.classifier(x.flatten(1))


@_register
def column_signal():
    return ColumnSignal(), _truth("fixed", "sequence", (1, 256))


class FrameLSTM(nn.Module):
    """BeatNet-style: a Conv1d over each frame's 64 features, flattened into a Linear,
    then an LSTM over frames: input [N, T, 64], T free.  (Names keep their order under a
    natural sort.)"""

    def __init__(self) -> None:
        super().__init__()
        self.frame_conv = nn.Conv1d(1, 2, 5)
        self.frame_fc = nn.Linear(2 * 30, 16)
        self.lstm = nn.LSTM(16, 16, batch_first=True)
        self.out = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, f = x.shape
        y = F.max_pool1d(torch.relu(self.frame_conv(x.reshape(n * t, 1, f))), 2)
        y = self.frame_fc(y.flatten(1)).view(n, t, -1)
        return self.out(self.lstm(y)[0])


@_register
def frame_lstm():
    return FrameLSTM(), _truth("free", "sequence", (1, 32, 64))


class SpecStrip(nn.Module):
    """A keyword-spotting style CNN on a 16-band x 100-frame spectrogram: a pool along
    time only, ``MaxPool2d((1, 3))``, and a flatten head over a 10 x 30 map (the third most
    nearly square factoring of its 300 positions, after 15 x 20 and 12 x 25)."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, (5, 3))
        self.pool1 = nn.MaxPool2d((1, 3))
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 10 * 30, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


@_register
def spec_strip():
    return SpecStrip(), _truth("fixed", "image", (1, 1, 16, 100))


class TwoHeads(nn.Module):
    """LPIPS-style: 1x1 heads on two feature maps of 16 and 24 channels that never meet
    (the second is reported in ``InputGuess.others``)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin0 = nn.Conv2d(16, 1, 1, bias=False)
        self.lin1 = nn.Conv2d(24, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin0(x)


@_register
def two_heads():
    return TwoHeads(), _truth("free", "image", (1, 16, 224, 224))


BUILDERS.update(SIGNALS)

# --- output ----------------------------------------------------------------------------------


def layer_types(model: nn.Module) -> dict[str, str]:
    """Leaf modules and modules owning tensors -> ``type(module).__name__``."""
    out = {}
    for name, module in model.named_modules():
        owns = any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False)
        )
        leaf = not any(True for _ in module.children())
        if (name and (owns or leaf)) or (not name and owns):
            out[name] = type(module).__name__
    return out


def build(name: str) -> tuple[nn.Module, dict[str, Any]]:
    """Build one reference model (seeded) and its full truth, output shape included."""
    torch.manual_seed(0)
    model, truth = (BUILDERS.get(name) or STRUCTURES[name])()
    model.eval()
    dtype = torch.int64 if truth["input_dtype"] == "int64" else torch.float32
    with torch.no_grad():
        x = torch.zeros(truth["input_shape"], dtype=dtype)
        out = model([x] if getattr(model, "takes_image_list", False) else x)
    truth["output_shape"] = list(out.shape)
    truth["layers"] = layer_types(model)
    return model, truth


SAFETENSORS = ("resnet_like", "lenet_seq")


def main(argv: list[str] | None = None) -> int:
    """Write every model's state_dict and truth next to this script."""
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in [*BUILDERS, *STRUCTURES]:
        model, truth = build(name)
        sd = model.state_dict()
        path = out_dir / f"{name}.pt"
        torch.save(sd, path)
        truth["file"] = path.name
        (out_dir / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
        if name in SAFETENSORS:
            from safetensors.torch import save_file

            st = out_dir / f"{name}.safetensors"
            save_file({k: v.contiguous() for k, v in sd.items()}, st)
            (out_dir / f"{name}.safetensors.truth.json").write_text(
                json.dumps({**truth, "file": st.name}, indent=1) + "\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
