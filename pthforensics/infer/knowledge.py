"""Model-family knowledge as data: name hints, layouts of custom modules, family markers.

The inference rules (``infer.layers``, ``infer.input``) read the shapes; where shapes cannot
decide, they consult these tables.  Each entry carries its ``source``: the library file
that defines the name or layout (``torchvision: models/vgg.py``), or the habit it records
when no single library defines it.  Names are weak evidence: the algorithms give them
lower confidence than shapes, and never let a name override a shape that contradicts it.

Size priors (224, 32, 28...) live in :mod:`.priors`.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ADAPTIVE_HEADS",
    "AUX_HEAD_NAME",
    "ATTENTION_NAMES",
    "BARE_MODULES",
    "BATCH_NORM_NAME",
    "CHANNELS_FIRST_NORM_MARKERS",
    "CLASS_TOKEN_LEAF",
    "CONTAINER_LAYOUTS",
    "DETECTOR_HEADS",
    "EMBEDDING_NAME",
    "GPT2_CONV1D_NAMES",
    "GROUP_NORM_NAME",
    "IDENTITY_AT_DEFAULT_NAME",
    "INSTANCE_NORM_NAME",
    "LAYER_NORM_NAME",
    "LAYER_SCALE_LEAF",
    "NOT_POOL_NAME",
    "PARAMLESS_HINTS",
    "PARENT_HINTS",
    "POSITION_LEAF",
    "POSITION_NAME",
    "PRELU_NAME",
    "TRANSPOSED_CONV_NAME",
    "WAVEFORM_ENCODER_NAME",
    "AdaptiveHead",
    "BareModule",
    "ContainerLayout",
    "LayerScaleMarker",
    "NameHint",
    "ParamlessHint",
    "ParentHint",
]


@dataclass(frozen=True, slots=True)
class NameHint:
    """A pattern over a module or tensor name (lower-cased) that suggests what it is."""

    pattern: re.Pattern[str]
    meaning: str
    source: str

    def matches(self, name: str) -> bool:
        """Whether ``name`` (already lower-cased by the caller) matches."""
        return self.pattern.search(name) is not None


def _hint(pattern: str, meaning: str, source: str) -> NameHint:
    return NameHint(re.compile(pattern), meaning, source)


# --- layer names --------------------------------------------------------------------------

EMBEDDING_NAME = _hint(
    r"emb|^wte$|^wpe$|^shared$|^tok_embeddings$|^lookup|vocab|^relative_attention_bias$",
    "a bias-free rank-2 weight is a lookup table, not a Linear",
    "transformers: models/gpt2/modeling_gpt2.py (wte, wpe), models/t5/modeling_t5.py "
    "(shared, relative_attention_bias: nn.Embedding(num_buckets, n_heads)); meta-llama: "
    "llama/model.py (tok_embeddings); '*emb*' in most code",
)
POSITION_NAME = _hint(
    r"pos|wpe",
    "an embedding table of positions: its rows bound the sequence length",
    "transformers: modeling_gpt2.py (wpe), modeling_bert.py (position_embeddings)",
)
GPT2_CONV1D_NAMES = frozenset({"c_attn", "c_proj", "c_fc", "q_attn"})
"""transformers: models/gpt2/modeling_gpt2.py: the ``Conv1D`` layers (weights stored
``(in, out)``) of GPT2Attention and GPT2MLP."""

TRANSPOSED_CONV_NAME = _hint(
    r"deconv|transpose|convt|tconv|upconv|up_conv|^up\d*$|upsample|^ct\d*$|^dconv",
    "a convolution named like an upsampling layer is likely transposed",
    "naming habits of decoders/generators (pytorch/examples dcgan, milesial Pytorch-UNet 'up1'...)",
)
LAYER_NORM_NAME = _hint(
    r"(^|_)ln(_?\d+|_f)?$|layer_?norm|^ln|^norm$",
    "LayerNorm",
    "transformers: modeling_gpt2.py (ln_1, ln_2, ln_f); torchvision: models/"
    "vision_transformer.py (ln, ln_1); timm (norm)",
)
GROUP_NORM_NAME = _hint(
    r"(^|_)gn\d*$|group_?norm",
    "GroupNorm",
    "diffusers/guided-diffusion style names (gn, group_norm)",
)
INSTANCE_NORM_NAME = _hint(
    r"(^|_)in\d*$|inorm|instance|instancenorm",
    "InstanceNorm",
    "style-transfer/CycleGAN code (pytorch/examples fast_neural_style: in1, in2...)",
)
BATCH_NORM_NAME = _hint(
    r"(^|_)bn\d*|batch_?norm",
    "BatchNorm",
    "torchvision: models/resnet.py (bn1, bn2, bn3)",
)
PRELU_NAME = _hint(
    r"prelu|act|relu",
    "a lone 1-d weight named like an activation holds PReLU slopes",
    "torch.nn PReLU; facenet/insightface code (prelu1...)",
)


@dataclass(frozen=True, slots=True)
class ParamlessHint:
    """A parameter-less module whose name says what it is (``{d}`` takes the dimension of
    the convolution before it)."""

    pattern: re.Pattern[str]
    type: str
    confidence: float
    source: str


_TV = "torchvision: models/"
_TIMM = "timm: layers/"

#: Parameter-less modules named after what they are, first match wins (so ``relu6`` is
#: tried before ``relu``, and ``avgpool`` alone before ``avg_pool``).
PARAMLESS_HINTS: tuple[ParamlessHint, ...] = tuple(
    ParamlessHint(re.compile(pattern), type_, confidence, source)
    for pattern, type_, confidence, source in (
        (r"relu6", "ReLU6", 0.6, _TV + "mobilenetv2.py (Conv2dNormActivation with ReLU6)"),
        (r"leaky", "LeakyReLU", 0.6, "pytorch/examples dcgan (LeakyReLU)"),
        (r"prelu", "PReLU", 0.4, "torch.nn PReLU (a parameter-less row only when unowned)"),
        (r"relu", "ReLU", 0.6, _TV + "resnet.py (relu)"),
        (r"gelu", "GELU", 0.6, _TIMM + "mlp.py (act = GELU)"),
        (r"silu|swish", "SiLU", 0.6, _TV + "efficientnet.py (SiLU)"),
        (r"sigmoid", "Sigmoid", 0.6, "torch.nn Sigmoid"),
        (r"tanh", "Tanh", 0.6, "pytorch/examples dcgan (Tanh output)"),
        (r"softmax", "Softmax", 0.6, "torch.nn Softmax"),
        (r"^elu", "ELU", 0.5, "torch.nn ELU"),
        (r"max_?pool|^mp\d*$", "MaxPool{d}d", 0.6, _TV + "resnet.py (maxpool)"),
        (
            r"global_?pool|adaptive|^gap$",
            "AdaptiveAvgPool{d}d",
            0.6,
            _TIMM + "adaptive_avgmax_pool.py (global_pool)",
        ),
        (
            r"^avgpool$",
            "AdaptiveAvgPool{d}d",
            0.5,
            _TV + "resnet.py, vgg.py, alexnet.py, densenet.py: AdaptiveAvgPool2d named avgpool",
        ),
        (r"avg_?pool", "AvgPool{d}d", 0.4, "torch.nn AvgPool*d"),
        (
            r"pool(?!er)",
            "MaxPool{d}d",
            0.4,
            "most hand-written CNNs pool with MaxPool (pool1...); a 'pooler' is no pool",
        ),
        (r"drop_?path", "DropPath", 0.5, _TIMM + "drop.py (drop_path)"),
        (r"drop", "Dropout", 0.6, "torch.nn Dropout"),
        (r"flatten", "Flatten", 0.7, "torch.nn Flatten"),
        (r"identity", "Identity", 0.6, "torch.nn Identity"),
        (r"upsampl", "Upsample", 0.5, "torch.nn Upsample"),
    )
)


@dataclass(frozen=True, slots=True)
class ParentHint:
    """A parameter-less module whose type follows from its own name *and* its parent's
    (``pool`` under ``global_pool``, ``drop`` under a norm-act layer)."""

    leaf: re.Pattern[str]
    parent: re.Pattern[str]
    type: str
    confidence: float
    source: str


#: Tried before :data:`PARAMLESS_HINTS` (first match wins).  ``{d}`` as there.
PARENT_HINTS: tuple[ParentHint, ...] = tuple(
    ParentHint(re.compile(leaf), re.compile(parent), type_, confidence, source)
    for leaf, parent, type_, confidence, source in (
        (
            r"^pool$",
            r"global_?pool",
            "AdaptiveAvgPool{d}d",
            0.6,
            _TIMM + "adaptive_avgmax_pool.py SelectAdaptivePool2d.pool (nn.AdaptiveAvgPool2d)",
        ),
        (
            r"^pool$",
            r"^transition",
            "AvgPool{d}d",
            0.6,
            _TV + "densenet.py _Transition.pool = nn.AvgPool2d(2, 2) (Huang et al., 2017)",
        ),
        (
            r"^pool$",
            r"^token_mixer$",
            "AvgPool{d}d",
            0.6,
            "timm: models/metaformer.py Pooling (PoolFormer's token mixer nn.AvgPool2d(3, 1, 1)); "
            "efficientformer.py Pooling",
        ),
        (
            r"^flatten$",
            r"^head$",
            "Identity",
            0.5,
            _TIMM + "classifier.py ClassifierHead.flatten: nn.Identity() when global_pool "
            "flattens (the default)",
        ),
        (
            r"^drop$",
            r"(^|_)(bn|norm)\d*$",
            "Identity",
            0.4,
            _TIMM + "norm_act.py BatchNormAct2d.drop: nn.Identity() unless a drop layer is given",
        ),
    )
)

#: Names of regularisers that timm builds as ``nn.Identity()`` at their default rate 0
#: (a checkpoint of a model made with defaults holds Identity there).
IDENTITY_AT_DEFAULT_NAME = _hint(
    r"^(drop_?path\d*|drop_block|patch_drop)$",
    "DropPath/DropBlock/PatchDropout are nn.Identity() at the default rate 0",
    _TIMM + "drop.py; timm models/vision_transformer.py (drop_path1/2, patch_drop), "
    "resnet.py (drop_block), efficientnet_blocks.py (drop_path)",
)

NOT_POOL_NAME = _hint(
    r"act|relu|gelu|silu|swish|sigmoid|tanh|drop|identity|stochastic|"
    r"flatten|softmax|mish|elu|nonlin|gate|scale|permute|norm",
    "a parameter-less module named like this between convolutions is no pool",
    "timm/torchvision naming of activations, dropouts and reshapes",
)

WAVEFORM_ENCODER_NAME = _hint(
    r"(^|\.)feature_extractor\.conv_layers\.0\.conv$",
    "a transformers speech encoder: forward(input_values [N, L]) adds the channel axis",
    "transformers: models/wav2vec2/modeling_wav2vec2.py Wav2Vec2FeatureEncoder "
    "(input_values[:, None]); HuBERT, WavLM, Data2VecAudio share it",
)

DETECTOR_HEADS = (
    (re.compile(r"^rpn\.head\."), re.compile(r"^roi_heads\.box_(head|predictor)\.")),
    (re.compile(r"^head\.classification_head\."), re.compile(r"^head\.regression_head\.")),
)
"""Pairs of module-name patterns that, both present, mark a torchvision detector: a
two-stage R-CNN (``rpn`` + ``roi_heads``: Faster/Mask/Keypoint R-CNN) or a one-stage one
(``head.classification_head`` + ``head.regression_head``: RetinaNet, FCOS, SSD, SSDlite).
Their ``forward(images)`` takes a list of ``[C, H, W]`` images of any sizes, which
``GeneralizedRCNNTransform`` (or SSD's) resizes itself, and their box heads read RoI-pooled
or per-level crops, so no Linear fixes the input size (torchvision: models/detection/
generalized_rcnn.py, transform.py, roi_heads.py, retinanet.py, fcos.py, ssd.py; docs:
"the input to the models is expected to be a list of tensors, each of shape [C, H, W]...
different images can have different sizes")."""

AUX_HEAD_NAME = _hint(
    r"(^|\.)aux",
    "an auxiliary classifier on a side branch of the trunk (used in training only)",
    _TV + "googlenet.py (aux1, aux2: InceptionAux), inception.py (AuxLogits)",
)

#: Attention models project features with Linear layers named like this: a Linear first
#: layer there reads a sequence, not a vector.
ATTENTION_NAMES = ("attn", "attention", "q_proj", "query")
"""transformers: modeling_bert.py (attention.self.query), modeling_llama.py (q_proj);
timm: models/vision_transformer.py (attn)."""


# --- bare parameters on custom modules ----------------------------------------------------

CLASS_TOKEN_LEAF = _hint(
    r"cls|class|dist_token|reg_token|register",
    "class / distillation / register token(s) prepended to the patch tokens",
    "timm: models/vision_transformer.py (cls_token, reg_token), models/deit.py "
    "(dist_token); torchvision: models/vision_transformer.py (class_token)",
)
POSITION_LEAF = _hint(
    r"pos",
    "a position table (tokens x width) added to the tokens",
    "timm: vision_transformer.py (pos_embed); torchvision: vision_transformer.py (pos_embedding)",
)
LAYER_SCALE_LEAF = _hint(
    r"gamma|scale",
    "a per-channel layer scale",
    "timm: layers/layer_scale.py (gamma); torchvision: models/convnext.py (layer_scale)",
)


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


# --- whole-model markers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerScaleMarker:
    """A bare tensor that marks a ConvNeXt-style model, whose norms outside the blocks are
    channels-first ``LayerNorm2d`` (not GroupNorm)."""

    leaf: str
    source: str
    trailing: tuple[int, ...] | None = None
    """The tensor's shape ends with this."""
    child: str | None = None
    """Its module has this submodule."""


CHANNELS_FIRST_NORM_MARKERS: tuple[LayerScaleMarker, ...] = (
    LayerScaleMarker(
        "layer_scale",
        "torchvision: models/convnext.py CNBlock.layer_scale of shape (C, 1, 1)",
        trailing=(1, 1),
    ),
    LayerScaleMarker(
        "gamma", "timm: models/convnext.py ConvNeXtBlock.gamma next to conv_dw", child="conv_dw"
    ),
)


# --- input conventions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdaptiveHead:
    """A family whose classifier reads an adaptive average pool of a fixed size.

    Without ``_metadata`` the pool module is invisible, but a flatten head of
    ``C x s x s`` positions with ``s`` in ``output_sizes`` and this naming tells it."""

    body_prefix: str
    head_prefix: str
    output_sizes: frozenset[int]
    source: str


ADAPTIVE_HEADS: tuple[AdaptiveHead, ...] = (
    AdaptiveHead(
        "features.",
        "classifier.",
        frozenset({6, 7}),
        "torchvision: models/vgg.py (AdaptiveAvgPool2d((7, 7)) named avgpool), "
        "models/alexnet.py (AdaptiveAvgPool2d((6, 6)))",
    ),
)
