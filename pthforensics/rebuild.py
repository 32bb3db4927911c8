"""Rebuild the guessed model as ``torch.nn`` modules on the meta device.

Walks the modules in registration order and turns every guess into its torch.nn class
(``Conv2d(in, out, k, stride, padding, groups, bias)`` with stride/padding from the input
hypothesis ``InputGuess.plan``), parameter-less modules into what the plan or their name
says (MaxPool2d, AdaptiveAvgPool2d, Flatten, ReLU; Identity when unknown), and inserts the
ops a forward() applies without a module (pooling + flatten before the first Linear,
taking the last step of an RNN).  Containers are rebuilt as nested ``nn.Sequential`` named
like the checkpoint, so ``load_state_dict(strict=True, assign=True)`` with meta tensors of
the recorded shapes and dtypes checks every key and shape without reading a weight value.

A ViT-style model (class tokens and a position table as bare parameters, fed by a patch
convolution) gets a ``Tokens`` step after the patch convolution: flatten, prepend the class
tokens, add the position table -- so the guessed input size is checked against the stored
token count.

When the channel chain breaks (residual branches, concatenations, attention, custom
modules), the largest traceable part is rebuilt instead: the prefix from the input to the
first break (preferred: it reads the model's own input), or the head (the run of flat
layers ending the model) when the prefix is a lone layer.  What was rebuilt is returned as a note and attached to the module as
``pthforensics_rebuild`` (a :class:`~pthforensics.records.RebuildInfo`).

torch is imported inside the functions: importing this module does not import torch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import RebuildError
from .infer_base import layer_dims
from .layers import module_and_leaf
from .records import InputGuess, LayerGroup, LayerGuess, RebuildInfo, StateDict

if TYPE_CHECKING:
    from torch import nn

__all__ = ["REBUILD_ATTR", "rebuild_sequential"]

logger = logging.getLogger(__name__)

#: Attribute of the returned module holding its :class:`RebuildInfo`.
REBUILD_ATTR = "pthforensics_rebuild"

_FLAT_TYPES = ("Linear", "NonDynamicallyQuantizableLinear", "LayerNorm", "RMSNorm",
               "BatchNorm1d", "PReLU")
_RNN = ("RNN", "LSTM", "GRU")
_CELLS = ("RNNCell", "LSTMCell", "GRUCell")
_ACTIVATIONS = ("ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Tanh", "LeakyReLU", "ELU",
                "Hardswish", "Hardsigmoid", "Mish", "Softplus", "Identity", "Dropout",
                "Dropout2d", "Dropout1d", "Dropout3d", "AlphaDropout", "DropPath")


@dataclass
class _Step:
    """One module of the rebuilt chain (scratch, private)."""

    path: str
    type: str
    attrs: dict[str, Any] = field(default_factory=dict)
    group: LayerGroup | None = None


@dataclass
class _Walk:
    steps: list[_Step] = field(default_factory=list)
    layout: str = "input"          # input | spatial | flat | seq
    dims: int = 0
    cur: int | None = None
    pooled: bool = False            # an adaptive pool already reduced the map
    pooled_to_one: bool = False     # ... to a single position
    tensor_layers: int = 0
    seq_len: int | None = None      # fixed sequence length (flattened into a Linear)
    vocab: int | None = None        # token table size of a leading Embedding
    break_at: str | None = None
    reason: str = ""


def _tail(path: str) -> str:
    return path.rsplit(".", 1)[-1] if path else "root"


def _conv_dims(type_: str) -> int:
    return int(type_[-2]) if type_[-2:-1].isdigit() and type_.endswith("d") else 0


@dataclass(frozen=True)
class _Tokens:
    """A ViT-style tokenisation after a patch convolution (scratch, private)."""

    conv: str
    groups: tuple[LayerGroup, ...]
    cls_keys: tuple[str, ...]
    pos_key: str
    dim: int


def _token_plan(order: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> _Tokens | None:
    """Class tokens and a position table on custom modules, fed by a patch convolution."""
    groups = tuple(g for g in order if g.tensors and g.name in guesses
                   and {"num_positions", "prefix_tokens"} & set(guesses[g.name].attrs))
    pos = next((t for g in groups for t in g.tensors if len(t.shape) >= 2
                and "pos" in module_and_leaf(t.key)[1].lower()), None)
    if pos is None:
        return None
    cls_keys = tuple(t.key for g in groups for t in g.tensors
                     if re.search(r"cls|class|dist_token|reg_token|register",
                                  module_and_leaf(t.key)[1].lower()))
    conv = next((g for g in order if g.name in guesses and _conv_dims(guesses[g.name].type)
                 and guesses[g.name].type.startswith("Conv")
                 and guesses[g.name].attrs.get("out_channels") == pos.shape[-1]), None)
    if conv is None:
        return None
    return _Tokens(conv.name, groups, cls_keys, pos.key, pos.shape[-1])


def _walk(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess],
          plan: dict[str, tuple[str, dict[str, Any]]],
          after: dict[str, list[tuple[str, dict[str, Any]]]],
          start_layout: str, seq_len: int | None = None,
          tokens: _Tokens | None = None) -> _Walk:
    w = _Walk(layout=start_layout, seq_len=seq_len)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    for group in groups:
        guess = guesses.get(group.name)
        if group.name in token_groups:
            w.steps.append(_Step(group.name, "Parameters", {}, group))
            continue
        if group.tensors:
            if guess is None:
                return _stop(w, group.name, "no guess for a module owning tensors")
            reason = _add_layer(w, group, guess, plan.get(group.name))
            if reason:
                return _stop(w, group.name, reason)
            w.tensor_layers += 1
            if tokens is not None and group.name == tokens.conv and w.layout == "spatial":
                w.steps.append(_Step(f"{group.name}+tokens", "Tokens", {"tokens": tokens}))
                w.layout, w.dims, w.cur = "seq", 0, tokens.dim
        else:
            _add_paramless(w, group, guess, plan.get(group.name))
        for type_, attrs in after.get(group.name, ()):
            _add_op(w, f"{group.name}+{type_}", type_, attrs)
    return w


def _stop(w: _Walk, name: str, reason: str) -> _Walk:
    w.break_at, w.reason = name, reason
    return w


def _add_op(w: _Walk, path: str, type_: str, attrs: dict[str, Any]) -> None:
    if type_ == "Flatten":
        if w.layout == "spatial":
            w.steps.append(_Step(path, "Flatten"))
            w.layout, w.dims = "flat", 0
            # channels x remaining positions: known only after a global pool
            w.cur = w.cur if w.pooled_to_one else None
        return
    if w.layout != "spatial":
        return  # a pool after the spatial part would fail; the plan did not expect it
    d = _conv_dims(type_)
    if d and d != w.dims:
        type_ = type_[:-2] + f"{w.dims}d"
    if type_.startswith("Adaptive"):
        w.pooled = True
        size = attrs.get("output_size", 1)
        w.pooled_to_one = size == 1 or (isinstance(size, tuple) and set(size) == {1})
    w.steps.append(_Step(path, type_, attrs))


def _add_paramless(w: _Walk, group: LayerGroup, guess: LayerGuess | None,
                   planned: tuple[str, dict[str, Any]] | None) -> None:
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
    if type_ not in _ACTIVATIONS and type_ not in ("Softmax", "LogSoftmax", "Upsample"):
        type_ = "Identity"
    if type_ == "Upsample" and w.layout != "spatial":
        type_ = "Identity"
    w.steps.append(_Step(group.name, type_, attrs, group))


def _transition_to_flat(w: _Walk, name: str, din: int) -> str:
    """Insert pooling/flatten before a flat layer that follows a spatial one."""
    assert w.cur is not None
    parent, _, last = name.rpartition(".")
    prefix = parent + "." if parent else ""
    if din == w.cur and not w.pooled:
        w.steps.append(_Step(f"{prefix}{last}<pool", f"AdaptiveAvgPool{w.dims}d",
                             {"output_size": 1}))
    elif din != w.cur and din % w.cur:
        return f"takes {din} features; {w.cur} channels do not flatten into it"
    w.steps.append(_Step(f"{prefix}{last}<flatten", "Flatten"))
    w.layout, w.dims, w.cur = "flat", 0, din
    return ""


def _add_layer(w: _Walk, group: LayerGroup, guess: LayerGuess,
               planned: tuple[str, dict[str, Any]] | None) -> str:
    t = guess.type
    a = dict(guess.attrs)
    din, dout = layer_dims(guess)
    d = _conv_dims(t) if t.startswith(("Conv", "ConvTranspose")) and t != "Conv1D" else 0
    step = _Step(group.name, t, a, group)
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
        nd = _conv_dims(t) or 0
        if w.layout == "spatial" and t.startswith(("BatchNorm", "InstanceNorm")) \
                and nd != w.dims:
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
            w.steps.append(_Step(f"{parent + '.' if parent else ''}{last}<flatten", "Flatten"))
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
    elif t in _RNN or t in _CELLS:
        if w.layout not in ("input", "seq", "flat") or (w.cur is not None and din != w.cur):
            return f"a {t} taking {din} features after {w.cur}"
        if w.layout == "flat" and t in _RNN:
            return f"a {t} after a flat layer"
        if t in _RNN:
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


def _head(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> list[LayerGroup]:
    """The run of flat layers ending the model, whose channels chain."""
    picked: list[LayerGroup] = []
    need: int | None = None
    for group in reversed(groups):
        guess = guesses.get(group.name)
        if not group.tensors:
            if picked or guess is None or guess.type in _ACTIVATIONS:
                picked.append(group)
                continue
            break
        if guess is None or guess.type not in _FLAT_TYPES:
            break
        din, dout = layer_dims(guess)
        if need is not None and dout != need:
            break
        picked.append(group)
        need = din
    while picked and not picked[-1].tensors:
        picked.pop()
    return list(reversed(picked))


def _plan_maps(input_guess: InputGuess) -> tuple[dict[str, tuple[str, dict[str, Any]]],
                                                  dict[str, list[tuple[str, dict[str, Any]]]]]:
    plan: dict[str, tuple[str, dict[str, Any]]] = {}
    after: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, type_, attrs in input_guess.plan:
        if name.startswith("+"):
            after.setdefault(name[1:], []).append((type_, dict(attrs)))
        else:
            plan[name] = (type_, dict(attrs))
    return plan, after


def _default_input(guess: LayerGuess | None, input_guess: InputGuess) -> tuple[
        tuple[int, ...] | None, str]:
    if input_guess.shape is not None:
        return input_guess.shape, input_guess.dtype
    if guess is None:
        return None, input_guess.dtype
    din, _ = layer_dims(guess)
    d = _conv_dims(guess.type) if guess.type.startswith("Conv") else 0
    if guess.type.startswith("Embedding"):
        return (1, 32), "int64"
    if d:
        spatial = {1: (16000,), 2: (224, 224), 3: (16, 112, 112)}[d]
        return (1, din or 1, *spatial), input_guess.dtype
    if guess.type in _RNN:
        return (1, 32, din or 1), input_guess.dtype
    return ((1, din), input_guess.dtype) if din else (None, input_guess.dtype)


def rebuild_sequential(groups: Sequence[LayerGroup], guesses: Sequence[LayerGuess],
                       input_guess: InputGuess, state: StateDict) -> tuple[nn.Module, str]:
    """Build the model (or its largest traceable part) on the meta device and load the
    checkpoint's tensor shapes into it strictly.

    Returns the module and a note saying what was rebuilt and why; raises
    :class:`~pthforensics.errors.RebuildError` when no chain can be built.
    """
    by_name = {g.name: g for g in guesses}
    plan, after = _plan_maps(input_guess)
    order = list(groups)
    first_owner = next((i for i, g in enumerate(order) if g.tensors
                        and g.name in by_name and _buildable(by_name[g.name].type)), None)
    if first_owner is None:
        raise RebuildError("no module with a known type owns tensors: nothing to rebuild",
                           path=state.path or None)
    tokens = _token_plan(order, by_name)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    skipped_bare = [g.name or "(root)" for g in order[:first_owner]
                    if g.tensors and g.name not in token_groups]
    body = [g for g in order[:first_owner] if g.name in token_groups] + order[first_owner:]
    seq_len = (input_guess.shape[1] if input_guess.status == "fixed" and input_guess.shape
               and input_guess.kind in ("tokens", "sequence") and len(input_guess.shape) >= 2
               else None)
    whole = _walk(body, by_name, plan, after, "input", seq_len, tokens)
    first_guess = by_name.get(order[first_owner].name)
    shape, dtype = _default_input(first_guess, input_guess)
    if whole.break_at is None and not skipped_bare:
        part, walk, note = "whole", whole, "whole model is a chain"
    else:
        where = whole.break_at or (skipped_bare[0] if skipped_bare else "")
        why = whole.reason or "bare parameters (class token / position table) on a custom module"
        head_groups = _head(order, by_name)
        head = _walk(head_groups, by_name, {}, {}, "input") if head_groups else None
        if head is not None and head.break_at is not None:
            head = None
        prefix_ok = whole.tensor_layers > 0 and not skipped_bare
        # A prefix reads the model's own input, so it checks the input guess: prefer it
        # unless it is a lone layer and a longer head exists.
        prefix_first = prefix_ok and (whole.tensor_layers >= 2 or any(
            st.type == "Tokens" for st in whole.steps))
        if head is not None and not prefix_first and (
                not prefix_ok or head.tensor_layers > whole.tensor_layers):
            hg = by_name[head_groups[0].name]
            din, _ = layer_dims(hg)
            shape, dtype = (1, din or 1), _float_dtype(head_groups[0])
            part, walk = "head", head
            note = (f"head only ({head_groups[0].name} .. {head_groups[-1].name}): "
                    f"{why} at {where}")
        elif prefix_ok:
            part, walk = "prefix", whole
            last = whole.steps[-1].path if whole.steps else body[0].name
            note = f"prefix up to {last}: {why} at {where}"
            if tokens is not None and any(st.type == "Tokens" for st in whole.steps):
                note += (f" (the patch tokens of {tokens.conv} meet the position table "
                         f"{tokens.pos_key})")
        else:
            raise RebuildError(f"no chain can be built: {why} at {where}, and no flat head "
                               "ends the model", path=state.path or None)
    module = _build(walk.steps, state)
    info = RebuildInfo(part, shape, dtype, note,
                       tuple(s.group.name for s in walk.steps if s.group is not None))
    object.__setattr__(module, REBUILD_ATTR, info)
    logger.debug("rebuilt %s: %s", part, note)
    return module, note


def _buildable(type_: str) -> bool:
    """Whether a guessed type is a torch.nn layer the rebuild can make."""
    return bool(_conv_dims(type_) and type_.startswith(("Conv", "ConvTranspose"))) or (
        type_ in ("Linear", "NonDynamicallyQuantizableLinear", "LayerNorm", "RMSNorm",
                  "LayerNorm2d", "PReLU", "Embedding", "EmbeddingBag", "GroupNorm",
                  *_RNN, *_CELLS)
        or type_.startswith(("BatchNorm", "InstanceNorm")))


def _float_dtype(group: LayerGroup) -> str:
    return next((t.dtype for t in group.tensors if t.dtype.startswith(("float", "bfloat"))),
                "float32")


# --- torch side -------------------------------------------------------------------------------


def _build(steps: list[_Step], state: StateDict) -> nn.Module:
    import torch
    from torch import nn

    root = nn.Sequential()
    sd: dict[str, torch.Tensor] = {}
    try:
        with torch.device("meta"):
            for i, step in enumerate(steps):
                if step.group is not None:
                    sd.update(_meta_tensors(step.group, torch))
                if step.type == "Parameters":
                    assert step.group is not None
                    _register(root, step.group, sd, torch)
                    continue
                if step.type == "Tokens":
                    module = _tokens_module(root, step.attrs["tokens"])
                else:
                    nxt = next((s for s in steps[i + 1:] if s.group is not None and
                                s.group.tensors), None)
                    module = _make(step, nxt)
                _insert(root, step.path, module)
    except (TypeError, ValueError, RuntimeError, AttributeError, KeyError) as e:
        raise RebuildError(f"could not build {step.type} for {step.path or '(root)'}: {e}",
                           path=state.path or None) from e
    try:
        root.load_state_dict(sd, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as e:
        raise RebuildError(f"the checkpoint's tensor shapes do not load into the rebuilt "
                           f"modules: {str(e).strip()[:600]}", path=state.path or None) from e
    root.eval()
    return root


def _container(root: nn.Module, path: str) -> nn.Module:
    from torch import nn

    parent = root
    for comp in path.split(".") if path else []:
        child = parent._modules.get(comp)
        if child is None:
            child = nn.Sequential()
            parent.add_module(comp, child)
        parent = child
    return parent


def _register(root: nn.Module, group: LayerGroup, sd: dict[str, Any], torch: Any) -> None:
    """Bare parameters/buffers of a custom module, registered where the keys expect them."""
    owner = _container(root, group.name)
    for t in group.tensors:
        _, leaf = module_and_leaf(t.key)
        value = sd[t.key]
        if value.is_floating_point():
            owner.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
        else:
            owner.register_buffer(leaf, value)


def _tokens_module(root: nn.Module, tokens: _Tokens) -> nn.Module:
    """Patch map -> tokens: flatten, prepend the class tokens, add the position table."""
    import weakref

    import torch
    from torch import nn

    owner_ref = weakref.ref(root)  # not a submodule: the parameters stay where keys put them

    class Tokens(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            owner = owner_ref()
            if owner is None:
                raise RuntimeError("the rebuilt model holding the position table is gone")
            x = x.flatten(2).transpose(1, 2)
            extra = []
            for key in tokens.cls_keys:
                p = owner.get_parameter(key)
                extra.append(p.reshape(1, -1, p.shape[-1]).expand(x.shape[0], -1, -1))
            x = torch.cat([*extra, x], 1)
            pos = owner.get_parameter(tokens.pos_key)
            out: torch.Tensor = x + pos.reshape(1, -1, pos.shape[-1])
            return out

    return Tokens()


def _insert(root: nn.Module, path: str, module: nn.Module) -> None:
    from torch import nn

    parts = path.split(".") if path else ["root"]
    parent = root
    for comp in parts[:-1]:
        child = parent._modules.get(comp)
        if child is None:
            child = nn.Sequential()
            parent.add_module(comp, child)
        parent = child
    parent.add_module(parts[-1], module)


def _meta_tensors(group: LayerGroup, torch: Any) -> dict[str, Any]:
    out = {}
    for t in group.tensors:
        module, leaf = module_and_leaf(t.key)
        if leaf in ("parametrizations.weight.original1", "weight_v", "weight_orig",
                    "parametrizations.weight.original"):
            if leaf == "weight_v" and not any(x.key.endswith("weight_g") for x in group.tensors):
                continue  # spectral_norm's power-iteration vector
            leaf = "weight"
        elif leaf in ("parametrizations.weight.original0", "weight_g", "weight_u"):
            continue
        dtype = getattr(torch, t.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise RebuildError(f"unknown dtype {t.dtype!r} for {t.key}")
        key = f"{module}.{leaf}" if module else leaf
        out[key] = torch.empty(t.shape, dtype=dtype, device="meta")
    return out


def _make(step: _Step, nxt: _Step | None) -> nn.Module:
    from torch import nn

    t, a = step.type, step.attrs
    if t.startswith(("Conv", "ConvTranspose")) and _conv_dims(t):
        cls = _nn_class(t)
        k = tuple(a["kernel_size"])
        transposed = t.startswith("ConvTranspose")
        pad = a.get("padding", 0 if transposed else tuple((x - 1) // 2 for x in k))
        return cls(a["in_channels"], a["out_channels"], k, stride=a.get("stride", 1),
                   padding=pad, groups=a.get("groups", 1), bias=a.get("bias", True))
    if t in ("Linear", "NonDynamicallyQuantizableLinear"):
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
    if t.startswith(("BatchNorm", "InstanceNorm")):
        return _nn_class(t)(a["num_features"], affine=a.get("affine", True),
                              track_running_stats=a.get("track_running_stats", True))
    if t == "GroupNorm":
        c = a["num_channels"]
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if c % g == 0)
        return nn.GroupNorm(groups, c)
    if t == "LayerNorm":
        has_bias = step.group is None or step.group.tensor("bias") is not None
        affine = step.group is None or step.group.tensor("weight") is not None
        return nn.LayerNorm(a["normalized_shape"], elementwise_affine=affine,
                            bias=has_bias if affine else True)
    if t == "RMSNorm":
        return nn.RMSNorm(a["normalized_shape"])
    if t == "LayerNorm2d":
        return _layer_norm_2d()(a["normalized_shape"])
    if t == "PReLU":
        return nn.PReLU(a.get("num_parameters", 1))
    if t in ("Embedding", "EmbeddingBag"):
        return _nn_class(t)(a["num_embeddings"], a["embedding_dim"])
    if t in _RNN:
        # a classifier reads the last step; a language model (head back onto the token
        # table) reads every step; a head taking T x features reads them flattened
        lm = nxt is not None and a.get("vocab") and nxt.attrs.get("out_features") == a["vocab"]
        out_dim = (a.get("proj_size") or a["hidden_size"]) * (2 if a.get("bidirectional") else 1)
        last = (nxt is not None and nxt.type in _FLAT_TYPES and not lm
                and nxt.attrs.get("in_features", out_dim) == out_dim)
        cls = _rnn_class(t, "last" if last else "seq")
        return cls(a["input_size"], a["hidden_size"], num_layers=a.get("num_layers", 1),
                   bias=a.get("bias", True), batch_first=True,
                   bidirectional=a.get("bidirectional", False), **(
                       {"proj_size": a["proj_size"]} if a.get("proj_size") else {}))
    if t in _CELLS:
        return _rnn_class(t, "cell")(a["input_size"], a["hidden_size"], bias=a.get("bias", True))
    return _paramless(t, a)


def _paramless(t: str, a: dict[str, Any]) -> nn.Module:
    from torch import nn

    if t.startswith(("MaxPool", "AvgPool")):
        return _nn_class(t)(a.get("kernel_size", 2))
    if t.startswith("AdaptiveAvgPool") or t.startswith("AdaptiveMaxPool"):
        return _nn_class(t)(a.get("output_size", 1))
    if t == "Flatten":
        return nn.Flatten()
    if t in ("Softmax", "LogSoftmax"):
        return _nn_class(t)(dim=-1)
    if t == "Upsample":
        return nn.Upsample(scale_factor=2)
    if t in ("DropPath",) or not hasattr(nn, t):
        return nn.Identity()
    return _nn_class(t)()


def _nn_class(name: str) -> type[nn.Module]:
    """``torch.nn.<name>``, checked to be a module class."""
    from torch import nn

    cls = getattr(nn, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise RebuildError(f"torch.nn has no module class {name!r}")
    return cls


_CLASSES: dict[tuple[str, str] | str, type] = {}


def _layer_norm_2d() -> type[nn.Module]:
    """torchvision/timm ``LayerNorm2d``: a LayerNorm over the channels of NCHW maps."""
    from torch import nn

    if "LayerNorm2d" not in _CLASSES:
        def forward(self: Any, x: Any) -> Any:
            return nn.LayerNorm.forward(self, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

        _CLASSES["LayerNorm2d"] = type("LayerNorm2d", (nn.LayerNorm,),
                                           {"forward": forward, "__module__": __name__})
    cls: type[nn.Module] = _CLASSES["LayerNorm2d"]
    return cls


def _rnn_class(base: str, mode: str) -> type[nn.Module]:
    """A subclass of ``nn.<base>`` (same parameter names) whose forward returns a tensor:
    the whole output sequence, its last step (before a Linear head), or a cell's ``h``."""
    from torch import nn

    key = (base, mode)
    if key not in _CLASSES:
        parent = getattr(nn, base)

        def forward(self: Any, x: Any) -> Any:
            out = parent.forward(self, x)
            if mode == "cell":
                return out[0] if isinstance(out, tuple) else out
            seq = out[0]
            return seq[:, -1] if mode == "last" else seq

        _CLASSES[key] = type(base, (parent,), {"forward": forward,
                                                   "__module__": __name__})
    cls: type[nn.Module] = _CLASSES[key]
    return cls
