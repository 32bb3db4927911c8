"""Channel chains: how each layer's input relates to the outputs before it.

Following ``out -> in`` between consecutive layers in registration order (the order a
plain ``nn.Sequential`` or a straight forward() runs them), every layer is classified: it
follows its predecessor, starts the chain, flattens a feature map (``Linear.in_features =
C*H*W``), follows global pooling (``in_features = C``), branches from an earlier output
(residual/downsample), concatenates earlier outputs (DenseNet, UNet skips, Inception,
found by a subset sum), shares its input with the previous layer (heads on one trunk,
q/k/v projections), or adds an embedding to the stream (position/segment tables).

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum, unique

from pthforensics.core import LayerGuess

from .layer_types import LayerFamily, layer_dims, layer_type

__all__ = ["ChainLink", "Relation", "chain_links", "channel_chain"]

_SUBSET_SUM_WINDOW = 24
"""Earlier outputs considered for a concatenation (DenseNet blocks concatenate up to a
few dozen layers; a wider window only finds accidental sums)."""
_SUBSET_SUM_STATES = 4096
"""Partial sums kept by the subset-sum search (bounds its time)."""


@unique
class Relation(StrEnum):
    """How a layer's input relates to what came before it."""

    START = "start"
    FOLLOWS = "follows"
    FLATTEN = "flatten"
    """A Linear reading a flattened feature map: ``in_features = C * positions``."""
    POOL = "pool"
    """Global pooling before a Linear: ``in_features = C``."""
    BRANCH = "branch"
    """Takes an earlier output, not the previous one (residual/downsample)."""
    CONCAT = "concat"
    """Takes the sum of several earlier outputs (DenseNet, UNet skips, Inception)."""
    PARALLEL = "parallel"
    """Same input as the previous layer (heads on one trunk, q/k/v projections)."""
    ADDED = "added"
    """An embedding summed into the stream (position/segment tables)."""
    BREAK = "break"
    SKIP = "skip"
    """No channel dims to follow."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """How one layer's input relates to what came before it."""

    name: str
    type: str
    relation: Relation
    in_dim: int | None = None
    out_dim: int | None = None
    source: tuple[str, ...] = ()
    """Layers whose output feeds this one, when it is not the previous layer."""
    factor: int = 1
    """For ``flatten``: ``in_dim = channels * factor`` (the final spatial size)."""
    channels: int | None = None
    """Feature count of the stream just before this layer."""


def chain_links(guesses: Sequence[LayerGuess]) -> tuple[ChainLink, ...]:
    """Walk the layers in order and classify each input against the outputs before it."""
    walk = _Walk()
    for g in guesses:
        din, dout = layer_dims(g)
        if din is None and dout is None:
            walk.links.append(ChainLink(g.name, g.type, Relation.SKIP))
            continue
        rel, source, factor = _relation(walk, g.type, din, dout)
        walk.links.append(ChainLink(g.name, g.type, rel, din, dout, source, factor, walk.cur))
        walk.advance(g, din, dout)
    return tuple(walk.links)


class _Walk:
    """The stream as the walk reaches each layer (scratch)."""

    def __init__(self) -> None:
        self.links: list[ChainLink] = []
        self.cur: int | None = None
        """Feature count of the stream."""
        self.spatial = 0
        """Dimension of the feature map the stream carries (0: not a map)."""
        self.prev_in: int | None = None
        self.producers: list[tuple[str, int]] = []
        """Layers whose output may be taken later (convolutions, linears, RNNs, tables)."""
        self.last_name = ""

    def advance(self, g: LayerGuess, din: int | None, dout: int | None) -> None:
        lt = layer_type(g.type)
        if dout is not None:
            self.cur = dout
        d = lt.conv_dims
        if d:
            self.spatial = d
        elif not lt.passes_through:
            self.spatial = 0
        self.prev_in = din
        if d or lt.is_linear or lt.is_recurrent or lt.family is LayerFamily.EMBEDDING:
            self.producers.append((g.name, dout or 0))
        self.last_name = g.name


def _relation(
    walk: _Walk, t: str, din: int | None, dout: int | None
) -> tuple[Relation, tuple[str, ...], int]:
    """(relation, source layers, flatten factor) of a layer taking ``din``."""
    cur, links, producers = walk.cur, walk.links, walk.producers
    linear = layer_type(t).is_linear
    if din is None:
        rel = Relation.START if cur is None else Relation.ADDED if dout == cur else Relation.BREAK
        return rel, (), 1
    if cur is None:
        return Relation.START, (), 1
    if din == cur:
        if linear and walk.spatial:
            return Relation.POOL, (walk.last_name,), 1
        return Relation.FOLLOWS, (), 1
    if linear and walk.spatial and din % cur == 0:
        return Relation.FLATTEN, (walk.last_name,), din // cur
    if links and _upsamples(links[-1].type) and (concat := _concat(din, cur, producers)):
        return Relation.CONCAT, concat, 1  # UNet decoder: upsampled + skip
    if walk.prev_in is not None and din == walk.prev_in and links:
        return Relation.PARALLEL, (links[-1].name,), 1
    earlier = [n for n, o in reversed(producers[:-1]) if o == din]
    if earlier:
        return Relation.BRANCH, (earlier[0],), 1
    concat = _concat(din, cur, producers)
    if concat:
        return Relation.CONCAT, concat, 1
    if linear and walk.spatial:
        for n, o in reversed(producers):
            if o and din % o == 0:
                return Relation.FLATTEN, (n,), din // o
    return Relation.BREAK, (), 1


def _upsamples(t: str) -> bool:
    family = layer_type(t).family
    return family in (LayerFamily.CONV_TRANSPOSE, LayerFamily.UPSAMPLE)


def _concat(din: int, cur: int | None, producers: list[tuple[str, int]]) -> tuple[str, ...]:
    """Earlier outputs summing to ``din`` together with the current one (subset sum)."""
    if cur is None or din <= cur or not producers:
        return ()
    target = din - cur
    recent = producers[-(_SUBSET_SUM_WINDOW + 1) : -1]
    reach: dict[int, tuple[str, ...]] = {0: ()}
    for name, out in reversed(recent):
        if out <= 0:
            continue
        for total, names in list(reach.items()):
            s = total + out
            if s <= target and s not in reach and len(reach) < _SUBSET_SUM_STATES:
                reach[s] = (name, *names)
        if target in reach:
            return (*reach[target], producers[-1][0])
    return ()


def channel_chain(guesses: Sequence[LayerGuess]) -> tuple[str, ...]:
    """Sentences naming the breaks of the channel chain (and a one-line summary)."""
    links = chain_links(guesses)
    out = [
        _sentence(link) for link in links if link.relation not in (Relation.FOLLOWS, Relation.SKIP)
    ]
    follows = sum(1 for link in links if link.relation is Relation.FOLLOWS)
    breaks = sum(
        1
        for link in links
        if link.relation not in (Relation.FOLLOWS, Relation.SKIP, Relation.START)
    )
    out.append(f"{follows} layer(s) follow their predecessor; {breaks} break(s)")
    return tuple(out)


def _sentence(link: ChainLink) -> str:
    """What one link that does not simply follow its predecessor says."""
    rel = link.relation
    if rel is Relation.START:
        return f"{link.name} ({link.type}) starts the chain" + (
            f" with {link.in_dim} input features/channels" if link.in_dim else ""
        )
    if rel is Relation.FLATTEN:
        return (
            f"flatten before {link.name}: in_features {link.in_dim} = "
            f"{(link.in_dim or 0) // link.factor} channels x {link.factor} positions"
            + (f" (from {link.source[0]})" if link.source else "")
        )
    if rel is Relation.POOL:
        return (
            f"global pooling before {link.name}: in_features {link.in_dim} = "
            f"channels of {link.source[0] if link.source else 'the body'}"
        )
    if rel is Relation.BRANCH:
        return (
            f"branch at {link.name}: takes {link.in_dim} = output of "
            f"{link.source[0]}, not of the previous layer ({link.channels}): "
            "residual/downsample branch"
        )
    if rel is Relation.CONCAT:
        return f"concatenation at {link.name}: {link.in_dim} = sum of the outputs of " + (
            " + ".join(link.source)
        )
    if rel is Relation.PARALLEL:
        return (
            f"{link.name} shares its input ({link.in_dim}) with {link.source[0]}: "
            "parallel heads/branches on one trunk"
        )
    if rel is Relation.ADDED:
        return (
            f"{link.name} ({link.type}) is added to the stream of "
            f"{link.out_dim} (position/segment embedding)"
        )
    return (
        f"break at {link.name}: takes {link.in_dim}, no earlier output matches "
        f"(stream has {link.channels})"
    )
