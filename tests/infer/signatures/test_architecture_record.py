"""The Architecture record: JSON form, round trip, one-line rendering."""

from __future__ import annotations

import json

from pthforensics.core.architecture import TIMES, Architecture, ArchitectureStatus, freeze, thaw


def test_round_trip_with_nested_config() -> None:
    arch = Architecture(
        status=ArchitectureStatus.NAMED,
        library="transformers",
        name="LlavaForConditionalGeneration",
        same_layout=("transformers:VipLlavaForConditionalGeneration",),
        config=freeze(
            {"text_config": {"hidden_size": 64, "vocab_size": 100}, "image_token_index": 3}
        ),
        input_convention=freeze(
            {"main_input": "input_ids", "inputs": ["input_ids", "pixel_values"]}
        ),
        confidence=0.93,
        evidence=("every tensor matches",),
        code="print('hi')\n",
    )
    data = arch.to_dict()
    assert data["config"] == {
        "text_config": {"hidden_size": 64, "vocab_size": 100},
        "image_token_index": 3,
    }
    assert data["status"] == "named" and data["input_convention"]["inputs"] == [
        "input_ids",
        "pixel_values",
    ]
    assert set(data) == {
        "status",
        "library",
        "name",
        "same_layout",
        "config",
        "input_convention",
        "confidence",
        "evidence",
        "code",
    }
    again = Architecture.from_dict(json.loads(json.dumps(data)))
    assert again == arch
    hash(again)  # deeply immutable


def test_unknown_defaults_and_text() -> None:
    arch = Architecture(ArchitectureStatus.UNKNOWN)
    assert arch.to_dict()["input_convention"] is None and arch.to_dict()["code"] is None
    assert str(arch) == "architecture unknown"
    named = Architecture(
        ArchitectureStatus.NAMED,
        "torchvision",
        "resnet50",
        config=freeze({"num_classes": 10}),
        input_convention=freeze(
            {"shape": [1, 3, 224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
        ),
    )
    shape = TIMES.join(("3", "224", "224"))
    assert str(named) == f"torchvision resnet50 · num_classes=10 · input {shape}, ImageNet mean/std"
    assert thaw(freeze({"a": [1, 2]})) == {"a": [1, 2]}
