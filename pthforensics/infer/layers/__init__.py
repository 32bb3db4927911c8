"""Layer types from tensor names and shapes: ``LayerGroup`` -> ``LayerGuess``.

The rules follow how torch.nn lays out parameters (pytorch: torch/nn/modules/conv.py,
linear.py, batchnorm.py, normalization.py, rnn.py, activation.py, sparse.py).  Pass 1
(:mod:`.views`) sorts each module's tensors into a layout; pass 2 walks the modules in
order and asks the rule for that layout, with the neighbours at hand (:mod:`.context`):

- :mod:`.conv`: rank 3/4/5 weights (Conv / ConvTranspose, groups);
- :mod:`.linear`: rank-2 weights (Linear, Embedding, GPT-2's Conv1D, attention out_proj);
- :mod:`.norms`: BatchNorm / InstanceNorm / GroupNorm / LayerNorm(2d) / RMSNorm / PReLU;
- :mod:`.recurrent`: RNN / GRU / LSTM (and cells), MultiheadAttention;
- :mod:`.bare`: bare parameters on custom modules, and parameter-less modules.

Pass 3 (:mod:`.norm_layout`) reads the GroupNorm/LayerNorm choice of norms that their own
neighbours leave open from the norms sharing their tensor or their place in sibling blocks.

A full-model pickle names each module's class: that name wins (confidence 1.0), the
attributes still come from the shapes.

Nothing here imports torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pthforensics.core import InferenceError, LayerGroup, LayerGuess
from pthforensics.infer.layer_types import layer_dims, layer_type

from .bare import infer_bare, infer_paramless
from .context import Chain, Context
from .conv import infer_conv
from .linear import infer_linear
from .norm_layout import harmonise_norms
from .norms import infer_batchnorm, infer_norm
from .recurrent import infer_attention, infer_recurrent
from .views import Raw, TensorLayout

__all__ = ["infer_layers"]

logger = logging.getLogger(__name__)


def infer_layers(groups: Sequence[LayerGroup]) -> tuple[LayerGuess, ...]:
    """Guess the torch.nn type and constructor attributes of every module owning tensors
    (and of parameter-less modules whose class or name says what they are).

    Parameter-less modules known only by position (``features.1`` in ``_metadata``) get no
    row: their type cannot be read from the file; ``infer_input`` places them in its plan.
    """
    try:
        return _infer_all(groups)
    except (ValueError, KeyError, IndexError, ZeroDivisionError, TypeError) as e:
        raise InferenceError(f"layer inference failed: {type(e).__name__}: {e}") from e


def _infer_all(groups: Sequence[LayerGroup]) -> tuple[LayerGuess, ...]:
    ctx = Context(groups)
    chain = Chain()
    out = []
    for i, raw in enumerate(ctx.raws):
        guess = _infer_one(ctx, i, raw, chain)
        if guess is None:
            continue
        if raw.group.class_name:
            guess = _with_class(guess, raw.group.class_name, raw.group.attributes)
        out.append(guess)
        _advance(chain, guess)
    return harmonise_norms(ctx, out)


def _advance(chain: Chain, guess: LayerGuess) -> None:
    """Move the running chain past ``guess``."""
    _, dim_out = layer_dims(guess)
    if dim_out is not None:
        if chain.prev_out is not None:
            chain.seen.add(chain.prev_out)
        chain.prev_out = dim_out
    if layer_type(guess.type).is_transposed:
        chain.transposed += 1


#: Hyper-parameters a full-model pickle stores on torch.nn modules that the layer record
#: takes over as they are (pytorch: torch/nn/modules/conv.py, pooling.py, rnn.py,
#: normalization.py, activation.py, dropout.py, flatten.py, upsampling.py constructors).
STORED_ATTRIBUTES = frozenset(
    {
        "stride",
        "padding",
        "dilation",
        "output_padding",
        "padding_mode",
        "kernel_size",
        "ceil_mode",
        "count_include_pad",
        "output_size",
        "scale_factor",
        "mode",
        "align_corners",
        "batch_first",
        "dropout",
        "num_heads",
        "num_groups",
        "eps",
        "momentum",
        "negative_slope",
        "p",
        "dim",
        "start_dim",
        "end_dim",
        "padding_idx",
        "elementwise_affine",
    }
)


def _with_class(
    guess: LayerGuess, class_name: str, stored: tuple[tuple[str, object], ...] = ()
) -> LayerGuess:
    short = class_name.rsplit(".", 1)[-1]
    evidence = (f"class named by the pickle: {class_name}", *guess.evidence)
    if short != guess.type:
        evidence += (f"shape rules alone said {guess.type}",)
    attrs = dict(guess.attributes)
    if class_name.startswith("torch.nn."):
        kept = {k: v for k, v in stored if k in STORED_ATTRIBUTES}
        if short.startswith(("RNN", "LSTM", "GRU")):
            kept.pop("mode", None)  # RNNBase.mode is the cell kind, not a constructor argument
        if kept:
            attrs.update(kept)
            evidence += ("hyper-parameters read from the pickle: " + ", ".join(sorted(kept)),)
    return LayerGuess(
        guess.name,
        short,
        tuple(attrs.items()),
        1.0,
        evidence,
        guess.parameters,
        guess.tensor_keys,
    )


def _infer_one(ctx: Context, i: int, raw: Raw, chain: Chain) -> LayerGuess | None:
    kind = raw.kind
    if kind is TensorLayout.EMPTY:
        return infer_paramless(ctx, i, raw)
    if kind is TensorLayout.CONV:
        return infer_conv(ctx, i, raw, chain)
    if kind is TensorLayout.LINEAR:
        return infer_linear(ctx, i, raw, chain)
    if kind is TensorLayout.BATCH_STATS:
        return infer_batchnorm(ctx, i, raw)
    if kind in (TensorLayout.NORM_WB, TensorLayout.NORM_W, TensorLayout.LAYER_NORM_ND):
        return infer_norm(ctx, i, raw)
    if kind in (TensorLayout.RNN, TensorLayout.RNN_CELL):
        return infer_recurrent(ctx, raw) or infer_bare(ctx, raw)
    if kind is TensorLayout.ATTENTION:
        return infer_attention(ctx, raw)
    return infer_bare(ctx, raw)
