"""Name hints: patterns over a module or tensor name (lower-cased) that suggest what it is,
each with its meaning and source; weak evidence that never overrides a shape.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._sources import TIMM_LAYERS as _TIMM
from ._sources import TORCHVISION_MODELS as _TV

__all__ = [
    "ATTENTION_NAMES",
    "AUX_HEAD_NAME",
    "BATCH_NORM_NAME",
    "CLASS_TOKEN_LEAF",
    "DETECTOR_HEADS",
    "EMBEDDING_NAME",
    "GPT2_CONV1D_NAMES",
    "GROUP_NORM_NAME",
    "IDENTITY_AT_DEFAULT_NAME",
    "IDENTITY_BRANCH_NAME",
    "INSTANCE_NORM_NAME",
    "LAYER_NORM_NAME",
    "LAYER_SCALE_LEAF",
    "NOT_POOL_NAME",
    "POSITION_LEAF",
    "POSITION_NAME",
    "PRELU_NAME",
    "TRANSPOSED_CONV_NAME",
    "WAVEFORM_ENCODER_NAME",
    "NameHint",
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


# --- module names around the main path ---------------------------------------------------

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

IDENTITY_BRANCH_NAME = _hint(
    r"^(shortcut|downsample|skip|residual|identity|short_cut)\d*$",
    "a parameter-less module named like this is a residual block's identity branch "
    "(an empty nn.Sequential or a lambda), no activation or pool on the main path",
    "kuangliu/pytorch-cifar models/resnet.py BasicBlock (self.shortcut = nn.Sequential()); "
    "akamaster/pytorch_resnet_cifar10 resnet.py (shortcut = LambdaLayer/nn.Sequential())",
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
    r"cls|class|dist_token|distillation_token|reg_token|register",
    "class / distillation / register token(s) prepended to the patch tokens",
    "timm: models/vision_transformer.py (cls_token, reg_token), models/deit.py "
    "(dist_token); torchvision: models/vision_transformer.py (class_token); transformers: "
    "models/deit/modeling_deit.py, models/audio_spectrogram_transformer (distillation_token)",
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
