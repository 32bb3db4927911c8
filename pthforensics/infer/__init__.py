"""The ``infer`` stage: layer types, channel chains and the input a model expects.

``infer_layers`` (layer types: :mod:`pthforensics.infer_layers` on the tensor views of
:mod:`pthforensics.infer_base`), ``channel_chain`` (:mod:`pthforensics.infer_chain`) and
``infer_input`` (:mod:`pthforensics.infer_input`, with the size solver in
:mod:`pthforensics.infer_spatial`) are re-exported here; the pipeline calls them in this
order::

    guesses = infer.infer_layers(groups)
    input_guess = infer.infer_input(groups, guesses)

Pure: nothing here imports torch.
"""

from __future__ import annotations

from .base import layer_dims
from .chain import ChainLink, chain_links, channel_chain
from .input import infer_input
from .layers import infer_layers

__all__ = [
    "ChainLink",
    "chain_links",
    "channel_chain",
    "infer_input",
    "infer_layers",
    "layer_dims",
]
