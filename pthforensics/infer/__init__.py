"""The ``infer`` stage: layer types, channel chains and the input a model expects.

The pipeline calls the two stage functions in this order::

    guesses = infer.infer_layers(groups)          # LayerGroup -> LayerGuess (infer.layers)
    input_guess = infer.infer_input(groups, guesses)   # -> InputGuess (infer.input)
    input_guess = infer.with_convention(input_guess, architecture)  # the named family's input

Inside: ``layers/`` (layer types from tensor names and shapes), ``chain`` (how each
layer's input relates to the outputs before it), ``input/`` (the input verdict and the
size solver), ``layer_types`` (the one vocabulary of layer types), ``knowledge`` (model-
family rules as data, each with its source) and ``priors`` (common sizes, each with why).

Also exported for the later stages: the vocabulary (``layer_type``, ``layer_dims``), the
chain (``chain_links``, ``channel_chain``) and the knowledge the rebuild shares.

Pure: nothing here imports torch, and nothing here imports ``rebuild``.
"""

from __future__ import annotations

from .chain import ChainLink, Relation, chain_links, channel_chain
from .defaults import DEFAULT_SHAPES, DEFAULT_STEPS, DEFAULT_TOKENS, GROUPNORM_GROUPS
from .input import infer_input, with_convention
from .knowledge import CLASS_TOKEN_LEAF, POSITION_LEAF
from .layer_types import LayerFamily, LayerType, layer_dims, layer_type
from .layers import infer_layers
from .signatures import name_architecture

__all__ = [
    "CLASS_TOKEN_LEAF",
    "DEFAULT_SHAPES",
    "DEFAULT_STEPS",
    "DEFAULT_TOKENS",
    "GROUPNORM_GROUPS",
    "POSITION_LEAF",
    "ChainLink",
    "LayerFamily",
    "LayerType",
    "Relation",
    "chain_links",
    "channel_chain",
    "infer_input",
    "with_convention",
    "infer_layers",
    "layer_dims",
    "layer_type",
    "name_architecture",
]
