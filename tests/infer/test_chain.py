"""chain_links / channel_chain: how each layer's input relates to the outputs before it."""

from __future__ import annotations

from typing import Any

from torch import nn

from pthforensics import infer
from pthforensics.core import LayerGuess
from pthforensics.infer import Relation
from tests._models import analyse, build


def guess(name: str, type_: str, **attrs: Any) -> LayerGuess:
    return LayerGuess(name, type_, tuple(attrs.items()))


def conv(name: str, cin: int, cout: int) -> LayerGuess:
    return guess(name, "Conv2d", in_channels=cin, out_channels=cout, kernel_size=(3, 3))


def linear(name: str, fin: int, fout: int) -> LayerGuess:
    return guess(name, "Linear", in_features=fin, out_features=fout)


def relations(guesses: list[LayerGuess]) -> list[tuple[str, Relation]]:
    return [(lk.name, lk.relation) for lk in infer.chain_links(guesses)]


def test_follows_flatten_and_pool() -> None:
    links = infer.chain_links([conv("c1", 3, 8), conv("c2", 8, 16), linear("fc", 16 * 25, 10)])
    assert [lk.relation for lk in links] == [Relation.START, Relation.FOLLOWS, Relation.FLATTEN]
    assert (links[2].factor, links[2].source, links[2].channels) == (25, ("c2",), 16)
    links = infer.chain_links([conv("c1", 3, 8), linear("fc", 8, 10)])
    assert links[1].relation == Relation.POOL and links[1].source == ("c1",)


def test_norms_keep_the_map_and_a_linear_after_them_still_flattens() -> None:
    bn = guess("bn", "BatchNorm2d", num_features=8)
    assert relations([conv("c", 3, 8), bn, linear("fc", 8 * 4, 2)])[-1] == ("fc", Relation.FLATTEN)
    act = guess("act", "Tanh", num_parameters=8)  # a layer with dims that is no norm
    assert relations([conv("c", 3, 8), act, linear("fc", 8 * 4, 2)])[-1] == ("fc", Relation.BREAK)


def test_branch_concat_parallel_added_and_skip() -> None:
    branch = [conv("a", 3, 8), conv("b", 8, 16), conv("c", 16, 16), conv("down", 8, 16)]
    link = infer.chain_links(branch)[-1]
    assert (link.relation, link.source) == (Relation.BRANCH, ("a",))
    # the same input as the layer before: parallel, not a branch
    assert relations([*branch[:2], conv("side", 8, 4)])[-1] == ("side", Relation.PARALLEL)
    dense = [conv("a", 3, 8), conv("b", 8, 4), conv("c", 12, 4)]
    links = infer.chain_links(dense)
    assert links[-1].relation == Relation.CONCAT and links[-1].source == ("a", "b")
    heads = [linear("trunk", 8, 16), linear("policy", 16, 4), linear("value", 16, 1)]
    assert relations(heads)[-1] == ("value", Relation.PARALLEL)
    emb = guess("tok", "Embedding", num_embeddings=100, embedding_dim=8)
    pos = guess("pos", "Embedding", num_embeddings=64, embedding_dim=8)
    assert relations([emb, pos])[-1] == ("pos", Relation.ADDED)
    relu = guess("relu", "ReLU")
    assert relations([linear("a", 2, 3), relu])[-1] == ("relu", Relation.SKIP)


def test_unet_decoder_concatenates_the_skip() -> None:
    up = guess("up", "ConvTranspose2d", in_channels=16, out_channels=8, kernel_size=(2, 2))
    model = [conv("e1", 3, 8), conv("e2", 8, 16), up, conv("d1", 16, 8)]
    link = infer.chain_links(model)[-1]
    assert link.relation == Relation.CONCAT and link.source == ("e1", "up")


def test_channel_chain_names_breaks() -> None:
    model, _ = build("resnet_like")
    chain = infer.channel_chain(analyse(model)[1])
    assert any(s.startswith("branch at layer2.0.downsample.0") for s in chain)
    assert any(s.startswith("global pooling before fc") for s in chain)
    model, _ = build("tv_densenet121")
    chain = infer.channel_chain(analyse(model)[1])
    assert any(
        s.startswith("concatenation at features.denseblock1.denselayer2.norm1: 96") for s in chain
    )
    model, _ = build("lenet_seq")
    chain = infer.channel_chain(analyse(model)[1])
    assert (
        "flatten before classifier.1: in_features 400 = 16 channels x 25 positions "
        "(from features.3)" in chain
    )


def test_channel_chain_summary_counts() -> None:
    chain = infer.channel_chain([linear("a", 4, 8), linear("b", 8, 8), linear("c", 3, 2)])
    assert chain[-1] == "1 layer(s) follow their predecessor; 1 break(s)"
    assert any(s.startswith("break at c: takes 3") for s in chain)


def test_chain_links_parallel_heads() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Linear(8, 16)
            self.policy = nn.Linear(16, 4)
            self.value = nn.Linear(16, 1)

    links = infer.chain_links(analyse(TwoHeads())[1])
    assert [lk.relation for lk in links] == ["start", "follows", "parallel"]
