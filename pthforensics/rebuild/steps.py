"""One layer of the rebuilt chain: check the stream can feed it, then take its step.

``add_layer`` picks the step for the layer's type (:data:`_STEPS`, keyed by the torch.nn
class the rebuild makes; convolutions and batch-statistics norms by family), which checks
the layout and channel count the stream carries, inserts what a forward() applies without
a module (pooling + flatten before a Linear after convolutions, a flatten of a
fixed-length sequence) and moves the stream on.  A step returns the reason it cannot
follow, or ``""``.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pthforensics.core import LayerGroup, LayerGuess
from pthforensics.infer import LayerFamily, layer_dims, layer_type

from .state import Layout, Step, Walk

__all__ = ["BUILT_BY_NAME", "RECURRENT", "add_layer"]

_Planned = tuple[str, dict[str, Any]] | None
_StepFn = Callable[[Walk, Step, int | None, _Planned], str]

#: The recurrent classes the rebuild makes (pytorch: torch/nn/modules/rnn.py).
RECURRENT = ("RNN", "LSTM", "GRU")
_CELLS = ("RNNCell", "LSTMCell", "GRUCell")


def add_layer(w: Walk, group: LayerGroup, guess: LayerGuess, planned: _Planned) -> str:
    """Append the step of a module owning tensors; the reason it cannot, or ``""``."""
    step_fn = _step_for(guess.type)
    if step_fn is None:
        return f"{guess.type} layers are not rebuilt in a chain"
    step = Step(group.name, guess.type, dict(guess.attrs), group)
    din, dout = layer_dims(guess)
    reason = step_fn(w, step, din, planned)
    if reason:
        return reason
    w.steps.append(step)
    if dout is not None:
        w.cur = dout
    return ""


def _step_for(t: str) -> _StepFn | None:
    lt = layer_type(t)
    if lt.conv_dims:
        return _conv
    if lt.family in (LayerFamily.BATCH_NORM, LayerFamily.INSTANCE_NORM, LayerFamily.GROUP_NORM):
        return _stat_norm
    return _STEPS.get(t)


def _conv(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    d = layer_type(step.type).conv_dims
    if w.layout not in (Layout.INPUT, Layout.SPATIAL) or (
        w.layout is Layout.SPATIAL and w.dims != d
    ):
        return f"a {step.type} after a non-{d}-d layer"
    if w.cur is not None and din != w.cur:
        return f"takes {din} channels but the chain carries {w.cur}: a branch"
    if planned is not None:
        step.attrs.update(planned[1])
    w.layout, w.dims = Layout.SPATIAL, d
    return ""


def _stat_norm(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    """BatchNorm / InstanceNorm / GroupNorm: the dimension follows the stream."""
    t = step.type
    if w.cur is not None and din != w.cur:
        return f"normalises {din} features but the chain carries {w.cur}"
    lt = layer_type(t)
    if (
        w.layout is Layout.SPATIAL
        and lt.family in (LayerFamily.BATCH_NORM, LayerFamily.INSTANCE_NORM)
        and lt.dims != w.dims
    ):
        step.type = t[:-2] + f"{w.dims}d"
    if w.layout is Layout.INPUT:
        w.layout = Layout.FLAT
    return ""


def _linear(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    if w.layout is Layout.SPATIAL:
        assert din is not None
        reason = _transition_to_flat(w, step.path, din)
        if reason:
            return reason
    elif w.layout is Layout.SEQ and w.cur and din and w.seq_len and din == w.cur * w.seq_len:
        # a fixed-length sequence flattened into the head (Embedding -> Linear(T*D))
        w.steps.append(Step(_before(step.path, "flatten"), "Flatten"))
        w.layout = Layout.FLAT
    elif w.cur is not None and din != w.cur:
        return f"takes {din} features but the chain carries {w.cur}"
    if w.layout is Layout.INPUT:
        w.layout = Layout.FLAT
    if w.layout is Layout.FLAT:
        w.pooled = w.pooled_to_one = False
    return ""


def _before(path: str, what: str) -> str:
    """Path of an op inserted before module ``path`` (``fc<flatten``)."""
    parent, _, last = path.rpartition(".")
    return f"{parent + '.' if parent else ''}{last}<{what}"


def _transition_to_flat(w: Walk, name: str, din: int) -> str:
    """Insert pooling/flatten before a flat layer that follows a spatial one."""
    assert w.cur is not None
    if din == w.cur and not w.pooled:
        w.steps.append(Step(_before(name, "pool"), f"AdaptiveAvgPool{w.dims}d", {"output_size": 1}))
    elif din != w.cur and din % w.cur:
        return f"takes {din} features; {w.cur} channels do not flatten into it"
    w.steps.append(Step(_before(name, "flatten"), "Flatten"))
    w.layout, w.dims, w.cur = Layout.FLAT, 0, din
    return ""


def _layer_norm_2d(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    if w.layout is not Layout.SPATIAL or (w.cur is not None and din != w.cur):
        return f"a LayerNorm2d of {din} channels after {w.cur} ({w.layout})"
    return ""


def _layer_norm(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    """LayerNorm / RMSNorm over the last dim."""
    if w.layout is Layout.SPATIAL:
        return f"a {step.type} over channels after a convolution (channels-last block)"
    if w.cur is not None and din != w.cur:
        return f"normalises {din} features but the chain carries {w.cur}"
    if w.layout is Layout.INPUT:
        w.layout = Layout.FLAT
    return ""


def _prelu(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    if w.layout is Layout.SEQ and step.attrs.get("num_parameters", 1) > 1:
        return "a per-channel PReLU on a sequence"
    return ""


def _embedding(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    if w.layout is not Layout.INPUT:
        return f"an {step.type} after the first layer (an added position/segment table)"
    w.layout = Layout.SEQ if step.type == "Embedding" else Layout.FLAT
    w.vocab = step.attrs.get("num_embeddings")
    return ""


def _recurrent(w: Walk, step: Step, din: int | None, planned: _Planned) -> str:
    """RNN/LSTM/GRU read a sequence and give one; a cell reads and gives vectors."""
    t = step.type
    if w.layout not in (Layout.INPUT, Layout.SEQ, Layout.FLAT) or (
        w.cur is not None and din != w.cur
    ):
        return f"a {t} taking {din} features after {w.cur}"
    if w.layout is Layout.FLAT and t in RECURRENT:
        return f"a {t} after a flat layer"
    if t in RECURRENT:
        w.layout = Layout.SEQ
        step.attrs = {**step.attrs, "vocab": w.vocab}
    else:
        w.layout = Layout.FLAT
    return ""


#: The torch.nn classes a chain step is taken for by name (besides convolutions and the
#: batch-statistics norms, taken by family).
_STEPS: dict[str, _StepFn] = {
    "Linear": _linear,
    "NonDynamicallyQuantizableLinear": _linear,
    "LayerNorm2d": _layer_norm_2d,
    "LayerNorm": _layer_norm,
    "RMSNorm": _layer_norm,
    "PReLU": _prelu,
    "Embedding": _embedding,
    "EmbeddingBag": _embedding,
    **dict.fromkeys(RECURRENT + _CELLS, _recurrent),
}

#: Types the rebuild can make by name (the start of a rebuild must be one of these, a
#: convolution, or a BatchNorm/InstanceNorm).
BUILT_BY_NAME = frozenset({*_STEPS, "GroupNorm"})
