"""Adapters and quantized layouts: recognised for what they are, not as broken models.

* LoRA deltas: PEFT (``<module>.lora_A[.<adapter>].weight`` ``[r, in]`` and ``lora_B``
  ``[out, r]``), kohya/sd-scripts (``lora_unet_..._proj.lora_down.weight``, ``lora_up``,
  ``.alpha``) and diffusers' ``<module>.lora.down.weight``/``lora.up``.  The patched modules
  are ``<module>.weight`` of ``[out, in]`` in the base model.
* Quantized linear layers: GPTQ (``qweight`` int32 packed along the input dimension,
  ``[in * bits / 32, out]``, with ``qzeros``, ``scales`` ``[groups, out]`` and ``g_idx``
  ``[in]``), AWQ (``qweight`` packed along the output, ``[in, out * bits / 32]``),
  bitsandbytes 4-bit (``weight.absmax``, ``weight.quant_map``,
  ``weight.quant_state.bitsandbytes__nf4``/``__fp4``) and 8-bit (``SCB``), and FP8 weights
  with ``weight_scale``.  GPTQ/AWQ layers are turned back into ``<module>.weight [out, in]``
  so the base architecture can be named from the rest of the layout.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._keys import template_of

__all__ = ["Adapter", "Quantized", "find_adapter", "find_quantization"]

Item = tuple[str, tuple[int, ...], str, str | None]  # key, shape, dtype, storage key

#: PEFT and diffusers LoRA factors: (marker of A/down, marker of B/up).
_LORA = re.compile(r"^(?P<module>.+?)\.(?:lora_A|lora_down|lora\.down)(?:\.[^.]+)?\.weight$")
_KOHYA = re.compile(r"^lora_(?P<part>unet|te\d?|text_encoder\d?)_")
#: PEFT's wrapper prefix in adapter files.
_PEFT_PREFIX = "base_model.model."
#: Auxiliary keys of quantized layers, by scheme.
_BNB4 = (".weight.absmax", ".weight.quant_map", ".weight.nested_absmax", ".weight.quant_state.")
_PACK_BITS = 32


@dataclass(frozen=True, slots=True)
class Adapter:
    """A LoRA delta: which modules it patches and with what rank."""

    kind: str
    """``peft``, ``kohya`` or ``diffusers``."""
    rank: int
    """The most common rank."""
    targets: tuple[str, ...]
    """Patched module names (last segment: ``q_proj``, ``v_proj``)."""
    weights: tuple[tuple[str, tuple[int, int]], ...]
    """Base module key (``model.layers.0.self_attn.q_proj.weight``) and its ``[out, in]``."""
    modules: int
    """How many modules it patches."""


@dataclass(frozen=True, slots=True)
class Quantized:
    """Quantized linear layers and the dense layout they stand for."""

    scheme: str
    """``gptq``, ``awq``, ``bitsandbytes-4bit``, ``bitsandbytes-8bit`` or ``fp8``."""
    details: dict[str, Any]
    """Bits, group size, storage dtype..."""
    layers: int
    """How many layers are quantized."""
    dense: tuple[tuple[str, tuple[int, ...], str | None], ...] | None
    """The state_dict with each quantized layer as ``weight [out, in]`` (``None`` when the
    shapes cannot be recovered, as for bitsandbytes' flattened 4-bit weights)."""


def find_adapter(items: list[Item]) -> Adapter | None:
    """The LoRA delta these tensors are, if they are one."""
    shapes = {key: shape for key, shape, _, _ in items}
    lora = [(m, key) for key in shapes if (m := _LORA.match(key))]
    if not lora:
        return None
    ranks: Counter[int] = Counter()
    weights: list[tuple[str, tuple[int, int]]] = []
    kind = "peft"
    for match, key in lora:
        module = match.group("module")
        down = shapes[key]
        up_key = key.replace("lora_A", "lora_B").replace("lora_down", "lora_up")
        up_key = up_key.replace("lora.down", "lora.up")
        up = shapes.get(up_key)
        if len(down) < 2 or up is None:
            continue
        ranks[down[0]] += 1
        if _KOHYA.match(module):
            kind = "kohya"
        elif "lora.down" in key:
            kind = "diffusers"
        base = module.removeprefix(_PEFT_PREFIX)
        weights.append((f"{base}.weight", (up[0], down[1])))
    if not weights:
        return None
    targets = sorted(
        {w.rsplit(".", 2)[-2] if kind != "kohya" else _kohya_target(w) for w, _ in weights}
    )
    return Adapter(kind, ranks.most_common(1)[0][0], tuple(targets), tuple(weights), len(weights))


def _kohya_target(key: str) -> str:
    return key.removesuffix(".weight").rsplit("_", 1)[-1]


def find_quantization(items: list[Item]) -> Quantized | None:
    """The quantization scheme of these tensors, if they are quantized."""
    by_key = {key: (shape, dtype, storage) for key, shape, dtype, storage in items}
    qweights = [k for k in by_key if k.endswith(".qweight")]
    if qweights:
        return _packed(by_key, qweights)
    bnb4 = [k for k in by_key if any(m in k for m in _BNB4)]
    if bnb4:
        flavour = "nf4" if any("bitsandbytes__nf4" in k for k in bnb4) else "fp4"
        layers = {k.split(".weight.", 1)[0] for k in bnb4}
        return Quantized("bitsandbytes-4bit", {"quant_type": flavour}, len(layers), None)
    scb = [k for k in by_key if k.endswith(".SCB")]
    if scb:
        dense = tuple(
            (k, shape, storage)
            for k, (shape, _, storage) in by_key.items()
            if not k.endswith((".SCB", ".weight_format"))
        )
        return Quantized("bitsandbytes-8bit", {"dtype": "int8"}, len(scb), dense)
    fp8 = [
        k
        for k, (_, dtype, _) in by_key.items()
        if dtype.startswith("float8") and k.endswith(".weight")
    ]
    if fp8 and any(k.endswith(".weight_scale") for k in by_key):
        dense = tuple(
            (k, shape, storage)
            for k, (shape, _, storage) in by_key.items()
            if not k.endswith((".weight_scale", ".input_scale"))
        )
        return Quantized("fp8", {"dtype": by_key[fp8[0]][1]}, len(fp8), dense)
    return None


def _packed(by_key: dict[str, Any], qweights: list[str]) -> Quantized:
    """GPTQ or AWQ, told apart by which dimension of ``qweight`` is packed."""
    dense: dict[str, tuple[tuple[int, ...], str | None]] = {
        k: (shape, storage) for k, (shape, _, storage) in by_key.items()
    }
    schemes: Counter[str] = Counter()
    bits_seen: Counter[int] = Counter()
    groups_seen: Counter[int] = Counter()
    for key in qweights:
        module = key.removesuffix(".qweight")
        qshape = by_key[key][0]
        scales = by_key.get(f"{module}.scales", (None,))[0]
        g_idx = by_key.get(f"{module}.g_idx", (None,))[0]
        if len(qshape) != 2 or not scales or len(scales) != 2:
            continue
        out = scales[1]
        if qshape[1] == out:  # GPTQ: packed along the input dimension
            schemes["gptq"] += 1
            size_in = g_idx[0] if g_idx else None
            bits = _PACK_BITS * qshape[0] // size_in if size_in else None
        else:  # AWQ: packed along the output dimension
            schemes["awq"] += 1
            size_in = qshape[0]
            bits = _PACK_BITS * qshape[1] // out if out else None
        if bits:
            bits_seen[bits] += 1
        if size_in and scales[0]:
            groups_seen[size_in // scales[0]] += 1
            dense[f"{module}.weight"] = ((out, size_in), None)
        for suffix in (".qweight", ".qzeros", ".scales", ".g_idx"):
            dense.pop(module + suffix, None)
    scheme = schemes.most_common(1)[0][0] if schemes else "gptq"
    details: dict[str, Any] = {}
    if bits_seen:
        details["bits"] = bits_seen.most_common(1)[0][0]
    if groups_seen:
        details["group_size"] = groups_seen.most_common(1)[0][0]
    complete = all(not k.endswith((".qweight", ".qzeros")) for k in dense)
    rebuilt = (
        tuple((k, shape, storage) for k, (shape, storage) in dense.items()) if complete else None
    )
    return Quantized(scheme, details, len(qweights), rebuilt)


def base_templates(adapter: Adapter) -> frozenset[str]:
    """The base model's templates the adapter patches."""
    return frozenset(template_of(key) for key, _ in adapter.weights)
