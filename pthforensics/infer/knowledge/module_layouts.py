"""Custom modules known by the bare tensors and children they own: container layouts
(ViT, ConvNeXt block, Swin attention...) and modules owning only bare tensors.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BARE_MODULES", "CONTAINER_LAYOUTS", "BareModule", "ContainerLayout"]


@dataclass(frozen=True, slots=True)
class ContainerLayout:
    """A custom module holding bare parameters, known by its leaves and children."""

    cls: str
    leaves: frozenset[str]
    """Bare tensors it owns (all required)."""
    children: frozenset[str]
    """Submodules it has (all required)."""
    what: str
    """What it is, as the evidence says."""
    source: str
    prefix: str = ""
    """Its module path starts with this."""
    name: re.Pattern[str] | None = None
    """Its own name (lower-cased) matches this."""
    square_rows: str = ""
    """This leaf's row count must be a perfect square (a window's relative table)."""


#: Tried in order; the first layout whose leaves, children, prefix and name fit names the
#: module (confidence 0.4: a layout, not a class name).
CONTAINER_LAYOUTS: tuple[ContainerLayout, ...] = (
    ContainerLayout(
        "VisionTransformer",
        frozenset({"class_token"}),
        frozenset({"conv_proj", "encoder"}),
        "torchvision VisionTransformer (class_token, conv_proj, encoder)",
        "torchvision: models/vision_transformer.py VisionTransformer (class_token, "
        "conv_proj, encoder)",
    ),
    ContainerLayout(
        "Encoder",
        frozenset({"pos_embedding"}),
        frozenset({"layers"}),
        "torchvision ViT Encoder (pos_embedding, layers)",
        "torchvision: models/vision_transformer.py Encoder (pos_embedding, layers)",
    ),
    ContainerLayout(
        "VisionTransformerDistilled",
        frozenset({"cls_token", "dist_token", "pos_embed"}),
        frozenset({"patch_embed"}),
        "timm DeiT (cls_token, dist_token, pos_embed, patch_embed)",
        "timm: models/deit.py VisionTransformerDistilled (cls_token, dist_token, "
        "pos_embed, patch_embed)",
    ),
    ContainerLayout(
        "VisionTransformer",
        frozenset({"cls_token", "pos_embed"}),
        frozenset({"patch_embed"}),
        "timm VisionTransformer (cls_token, pos_embed, patch_embed)",
        "timm: models/vision_transformer.py VisionTransformer (cls_token, pos_embed, patch_embed)",
    ),
    ContainerLayout(
        "VisionTransformer",
        frozenset({"class_embedding", "positional_embedding"}),
        frozenset({"conv1"}),
        "OpenAI CLIP visual transformer",
        "openai/CLIP: clip/model.py VisionTransformer",
    ),
    ContainerLayout(
        "CNBlock",
        frozenset({"layer_scale"}),
        frozenset({"block"}),
        "torchvision ConvNeXt block",
        "torchvision: models/convnext.py CNBlock (ConvNeXt block)",
    ),
    ContainerLayout(
        "ConvNeXtBlock",
        frozenset({"gamma"}),
        frozenset({"conv_dw"}),
        "timm ConvNeXt block",
        "timm: models/convnext.py ConvNeXtBlock",
    ),
    ContainerLayout(
        "ShiftedWindowAttention",
        frozenset({"relative_position_bias_table"}),
        frozenset({"qkv", "proj"}),
        "torchvision Swin attention",
        "torchvision: models/swin_transformer.py ShiftedWindowAttention (under features.)",
        prefix="features.",
        square_rows="relative_position_bias_table",
    ),
    ContainerLayout(
        "WindowAttention",
        frozenset({"relative_position_bias_table"}),
        frozenset({"qkv", "proj"}),
        "timm Swin attention",
        "timm: models/swin_transformer.py WindowAttention (a (2w-1)^2-row table; BEiT's has "
        "3 more rows for the class token)",
        square_rows="relative_position_bias_table",
    ),
    ContainerLayout(
        "ViTEmbeddings",
        frozenset({"cls_token", "position_embeddings"}),
        frozenset({"patch_embeddings"}),
        "transformers ViTEmbeddings",
        "transformers: models/vit/modeling_vit.py ViTEmbeddings",
    ),
    ContainerLayout(
        "BertEmbeddings",
        frozenset({"position_ids"}),
        frozenset({"word_embeddings", "token_type_embeddings"}),
        "transformers BertEmbeddings (RoBERTa & co. share the layout)",
        "transformers: models/bert/modeling_bert.py BertEmbeddings (RoBERTa & co. share "
        "the layout)",
    ),
    ContainerLayout(
        "RotaryEmbedding",
        frozenset({"inv_freq"}),
        frozenset(),
        "rotary position frequencies (inv_freq)",
        "transformers: models/llama/modeling_llama.py LlamaRotaryEmbedding (inv_freq)",
        name=re.compile(r"rotary"),
    ),
)


@dataclass(frozen=True, slots=True)
class BareModule:
    """A custom module recognised by exactly which bare tensors it owns."""

    cls: str
    confidence: float
    leaves: frozenset[str]
    """It owns only tensors among these."""
    required: str
    """... and always this one."""
    evidence: str
    source: str
    required_rank: int | None = None
    """Rank of the required tensor, when it tells."""
    name: re.Pattern[str] | None = None
    """Its own name (as written) matches this."""


#: Tried before :data:`CONTAINER_LAYOUTS`.
BARE_MODULES: tuple[BareModule, ...] = (
    BareModule(
        "GPT2Attention",
        0.7,
        frozenset({"bias", "masked_bias"}),
        "bias",
        "causal-mask buffer bias (1, 1, n, n) (+ masked_bias): GPT-2 attention",
        "transformers: models/gpt2/modeling_gpt2.py GPT2Attention (older versions persist "
        "the causal-mask buffers bias and masked_bias)",
        required_rank=4,
    ),
    BareModule(
        "LayerScale",
        0.5,
        frozenset({"gamma"}),
        "gamma",
        "timm LayerScale: gamma only",
        "timm: layers/layer_scale.py LayerScale (ls1, ls2 in vision_transformer.py)",
        name=re.compile(r"^(ls\d|layer_?scale)"),
    ),
)
