# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "torch==2.14.1",
#     "torchvision==0.29.1",
#     "timm==1.0.31",
#     "transformers==5.24.0",
#     "safetensors>=0.4",
# ]
# ///
"""Real library layouts at almost no cost, with their truth.

Each sample is the ``state_dict()`` of a torchvision / timm / transformers constructor.
Where the file is a ``torch.save`` pickle, every tensor is a stride-0 expansion of a
one-element tensor (``torch.zeros(1).expand(shape)``): ``torch.save`` keeps the view, so a
ResNet layout costs a few KB while every key, shape and dtype is the library's own.
safetensors files cannot hold views, so those samples use small configs and real
(zero) tensors.  Wrappers vary on purpose: a Lightning-style ``{"state_dict": ...}`` with
``model.`` prefixes, DataParallel's ``module.``, and ``save_pretrained``'s safetensors with
the tied output embedding left out.

``<name>.truth.json``::

    {"status": "named", "library": ..., "name": ..., "config": {argument: value, ...},
     "source": "how the file was made"}

Run with the libraries installed (not in CI): ``python corpus/models/library/generate_library.py``
(all samples) or ``... generate_library.py hf_ast_audio`` (the named ones).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent

Sample = Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]]
SAMPLES: dict[str, tuple[str, Sample]] = {}


def _sample(filename: str) -> Callable[[Sample], Sample]:
    def register(fn: Sample) -> Sample:
        SAMPLES[fn.__name__] = (filename, fn)
        return fn

    return register


def views(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every tensor as a stride-0 view of one element of its dtype."""
    return {k: torch.zeros(1, dtype=v.dtype).reshape(()).expand(v.shape) for k, v in state.items()}


def _truth(library: str, name: str, config: dict[str, Any], source: str) -> dict[str, Any]:
    return {"status": "named", "library": library, "name": name, "config": config, "source": source}


@_sample("tv_resnet18_10cls.pt")
def tv_resnet18_10cls() -> tuple[Any, dict[str, Any]]:
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.resnet18(num_classes=10)
    state = views({k: torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()})
    return state, _truth(
        "torchvision",
        "resnet18",
        {"num_classes": 10},
        "torchvision.models.resnet18(num_classes=10).state_dict(), stride-0 views",
    )


@_sample("timm_vit_tiny_lightning.ckpt")
def timm_vit_tiny_lightning() -> tuple[Any, dict[str, Any]]:
    import timm

    with torch.device("meta"):
        model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    state = views(
        {f"model.{k}": torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()}
    )
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "state_dict": state,
        "pytorch-lightning_version": "2.4.0",
    }
    return ckpt, _truth(
        "timm",
        "vit_tiny_patch16_224",
        {"num_classes": 1000},
        "timm vit_tiny_patch16_224 inside a Lightning checkpoint (model. prefix), stride-0 views",
    )


@_sample("hf_bert_small_dp.bin")
def hf_bert_small_dp() -> tuple[Any, dict[str, Any]]:
    import transformers

    config = transformers.BertConfig(
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    with torch.device("meta"):
        model = transformers.BertModel(config)
    state = views(
        {f"module.{k}": torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()}
    )
    return state, _truth(
        "transformers",
        "BertModel",
        {
            "vocab_size": 1000,
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "intermediate_size": 128,
            "max_position_embeddings": 128,
            "type_vocab_size": 2,
        },
        "transformers BertModel(small BertConfig) under DataParallel's module. prefix, "
        "stride-0 views",
    )


@_sample("hf_gpt2_small.safetensors")
def hf_gpt2_small() -> tuple[Any, dict[str, Any]]:
    import transformers

    config = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=256, n_positions=64)
    model = transformers.GPT2LMHeadModel(config).to(torch.bfloat16)
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items() if k != "lm_head.weight"}
    return state, _truth(
        "transformers",
        "GPT2LMHeadModel",
        {
            "vocab_size": 256,
            "n_embd": 32,
            "n_layer": 2,
            "n_positions": 64,
            "tie_word_embeddings": True,
        },
        "GPT2LMHeadModel(small GPT2Config) in bfloat16, the tied lm_head.weight left out as "
        "save_pretrained does",
    )


@_sample("hf_llama_gqa.safetensors")
def hf_llama_gqa() -> tuple[Any, dict[str, Any]]:
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    model = transformers.LlamaForCausalLM(config).to(torch.bfloat16)
    state = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    return state, _truth(
        "transformers",
        "LlamaForCausalLM",
        {
            "vocab_size": 128,
            "hidden_size": 64,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "tie_word_embeddings": False,
        },
        "LlamaForCausalLM(small LlamaConfig, grouped-query attention: 4 heads, 2 for keys and "
        "values) in bfloat16; the head count does not show in the shapes, only heads x head_dim",
    )


@_sample("hf_ast_audio.bin")
def hf_ast_audio() -> tuple[Any, dict[str, Any]]:
    import transformers

    config = transformers.ASTConfig(num_hidden_layers=2, num_labels=5)
    with torch.device("meta"):
        model = transformers.ASTForAudioClassification(config)
    state = views({k: torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()})
    return state, _truth(
        "transformers",
        "ASTForAudioClassification",
        {"num_hidden_layers": 2, "num_labels": 5, "num_mel_bins": 128},
        "transformers ASTForAudioClassification(ASTConfig(num_hidden_layers=2, num_labels=5)), "
        "stride-0 views; its input is the feature extractor's 1024 frames x 128 mel bins",
    )


def main(only: list[str] | None = None) -> None:
    """Write every sample, or the ``only`` ones (function names)."""
    from safetensors.torch import save_file

    for name, (filename, make) in SAMPLES.items():
        if only and name not in only:
            continue
        obj, truth = make()
        path = HERE / filename
        if filename.endswith(".safetensors"):
            save_file(obj, str(path), metadata={"format": "pt"})
        else:
            torch.save(obj, path)
        (HERE / f"{filename}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
        print(f"{name}: {path.name} {path.stat().st_size} bytes")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
