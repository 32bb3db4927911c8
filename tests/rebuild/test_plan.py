"""Planning the rebuild (pure, no torch needed): the chain walk, its steps and the part."""

from __future__ import annotations

import pytest

from pthforensics.core import (
    InputGuess,
    InputStatus,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildPart,
    StateDict,
    TensorRecord,
)
from pthforensics.rebuild.parts import Part, buildable, head_groups, plan_rebuild, token_plan
from pthforensics.rebuild.plan import plan_maps, walk_chain
from pthforensics.rebuild.state import Layout, Walk
from pthforensics.rebuild.steps import add_layer
from tests._helpers import to_state
from tests._models import analyse, analyse_state, build


def plan_of(name: str) -> tuple[Part, tuple[LayerGuess, ...], InputGuess]:
    model, _ = build(name)
    groups, guesses, guess = analyse(model)
    return plan_rebuild(groups, guesses, guess, to_state(model.state_dict())), guesses, guess


@pytest.mark.parametrize("name", ["lenet_seq", "cifar_net", "audio_m5", "text_lstm", "mlp"])
def test_chain_models_are_planned_whole_in_registration_order(name: str) -> None:
    part, guesses, guess = plan_of(name)
    assert part.part == RebuildPart.WHOLE and part.input_shape == guess.shape
    steps = part.steps
    owners = [g.name for g in guesses if g.tensor_keys]
    assert [s.group.name for s in steps if s.group is not None and s.group.tensors] == owners


def test_the_input_hypothesis_sets_strides_paddings_and_pools() -> None:
    part, _, guess = plan_of("cifar_net")
    steps = {s.path: s for s in part.steps}
    for module, type_, attrs in guess.plan:
        if module.startswith("+"):
            assert steps[f"{module[1:]}+{type_}"].type == type_
        elif type_.startswith("Conv"):
            assert {k: steps[module].attrs[k] for k, _ in attrs} == dict(attrs)


def test_global_pool_and_flatten_are_inserted_before_the_head() -> None:
    part, _, _ = plan_of("audio_m5")
    types = [(s.path, s.type) for s in part.steps]
    assert types[-3:] == [
        ("pool3", "AdaptiveAvgPool1d"),
        ("fc1<flatten", "Flatten"),
        ("fc1", "Linear"),
    ]


def test_resnet_stops_at_the_branch_and_keeps_the_prefix() -> None:
    part, _, _ = plan_of("resnet_like")
    assert part.part == RebuildPart.PREFIX
    assert part.note.endswith("a branch at layer2.0.downsample.0")
    assert all(not s.path.startswith("layer2.0.downsample") for s in part.steps)


def test_a_model_with_a_position_table_after_the_first_layer_keeps_its_head() -> None:
    part, guesses, _ = plan_of("tiny_gpt")
    assert part.part == RebuildPart.HEAD
    first = next(g for g in guesses if g.name == part.steps[0].path)
    assert part.input_shape == (1, first.attrs["in_features"])
    assert part.steps[-1].path == "lm_head"


def test_vit_tokens_follow_the_patch_convolution() -> None:
    model, _ = build("tiny_vit")
    groups, guesses, _ = analyse(model)
    tokens = token_plan(groups, {g.name: g for g in guesses})
    assert tokens is not None
    assert (tokens.conv, tokens.pos_key, tokens.cls_keys) == (
        "patch_embed.proj",
        "pos_embed",
        ("cls_token",),
    )
    part, _, _ = plan_of("tiny_vit")
    assert [s.type for s in part.steps][-2:] == ["Conv2d", "Tokens"]


def test_nothing_buildable_is_an_error() -> None:
    state = StateDict("", (TensorRecord("cls_token", (1, 1, 8), "float32"),))
    groups, guesses, guess = analyse_state(state)
    with pytest.raises(RebuildError, match="nothing to rebuild"):
        plan_rebuild(groups, guesses, guess, state)


def group(name: str) -> LayerGroup:
    return LayerGroup(name, (TensorRecord(f"{name}.weight", (1,), "float32"),))


def g(name: str, type_: str, **attrs: object) -> LayerGuess:
    return LayerGuess(name, type_, tuple(attrs.items()))


@pytest.mark.parametrize(
    ("layout", "cur", "guess", "reason"),
    [
        (Layout.FLAT, 8, g("c", "Conv2d", in_channels=8, out_channels=8), "after a non-2-d layer"),
        (Layout.SPATIAL, 16, g("c", "Conv2d", in_channels=8, out_channels=8), "a branch"),
        (Layout.FLAT, 16, g("fc", "Linear", in_features=8, out_features=2), "chain carries 16"),
        (Layout.SPATIAL, 8, g("ln", "LayerNorm", normalized_shape=(8,)), "channels-last"),
        (Layout.SEQ, 8, g("e", "Embedding", num_embeddings=9, embedding_dim=8), "added position"),
        (Layout.FLAT, 8, g("l", "LSTM", input_size=8, hidden_size=4), "after a flat layer"),
        (Layout.FLAT, 8, g("b", "Bilinear", in1_features=8), "not rebuilt in a chain"),
    ],
)
def test_a_step_says_why_the_chain_cannot_feed_it(
    layout: Layout, cur: int, guess: LayerGuess, reason: str
) -> None:
    walk = Walk(layout=layout, dims=2, cur=cur)
    assert reason in add_layer(walk, group(guess.name), guess, None)
    assert walk.steps == []


def test_steps_move_the_stream() -> None:
    walk = Walk()
    emb = g("e", "Embedding", num_embeddings=50, embedding_dim=8)
    assert add_layer(walk, group("e"), emb, None) == ""
    assert (walk.layout, walk.cur, walk.vocab) == (Layout.SEQ, 8, 50)
    lstm = g("l", "LSTM", input_size=8, hidden_size=4)
    assert add_layer(walk, group("l"), lstm, None) == ""
    assert walk.steps[-1].attrs["vocab"] == 50 and walk.cur == 4
    walk = Walk(layout=Layout.SPATIAL, dims=2, cur=8)
    assert (
        add_layer(walk, group("fc"), g("fc", "Linear", in_features=8, out_features=2), None) == ""
    )
    assert [s.type for s in walk.steps] == ["AdaptiveAvgPool2d", "Flatten", "Linear"]
    assert (walk.layout, walk.cur) == (Layout.FLAT, 2)


def test_plan_maps_and_parameterless_modules() -> None:
    guess = InputGuess(
        InputStatus.FIXED,
        plan=(("c", "Conv2d", (("padding", 1),)), ("+c", "MaxPool2d", (("kernel_size", 2),))),
    )
    plan, after = plan_maps(guess)
    assert plan == {"c": ("Conv2d", {"padding": 1})}
    assert after == {"c": [("MaxPool2d", {"kernel_size": 2})]}
    groups = [
        LayerGroup("c", (TensorRecord("c.weight", (4, 3, 3, 3), "float32"),)),
        LayerGroup("act", ()),
        LayerGroup("odd", ()),
    ]
    guesses = {
        "c": g("c", "Conv2d", in_channels=3, out_channels=4, kernel_size=(3, 3)),
        "act": g("act", "GELU"),
        "odd": g("odd", "MyCustomThing"),
    }
    walk = walk_chain(groups, guesses, plan, after, Layout.INPUT)
    assert [(s.path, s.type) for s in walk.steps] == [
        ("c", "Conv2d"),
        ("c+MaxPool2d", "MaxPool2d"),
        ("act", "GELU"),
        ("odd", "Identity"),
    ]


def test_head_groups_and_buildable() -> None:
    model, _ = build("resnet_like")
    groups, guesses, _ = analyse(model)
    assert [x.name for x in head_groups(groups, {x.name: x for x in guesses})] == ["fc"]
    assert buildable("Conv2d") and buildable("BatchNorm1d") and buildable("GroupNorm")
    assert not buildable("Conv1D") and not buildable("MultiheadAttention")
