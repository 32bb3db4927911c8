"""Knowledge and priors are data with sources, and the algorithms read them."""

from __future__ import annotations

from dataclasses import fields

import pytest

from pthforensics.core import InputStatus, StateDict, TensorRecord
from pthforensics.infer import knowledge, priors
from tests._models import analyse_state


def test_every_knowledge_entry_names_its_source() -> None:
    entries: list[object] = [
        *(v for v in vars(knowledge).values() if isinstance(v, knowledge.NameHint)),
        *knowledge.PARAMLESS_HINTS,
        *knowledge.CONTAINER_LAYOUTS,
        *knowledge.BARE_MODULES,
        *knowledge.CHANNELS_FIRST_NORM_MARKERS,
        *knowledge.ADAPTIVE_HEADS,
    ]
    assert len(entries) > 40
    for entry in entries:
        assert "source" in {f.name for f in fields(entry)}  # type: ignore[arg-type]
        assert len(entry.source) > 10, entry  # type: ignore[attr-defined]


def test_every_prior_says_why_and_tables_agree() -> None:
    for table, entries in priors.PRIOR_ENTRIES.items():
        sizes = [p.size for p in entries]
        assert len(sizes) == len(set(sizes)), table
        assert all(p.why.strip() and p.cost >= 0 for p in entries), table
        assert sum(1 for p in entries if p.cost == 0) == 1, table  # one commonest size
        assert dict(priors.PRIOR_TABLES[table]) == {p.size: p.cost for p in entries}
    assert max(c for t in priors.PRIOR_TABLES.values() for c in t.values()) < priors.UNLISTED_COST


def _bare(path: str, leaves: frozenset[str], children: frozenset[str]) -> StateDict:
    prefix = f"{path}." if path else ""
    tensors = [TensorRecord(f"{prefix}{leaf}", (1, 1, 4, 4), "float32") for leaf in sorted(leaves)]
    tensors += [TensorRecord(f"{prefix}{c}.weight", (4, 4), "float32") for c in sorted(children)]
    return StateDict("", tuple(tensors))


@pytest.mark.parametrize(
    "layout", knowledge.CONTAINER_LAYOUTS, ids=lambda lay: f"{lay.cls}:{lay.what[:20]}"
)
def test_each_container_layout_names_its_module(layout: knowledge.ContainerLayout) -> None:
    path = f"{layout.prefix}0.rotary_emb" if layout.name else f"{layout.prefix}0.mod"
    _, guesses, _ = analyse_state(_bare(path, layout.leaves, layout.children))
    guess = next(g for g in guesses if g.name == path)
    assert (guess.type, guess.confidence) == (layout.cls, 0.4)
    assert any(layout.what in e for e in guess.evidence)


def test_bare_modules_are_recognised_by_their_exact_tensors() -> None:
    gpt2 = StateDict("", (TensorRecord("h.0.attn.bias", (1, 1, 8, 8), "bool"),))
    assert analyse_state(gpt2)[1][0].type == "GPT2Attention"
    scale = StateDict("", (TensorRecord("blocks.0.ls1.gamma", (8,), "float32"),))
    assert analyse_state(scale)[1][0].type == "LayerScale"
    other = StateDict("", (TensorRecord("blocks.0.temp.gamma", (8,), "float32"),))
    assert analyse_state(other)[1][0].type == "unknown"


def _stem_and_block(marker: bool) -> StateDict:
    """A conv stem, a 1-d norm, then a depthwise block (with timm's gamma if ``marker``)."""
    t = [
        TensorRecord("stem.0.weight", (8, 3, 4, 4), "float32"),
        TensorRecord("stem.0.bias", (8,), "float32"),
        TensorRecord("stem.1.weight", (8,), "float32"),
        TensorRecord("stem.1.bias", (8,), "float32"),
        TensorRecord("stages.0.blocks.0.conv_dw.weight", (8, 1, 7, 7), "float32"),
        TensorRecord("stages.0.blocks.0.conv_dw.bias", (8,), "float32"),
    ]
    if marker:
        t.append(TensorRecord("stages.0.blocks.0.gamma", (8,), "float32"))
    return StateDict("", tuple(t))


def test_convnext_marker_turns_stem_norms_into_layernorm2d() -> None:
    types = {g.name: g.type for g in analyse_state(_stem_and_block(True))[1]}
    assert types["stem.1"] == "LayerNorm2d"
    assert types["stages.0.blocks.0"] == "ConvNeXtBlock"
    types = {g.name: g.type for g in analyse_state(_stem_and_block(False))[1]}
    assert types["stem.1"] == "GroupNorm"


def _small_alexnet(body: str, head: str) -> StateDict:
    """Two 'same' convolutions and a head of 8 x 6 x 6: small inputs, no _metadata."""
    return StateDict(
        "",
        (
            TensorRecord(f"{body}.0.weight", (8, 3, 3, 3), "float32"),
            TensorRecord(f"{body}.0.bias", (8,), "float32"),
            TensorRecord(f"{body}.2.weight", (8, 8, 3, 3), "float32"),
            TensorRecord(f"{body}.2.bias", (8,), "float32"),
            TensorRecord(f"{head}.1.weight", (10, 8 * 6 * 6), "float32"),
            TensorRecord(f"{head}.1.bias", (10,), "float32"),
        ),
    )


def test_torchvision_naming_reads_a_6x6_head_as_an_adaptive_pool() -> None:
    named = analyse_state(_small_alexnet("features", "classifier"))[2]
    assert named.status == InputStatus.FREE
    assert any("AdaptiveAvgPool2d" in t for _, t, _ in named.plan)
    other = analyse_state(_small_alexnet("body", "head"))[2]
    assert other.status == InputStatus.FIXED
