"""Small models for the non-chain structures the rebuild must follow (issue 10, item 4).

Each builder returns a ``torch.nn`` model (torch.nn only) written the way torchvision,
timm or Hugging Face write that structure, and the input it runs on.  ``generate_models.py``
saves them with the other reference models (``<name>.pt`` + ``<name>.truth.json``); the
rebuild tests import ``STRUCTURES`` to check that each one is rebuilt whole and runs with
the real model's output shape.

- residual blocks, identity and projected shortcuts, bottlenecks: ``bottleneck_resnet``
  (torchvision ``models/resnet.py`` Bottleneck; ``resnet_like`` has basic blocks)
- inverted residuals with squeeze-excitation: ``mobilenet_v3_like`` (torchvision
  ``models/mobilenetv3.py`` InvertedResidual, ``ops/misc.py`` SqueezeExcitation)
- dense blocks: ``densenet_like`` (torchvision ``models/densenet.py``)
- inception branches: ``inception_like`` (torchvision ``models/inception.py`` InceptionA/B/E)
- U-Net skips: ``unet_tiny`` (in ``generate_models.py``), ``unet_upsample`` (bilinear
  upsampling, milesial Pytorch-UNet ``Up(bilinear=True)``)
- transformer blocks, pre-norm and post-norm: ``encoder_prenorm`` (GPT-2/LLaMA order,
  separate q/k/v, pooled classifier), ``encoder_postnorm`` (BERT order, packed q/k/v,
  language-model head), ``seq2seq_transformer`` (decoder blocks with cross-attention)
- patch embeddings: ``vit_packed`` (timm ``vision_transformer.py``: packed qkv, layer
  scale), ``tiny_vit`` (in ``generate_models.py``)
- channels-last blocks: ``convnext_like`` (torchvision ``models/convnext.py`` CNBlock)
- token mixing: ``token_mixer`` (timm ``mlp_mixer.py`` MixerBlock over token ids)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Builder = Callable[[], tuple[nn.Module, dict[str, Any]]]
STRUCTURES: dict[str, Builder] = {}


def _register(fn: Builder) -> Builder:
    STRUCTURES[fn.__name__] = fn
    return fn


def input_truth(
    status: str, kind: str, shape: tuple[int, ...], dtype: str = "float32"
) -> dict[str, Any]:
    """The input part of a sample's truth file (also used by ``generate_models.py``)."""
    return {
        "input_status": status,
        "input_kind": kind,
        "input_shape": list(shape),
        "input_dtype": dtype,
    }


# --- residual bottlenecks --------------------------------------------------------------------


class Bottleneck(nn.Module):
    """torchvision Bottleneck (v1.5: the stride on the 3x3), expansion 4."""

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = 4 * width
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class BottleneckResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Bottleneck(8, 4), Bottleneck(16, 4))
        self.layer2 = nn.Sequential(Bottleneck(16, 8, 2), Bottleneck(32, 8))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@_register
def bottleneck_resnet() -> tuple[nn.Module, dict[str, Any]]:
    return BottleneckResNet(), input_truth("free", "image", (1, 3, 64, 64))


# --- inverted residuals with squeeze-excitation ------------------------------------------------


class SqueezeExcitation(nn.Module):
    """torchvision ops.SqueezeExcitation: avgpool, fc1, fc2 (1x1 convs), activation,
    scale_activation."""

    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


def _cna(
    cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.Hardswish())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, expanded: int, cout: int, stride: int, se: bool) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = [_cna(cin, expanded, 1)]
        layers.append(_cna(expanded, expanded, 3, stride, groups=expanded))
        if se:
            layers.append(SqueezeExcitation(expanded, expanded // 4))
        layers.append(_cna(expanded, cout, 1, act=False))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res_connect else out


class MobileNetV3Like(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _cna(3, 8, 3, 2),
            InvertedResidual(8, 16, 8, 1, True),
            InvertedResidual(8, 24, 16, 2, True),
            InvertedResidual(16, 32, 16, 1, False),
            _cna(16, 48, 1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(48, 32), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(32, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@_register
def mobilenet_v3_like() -> tuple[nn.Module, dict[str, Any]]:
    return MobileNetV3Like(), input_truth("free", "image", (1, 3, 64, 64))


# --- dense blocks ----------------------------------------------------------------------------


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, 2 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(2 * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(2 * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNetLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, 16, 7, 2, 3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(16))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(3, 2, 1))
        self.features.add_module("denseblock1", DenseBlock(3, 16, 4))
        transition = nn.Sequential()
        transition.add_module("norm", nn.BatchNorm2d(28))
        transition.add_module("relu", nn.ReLU(inplace=True))
        transition.add_module("conv", nn.Conv2d(28, 14, 1, bias=False))
        transition.add_module("pool", nn.AvgPool2d(2, 2))
        self.features.add_module("transition1", transition)
        self.features.add_module("denseblock2", DenseBlock(2, 14, 4))
        self.features.add_module("norm5", nn.BatchNorm2d(22))
        self.classifier = nn.Linear(22, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.features(x))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


@_register
def densenet_like() -> tuple[nn.Module, dict[str, Any]]:
    return DenseNetLike(), input_truth("free", "image", (1, 3, 64, 64))


# --- inception branches ----------------------------------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    """Four branches concatenated (one behind a functional average pool)."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 8, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 6, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(6, 8, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 8, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(8, 12, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(12, 12, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(nn.functional.avg_pool2d(x, 3, 1, 1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """A reduction block: two strided branches and the max-pooled input concatenated."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 16, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 8, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(8, 12, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(12, 12, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = nn.functional.max_pool2d(x, 3, 2)
        return torch.cat([b3, bd, bp], 1)


class InceptionE(nn.Module):
    """Branches that split in two (1x3 and 3x1 read the same input), all concatenated."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 8, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 12, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(12, 12, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(12, 12, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bp = self.branch_pool(nn.functional.avg_pool2d(x, 3, 1, 1))
        return torch.cat([self.branch1x1(x), b3, bp], 1)


class InceptionLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 16, kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(16, 4)
        self.Mixed_6a = InceptionB(32)
        self.Mixed_7b = InceptionE(60)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(36, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Mixed_7b(self.Mixed_6a(self.Mixed_5b(self.Conv2d_1a_3x3(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@_register
def inception_like() -> tuple[nn.Module, dict[str, Any]]:
    return InceptionLike(), input_truth("free", "image", (1, 3, 75, 75))


# --- U-Net with bilinear upsampling ------------------------------------------------------------


def _double(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = _double(cin, cout)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x2, self.up(x1)], dim=1))


class UNetUpsample(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inc = _double(3, 8)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), _double(8, 16))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), _double(16, 16))
        self.up1 = Up(32, 8)
        self.up2 = Up(16, 8)
        self.outc = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        return self.outc(self.up2(self.up1(x3, x2), x1))


@_register
def unet_upsample() -> tuple[nn.Module, dict[str, Any]]:
    return UNetUpsample(), input_truth("free", "image", (1, 3, 64, 64))


# --- transformer blocks ------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """Separate q/k/v projections, as transformers' BERT and LLaMA write them."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        kv = x if memory is None else memory
        b, t, d = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, -1, h, d // h).transpose(1, 2)

        y = nn.functional.scaled_dot_product_attention(
            split(self.q_proj(x)), split(self.k_proj(kv)), split(self.v_proj(kv))
        )
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class PreNormBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, 4)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class EncoderPreNorm(nn.Module):
    """Token + position tables, pre-norm blocks, a pooler on the first token."""

    def __init__(self, vocab: int = 100, dim: int = 16, ctx: int = 40) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(ctx, dim)
        self.h = nn.ModuleList([PreNormBlock(dim) for _ in range(2)])
        self.ln_f = nn.LayerNorm(dim)
        self.pooler = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for block in self.h:
            x = block(x)
        return self.classifier(torch.tanh(self.pooler(self.ln_f(x)[:, 0])))


@_register
def encoder_prenorm() -> tuple[nn.Module, dict[str, Any]]:
    return EncoderPreNorm(), input_truth("free", "tokens", (1, 32), "int64")


class PackedAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class PostNormBlock(nn.Module):
    """BERT order: attention, add & norm, feed-forward, add & norm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attention = PackedAttention(dim, 4)
        self.norm1 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.ffn(x))


class EncoderPostNorm(nn.Module):
    """Token + segment tables, post-norm blocks, a language-model head per token."""

    def __init__(self, vocab: int = 120, dim: int = 16) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.layers = nn.ModuleList([PostNormBlock(dim) for _ in range(2)])
        self.lm_head = nn.Linear(dim, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids) + self.token_type_embeddings(torch.zeros_like(ids))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(x)


@_register
def encoder_postnorm() -> tuple[nn.Module, dict[str, Any]]:
    return EncoderPostNorm(), input_truth("free", "tokens", (1, 32), "int64")


class DecoderBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, 4)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.encoder_attn = SelfAttention(dim, 4)
        self.encoder_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, memory))
        return self.final_layer_norm(x + self.fc2(torch.relu(self.fc1(x))))


class Seq2Seq(nn.Module):
    """BART-like: an encoder of post-norm blocks, a decoder of blocks with
    cross-attention reading its own tokens (``tgt``, the source's length by default)."""

    def __init__(self, vocab: int = 90, dim: int = 16, ctx: int = 48) -> None:
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.embed_tokens = nn.Embedding(vocab, dim)
        self.encoder.embed_positions = nn.Embedding(ctx, dim)
        self.encoder.layers = nn.ModuleList([PostNormBlock(dim)])
        self.decoder = nn.Module()
        self.decoder.embed_tokens = nn.Embedding(vocab, dim)
        self.decoder.embed_positions = nn.Embedding(ctx, dim)
        self.decoder.layers = nn.ModuleList([DecoderBlock(dim)])
        self.lm_head = nn.Linear(dim, vocab, bias=False)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor | None = None) -> torch.Tensor:
        tgt = torch.zeros_like(src) if tgt is None else tgt
        pos = torch.arange(src.shape[1], device=src.device)
        memory = self.encoder.embed_tokens(src) + self.encoder.embed_positions(pos)
        for layer in self.encoder.layers:
            memory = layer(memory)
        pos = torch.arange(tgt.shape[1], device=tgt.device)
        x = self.decoder.embed_tokens(tgt) + self.decoder.embed_positions(pos)
        for block in self.decoder.layers:
            x = block(x, memory)
        return self.lm_head(x)


@_register
def seq2seq_transformer() -> tuple[nn.Module, dict[str, Any]]:
    return Seq2Seq(), input_truth("free", "tokens", (1, 32), "int64")


# --- patch embeddings --------------------------------------------------------------------------


class LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(1e-5 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class ViTBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = PackedAttention(dim, 4)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 2 * dim)
        self.mlp.act = nn.GELU()
        self.mlp.fc2 = nn.Linear(2 * dim, dim)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp.fc2(self.mlp.act(self.mlp.fc1(self.norm2(x)))))


class ViTPacked(nn.Module):
    """timm VisionTransformer layout: cls_token, pos_embed, patch_embed.proj, blocks,
    norm, head; 3x48x48, patch 8 -> 36 + 1 tokens."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 37, dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(ViTBlock(dim), ViTBlock(dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


@_register
def vit_packed() -> tuple[nn.Module, dict[str, Any]]:
    return ViTPacked(), input_truth("fixed", "image", (1, 3, 48, 48))


# --- token mixing ------------------------------------------------------------------------------


class MixerBlock(nn.Module):
    """MLP-Mixer block (timm ``mlp_mixer.py``): a token-mixing MLP across the tokens, then
    a channel MLP, each after a LayerNorm, with residuals."""

    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mlp_tokens = nn.Sequential(nn.Linear(tokens, 8), nn.GELU(), nn.Linear(8, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp_channels = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.mlp_channels(self.norm2(x))


class TokenMixer(nn.Module):
    """Token ids through Mixer blocks: the token-mixing width fixes the length (16)."""

    def __init__(self, vocab: int = 64, tokens: int = 16, dim: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.Sequential(MixerBlock(tokens, dim), MixerBlock(tokens, dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(ids))))  # a tag per token


@_register
def token_mixer() -> tuple[nn.Module, dict[str, Any]]:
    return TokenMixer(), input_truth("fixed", "tokens", (1, 16), "int64")


# --- channels-last blocks ------------------------------------------------------------------------


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer_scale * self.block(x)


class ConvNeXtLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 4, 4), LayerNorm2d(8)),
            nn.Sequential(CNBlock(8), CNBlock(8)),
            nn.Sequential(LayerNorm2d(8), nn.Conv2d(8, 16, 2, 2)),
            nn.Sequential(CNBlock(16)),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(16), nn.Flatten(1), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


@_register
def convnext_like() -> tuple[nn.Module, dict[str, Any]]:
    return ConvNeXtLike(), input_truth("free", "image", (1, 3, 64, 64))
