"""Hand-written models in the styles people write them (tutorials, papers' repos, course
code): fixed-size flatten heads without adaptive pooling, raw-audio 1-D CNNs, spectrogram
CNNs, CRNNs, U-Nets, autoencoders, GANs, EEG nets, MLPs, recurrent text models and small
transformers. Each comes with its input convention (``truth.InputSpec``).

These classes are pickled by ``build_zoo.py`` for the ``full`` container (a full-model
pickle names ``handwritten.<Class>``), so keep their names stable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 - the name everybody uses
from torch import nn
from truth import InputSpec, dense

IMG = dense(8, 600)


def _img(channels: int, design: int, sweep: list[int] | None = None) -> InputSpec:
    return InputSpec("image", [1, channels, "S", "S"], {"S": design}, {"S": sweep or IMG})


def _seq(channels: int, design: int, sweep: list[int], kind: str = "sequence") -> InputSpec:
    return InputSpec(kind, [1, channels, "L"], {"L": design}, {"L": sweep})


def _near(design: int, spread: float = 0.15) -> list[int]:
    """Dense around a design size, coarse elsewhere: a narrow accepted window is not missed."""
    lo, hi = int(design * (1 - spread)), int(design * (1 + spread))
    coarse = dense(1, 512) + dense(520, 4 * design, max(8, design // 200))
    return sorted(set(coarse) | set(dense(lo, hi)))


class LeNet5(nn.Module):
    """LeCun 1998 as in most tutorials: 32x32 input, tanh, average pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


class MnistExample(nn.Module):
    """pytorch/examples mnist/main.py: two 3x3 convs, one max-pool, dropout, 9216 -> 128."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


class AlexNet227(nn.Module):
    """AlexNet as in the paper's reimplementations: no adaptive pooling, 227x227 only."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4),
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class CifarVGG(nn.Module):
    """A VGG-style CIFAR net: conv3x3 pad 1 + BN blocks, 3 max-pools, flatten 128*4*4."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in (32, 64, 128):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            layers += [nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            layers += [nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(128 * 4 * 4, 256),
            nn.ReLU(),
            nn.Linear(256, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
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


class CifarResNet20(nn.Module):
    """kuangliu/pytorch-cifar style ResNet: F.avg_pool2d(out, 8) then a flatten Linear."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks: list[nn.Module] = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(_BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        out = F.avg_pool2d(out, 8)
        return self.linear(out.view(out.size(0), -1))


class MobileNetLike(nn.Module):
    """Depthwise-separable blocks and adaptive average pooling: any size runs."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()

        def dw(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin),
                nn.ReLU6(inplace=True),
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU6(inplace=True),
            )

        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(inplace=True)
        )
        self.blocks = nn.Sequential(dw(32, 64, 1), dw(64, 128, 2), dw(128, 128, 1), dw(128, 256, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class TinyViT(nn.Module):
    """A hand-written ViT for 32x32 CIFAR: patch 4, learned position embedding of 65 tokens."""

    def __init__(self, dim: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, 65, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        return self.head(self.norm(self.encoder(x))[:, 0])


class M5Raw(nn.Module):
    """torchaudio tutorial M5 on raw 8 kHz audio, global average pooling: free length."""

    def __init__(self, n_output: int = 35, stride: int = 16, n_channel: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = self.pool4(F.relu(self.bn4(self.conv4(x))))
        x = F.avg_pool1d(x, x.shape[-1]).permute(0, 2, 1)
        return F.log_softmax(self.fc1(x), dim=2)


class RawAudioFlat(nn.Module):
    """1-D CNN on 1 s of 8 kHz audio with a flatten head: fixed length."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(1, 16, 64, stride=8),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.MaxPool1d(8),
            nn.Conv1d(16, 32, 3),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Conv1d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool1d(4),
            nn.Flatten(),
            nn.Linear(32 * 7, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrepeLike(nn.Module):
    """CREPE-style: 1024 samples reshaped to [N, 1, 1024, 1], Conv2d kernels (k, 1)."""

    def __init__(self) -> None:
        super().__init__()
        chans = [1, 32, 16, 16, 16, 32, 64]
        layers: list[nn.Module] = []
        for i in range(6):
            k, s = (512, 4) if i == 0 else (64, 1)
            layers += [
                nn.ZeroPad2d((0, 0, (k - 1) // 2, k // 2)),
                nn.Conv2d(chans[i], chans[i + 1], (k, 1), (s, 1)),
                nn.ReLU(),
                nn.BatchNorm2d(chans[i + 1]),
                nn.MaxPool2d((2, 1), (2, 1)),
                nn.Dropout(0.25),
            ]
        self.convs = nn.Sequential(*layers)
        self.classifier = nn.Linear(64 * 4, 360)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], 1, -1, 1)
        x = self.convs(x).permute(0, 2, 1, 3).reshape(x.shape[0], -1)
        return torch.sigmoid(self.classifier(x))


class SincLikeRaw(nn.Module):
    """A speaker-id net on 200 ms of 16 kHz audio (3200 samples): long first kernel,
    LayerNorm over time, flatten into an MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 40, 251)
        self.ln1 = nn.LayerNorm([40, 2950])
        self.conv2 = nn.Conv1d(40, 40, 5)
        self.conv3 = nn.Conv1d(40, 40, 5)
        self.fc1 = nn.Linear(40 * 107, 256)
        self.bn_fc1 = nn.BatchNorm1d(256)
        self.out = nn.Linear(256, 462)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool1d(F.leaky_relu(self.ln1(self.conv1(x))), 3)
        x = F.max_pool1d(F.leaky_relu(self.conv2(x)), 3)
        x = F.max_pool1d(F.leaky_relu(self.conv3(x)), 3)
        return self.out(F.leaky_relu(self.bn_fc1(self.fc1(torch.flatten(x, 1)))))


class SpecCNNFlat(nn.Module):
    """Keyword spotting on a 40-mel x 101-frame log-mel spectrogram, flatten head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, (20, 8))
        self.pool1 = nn.MaxPool2d((1, 3))
        self.conv2 = nn.Conv2d(32, 64, (10, 4))
        self.fc = nn.Linear(64 * 12 * 28, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(F.relu(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(x, 1))


class SpecCNNGap(nn.Module):
    """Audio tagging CNN on log-mel patches with global pooling (PANNs-like, small)."""

    def __init__(self, classes: int = 50) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm2d(64)
        blocks = []
        cin = 1
        for cout in (32, 64, 128, 256):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(),
                    nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(),
                    nn.AvgPool2d(2),
                )
            )
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, 1, T, 64 mels]; PANNs normalise each mel bin with BatchNorm over dim 1
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        x = self.blocks(x)
        x = torch.mean(x, dim=3)
        x = torch.amax(x, dim=2)
        return self.fc(x)


class CRNNAudio(nn.Module):
    """Sound event detection CRNN on [N, 1, 128 mels, T]: conv, freq pooled into channels,
    bidirectional GRU over time, frame-wise Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d((4, 1)),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d((4, 1)),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d((2, 1)),
        )
        self.rnn = nn.GRU(64 * 4, 128, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cnn(x)
        n, c, f, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(n, t, c * f)
        return torch.sigmoid(self.fc(self.rnn(x)[0]))


class CRNNOcr(nn.Module):
    """Text-line OCR CRNN (Shi et al.): height 32 collapsed to 1, width free, BiLSTM, CTC."""

    def __init__(self, classes: int = 37) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 64, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 128, 3, 1, 1),
            nn.ReLU(True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(128, 256, 3, 1, 1),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.MaxPool2d((2, 2), (2, 1), (0, 1)),
            nn.Conv2d(256, 512, 3, 1, 1),
            nn.BatchNorm2d(512),
            nn.ReLU(True),
            nn.MaxPool2d((2, 2), (2, 1), (0, 1)),
            nn.Conv2d(512, 512, 2, 1, 0),
            nn.ReLU(True),
        )
        self.rnn1 = nn.LSTM(512, 256, bidirectional=True)
        self.emb1 = nn.Linear(512, 256)
        self.rnn2 = nn.LSTM(256, 256, bidirectional=True)
        self.emb2 = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.cnn(x)
        _b, _c, h, _w = conv.size()
        assert h == 1, "the height of conv must be 1"
        seq = conv.squeeze(2).permute(2, 0, 1)
        seq = self.emb1(self.rnn1(seq)[0])
        return self.emb2(self.rnn2(seq)[0])


class UNetSmall(nn.Module):
    """A 4-level U-Net with concatenated skips: sizes divisible by 8 only."""

    def __init__(self, cin: int = 3, classes: int = 2) -> None:
        super().__init__()

        def block(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(a, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
                nn.Conv2d(b, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
            )

        self.inc = block(cin, 16)
        self.down1 = block(16, 32)
        self.down2 = block(32, 64)
        self.down3 = block(64, 128)
        self.up1 = nn.ConvTranspose2d(128, 64, 2, 2)
        self.conv1 = block(128, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, 2)
        self.conv2 = block(64, 32)
        self.up3 = nn.ConvTranspose2d(32, 16, 2, 2)
        self.conv3 = block(32, 16)
        self.outc = nn.Conv2d(16, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(F.max_pool2d(x1, 2))
        x3 = self.down2(F.max_pool2d(x2, 2))
        x4 = self.down3(F.max_pool2d(x3, 2))
        y = self.conv1(torch.cat([x3, self.up1(x4)], 1))
        y = self.conv2(torch.cat([x2, self.up2(y)], 1))
        y = self.conv3(torch.cat([x1, self.up3(y)], 1))
        return self.outc(y)


class ConvAutoencoder(nn.Module):
    """MNIST convolutional autoencoder: stride-2 encoder, transposed-conv decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 7),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 7),
            nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class VAE(nn.Module):
    """pytorch/examples vae/main.py: x.view(-1, 784), two heads, decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


class DCGANGenerator(nn.Module):
    """pytorch/examples dcgan Generator: latent [N, 100, 1, 1] -> 64x64 image."""

    def __init__(self, nz: int = 100, ngf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples dcgan Discriminator: 64x64 -> 1 (view(-1, 1).squeeze(1))."""

    def __init__(self, ndf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


class EEGNet(nn.Module):
    """EEGNet-8,2 (Lawhern 2018) for 22 channels x 256 samples: temporal conv, depthwise
    spatial conv over all electrodes, separable conv, flatten head."""

    def __init__(self, chans: int = 22, samples: int = 256, classes: int = 4) -> None:
        super().__init__()
        f1, d, f2 = 8, 2, 16
        self.conv_temporal = nn.Conv2d(1, f1, (1, 64), padding=(0, 32), bias=False)
        self.bn1 = nn.BatchNorm2d(f1)
        self.conv_spatial = nn.Conv2d(f1, f1 * d, (chans, 1), groups=f1, bias=False)
        self.bn2 = nn.BatchNorm2d(f1 * d)
        self.pool1 = nn.AvgPool2d((1, 4))
        self.drop1 = nn.Dropout(0.5)
        self.conv_separable_depth = nn.Conv2d(
            f1 * d, f1 * d, (1, 16), padding=(0, 8), groups=f1 * d, bias=False
        )
        self.conv_separable_point = nn.Conv2d(f1 * d, f2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(f2)
        self.pool2 = nn.AvgPool2d((1, 8))
        self.drop2 = nn.Dropout(0.5)
        self.classify = nn.Linear(f2 * (((samples + 1) // 4 + 1) // 8), classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv_temporal(x))
        x = self.drop1(self.pool1(F.elu(self.bn2(self.conv_spatial(x)))))
        x = self.bn3(self.conv_separable_point(self.conv_separable_depth(x)))
        x = self.drop2(self.pool2(F.elu(x)))
        return self.classify(torch.flatten(x, 1))


class ShallowConvNet(nn.Module):
    """Schirrmeister 2017 shallow ConvNet: (1, 25) temporal conv, (C, 1) spatial conv,
    square, average pool (1, 75) stride 15, log, flatten head; 22 x 1125 input."""

    def __init__(self, chans: int = 22, samples: int = 1125, classes: int = 4) -> None:
        super().__init__()
        self.temporal = nn.Conv2d(1, 40, (1, 25))
        self.spatial = nn.Conv2d(40, 40, (chans, 1), bias=False)
        self.bn = nn.BatchNorm2d(40)
        self.pool = nn.AvgPool2d((1, 75), (1, 15))
        self.drop = nn.Dropout(0.5)
        out_t = (samples - 24 - 75) // 15 + 1
        self.fc = nn.Linear(40 * out_t, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.spatial(self.temporal(x)))
        x = torch.log(torch.clamp(self.pool(x * x), min=1e-6))
        return self.fc(torch.flatten(self.drop(x), 1))


class EEGConv1d(nn.Module):
    """Sleep staging on 30 s of one 100 Hz EEG channel (3000 samples) with Conv1d over
    [N, channels, time] and global pooling."""

    def __init__(self, chans: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(chans, 64, 50, stride=6),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.MaxPool1d(8, 8),
            nn.Dropout(0.5),
            nn.Conv1d(64, 128, 8, padding=4),
            nn.BatchNorm1d(128),
            nn.ReLU(),
            nn.Conv1d(128, 128, 8, padding=4),
            nn.BatchNorm1d(128),
            nn.ReLU(),
            nn.MaxPool1d(4, 4),
            nn.AdaptiveAvgPool1d(1),
        )
        self.fc = nn.Linear(128, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


class WaveNetLike(nn.Module):
    """Dilated causal Conv1d stack with gated residual blocks on mu-law one-hot [N, 256, T]."""

    def __init__(self, layers: int = 8, res: int = 32, skip: int = 64) -> None:
        super().__init__()
        self.causal = nn.Conv1d(256, res, 2)
        self.dilated = nn.ModuleList(
            nn.Conv1d(res, 2 * res, 2, dilation=2**i) for i in range(layers)
        )
        self.res_out = nn.ModuleList(nn.Conv1d(res, res, 1) for _ in range(layers))
        self.skip_out = nn.ModuleList(nn.Conv1d(res, skip, 1) for _ in range(layers))
        self.end1 = nn.Conv1d(skip, skip, 1)
        self.end2 = nn.Conv1d(skip, 256, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.causal(x)
        skips = 0
        for dil, ro, so in zip(self.dilated, self.res_out, self.skip_out, strict=True):
            h = dil(x)
            a, b = h.chunk(2, dim=1)
            h = torch.tanh(a) * torch.sigmoid(b)
            x = ro(h) + x[..., -h.shape[-1] :]
            s = so(h)
            skips = s + (skips[..., -s.shape[-1] :] if isinstance(skips, torch.Tensor) else 0)
        return self.end2(F.relu(self.end1(F.relu(skips))))


class Conv3DNet(nn.Module):
    """A volumetric classifier on 32^3 occupancy grids (VoxNet-like), flatten head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(1, 32, 5, stride=2)
        self.conv2 = nn.Conv3d(32, 32, 3)
        self.pool = nn.MaxPool3d(2)
        self.drop = nn.Dropout(0.3)
        self.fc1 = nn.Linear(32 * 6 * 6 * 6, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.1)
        x = self.drop(self.pool(F.leaky_relu(self.conv2(x), 0.1)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class TabularMLP(nn.Module):
    """MLP on 20 tabular features with BatchNorm1d and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(20, 64),
            nn.BatchNorm1d(64),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LSTMText(nn.Module):
    """Sentiment classifier: Embedding(5000, 128) -> 2-layer LSTM -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5000, 128, padding_idx=0)
        self.lstm = nn.LSTM(128, 256, num_layers=2, batch_first=True, dropout=0.3)
        self.fc = nn.Linear(256, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(x))
        return self.fc(out[:, -1])


class GRUTagger(nn.Module):
    """Bidirectional GRU sequence tagger with a char-free word embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20000, 100)
        self.gru = nn.GRU(100, 128, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(256, 17)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.gru(self.emb(x))[0]))


class CharCNN(nn.Module):
    """Character CNN for text classification (Zhang 2015, small): one-hot via Embedding,
    Conv1d over 256 characters, flatten head: fixed length."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(70, 32)
        self.conv1 = nn.Conv1d(32, 64, 7)
        self.conv2 = nn.Conv1d(64, 64, 7)
        self.conv3 = nn.Conv1d(64, 64, 3)
        self.fc1 = nn.Linear(64 * 7, 128)
        self.fc2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).transpose(1, 2)
        x = F.max_pool1d(F.relu(self.conv1(x)), 3)
        x = F.max_pool1d(F.relu(self.conv2(x)), 3)
        x = F.max_pool1d(F.relu(self.conv3(x)), 3)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class TinyTransformerLM(nn.Module):
    """A GPT-style LM written by hand: token + learned position embeddings (128), pre-norm
    nn.TransformerEncoder with a causal mask, tied output Linear."""

    def __init__(self, vocab: int = 1000, dim: int = 128, ctx: int = 128) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(ctx, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        x = self.blocks(self.tok(idx) + self.pos(pos), mask=mask, is_causal=True)
        return self.head(self.ln_f(x))


class Seq2SeqGRU(nn.Module):
    """Encoder GRU over source tokens; the checkpoint is the encoder (Embedding + GRU)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(3000, 256)
        self.gru = nn.GRU(256, 256, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(self.embedding(x))[0]


TOKENS = dense(1, 600)


def _tok(design: int, sweep: list[int] | None = None) -> InputSpec:
    return InputSpec("tokens", [1, "T"], {"T": design}, {"T": sweep or TOKENS}, dtype="int64")


# name -> (factory, input spec, container, note)
HANDWRITTEN: dict[str, tuple[Callable[[], nn.Module], InputSpec, str]] = {
    "hw_lenet5": (LeNet5, _img(1, 32), "plain"),
    "hw_mnist_example": (MnistExample, _img(1, 28), "state_dict"),
    "hw_alexnet227": (AlexNet227, _img(3, 227), "plain"),
    "hw_cifar_vgg": (CifarVGG, _img(3, 32), "lightning"),
    "hw_cifar_resnet20": (CifarResNet20, _img(3, 32), "dataparallel"),
    "hw_mobilenet_like": (MobileNetLike, _img(3, 224), "safetensors"),
    "hw_tiny_vit": (TinyViT, _img(3, 32), "plain"),
    "hw_m5_raw": (M5Raw, _seq(1, 8000, _near(8000)), "plain"),
    "hw_raw_audio_flat": (RawAudioFlat, _seq(1, 8000, _near(8000)), "state_dict"),
    "hw_crepe_like": (
        CrepeLike,
        InputSpec("sequence", [1, "L"], {"L": 1024}, {"L": _near(1024, 0.5)}),
        "plain",
    ),
    "hw_sinc_like_raw": (SincLikeRaw, _seq(1, 3200, _near(3200)), "model_key"),
    "hw_kws_spec_flat": (
        SpecCNNFlat,
        InputSpec(
            "spectrogram",
            [1, 1, "F", "T"],
            {"F": 40, "T": 101},
            {"F": dense(1, 200), "T": dense(1, 400)},
        ),
        "plain",
    ),
    "hw_spec_cnn_gap": (
        SpecCNNGap,
        InputSpec(
            "spectrogram",
            [1, 1, "T", "F"],
            {"T": 500, "F": 64},
            {"T": dense(1, 1000, 3), "F": dense(1, 200)},
        ),
        "state_dict",
    ),
    "hw_crnn_audio": (
        CRNNAudio,
        InputSpec(
            "spectrogram",
            [1, 1, "F", "T"],
            {"F": 128, "T": 431},
            {"F": dense(1, 300), "T": dense(1, 600)},
        ),
        "lightning",
    ),
    "hw_crnn_ocr": (
        CRNNOcr,
        InputSpec(
            "image", [1, 1, "H", "W"], {"H": 32, "W": 100}, {"H": dense(1, 200), "W": dense(1, 600)}
        ),
        "plain",
    ),
    "hw_unet_small": (UNetSmall, _img(3, 256), "plain"),
    "hw_conv_autoencoder": (ConvAutoencoder, _img(1, 28), "plain"),
    "hw_vae_mlp": (
        VAE,
        InputSpec("vector", [1, "F"], {"F": 784}, {"F": dense(1, 2000)}),
        "plain",
    ),
    "hw_dcgan_generator": (
        DCGANGenerator,
        InputSpec("latent", [1, 100, "S", "S"], {"S": 1}, {"S": dense(1, 64)}),
        "plain",
    ),
    "hw_dcgan_discriminator": (DCGANDiscriminator, _img(3, 64), "plain"),
    "hw_eegnet": (
        EEGNet,
        InputSpec(
            "eeg", [1, 1, "C", "T"], {"C": 22, "T": 256}, {"C": dense(1, 64), "T": dense(1, 2000)}
        ),
        "plain",
    ),
    "hw_shallow_convnet": (
        ShallowConvNet,
        InputSpec(
            "eeg",
            [1, 1, "C", "T"],
            {"C": 22, "T": 1125},
            {"C": dense(1, 64), "T": dense(1, 3000)},
        ),
        "state_dict",
    ),
    "hw_eeg_conv1d": (EEGConv1d, _seq(2, 3000, dense(1, 4000, 1)), "plain"),
    "hw_wavenet_like": (
        WaveNetLike,
        InputSpec("sequence", [1, 256, "L"], {"L": 1000}, {"L": dense(1, 2000)}),
        "plain",
    ),
    "hw_voxnet": (
        Conv3DNet,
        InputSpec("volume", [1, 1, "S", "S", "S"], {"S": 32}, {"S": dense(1, 128)}),
        "plain",
    ),
    "hw_tabular_mlp": (
        TabularMLP,
        InputSpec("vector", [1, "F"], {"F": 20}, {"F": dense(1, 200)}),
        "plain",
    ),
    "hw_lstm_text": (LSTMText, _tok(200), "plain"),
    "hw_gru_tagger": (GRUTagger, _tok(50), "dataparallel"),
    "hw_char_cnn": (CharCNN, _tok(256, dense(1, 1200)), "plain"),
    "hw_tiny_transformer_lm": (TinyTransformerLM, _tok(128), "plain"),
    "hw_seq2seq_gru_encoder": (Seq2SeqGRU, _tok(20), "plain"),
    # full-model pickles (torch.save(model)): hyper-parameters are in the file
    "hw_full_lenet5": (LeNet5, _img(1, 32), "full"),
    "hw_full_eegnet": (
        EEGNet,
        InputSpec(
            "eeg", [1, 1, "C", "T"], {"C": 22, "T": 256}, {"C": dense(1, 64), "T": dense(1, 2000)}
        ),
        "full",
    ),
}
