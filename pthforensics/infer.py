"""The ``infer`` stage: layer types, channel chains and the input a model expects.

``infer_layers`` (layer types, in :mod:`pthforensics.infer_layers`), ``channel_chain`` and
``infer_input`` (in :mod:`pthforensics.infer_input`, with the size solver in
:mod:`pthforensics.infer_spatial`) are re-exported here; the pipeline calls them in that
order::

    guesses = infer.infer_layers(groups)
    input_guess = infer.infer_input(groups, guesses)

Pure: nothing here imports torch.
"""

from __future__ import annotations

from .infer_input import ChainLink, chain_links, channel_chain, infer_input
from .infer_layers import BUFFER_LEAVES, infer_layers, is_learnable, layer_dims

__all__ = [
    "BUFFER_LEAVES",
    "ChainLink",
    "chain_links",
    "channel_chain",
    "infer_input",
    "infer_layers",
    "is_learnable",
    "layer_dims",
]
