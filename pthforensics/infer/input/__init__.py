"""The input a model expects: ``LayerGuess`` -> ``InputGuess``.

Built on the channel chain (:mod:`..chain`), whose breaks also go into the evidence.  The
layer reading the input decides which rule applies:

- an Embedding, an RNN/attention layer, a Linear or a ConvTranspose (:mod:`.sequences`):
  token ids, a sequence, a vector, a latent map;
- a convolution: a patch embedding feeding a position table fixes the size
  (:mod:`.patches`); a flatten head fixes it through the size solver (:mod:`.fixed`,
  :mod:`.solver`); global/adaptive pooling or a fully convolutional body leaves it free
  above a minimum (:mod:`.free`).

The verdict is ``fixed``, ``free``, or ``unknown`` with the reason.

Pure: no torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from pthforensics.core import (
    InferenceError,
    InputGuess,
    InputHypothesis,
    InputStatus,
    LayerGroup,
    LayerGuess,
)
from pthforensics.infer.chain import ChainLink, Relation, chain_links, channel_chain
from pthforensics.infer.layer_types import LayerFamily, layer_type

from .context import InputContext
from .convention import with_convention
from .sequences import latent_input, norm_input, sequence_input, token_input, vector_input
from .spatial import spatial_input

__all__ = ["infer_input", "with_convention"]

logger = logging.getLogger(__name__)

_MAX_ENTRY_CHANNELS = 4
"""An image/signal/volume input has 1-4 channels (gray, RGB, RGBA/RGB-D, stacked)."""
_CHAIN_NOTES = 3
"""Chain breaks quoted in the input evidence at most."""


def infer_input(groups: Sequence[LayerGroup], guesses: Sequence[LayerGuess]) -> InputGuess:
    """Guess the input of the model: status (fixed/free/unknown), kind, one working shape,
    the sizes known to work, dtype, and the hypothesis (``plan``) behind it."""
    try:
        return _infer_input_checked(groups, guesses)
    except (ValueError, KeyError, IndexError, ZeroDivisionError, TypeError) as e:
        raise InferenceError(f"input inference failed: {type(e).__name__}: {e}") from e


def _infer_input_checked(groups: Sequence[LayerGroup], guesses: Sequence[LayerGuess]) -> InputGuess:
    links = chain_links(guesses)
    first = next((lk for lk in links if lk.relation is Relation.START), None)
    if first is None:
        return InputGuess(
            InputStatus.UNKNOWN, evidence=("no layer with weights to read an input from",)
        )
    first = _entry(links, first)
    ctx = InputContext(groups, guesses, links)
    guess = _by_entry(ctx, first)
    chain = channel_chain(guesses)
    notes = tuple(s for s in chain[:-1] if not s.startswith(first.name + " ("))[:_CHAIN_NOTES]
    guess = _with_hypothesis(replace(guess, evidence=(*guess.evidence, *notes, chain[-1])))
    others = tuple(_with_hypothesis(_other(ctx, lk)) for lk in _other_entries(links, first))
    return replace(guess, others=others) if others else guess


_MAX_OTHER_INPUTS = 4


def _other_entries(links: Sequence[ChainLink], first: ChainLink) -> list[ChainLink]:
    """Layers reading further inputs: a convolution or embedding, in another top-level
    module than ``first``, that starts a branch (it takes no earlier output) with a width
    no layer of the model produces (LPIPS's five heads on another network's features;
    ICLabel's three branches)."""
    produced = {lk.out_dim for lk in links if lk.out_dim is not None}
    top = first.name.split(".")[0]
    seen_tops = {top}
    out: list[ChainLink] = []
    for lk in links:
        lt = layer_type(lk.type)
        head = lk.name.split(".")[0]
        after_other = bool(out) and lk.source == (out[-1].name,)
        if (
            (lk.relation is Relation.BREAK or (lk.relation is Relation.PARALLEL and after_other))
            and (lt.conv_dims or lt.family is LayerFamily.EMBEDDING)
            and head not in seen_tops
            and lk.in_dim is not None
            and (lk.in_dim not in produced or lk.in_dim <= _MAX_ENTRY_CHANNELS)
        ):
            seen_tops.add(head)
            out.append(lk)
    return out[:_MAX_OTHER_INPUTS]


def _other(ctx: InputContext, link: ChainLink) -> InputGuess:
    guess = _by_entry(ctx, link)
    return replace(
        guess,
        evidence=(f"a further input: {link.name} starts a branch of its own", *guess.evidence),
    )


def _with_hypothesis(guess: InputGuess) -> InputGuess:
    """Every guess with a shape carries its hypotheses; a rule that reads the input
    directly (a Linear's ``in_features``, a position table) has exactly one."""
    if guess.hypotheses or guess.shape is None:
        return guess
    only = InputHypothesis(
        "as the weights fix it",
        guess.plan,
        guess.shape,
        guess.valid_sizes,
        0.0,
        guess.evidence[:2],
    )
    return replace(guess, hypotheses=(only,))


def _entry(links: Sequence[ChainLink], first: ChainLink) -> ChainLink:
    """The layer reading the input.  Normally the first; when the order was lost (sorted
    keys) and the first is no convolution/embedding, a convolution taking 1-4 channels that
    no layer feeds is the better bet (``conv_proj`` sorted after ``encoder``)."""
    lt = layer_type(first.type)
    if lt.conv_dims or lt.family is LayerFamily.EMBEDDING:
        return first
    embedding = next(
        (lk for lk in links if layer_type(lk.type).family is LayerFamily.EMBEDDING), None
    )
    if embedding is not None:
        return embedding
    outs = {lk.out_dim for lk in links}
    for lk in links:
        if (
            layer_type(lk.type).conv_dims
            and lk.in_dim is not None
            and lk.in_dim <= _MAX_ENTRY_CHANNELS
            and lk.in_dim not in outs
        ):
            return lk
    return first


def _by_entry(ctx: InputContext, first: ChainLink) -> InputGuess:
    """The rule for the kind of layer reading the input."""
    lt = layer_type(first.type)
    if lt.family is LayerFamily.EMBEDDING:
        return token_input(ctx, first)
    if lt.is_transposed:
        return latent_input(ctx, first, lt.conv_dims)
    if lt.conv_dims:
        return spatial_input(ctx, first, lt.conv_dims)
    if lt.reads_sequence:
        return sequence_input(ctx, first)
    norm = norm_input(ctx, first)
    if norm is not None:
        return norm
    if lt.is_linear or lt.passes_through:
        return vector_input(ctx, first)
    return InputGuess(
        InputStatus.UNKNOWN,
        evidence=(f"the first layer {first.name} is a {first.type}: no rule for its input",),
    )
