"""Templates, skeleton hashes and fitted size formulas (pure, no data file)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pthforensics.infer.signatures._expand import expand_layout, key_of
from pthforensics.infer.signatures._formula import evaluate, fit_formula, params_of, solve_for
from pthforensics.infer.signatures._keys import (
    core_templates,
    is_volatile,
    skeleton_hash,
    split_key,
)


@pytest.mark.parametrize(
    ("key", "template", "index"),
    [
        ("layer1.0.conv1.weight", "layer1.#.conv1.weight", (0,)),
        ("features.3.conv.0.1.weight", "features.#.conv.#.#.weight", (3, 0, 1)),
        ("fc.weight", "fc.weight", ()),
        ("0.weight", "#.weight", (0,)),
        ("blocks.10", "blocks.#", (10,)),
        ("layer10a.bias", "layer10a.bias", ()),
        ("x.1e3.y", "x.1e3.y", ()),
    ],
)
def test_split_key(key: str, template: str, index: tuple[int, ...]) -> None:
    assert split_key(key) == (template, index)
    assert key_of(template, index) == key


def test_skeleton_hash_ignores_order_and_repeats() -> None:
    a = ["b.weight", "a.#.weight", "a.#.weight"]
    assert (
        skeleton_hash(a) == skeleton_hash(reversed(a)) == skeleton_hash({"a.#.weight", "b.weight"})
    )
    assert skeleton_hash(a) != skeleton_hash(["a.#.weight"])


def test_volatile_buffers() -> None:
    templates = {
        "h.#.attn.bias",
        "h.#.attn.c_attn.weight",
        "h.#.attn.c_attn.bias",
        "bn.num_batches_tracked",
    }
    assert is_volatile("h.#.attn.bias", templates)  # GPT-2's mask: no weight beside it
    assert not is_volatile("h.#.attn.c_attn.bias", templates)
    assert is_volatile("bn.num_batches_tracked", templates)
    assert core_templates(templates) == {"h.#.attn.c_attn.weight", "h.#.attn.c_attn.bias"}


def test_fit_identity_product_and_constant() -> None:
    # hidden_size read straight off a dimension
    assert fit_formula(768, [768, 12], [(0, 1536, 1536), (1, 24, 768)]) == [1, 1, 0, 1, [[0, 1]]]
    # GPT-2's fused qkv: 3 * n_embd
    assert fit_formula(2304, [768], [(0, 1536, 4608)]) == [3, 1, 0, 1, [[0, 1]]]
    # a size nothing changes is a constant
    assert fit_formula(7, [768], [(0, 1536, 7)]) == 7


def test_fit_power_plus_constant_vit_positions() -> None:
    # (image / patch) ** 2 + 1 position embeddings of a ViT with a class token
    formula = fit_formula(197, [224, 16], [(0, 448, 785), (1, 32, 50)])
    assert formula == [1, 1, 1, 1, [[0, 2], [1, -2]]]
    assert evaluate(formula, {0: 384, 1: 16}) == 577
    assert solve_for(formula, 577, {1: 16}) == (0, Fraction(384))


def test_fit_affine_and_sum() -> None:
    offset = fit_formula(514, [512], [(0, 1024, 1026)])  # OPT's learned positions + 2
    assert evaluate(offset, {0: 2048}) == 2050
    layers = fit_formula(29, [32, 3], [(0, 64, 61), (1, 6, 26)])  # layers - first dense
    assert layers[0] == "L" and evaluate(layers, {0: 10, 1: 1}) == 9
    assert params_of(layers) == (0, 1)


def test_solve_grouped_query_width() -> None:
    # k_proj rows = kv_heads * hidden / heads
    formula = fit_formula(1024, [4096, 32, 8], [(0, 8192, 2048), (1, 64, 512), (2, 16, 2048)])
    assert solve_for(formula, 256, {0: 2048, 1: 32}) == (2, Fraction(4))
    assert solve_for(formula, 256, {0: 2048, 2: 4}) == (1, Fraction(32))


def test_expand_layout_round_trip() -> None:
    layout = {
        "params": ["num_classes"],
        "t": [
            ["blocks.#.weight", 2, [[0], [1]], 1, [[8, 3], [8, 8]]],
            ["head.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]], 8]],
        ],
    }
    assert expand_layout(layout, {"num_classes": 5}) == [
        ("blocks.0.weight", (8, 3)),
        ("blocks.1.weight", (8, 8)),
        ("head.weight", (5, 8)),
    ]
