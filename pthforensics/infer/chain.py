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

from pthforensics.core import LayerGuess

from .base import layer_dims

__all__ = [
    "LINEAR_LIKE",
    "PASS_THROUGH",
    "RNN_TYPES",
    "ChainLink",
    "chain_links",
    "channel_chain",
    "conv_d",
]


LINEAR_LIKE = frozenset(
    {"Linear", "Conv1D", "NonDynamicallyQuantizableLinear", "Bilinear", "LazyLinear"}
)
RNN_TYPES = frozenset({"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"})
PASS_THROUGH = (
    "BatchNorm",
    "InstanceNorm",
    "GroupNorm",
    "LayerNorm",
    "RMSNorm",
    "PReLU",
    "LayerNorm2d",
)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """How one layer's input relates to what came before it."""

    name: str
    type: str
    relation: str
    """``start``, ``follows``, ``flatten``, ``pool`` (global pooling before a Linear),
    ``branch``, ``concat``, ``parallel`` (same input as the previous layer), ``added`` (an
    embedding summed into the stream), ``break`` or ``skip`` (no channel dims)."""
    in_dim: int | None = None
    out_dim: int | None = None
    source: tuple[str, ...] = ()
    """Layers whose output feeds this one, when it is not the previous layer."""
    factor: int = 1
    """For ``flatten``: ``in_dim = channels * factor`` (the final spatial size)."""
    channels: int | None = None
    """Feature count of the stream just before this layer."""


def conv_d(type_: str) -> int:
    if (
        type_.startswith(("Conv", "ConvTranspose"))
        and type_[-2:-1].isdigit()
        and type_.endswith("d")
    ):
        return int(type_[-2])
    return 0


def chain_links(guesses: Sequence[LayerGuess]) -> tuple[ChainLink, ...]:
    """Walk the layers in order and classify each input against the outputs before it."""
    links = []
    cur: int | None = None
    spatial = 0
    prev_in: int | None = None
    producers: list[tuple[str, int]] = []
    last_name = ""
    for g in guesses:
        din, dout = layer_dims(g)
        t = g.type
        if din is None and dout is None:
            links.append(ChainLink(g.name, t, "skip"))
            continue
        source: tuple[str, ...] = ()
        factor = 1
        if din is None:
            rel = "start" if cur is None else "added" if dout == cur else "break"
        elif cur is None:
            rel = "start"
        elif din == cur:
            rel = "pool" if t in LINEAR_LIKE and spatial else "follows"
            source = (last_name,) if rel == "pool" else ()
        elif t in LINEAR_LIKE and spatial and din % cur == 0:
            rel, factor, source = "flatten", din // cur, (last_name,)
        elif (
            links
            and links[-1].type.startswith(("ConvTranspose", "Upsample"))
            and (concat := _concat(din, cur, producers))
        ):
            rel, source = "concat", concat  # UNet decoder: upsampled + skip
        elif prev_in is not None and din == prev_in and links:
            rel, source = "parallel", (links[-1].name,)
        else:
            earlier = [n for n, o in reversed(producers[:-1]) if o == din]
            concat = () if earlier else _concat(din, cur, producers)
            if earlier:
                rel, source = "branch", (earlier[0],)
            elif concat:
                rel, source = "concat", concat
            else:
                rel = "break"
                if t in LINEAR_LIKE and spatial:
                    for n, o in reversed(producers):
                        if o and din % o == 0:
                            rel, factor, source = "flatten", din // o, (n,)
                            break
        links.append(ChainLink(g.name, t, rel, din, dout, source, factor, cur))
        if dout is not None:
            cur = dout
        d = conv_d(t)
        if d:
            spatial = d
        elif not t.startswith(PASS_THROUGH):
            spatial = 0
        prev_in = din
        if d or t in LINEAR_LIKE or t in RNN_TYPES or t.startswith("Embedding"):
            producers.append((g.name, dout or 0))
        last_name = g.name
    return tuple(links)


def _concat(din: int, cur: int | None, producers: list[tuple[str, int]]) -> tuple[str, ...]:
    """Earlier outputs summing to ``din`` together with the current one (subset sum)."""
    if cur is None or din <= cur or not producers:
        return ()
    target = din - cur
    recent = producers[-25:-1]
    reach: dict[int, tuple[str, ...]] = {0: ()}
    for name, out in reversed(recent):
        if out <= 0:
            continue
        for total, names in list(reach.items()):
            s = total + out
            if s <= target and s not in reach and len(reach) < 4096:
                reach[s] = (name, *names)
        if target in reach:
            return (*reach[target], producers[-1][0])
    return ()


def channel_chain(guesses: Sequence[LayerGuess]) -> tuple[str, ...]:
    """Sentences naming the breaks of the channel chain (and a one-line summary)."""
    links = chain_links(guesses)
    out = []
    follows = 0
    for link in links:
        if link.relation in ("follows", "skip"):
            follows += link.relation == "follows"
        elif link.relation == "start":
            out.append(
                f"{link.name} ({link.type}) starts the chain"
                + (f" with {link.in_dim} input features/channels" if link.in_dim else "")
            )
        elif link.relation == "flatten":
            out.append(
                f"flatten before {link.name}: in_features {link.in_dim} = "
                f"{(link.in_dim or 0) // link.factor} channels x {link.factor} positions"
                + (f" (from {link.source[0]})" if link.source else "")
            )
        elif link.relation == "pool":
            out.append(
                f"global pooling before {link.name}: in_features {link.in_dim} = "
                f"channels of {link.source[0] if link.source else 'the body'}"
            )
        elif link.relation == "branch":
            out.append(
                f"branch at {link.name}: takes {link.in_dim} = output of "
                f"{link.source[0]}, not of the previous layer ({link.channels}): "
                "residual/downsample branch"
            )
        elif link.relation == "concat":
            out.append(
                f"concatenation at {link.name}: {link.in_dim} = sum of the outputs of "
                + " + ".join(link.source)
            )
        elif link.relation == "parallel":
            out.append(
                f"{link.name} shares its input ({link.in_dim}) with {link.source[0]}: "
                "parallel heads/branches on one trunk"
            )
        elif link.relation == "added":
            out.append(
                f"{link.name} ({link.type}) is added to the stream of "
                f"{link.out_dim} (position/segment embedding)"
            )
        else:
            out.append(
                f"break at {link.name}: takes {link.in_dim}, no earlier output matches "
                f"(stream has {link.channels})"
            )
    breaks = sum(1 for link in links if link.relation not in ("follows", "skip", "start"))
    out.append(f"{follows} layer(s) follow their predecessor; {breaks} break(s)")
    return tuple(out)
