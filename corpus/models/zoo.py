"""Full-size replicas of well-known architectures, parameter names as their zoos write them.

torchvision / timm / transformers are not dependencies, so the layouts are rewritten here
with ``torch.nn`` only (module names, registration order, buffers and parameter shapes as
in torchvision 0.2x ``models/*.py``, timm ``vision_transformer.py`` and transformers
``modeling_bert.py`` / ``modeling_gpt2.py`` / ``modeling_llama.py``).  The models are built
on the meta device: no memory, only shapes.  ``generate_models.py`` uses them for the
held-out style checks in the tests; they are too large to be saved in the corpus.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

ZOO: dict[str, Callable[[], tuple[nn.Module, dict[str, Any]]]] = {}


def _zoo(fn: Callable[[], tuple[nn.Module, dict[str, Any]]]):
    ZOO[fn.__name__] = fn
    return fn


def _t(status: str, kind: str, shape: tuple[int, ...], dtype: str = "float32") -> dict[str, Any]:
    return {
        "input_status": status,
        "input_kind": kind,
        "input_shape": list(shape),
        "input_dtype": dtype,
    }


class CNA(nn.Sequential):
    """torchvision Conv2dNormActivation: 0 conv, 1 BatchNorm2d, 2 activation."""

    def __init__(
        self,
        cin: int,
        cout: int,
        k: int = 3,
        s: int = 1,
        groups: int = 1,
        act: type[nn.Module] | None = nn.ReLU6,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


# --- torchvision classification ---------------------------------------------------------------


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int, down: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)
            )
            if down
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = self.downsample(x) if self.downsample is not None else x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class ResNet50(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
            layers = []
            for b in range(blocks):
                stride = 2 if b == 0 and i > 0 else 1
                layers.append(Bottleneck(cin, width, stride, b == 0))
                cin = width * 4
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@_zoo
def tv_resnet50():
    return ResNet50(), _t("free", "image", (1, 3, 224, 224))


class DenseLayer(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, 128, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(128)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(128, 32, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int) -> None:
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.values():
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


class DenseNet121(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    ("conv0", nn.Conv2d(3, 64, 7, 2, 3, bias=False)),
                    ("norm0", nn.BatchNorm2d(64)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(3, 2, 1)),
                ]
            )
        )
        c = 64
        for i, n in enumerate((6, 12, 24, 16)):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c))
            c += n * 32
            if i != 3:
                self.features.add_module(
                    f"transition{i + 1}",
                    nn.Sequential(
                        OrderedDict(
                            [
                                ("norm", nn.BatchNorm2d(c)),
                                ("relu", nn.ReLU(inplace=True)),
                                ("conv", nn.Conv2d(c, c // 2, 1, bias=False)),
                                ("pool", nn.AvgPool2d(2, 2)),
                            ]
                        )
                    ),
                )
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.features(x))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


@_zoo
def tv_densenet121():
    return DenseNet121(), _t("free", "image", (1, 3, 224, 224))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [CNA(cin, hidden, 1)] if expand != 1 else []
        layers += [
            CNA(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cfg = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ]
        feats: list[nn.Module] = [CNA(3, 32, 3, 2)]
        c = 32
        for t, cout, n, s in cfg:
            for i in range(n):
                feats.append(InvertedResidual(c, cout, s if i == 0 else 1, t))
                c = cout
        feats.append(CNA(c, 1280, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


@_zoo
def tv_mobilenet_v2():
    return MobileNetV2(), _t("free", "image", (1, 3, 224, 224))


class SqueezeExcitation(nn.Module):
    def __init__(self, c: int, s: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, s, 1)
        self.fc2 = nn.Conv2d(s, c, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return x * scale


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [CNA(cin, hidden, 1, act=nn.SiLU)] if expand != 1 else []
        layers += [
            CNA(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
            SqueezeExcitation(hidden, max(1, cin // 4)),
            CNA(hidden, cout, 1, act=None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class EfficientNetB0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cfg = [
            (1, 3, 1, 32, 16, 1),
            (6, 3, 2, 16, 24, 2),
            (6, 5, 2, 24, 40, 2),
            (6, 3, 2, 40, 80, 3),
            (6, 5, 1, 80, 112, 3),
            (6, 5, 2, 112, 192, 4),
            (6, 3, 1, 192, 320, 1),
        ]
        feats: list[nn.Module] = [CNA(3, 32, 3, 2, act=nn.SiLU)]
        for e, k, s, cin, cout, n in cfg:
            feats.append(
                nn.Sequential(
                    *[
                        MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e)
                        for i in range(n)
                    ]
                )
            )
        feats.append(CNA(320, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*feats)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@_zoo
def tv_efficientnet_b0():
    return EfficientNetB0(), _t("free", "image", (1, 3, 224, 224))


class AlexNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2),
            nn.ReLU(True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(True),
            nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(256 * 36, 4096),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Linear(4096, 1000),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@_zoo
def tv_alexnet():
    return AlexNet(), _t("free", "image", (1, 3, 224, 224))


class Fire(nn.Module):
    def __init__(self, cin: int, s: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, s, 1)
        self.squeeze_activation = nn.ReLU(True)
        self.expand1x1 = nn.Conv2d(s, e1, 1)
        self.expand1x1_activation = nn.ReLU(True)
        self.expand3x3 = nn.Conv2d(s, e3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [
                self.expand1x1_activation(self.expand1x1(x)),
                self.expand3x3_activation(self.expand3x3(x)),
            ],
            1,
        )


class SqueezeNet11(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2),
            nn.ReLU(True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 32, 128, 128),
            Fire(256, 32, 128, 128),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(True), nn.AdaptiveAvgPool2d((1, 1))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


@_zoo
def tv_squeezenet1_1():
    return SqueezeNet11(), _t("free", "image", (1, 3, 224, 224))


class EncoderBlock(nn.Module):
    def __init__(self, d: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(d, mlp), nn.GELU(), nn.Dropout(), nn.Linear(mlp, d), nn.Dropout()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.self_attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TVEncoder(nn.Module):
    def __init__(self, n: int, d: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, n, d))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(
            OrderedDict((f"encoder_layer_{i}", EncoderBlock(d, 12, 4 * d)) for i in range(12))
        )
        self.ln = nn.LayerNorm(d, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class TVViT(nn.Module):
    """torchvision vit_b_16."""

    def __init__(self, d: int = 768) -> None:
        super().__init__()
        self.conv_proj = nn.Conv2d(3, d, 16, 16)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = TVEncoder(197, d)
        self.heads = nn.Sequential(OrderedDict([("head", nn.Linear(d, 1000))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1)
        return self.heads(self.encoder(x)[:, 0])


TVViT.__name__ = "VisionTransformer"  # the class names the checkpoints' zoos use
TVEncoder.__name__ = "Encoder"


@_zoo
def tv_vit_b_16():
    return TVViT(), _t("fixed", "image", (1, 3, 224, 224))


class Conv3dBlock(nn.Module):
    """torchvision video BasicBlock (Conv3DSimple written as nn.Conv3d)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv3d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(True)
        )
        self.conv2 = nn.Sequential(nn.Conv3d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm3d(cout))
        self.relu = nn.ReLU(True)
        self.downsample = (
            nn.Sequential(nn.Conv3d(cin, cout, 1, stride, bias=False), nn.BatchNorm3d(cout))
            if stride != 1
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = self.downsample(x) if self.downsample is not None else x
        return self.relu(self.conv2(self.conv1(x)) + idt)


class R3D18(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 64, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(True),
        )
        c = 64
        for i, cout in enumerate((64, 128, 256, 512)):
            s = 1 if i == 0 else 2
            self.add_module(
                f"layer{i + 1}", nn.Sequential(Conv3dBlock(c, cout, s), Conv3dBlock(cout, cout, 1))
            )
            c = cout
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(512, 400)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.avgpool(x).flatten(1))


@_zoo
def tv_r3d_18():
    return R3D18(), _t("free", "volume", (1, 3, 16, 112, 112))


class Permute(nn.Module):
    """torchvision.ops.misc.Permute."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: LayerNorm over channels of NCHW."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)
        self.stochastic_depth = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer_scale * self.block(x)


class ConvNeXtTiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        dims, depths = (96, 192, 384, 768), (3, 3, 9, 3)
        feats: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, 96, 4, 4), LayerNorm2d(96, eps=1e-6))]
        for i, (d, n) in enumerate(zip(dims, depths, strict=True)):
            feats.append(nn.Sequential(*[CNBlock(d) for _ in range(n)]))
            if i < 3:
                feats.append(
                    nn.Sequential(LayerNorm2d(d, eps=1e-6), nn.Conv2d(d, dims[i + 1], 2, 2))
                )
        self.features = nn.Sequential(*feats)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            LayerNorm2d(768, eps=1e-6), nn.Flatten(1), nn.Linear(768, 1000)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


@_zoo
def tv_convnext_tiny():
    return ConvNeXtTiny(), _t("free", "image", (1, 3, 224, 224))


# --- timm -----------------------------------------------------------------------------------------


class TimmAttention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(d, d)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class TimmMlp(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(0.0)
        self.norm = nn.Identity()
        self.fc2 = nn.Linear(hidden, d)
        self.drop2 = nn.Dropout(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TimmBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = TimmAttention(d, heads)
        self.ls1 = nn.Identity()
        self.drop_path1 = nn.Identity()
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = TimmMlp(d, 4 * d)
        self.ls2 = nn.Identity()
        self.drop_path2 = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, d: int, p: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, d, p, p)
        self.norm = nn.Identity()


class TimmViT(nn.Module):
    """timm vit_small_patch16_224."""

    def __init__(self, d: int = 384, img: int = 224, p: int = 16) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, (img // p) ** 2 + 1, d))
        self.patch_embed = PatchEmbed(d, p)
        self.pos_drop = nn.Dropout(0.0)
        self.patch_drop = nn.Identity()
        self.norm_pre = nn.Identity()
        self.blocks = nn.Sequential(*[TimmBlock(d, 6) for _ in range(12)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(0.0)
        self.head = nn.Linear(d, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


TimmViT.__name__ = "VisionTransformer"


@_zoo
def timm_vit_small():
    return TimmViT(), _t("fixed", "image", (1, 3, 224, 224))


@_zoo
def timm_vit_384():
    return TimmViT(192, 384, 16), _t("fixed", "image", (1, 3, 384, 384))


# --- transformers ------------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, v: int, d: int, n: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(v, d, padding_idx=0)
        self.position_embeddings = nn.Embedding(n, d)
        self.token_type_embeddings = nn.Embedding(2, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("position_ids", torch.arange(n).expand((1, -1)))
        self.register_buffer("token_type_ids", torch.zeros((1, n), dtype=torch.long))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = self.position_embeddings(self.position_ids[:, : ids.shape[1]])
        tt = self.token_type_embeddings(self.token_type_ids[:, : ids.shape[1]])
        return self.dropout(self.LayerNorm(self.word_embeddings(ids) + pos + tt))


class BertSelf(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.dropout = nn.Dropout(0.1)


class BertOut(nn.Module):
    def __init__(self, din: int, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(din, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(0.1)


class BertAttention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.self = BertSelf(d)
        self.output = BertOut(d, d)


class BertIntermediate(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, 4 * d)
        self.intermediate_act_fn = nn.GELU()


class BertLayer(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.attention = BertAttention(d)
        self.intermediate = BertIntermediate(d)
        self.output = BertOut(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.attention.self
        b, t, d = x.shape
        h = 12
        q, k, v = (m(x).view(b, t, h, d // h).transpose(1, 2) for m in (s.query, s.key, s.value))
        y = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        o = self.attention.output
        x = o.LayerNorm(o.dense(y) + x)
        return self.output.LayerNorm(self.output.dense(self.intermediate.dense(x)) + x)


class BertModel(nn.Module):
    def __init__(self, v: int = 30522, d: int = 768, n: int = 512) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(v, d, n)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([BertLayer(d) for _ in range(12)])
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(d, d)
        self.pooler.activation = nn.Tanh()


class BertForSequenceClassification(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bert = BertModel()
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(768, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.bert.embeddings(ids)
        for layer in self.bert.encoder.layer:
            x = layer(x)
        return self.classifier(torch.tanh(self.bert.pooler.dense(x[:, 0])))


@_zoo
def hf_bert_base_cls():
    return BertForSequenceClassification(), _t("free", "tokens", (1, 32), "int64")


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: a Linear whose weight is stored (in, out)."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(
            *x.shape[:-1], self.nf
        )


class GPT2Attention(nn.Module):
    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.register_buffer(
            "bias", torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n)
        )
        self.register_buffer("masked_bias", torch.tensor(-1e4))
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)
        self.attn_dropout = nn.Dropout(0.1)
        self.resid_dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            y.view(b, t, 12, d // 12).transpose(1, 2) for y in self.c_attn(x).split(d, dim=2)
        )
        y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class GPT2MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(4 * d, d)
        self.c_proj = Conv1D(d, 4 * d)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = GPT2Attention(d, n)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = GPT2MLP(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, v: int = 50257, d: int = 768, n: int = 1024) -> None:
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(v, d)
        self.transformer.wpe = nn.Embedding(n, d)
        self.transformer.drop = nn.Dropout(0.1)
        self.transformer.h = nn.ModuleList([GPT2Block(d, n) for _ in range(12)])
        self.transformer.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, v, bias=False)
        self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        tr = self.transformer
        x = tr.wte(ids) + tr.wpe(torch.arange(ids.shape[1], device=ids.device))
        for block in tr.h:
            x = block(x)
        return self.lm_head(tr.ln_f(x))


@_zoo
def hf_gpt2():
    return GPT2LMHeadModel(), _t("free", "tokens", (1, 32), "int64")


class LlamaAttention(nn.Module):
    def __init__(self, d: int, heads: int, kv: int) -> None:
        super().__init__()
        hd = d // heads
        self.q_proj = nn.Linear(d, heads * hd, bias=False)
        self.k_proj = nn.Linear(d, kv * hd, bias=False)
        self.v_proj = nn.Linear(d, kv * hd, bias=False)
        self.o_proj = nn.Linear(heads * hd, d, bias=False)


class LlamaMLP(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden, bias=False)
        self.up_proj = nn.Linear(d, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d, bias=False)
        self.act_fn = nn.SiLU()


class LlamaDecoderLayer(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(d, 16, 4)
        self.mlp = LlamaMLP(d, 5632)
        self.input_layernorm = nn.RMSNorm(d, eps=1e-5)
        self.post_attention_layernorm = nn.RMSNorm(d, eps=1e-5)


class LlamaForCausalLM(nn.Module):
    """TinyLlama-1.1B shapes (22 layers would be 4.4 GB of fp32; 4 keep tests light)."""

    def __init__(self, d: int = 2048) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(32000, d)
        self.model.layers = nn.ModuleList([LlamaDecoderLayer(d) for _ in range(4)])
        self.model.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, 32000, bias=False)


@_zoo
def hf_llama():
    return LlamaForCausalLM(), _t("free", "tokens", (1, 32), "int64")


# --- other classics ----------------------------------------------------------------------------


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x2, self.up(x1)], 1))


class MilesialUNet(nn.Module):
    """milesial/Pytorch-UNet (bilinear=False)."""

    def __init__(self) -> None:
        super().__init__()
        self.inc = DoubleConv(3, 64)
        self.down1, self.down2 = Down(64, 128), Down(128, 256)
        self.down3, self.down4 = Down(256, 512), Down(512, 1024)
        self.up1, self.up2 = Up(1024, 512), Up(512, 256)
        self.up3, self.up4 = Up(256, 128), Up(128, 64)
        self.outc = nn.Module()
        self.outc.conv = nn.Conv2d(64, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        y = self.up4(self.up3(self.up2(self.up1(x5, x4), x3), x2), x1)
        return self.outc.conv(y)


@_zoo
def milesial_unet():
    return MilesialUNet(), _t("free", "image", (1, 3, 224, 224))


class CharRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Embedding(100, 128)
        self.rnn = nn.GRU(128, 256, 2)
        self.decoder = nn.Linear(256, 100)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.rnn(self.encoder(x))[0])


@_zoo
def char_rnn():
    return CharRNN(), _t("free", "tokens", (1, 32), "int64")


class FixedLenText(nn.Module):
    """Embedding -> flatten -> Linear: exactly 50 tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5000, 16)
        self.fc1 = nn.Linear(50 * 16, 64)
        self.fc2 = nn.Linear(64, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(self.embedding(x).flatten(1))))


@_zoo
def fixed_len_text():
    return FixedLenText(), _t("fixed", "tokens", (1, 50), "int64")


class SensorLSTM(nn.Module):
    """Activity recognition: (batch, 128 steps, 9 channels) -> LSTM -> Linear(128 x 64)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(9, 64, batch_first=True)
        self.fc = nn.Linear(128 * 64, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.lstm(x)[0].flatten(1))


@_zoo
def sensor_lstm_flat():
    return SensorLSTM(), _t("fixed", "sequence", (1, 128, 9))


class LeNet5Classic(nn.Module):
    """LeNet-5 on 28x28 MNIST with padding 2 on the first conv, tanh + avg pools."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.f5 = nn.Linear(400, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s4(torch.tanh(self.c3(self.s2(torch.tanh(self.c1(x))))))
        return self.output(torch.tanh(self.f6(torch.tanh(self.f5(x.flatten(1))))))


@_zoo
def lenet5_padded():
    return LeNet5Classic(), _t("fixed", "image", (1, 1, 28, 28))


class CifarCNN(nn.Module):
    """A common CIFAR-10 CNN: conv-bn-relu x2 + pool, three stages, fc on 4x4."""

    def __init__(self) -> None:
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
                nn.MaxPool2d(2),
            )

        self.layer1, self.layer2, self.layer3 = stage(3, 32), stage(32, 64), stage(64, 128)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, 256),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(256, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer3(self.layer2(self.layer1(x))))


@_zoo
def cifar_cnn():
    return CifarCNN(), _t("fixed", "image", (1, 3, 32, 32))


class ECGNet(nn.Module):
    """1-D CNN with a flatten head: 1x187 heartbeat windows (MIT-BIH)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, 32, 5)
        self.conv2 = nn.Conv1d(32, 32, 5)
        self.pool = nn.MaxPool1d(2)
        self.fc1 = nn.Linear(32 * 43, 64)
        self.fc2 = nn.Linear(64, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


@_zoo
def ecg_net():
    return ECGNet(), _t("fixed", "sequence", (1, 1, 187))


def build_zoo(name: str) -> tuple[nn.Module, dict[str, Any]]:
    """Build one replica on the meta device; the truth gets its output shape and layers."""
    from generate_models import layer_types

    with torch.device("meta"):
        model, truth = ZOO[name]()
        model.eval()
        dtype = torch.int64 if truth["input_dtype"] == "int64" else torch.float32
        x = torch.zeros(truth["input_shape"], dtype=dtype)
        with torch.no_grad():
            out = model(x) if name not in ("hf_llama",) else None
    truth["output_shape"] = list(out.shape) if out is not None else None
    truth["layers"] = layer_types(model)
    return model, truth
