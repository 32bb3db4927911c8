"""The library part of the zoo: torchvision, timm and transformers constructors, each with
the input convention the library documents and a sweep of sizes.

A spec is ``LibSpec(name, library, constructor, kwargs, input, container, device)``; the
model is built by ``build(spec)`` (on the meta device unless ``device`` says cpu: detection
models filter boxes with data-dependent ops that the meta device cannot run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from truth import InputSpec, dense

IMG = dense(8, 600)
COARSE_IMG = [8, 16, 32, 48, 64, 100, 128, 160, 224, 256, 320, 400, 480, 600]
TOKENS = dense(1, 600)


@dataclass
class LibSpec:
    name: str
    library: str
    constructor: str
    kwargs: dict[str, Any]
    input: InputSpec
    container: str = "plain"
    device: str = "meta"
    config: dict[str, Any] = field(default_factory=dict)  # transformers config overrides


def img(design: int = 224, sweep: list[int] | None = None, channels: int = 3) -> InputSpec:
    return InputSpec("image", [1, channels, "S", "S"], {"S": design}, {"S": sweep or IMG})


def det(design: int = 320) -> InputSpec:
    return InputSpec(
        "image",
        [3, "S", "S"],
        {"S": design},
        {"S": COARSE_IMG},
        call=lambda m, x: m([x]),
        note="detection: forward takes a list of [3, H, W] images (resized internally)",
    )


def video(frames: int = 16, size: int = 112) -> InputSpec:
    return InputSpec(
        "video",
        [1, 3, "T", "S", "S"],
        {"T": frames, "S": size},
        {"T": dense(1, 64), "S": dense(8, 320, 4)},
    )


def tok(design: int = 128, extra: list[int] | None = None) -> InputSpec:
    sweep = sorted(set(TOKENS + (extra or [])))
    return InputSpec("tokens", [1, "T"], {"T": design}, {"T": sweep}, dtype="int64", fill=1)


def tok_seq2seq(design: int = 128) -> InputSpec:
    spec = tok(design, [1024, 2048])
    spec.call = lambda m, x: m(input_ids=x, decoder_input_ids=x[:, :1])
    spec.note = "encoder-decoder: decoder_input_ids of length 1 given with the input"
    return spec


TORCHVISION = [
    LibSpec("tv_resnet18", "torchvision", "resnet18", {}, img()),
    LibSpec(
        "tv_resnet50_ft10", "torchvision", "resnet50", {"num_classes": 10}, img(), "state_dict"
    ),
    LibSpec("tv_alexnet", "torchvision", "alexnet", {}, img()),
    LibSpec("tv_vgg11_bn", "torchvision", "vgg11_bn", {}, img(), "dataparallel"),
    LibSpec("tv_squeezenet1_1", "torchvision", "squeezenet1_1", {}, img(), "safetensors"),
    LibSpec("tv_densenet121", "torchvision", "densenet121", {}, img()),
    LibSpec("tv_inception_v3", "torchvision", "inception_v3", {"init_weights": False}, img(299)),
    LibSpec("tv_googlenet", "torchvision", "googlenet", {"init_weights": False}, img()),
    LibSpec("tv_mobilenet_v2", "torchvision", "mobilenet_v2", {}, img(), "lightning"),
    LibSpec("tv_mobilenet_v3_small", "torchvision", "mobilenet_v3_small", {}, img()),
    LibSpec("tv_shufflenet_v2_x1_0", "torchvision", "shufflenet_v2_x1_0", {}, img()),
    LibSpec("tv_mnasnet0_5", "torchvision", "mnasnet0_5", {}, img()),
    LibSpec(
        "tv_efficientnet_b0_ft10", "torchvision", "efficientnet_b0", {"num_classes": 10}, img()
    ),
    LibSpec("tv_regnet_y_400mf", "torchvision", "regnet_y_400mf", {}, img(), "model_key"),
    LibSpec("tv_convnext_tiny", "torchvision", "convnext_tiny", {}, img()),
    LibSpec("tv_vit_b_16", "torchvision", "vit_b_16", {}, img()),
    LibSpec("tv_swin_t", "torchvision", "swin_t", {}, img()),
    LibSpec("tv_maxvit_t", "torchvision", "maxvit_t", {}, img()),
    LibSpec("tv_resnext50_32x4d", "torchvision", "resnext50_32x4d", {}, img()),
    LibSpec("tv_wide_resnet50_2", "torchvision", "wide_resnet50_2", {}, img()),
    LibSpec(
        "tv_fasterrcnn_mobilenet_v3_large_320_fpn",
        "torchvision",
        "fasterrcnn_mobilenet_v3_large_320_fpn",
        {"weights_backbone": None},
        det(320),
        device="cpu",
    ),
    LibSpec(
        "tv_ssdlite320_mobilenet_v3_large",
        "torchvision",
        "ssdlite320_mobilenet_v3_large",
        {"weights_backbone": None},
        det(320),
        device="cpu",
    ),
    LibSpec(
        "tv_fcn_resnet50",
        "torchvision",
        "fcn_resnet50",
        {"weights_backbone": None},
        img(520, dense(8, 600, 2)),
    ),
    LibSpec(
        "tv_lraspp_mobilenet_v3_large",
        "torchvision",
        "lraspp_mobilenet_v3_large",
        {"weights_backbone": None},
        img(520),
    ),
    LibSpec(
        "tv_deeplabv3_mobilenet_v3_large",
        "torchvision",
        "deeplabv3_mobilenet_v3_large",
        {"weights_backbone": None},
        img(520),
    ),
    LibSpec("tv_r3d_18", "torchvision", "r3d_18", {}, video(16, 112)),
    LibSpec("tv_mvit_v2_s", "torchvision", "mvit_v2_s", {}, video(16, 224)),
    LibSpec("tv_s3d", "torchvision", "s3d", {}, video(16, 224)),
]

TIMM = [
    LibSpec("timm_resnet18", "timm", "resnet18", {}, img()),
    LibSpec("timm_resnet50d_ft10", "timm", "resnet50d", {"num_classes": 10}, img(), "lightning"),
    LibSpec("timm_vit_tiny_patch16_224", "timm", "vit_tiny_patch16_224", {}, img()),
    LibSpec("timm_deit_tiny_distilled", "timm", "deit_tiny_distilled_patch16_224", {}, img()),
    LibSpec(
        "timm_vit_small_patch16_224_ft10",
        "timm",
        "vit_small_patch16_224",
        {"num_classes": 10},
        img(),
        "state_dict",
    ),
    LibSpec("timm_convnext_atto", "timm", "convnext_atto", {}, img(288), "safetensors"),
    LibSpec("timm_efficientnet_b0", "timm", "efficientnet_b0", {}, img()),
    LibSpec("timm_tf_efficientnet_b0", "timm", "tf_efficientnet_b0", {}, img()),
    LibSpec("timm_mobilenetv3_large_100", "timm", "mobilenetv3_large_100", {}, img()),
    LibSpec("timm_swin_tiny_patch4_window7_224", "timm", "swin_tiny_patch4_window7_224", {}, img()),
    LibSpec("timm_regnety_002", "timm", "regnety_002", {}, img()),
    LibSpec("timm_mixer_s16_224", "timm", "mixer_s16_224", {}, img()),
    LibSpec("timm_densenet121", "timm", "densenet121", {}, img()),
    LibSpec("timm_levit_128s", "timm", "levit_128s", {}, img()),
    LibSpec("timm_poolformer_s12", "timm", "poolformer_s12", {}, img()),
    LibSpec("timm_repvgg_a0", "timm", "repvgg_a0", {}, img()),
    LibSpec("timm_ghostnet_100", "timm", "ghostnet_100", {}, img()),
    LibSpec("timm_mobilevit_xxs", "timm", "mobilevit_xxs", {}, img(256)),
    LibSpec("timm_efficientformer_l1", "timm", "efficientformer_l1", {}, img()),
    LibSpec("timm_cspresnet50", "timm", "cspresnet50", {}, img(256)),
    LibSpec("timm_dla34", "timm", "dla34", {}, img()),
    LibSpec("timm_vgg11", "timm", "vgg11", {}, img()),
    LibSpec("timm_beit_base_patch16_224", "timm", "beit_base_patch16_224", {}, img()),
    LibSpec("timm_edgenext_xx_small", "timm", "edgenext_xx_small", {}, img(256)),
]

_SMALL_LLAMA = {
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 8000,
    "max_position_embeddings": 2048,
}

TRANSFORMERS = [
    LibSpec("hf_bert_base", "transformers", "BertModel", {}, tok(128, [1024]), "hf-bin"),
    LibSpec(
        "hf_bert_seqcls_ft10",
        "transformers",
        "BertForSequenceClassification",
        {},
        tok(128, [1024]),
        "hf-bin",
        config={
            "num_labels": 10,
            "num_hidden_layers": 4,
            "hidden_size": 256,
            "num_attention_heads": 4,
            "intermediate_size": 1024,
        },
    ),
    LibSpec(
        "hf_gpt2",
        "transformers",
        "GPT2LMHeadModel",
        {},
        tok(1024, [*dense(1000, 1030), 1100, 2048]),
        "hf-bin",
    ),
    LibSpec("hf_roberta", "transformers", "RobertaModel", {}, tok(128, [1024]), "hf-bin"),
    LibSpec("hf_distilbert", "transformers", "DistilBertModel", {}, tok(128, [1024]), "plain"),
    LibSpec("hf_albert", "transformers", "AlbertModel", {}, tok(128, [1024]), "hf-bin"),
    LibSpec(
        "hf_electra_tokcls",
        "transformers",
        "ElectraForTokenClassification",
        {},
        tok(128, [1024]),
        "hf-bin",
        config={"num_labels": 9},
    ),
    LibSpec(
        "hf_t5_small",
        "transformers",
        "T5ForConditionalGeneration",
        {},
        tok_seq2seq(),
        "hf-bin",
        config={"d_model": 512, "num_layers": 6, "num_heads": 8, "d_ff": 2048},
    ),
    LibSpec("hf_bart", "transformers", "BartModel", {}, tok(128, [1024, 1100]), "hf-bin"),
    LibSpec(
        "hf_llama_small",
        "transformers",
        "LlamaForCausalLM",
        {},
        tok(128, [2048, 4096]),
        "safetensors",
        config=_SMALL_LLAMA,
    ),
    LibSpec(
        "hf_qwen2_small",
        "transformers",
        "Qwen2ForCausalLM",
        {},
        tok(128, [2048]),
        "hf-bin",
        config={**_SMALL_LLAMA, "tie_word_embeddings": True},
    ),
    LibSpec(
        "hf_vit",
        "transformers",
        "ViTForImageClassification",
        {},
        img(),
        "hf-bin",
        config={"num_labels": 10},
    ),
    LibSpec("hf_convnext", "transformers", "ConvNextForImageClassification", {}, img(), "hf-bin"),
    # on meta a second call of HF Swin fails (window attention masks); swept on CPU
    LibSpec("hf_swin", "transformers", "SwinModel", {}, img(), "hf-bin", device="cpu"),
    LibSpec(
        "hf_whisper_tiny",
        "transformers",
        "WhisperModel",
        {},
        InputSpec(
            "spectrogram",
            [1, 80, "T"],
            {"T": 3000},
            {"T": dense(1, 400, 3) + dense(2990, 3010) + [6000]},
            call=lambda m, x: m(
                input_features=x,
                decoder_input_ids=torch.zeros(1, 1, dtype=torch.long, device=x.device),
            ),
            note="decoder_input_ids of length 1 given with the features",
        ),
        "hf-bin",
        config={
            "d_model": 384,
            "encoder_layers": 4,
            "decoder_layers": 4,
            "encoder_attention_heads": 6,
            "decoder_attention_heads": 6,
            "encoder_ffn_dim": 1536,
            "decoder_ffn_dim": 1536,
            "num_mel_bins": 80,
        },
    ),
    LibSpec(
        "hf_wav2vec2",
        "transformers",
        "Wav2Vec2Model",
        {},
        InputSpec(
            "sequence", [1, "L"], {"L": 16000}, {"L": dense(1, 1024) + dense(1040, 40000, 48)}
        ),
        "hf-bin",
        config={"num_hidden_layers": 4},
    ),
    LibSpec(
        "hf_ast",
        "transformers",
        "ASTForAudioClassification",
        {},
        InputSpec("spectrogram", [1, "T", 128], {"T": 1024}, {"T": [*dense(1, 1100, 3), 1024]}),
        "hf-bin",
        config={"num_hidden_layers": 4},
    ),
]

ALL = TORCHVISION + TIMM + TRANSFORMERS


def build(spec: LibSpec, device: str | None = None) -> nn.Module:
    """Instantiate the library model (no weights downloaded) on ``device`` (default: the
    spec's); a model whose constructor computes on tensors (torchvision's RegNet widths) is
    built on CPU and moved to meta."""
    device = device or spec.device
    try:
        return _build_on(spec, device)
    except (NotImplementedError, RuntimeError):
        if device != "meta":
            raise
        return _build_on(spec, "cpu").to("meta")


def _build_on(spec: LibSpec, device: str) -> nn.Module:
    with torch.device(device):
        if spec.library == "torchvision":
            import torchvision

            model = torchvision.models.get_model(spec.constructor, weights=None, **spec.kwargs)
        elif spec.library == "timm":
            import timm

            model = timm.create_model(spec.constructor, pretrained=False, **spec.kwargs)
        elif spec.library == "transformers":
            import transformers

            cls = getattr(transformers, spec.constructor)
            config = cls.config_class(**spec.config)
            model = cls(config)
        else:
            raise ValueError(spec.library)
    return model.eval()


def source_of(spec: LibSpec) -> dict[str, Any]:
    import importlib

    lib = importlib.import_module(spec.library)
    return {
        "library": spec.library,
        "version": lib.__version__,
        "constructor": spec.constructor,
        "kwargs": spec.kwargs,
        "config": spec.config,
    }
