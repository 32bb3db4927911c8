"""LoRA adapters and quantized layouts are recognised as such, never named as models.

The layouts are derived from the corpus' transformers Llama sample: its linear layers
patched by PEFT LoRA factors, or packed as GPTQ / AWQ / bitsandbytes would store them.
"""

from __future__ import annotations

from pthforensics.core import StateDict, TensorRecord
from pthforensics.core.architecture import ArchitectureStatus
from pthforensics.infer.signatures import name_architecture
from pthforensics.infer.signatures._adapters import find_adapter, find_quantization

from ._support import LIBRARY, name_file

LLAMA = LIBRARY / "hf_llama_gqa.safetensors"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _llama() -> StateDict:
    _, state = name_file(LLAMA)
    return state


def _linear(key: str) -> bool:
    return key.endswith(".weight") and key.rsplit(".", 2)[-2] in PROJECTIONS


def test_peft_lora_adapter() -> None:
    tensors = []
    for t in _llama().tensors:
        if _linear(t.key) and ("q_proj" in t.key or "v_proj" in t.key):
            module = "base_model.model." + t.key.removesuffix(".weight")
            out, size_in = t.shape
            tensors += [
                TensorRecord(f"{module}.lora_A.weight", (8, size_in), "float32"),
                TensorRecord(f"{module}.lora_B.weight", (out, 8), "float32"),
            ]
    arch = name_architecture(StateDict("", tuple(tensors)), path="adapter_model.safetensors")
    assert arch.status is ArchitectureStatus.FAMILY
    config = arch.config_dict()
    assert config["rank"] == 8 and config["target_modules"] == ["q_proj", "v_proj"]
    assert config["patched_modules"] == 4 and arch.code is None
    assert arch.library == "transformers" and arch.name is not None  # the base it patches
    assert "LoRA" in arch.evidence[0]


def test_kohya_lora_is_an_adapter() -> None:
    keys = [
        ("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", (4, 320, 1, 1)),
        ("lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight", (320, 4, 1, 1)),
        ("lora_unet_down_blocks_0_attentions_0_proj_in.alpha", ()),
    ]
    items = [(k, s, "float16", None) for k, s in keys]
    adapter = find_adapter(items)
    assert adapter is not None and adapter.kind == "kohya" and adapter.rank == 4


def _gptq(awq: bool = False) -> StateDict:
    group, bits = 32, 4
    tensors: list[TensorRecord] = []
    for t in _llama().tensors:
        if not _linear(t.key):
            tensors.append(t)
            continue
        module = t.key.removesuffix(".weight")
        out, size_in = t.shape
        if awq:
            tensors += [
                TensorRecord(f"{module}.qweight", (size_in, out * bits // 32), "int32"),
                TensorRecord(f"{module}.qzeros", (size_in // group, out * bits // 32), "int32"),
                TensorRecord(f"{module}.scales", (size_in // group, out), "float16"),
            ]
        else:
            tensors += [
                TensorRecord(f"{module}.qweight", (size_in * bits // 32, out), "int32"),
                TensorRecord(f"{module}.qzeros", (size_in // group, out * bits // 32), "int32"),
                TensorRecord(f"{module}.scales", (size_in // group, out), "float16"),
                TensorRecord(f"{module}.g_idx", (size_in,), "int32"),
            ]
    return StateDict("", tuple(tensors))


def test_gptq_and_awq_name_their_base() -> None:
    for awq, scheme in ((False, "gptq"), (True, "awq")):
        arch = name_architecture(_gptq(awq), path="model.safetensors")
        assert arch.status is ArchitectureStatus.FAMILY, arch.evidence
        config = arch.config_dict()
        assert config["quantization"] == scheme and config["group_size"] == 32
        assert config["bits"] == 4 and config["quantized_layers"] == 14
        assert arch.library == "transformers" and config["hidden_size"] == 64
        assert arch.name is not None and arch.name.endswith("ForCausalLM")
        assert arch.code is None


def test_bitsandbytes_layouts() -> None:
    four = [
        ("model.layers.0.mlp.up_proj.weight", (3072, 1), "uint8"),
        ("model.layers.0.mlp.up_proj.weight.absmax", (96,), "float32"),
        ("model.layers.0.mlp.up_proj.weight.quant_map", (16,), "float32"),
        ("model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4", (80,), "uint8"),
    ]
    found = find_quantization([(k, s, d, None) for k, s, d in four])
    assert found is not None and found.scheme == "bitsandbytes-4bit"
    assert found.details == {"quant_type": "nf4"}
    eight = [("fc.weight", (16, 8), "int8", None), ("fc.SCB", (16,), "float32", None)]
    found = find_quantization(eight)
    assert found is not None and found.scheme == "bitsandbytes-8bit"
    assert found.dense == (("fc.weight", (16, 8), None),)


def test_plain_models_are_neither() -> None:
    items = [(t.key, t.shape, t.dtype, t.storage_key) for t in _llama().tensors]
    assert find_adapter(items) is None and find_quantization(items) is None
