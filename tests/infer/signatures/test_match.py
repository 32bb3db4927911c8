"""The matcher on hand-made layouts: tolerances, argument recovery, explanations."""

from __future__ import annotations

from pthforensics.infer.signatures._match import FileView, match_layout

#: A tiny decoder layout: embeddings [vocab, hidden], per-layer q [heads*hd, hidden] and
#: k [kv*hd, hidden] with head_dim free, a norm, a tied lm_head, a BatchNorm-like counter.
DECODER = {
    "params": [
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
    ],
    "t": [
        ["embed.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]], [1, 1, 0, 1, [[1, 1]]]]],
        [
            "layers.#.q.weight",
            [1, 1, 0, 1, [[2, 1]]],
            [[0], [1]],
            0,
            [[1, 1, 0, 1, [[3, 1], [5, 1]]], [1, 1, 0, 1, [[1, 1]]]],
        ],
        [
            "layers.#.k.weight",
            [1, 1, 0, 1, [[2, 1]]],
            [[0], [1]],
            0,
            [[1, 1, 0, 1, [[4, 1], [5, 1]]], [1, 1, 0, 1, [[1, 1]]]],
        ],
        ["norm.weight", 1, [[]], 0, [[1, 1, 0, 1, [[1, 1]]]]],
        ["norm.num_batches_tracked", 1, [[]], 0, []],
        ["lm_head.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]], [1, 1, 0, 1, [[1, 1]]]]],
    ],
    "buffers": ["norm.num_batches_tracked"],
    "tied": [["lm_head.weight", "embed.weight"]],
}
DEFAULTS = (32000, 4096, 2, 32, 8, 128)
TIED = (("lm_head.weight", "embed.weight"),)


def _view(
    layers: int = 3, hidden: int = 2048, q: int = 2048, k: int = 256, lm_head: bool = True
) -> FileView:
    items = [("embed.weight", (1000, hidden), "s0"), ("norm.weight", (hidden,), "s1")]
    for i in range(layers):
        items += [
            (f"layers.{i}.q.weight", (q, hidden), None),
            (f"layers.{i}.k.weight", (k, hidden), None),
        ]
    if lm_head:
        items.append(("lm_head.weight", (1000, hidden), "s2"))
    return FileView.of(items)


def test_reads_arguments_back_and_keeps_head_count() -> None:
    match = match_layout(_view(), DECODER, DEFAULTS, "Tiny", tieable=TIED)
    assert match.ok, match.reasons
    assert match.values == {
        "vocab_size": 1000,
        "hidden_size": 2048,
        "num_hidden_layers": 3,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "head_dim": 64,
    }
    assert "num_attention_heads" in match.assumed
    assert match.missing_keys == ("norm.num_batches_tracked",)  # an old file lacks it


def test_other_order_when_the_default_leaves_no_whole_value() -> None:
    # 3072 / 32 heads = 96 fits q, but 1024 / 96 is no whole kv count: head_dim=128 instead
    match = match_layout(_view(hidden=3072, q=3072, k=1024), DECODER, DEFAULTS, "Tiny")
    assert match.ok, match.reasons
    assert (match.values["num_attention_heads"], match.values["head_dim"]) == (24, 128)
    assert match.values["num_key_value_heads"] == 8


def test_tied_output_embedding_stored_once() -> None:
    match = match_layout(_view(lm_head=False), DECODER, DEFAULTS, "Tiny", tieable=TIED)
    assert match.ok
    assert match.tied_missing == (("lm_head.weight", "embed.weight"),)
    assert not match_layout(_view(lm_head=False), DECODER, DEFAULTS, "Tiny").ok


def test_inconsistent_sizes_are_explained() -> None:
    items = [
        ("embed.weight", (1000, 64), None),
        ("norm.weight", (48,), None),
        ("lm_head.weight", (1000, 64), None),
    ]
    items += [(f"layers.{i}.{n}.weight", (64, 64), None) for i in range(2) for n in "qk"]
    match = match_layout(FileView.of(items), DECODER, DEFAULTS, "Tiny")
    assert not match.ok
    assert any("norm.weight[0] is 48 where Tiny has 64" in r for r in match.reasons)


def test_extra_and_missing_keys_are_not_tolerated() -> None:
    view = _view()
    extra = FileView.of(
        [(k, s, None) for g in view.groups.values() for k, s in g.values()]
        + [("proj.weight", (4, 4), None)]
    )
    match = match_layout(extra, DECODER, DEFAULTS, "Tiny")
    assert not match.ok and match.reasons == ("proj.weight is not in Tiny",)
    fewer = FileView.of(
        [(k, s, None) for g in view.groups.values() for k, s in g.values() if "norm" not in k]
    )
    assert "norm.weight is missing" in match_layout(fewer, DECODER, DEFAULTS, "Tiny").reasons


VISION = {
    "params": ["num_classes"],
    "t": [
        [
            "stages.#.conv.weight",
            3,
            [[0], [1], [2]],
            1,
            [[8, 3, 3, 3], [16, 8, 3, 3], [32, 16, 3, 3]],
        ],
        ["fc.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]], 32]],
        ["fc.bias", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]]]],
    ],
    "buffers": [],
    "tied": [],
}


def _vision(
    n: int = 3, widths: tuple[int, ...] = (8, 16, 32), classes: int = 10, head: bool = True
) -> FileView:
    items, cin = [], 3
    for i in range(n):
        items.append((f"stages.{i}.conv.weight", (widths[i], cin, 3, 3), None))
        cin = widths[i]
    if head:
        items += [("fc.weight", (classes, cin), None), ("fc.bias", (classes,), None)]
    return FileView.of(items)


def test_replaced_head_and_removed_head() -> None:
    match = match_layout(_vision(), VISION, (1000,), "net")
    assert match.ok and match.values == {"num_classes": 10}
    headless = match_layout(
        _vision(head=False), VISION, (1000,), "net", head=frozenset({"fc.weight", "fc.bias"})
    )
    assert headless.ok and headless.head_removed == ("fc.bias", "fc.weight")


def test_depth_and_width_changes_are_named_in_the_reasons() -> None:
    shallow = match_layout(_vision(n=2, widths=(8, 16)), VISION, (1000,), "net")
    assert not shallow.ok
    assert shallow.reasons[0] == "stages has 2 blocks where net has 3"
    quick = match_layout(_vision(widths=(8, 24, 32)), VISION, (1000,), "net", quick=True)
    assert not quick.ok
    full = match_layout(_vision(widths=(8, 24, 32)), VISION, (1000,), "net")
    assert "stages.1.conv.weight[0] is 24 where net has 16" in full.reasons


#: k_proj rows = kv_heads * (hidden // heads): the head width is computed, not a config value.
IMPLICIT = {
    "params": ["hidden_size", "num_attention_heads", "num_key_value_heads"],
    "t": [
        ["q.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1]]], [1, 1, 0, 1, [[0, 1]]]]],
        ["k.weight", 1, [[]], 0, [[1, 1, 0, 1, [[0, 1], [1, -1], [2, 1]]], [1, 1, 0, 1, [[0, 1]]]]],
    ],
    "buffers": [],
    "tied": [],
}


def test_head_count_divides_the_width() -> None:
    view = FileView.of([("q.weight", (64, 64), None), ("k.weight", (32, 64), None)])
    match = match_layout(view, IMPLICIT, (2560, 20, 5), "Implicit")
    assert match.ok, match.reasons
    heads, kv = match.values["num_attention_heads"], match.values["num_key_value_heads"]
    assert 64 % heads == 0 and kv * (64 // heads) == 32
    assert heads == 16  # the divisor of 64 nearest the default 20
