"""Held-out layouts: ``corpus/models/zoo.py`` rewrites library architectures with torch.nn
only (written from the libraries' sources by hand, independently of the signature data),
plus a few architectures no library has.  The replicas are named with the constructor they
copy; the others are not named."""

from __future__ import annotations

import sys
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from pthforensics.core.architecture import ArchitectureStatus  # noqa: E402
from pthforensics.infer.signatures import name_architecture  # noqa: E402
from tests._helpers import CORPUS, to_state  # noqa: E402

from ._support import labels  # noqa: E402

sys.path.insert(0, str(CORPUS / "models"))
import zoo  # type: ignore[import-not-found]  # noqa: E402

#: The library constructor each replica copies; the zoo's other models have none.
REPLICAS = {
    "tv_resnet50": "torchvision:resnet50",
    "tv_densenet121": "torchvision:densenet121",
    "tv_mobilenet_v2": "torchvision:mobilenet_v2",
    "tv_efficientnet_b0": "torchvision:efficientnet_b0",
    "tv_alexnet": "torchvision:alexnet",
    "tv_squeezenet1_1": "torchvision:squeezenet1_1",
    "tv_vit_b_16": "torchvision:vit_b_16",
    "tv_r3d_18": "torchvision:r3d_18",
    "tv_convnext_tiny": "torchvision:convnext_tiny",
    "timm_vit_small": "timm:vit_small_patch16_224",
    "timm_vit_384": "timm:vit_tiny_patch16_384",
    "hf_bert_base_cls": "transformers:BertForSequenceClassification",
    "hf_gpt2": "transformers:GPT2LMHeadModel",
    "hf_llama": "transformers:LlamaForCausalLM",
}


def _state(name: str) -> Any:
    with torch.device("meta"):
        model, _ = zoo.ZOO[name]()
    return to_state(model.state_dict())


@pytest.mark.parametrize("name", sorted(zoo.ZOO), ids=str)
def test_zoo_model(name: str) -> None:
    arch = name_architecture(_state(name), path=f"{name}.pt")
    if name in REPLICAS:
        assert arch.status is ArchitectureStatus.NAMED, arch.evidence
        assert REPLICAS[name] in labels(arch)
    else:
        assert arch.status is not ArchitectureStatus.NAMED, (arch.name, arch.evidence)
