"""Plan the chain ``rebuild`` builds: which modules, in which order, with what inserted.

Walks the modules in registration order with the state a forward pass would have (layout
``input``/``spatial``/``flat``/``seq``, channel count) and turns every guess into a
``Step``: layers from their guesses (stride/padding from ``InputGuess.plan``),
parameter-less modules from the plan or their names, and the ops a forward() applies
without a module (global pooling + flatten before a Linear, a flatten of a fixed-length
sequence, ViT tokens after a patch convolution).  It stops at the first layer whose input
the chain cannot deliver, and says why.  Internal to the ``rebuild`` stage.

Pure: no torch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import InputGuess, LayerGroup, LayerGuess
from pthforensics.infer.base import layer_dims
from pthforensics.structure.layers import module_and_leaf

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "FLAT_TYPES",
    "RNN",
    "Step",
    "Tokens",
    "Walk",
    "buildable",
    "conv_dims",
    "default_input",
    "float_dtype",
    "head_groups",
    "plan_maps",
    "token_plan",
    "walk_chain",
]

FLAT_TYPES = (
    "Linear",
    "NonDynamicallyQuantizableLinear",
    "LayerNorm",
    "RMSNorm",
    "BatchNorm1d",
    "PReLU",
)
RNN = ("RNN", "LSTM", "GRU")
CELLS = ("RNNCell", "LSTMCell", "GRUCell")
ACTIVATIONS = (
    "ReLU",
    "ReLU6",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "Hardswish",
    "Hardsigmoid",
    "Mish",
    "Softplus",
    "Identity",
    "Dropout",
    "Dropout2d",
    "Dropout1d",
    "Dropout3d",
    "AlphaDropout",
    "DropPath",
)


@dataclass
class Step:
    """One module of the rebuilt chain (scratch, private)."""

    path: str
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    group: LayerGroup | None = None


@dataclass
class Walk:
    steps: list[Step] = field(default_factory=list)
    layout: str = "input"  # input | spatial | flat | seq
    dims: int = 0
    cur: int | None = None
    pooled: bool = False  # an adaptive pool already reduced the map
    pooled_to_one: bool = False  # ... to a single position
    tensor_layers: int = 0
    seq_len: int | None = None  # fixed sequence length (flattened into a Linear)
    vocab: int | None = None  # token table size of a leading Embedding
    break_at: str | None = None
    reason: str = ""


def conv_dims(type_: str) -> int:
    return int(type_[-2]) if type_[-2:-1].isdigit() and type_.endswith("d") else 0


@dataclass(frozen=True)
class Tokens:
    """A ViT-style tokenisation after a patch convolution (scratch, private)."""

    conv: str
    groups: tuple[LayerGroup, ...]
    cls_keys: tuple[str, ...]
    pos_key: str
    dim: int


def token_plan(order: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> Tokens | None:
    """Class tokens and a position table on custom modules, fed by a patch convolution."""
    groups = tuple(
        g
        for g in order
        if g.tensors
        and g.name in guesses
        and {"num_positions", "prefix_tokens"} & set(guesses[g.name].attrs)
    )
    pos = next(
        (
            t
            for g in groups
            for t in g.tensors
            if len(t.shape) >= 2 and "pos" in module_and_leaf(t.key)[1].lower()
        ),
        None,
    )
    if pos is None:
        return None
    cls_keys = tuple(
        t.key
        for g in groups
        for t in g.tensors
        if re.search(r"cls|class|dist_token|reg_token|register", module_and_leaf(t.key)[1].lower())
    )
    conv = next(
        (
            g
            for g in order
            if g.name in guesses
            and conv_dims(guesses[g.name].type)
            and guesses[g.name].type.startswith("Conv")
            and guesses[g.name].attrs.get("out_channels") == pos.shape[-1]
        ),
        None,
    )
    if conv is None:
        return None
    return Tokens(conv.name, groups, cls_keys, pos.key, pos.shape[-1])


def walk_chain(
    groups: Sequence[LayerGroup],
    guesses: dict[str, LayerGuess],
    plan: dict[str, tuple[str, dict[str, Any]]],
    after: dict[str, list[tuple[str, dict[str, Any]]]],
    start_layout: str,
    seq_len: int | None = None,
    tokens: Tokens | None = None,
) -> Walk:
    w = Walk(layout=start_layout, seq_len=seq_len)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    for group in groups:
        guess = guesses.get(group.name)
        if group.name in token_groups:
            w.steps.append(Step(group.name, "Parameters", {}, group))
            continue
        if group.tensors:
            if guess is None:
                return _stop(w, group.name, "no guess for a module owning tensors")
            reason = _add_layer(w, group, guess, plan.get(group.name))
            if reason:
                return _stop(w, group.name, reason)
            w.tensor_layers += 1
            if tokens is not None and group.name == tokens.conv and w.layout == "spatial":
                w.steps.append(Step(f"{group.name}+tokens", "Tokens", {"tokens": tokens}))
                w.layout, w.dims, w.cur = "seq", 0, tokens.dim
        else:
            _add_paramless(w, group, guess, plan.get(group.name))
        for type_, attrs in after.get(group.name, ()):
            _add_op(w, f"{group.name}+{type_}", type_, attrs)
    return w


def _stop(w: Walk, name: str, reason: str) -> Walk:
    w.break_at, w.reason = name, reason
    return w


def _add_op(w: Walk, path: str, type_: str, attrs: dict[str, Any]) -> None:
    if type_ == "Flatten":
        if w.layout == "spatial":
            w.steps.append(Step(path, "Flatten"))
            w.layout, w.dims = "flat", 0
            # channels x remaining positions: known only after a global pool
            w.cur = w.cur if w.pooled_to_one else None
        return
    if w.layout != "spatial":
        return  # a pool after the spatial part would fail; the plan did not expect it
    d = conv_dims(type_)
    if d and d != w.dims:
        type_ = type_[:-2] + f"{w.dims}d"
    if type_.startswith("Adaptive"):
        w.pooled = True
        size = attrs.get("output_size", 1)
        w.pooled_to_one = size == 1 or (isinstance(size, tuple) and set(size) == {1})
    w.steps.append(Step(path, type_, attrs))


def _add_paramless(
    w: Walk, group: LayerGroup, guess: LayerGuess | None, planned: tuple[str, dict[str, Any]] | None
) -> None:
    if planned is not None:
        type_, attrs = planned
    elif guess is not None:
        type_, attrs = guess.type, {}
    else:
        type_, attrs = "Identity", {}
    if "Pool" in type_ or type_ == "Flatten":
        if w.layout != "spatial":
            type_, attrs = "Identity", {}
        elif type_ != "Flatten":
            _add_op(w, group.name, type_, attrs)
            return
    if type_ == "Flatten":
        _add_op(w, group.name, "Flatten", {})
        return
    if type_ not in ACTIVATIONS and type_ not in ("Softmax", "LogSoftmax", "Upsample"):
        type_ = "Identity"
    if type_ == "Upsample" and w.layout != "spatial":
        type_ = "Identity"
    w.steps.append(Step(group.name, type_, attrs, group))


def _transition_to_flat(w: Walk, name: str, din: int) -> str:
    """Insert pooling/flatten before a flat layer that follows a spatial one."""
    assert w.cur is not None
    parent, _, last = name.rpartition(".")
    prefix = parent + "." if parent else ""
    if din == w.cur and not w.pooled:
        w.steps.append(
            Step(f"{prefix}{last}<pool", f"AdaptiveAvgPool{w.dims}d", {"output_size": 1})
        )
    elif din != w.cur and din % w.cur:
        return f"takes {din} features; {w.cur} channels do not flatten into it"
    w.steps.append(Step(f"{prefix}{last}<flatten", "Flatten"))
    w.layout, w.dims, w.cur = "flat", 0, din
    return ""


def _add_layer(
    w: Walk, group: LayerGroup, guess: LayerGuess, planned: tuple[str, dict[str, Any]] | None
) -> str:
    t = guess.type
    a = dict(guess.attrs)
    din, dout = layer_dims(guess)
    d = conv_dims(t) if t.startswith(("Conv", "ConvTranspose")) and t != "Conv1D" else 0
    step = Step(group.name, t, a, group)
    if d:
        if w.layout not in ("input", "spatial") or (w.layout == "spatial" and w.dims != d):
            return f"a {t} after a non-{d}-d layer"
        if w.cur is not None and din != w.cur:
            return f"takes {din} channels but the chain carries {w.cur}: a branch"
        if planned is not None:
            a.update(planned[1])
        w.layout, w.dims = "spatial", d
    elif t.startswith(("BatchNorm", "InstanceNorm", "GroupNorm")):
        if w.cur is not None and din != w.cur:
            return f"normalises {din} features but the chain carries {w.cur}"
        nd = conv_dims(t) or 0
        if w.layout == "spatial" and t.startswith(("BatchNorm", "InstanceNorm")) and nd != w.dims:
            step.type = t[:-2] + f"{w.dims}d"
        if w.layout == "input":
            w.layout = "flat"
    elif t in ("Linear", "NonDynamicallyQuantizableLinear"):
        if w.layout == "spatial":
            assert din is not None
            reason = _transition_to_flat(w, group.name, din)
            if reason:
                return reason
        elif w.layout == "seq" and w.cur and din and w.seq_len and din == w.cur * w.seq_len:
            # a fixed-length sequence flattened into the head (Embedding -> Linear(T*D))
            parent, _, last = group.name.rpartition(".")
            w.steps.append(Step(f"{parent + '.' if parent else ''}{last}<flatten", "Flatten"))
            w.layout = "flat"
        elif w.cur is not None and din != w.cur:
            return f"takes {din} features but the chain carries {w.cur}"
        if w.layout == "input":
            w.layout = "flat"
        if w.layout == "flat":
            w.pooled = w.pooled_to_one = False
    elif t == "LayerNorm2d":
        if w.layout != "spatial" or (w.cur is not None and din != w.cur):
            return f"a LayerNorm2d of {din} channels after {w.cur} ({w.layout})"
    elif t in ("LayerNorm", "RMSNorm"):
        if w.layout == "spatial":
            return f"a {t} over channels after a convolution (channels-last block)"
        if w.cur is not None and din != w.cur:
            return f"normalises {din} features but the chain carries {w.cur}"
        if w.layout == "input":
            w.layout = "flat"
    elif t == "PReLU":
        if w.layout == "seq" and a.get("num_parameters", 1) > 1:
            return "a per-channel PReLU on a sequence"
    elif t in ("Embedding", "EmbeddingBag"):
        if w.layout != "input":
            return f"an {t} after the first layer (an added position/segment table)"
        w.layout = "seq" if t == "Embedding" else "flat"
        w.vocab = a.get("num_embeddings")
    elif t in RNN or t in CELLS:
        if w.layout not in ("input", "seq", "flat") or (w.cur is not None and din != w.cur):
            return f"a {t} taking {din} features after {w.cur}"
        if w.layout == "flat" and t in RNN:
            return f"a {t} after a flat layer"
        if t in RNN:
            w.layout = "seq"
            step.attrs = {**a, "vocab": w.vocab}
        else:
            w.layout = "flat"
    else:
        return f"{t} layers are not rebuilt in a chain"
    w.steps.append(step)
    if dout is not None:
        w.cur = dout
    return ""


def head_groups(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> list[LayerGroup]:
    """The run of flat layers ending the model, whose channels chain."""
    picked: list[LayerGroup] = []
    need: int | None = None
    for group in reversed(groups):
        guess = guesses.get(group.name)
        if not group.tensors:
            if picked or guess is None or guess.type in ACTIVATIONS:
                picked.append(group)
                continue
            break
        if guess is None or guess.type not in FLAT_TYPES:
            break
        din, dout = layer_dims(guess)
        if need is not None and dout != need:
            break
        picked.append(group)
        need = din
    while picked and not picked[-1].tensors:
        picked.pop()
    return list(reversed(picked))


def plan_maps(
    input_guess: InputGuess,
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, list[tuple[str, dict[str, Any]]]]]:
    plan: dict[str, tuple[str, dict[str, Any]]] = {}
    after: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, type_, attrs in input_guess.plan:
        if name.startswith("+"):
            after.setdefault(name[1:], []).append((type_, dict(attrs)))
        else:
            plan[name] = (type_, dict(attrs))
    return plan, after


def default_input(
    guess: LayerGuess | None, input_guess: InputGuess
) -> tuple[tuple[int, ...] | None, str]:
    if input_guess.shape is not None:
        return input_guess.shape, input_guess.dtype
    if guess is None:
        return None, input_guess.dtype
    din, _ = layer_dims(guess)
    d = conv_dims(guess.type) if guess.type.startswith("Conv") else 0
    if guess.type.startswith("Embedding"):
        return (1, 32), "int64"
    if d:
        spatial = {1: (16000,), 2: (224, 224), 3: (16, 112, 112)}[d]
        return (1, din or 1, *spatial), input_guess.dtype
    if guess.type in RNN:
        return (1, 32, din or 1), input_guess.dtype
    return ((1, din), input_guess.dtype) if din else (None, input_guess.dtype)


def buildable(type_: str) -> bool:
    """Whether a guessed type is a torch.nn layer the rebuild can make."""
    return bool(conv_dims(type_) and type_.startswith(("Conv", "ConvTranspose"))) or (
        type_
        in (
            "Linear",
            "NonDynamicallyQuantizableLinear",
            "LayerNorm",
            "RMSNorm",
            "LayerNorm2d",
            "PReLU",
            "Embedding",
            "EmbeddingBag",
            "GroupNorm",
            *RNN,
            *CELLS,
        )
        or type_.startswith(("BatchNorm", "InstanceNorm"))
    )


def float_dtype(group: LayerGroup) -> str:
    return next(
        (t.dtype for t in group.tensors if t.dtype.startswith(("float", "bfloat"))), "float32"
    )
