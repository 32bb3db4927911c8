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
layers ending the model) when the prefix is a lone layer.  What was rebuilt is returned
as a note and attached to the module as ``pthforensics_rebuild`` (a
:class:`~pthforensics.records.RebuildInfo`).  The planning itself (which steps, what is
inserted, where the chain breaks) is pure and lives in :mod:`pthforensics.rebuild_plan`.

torch is imported inside the functions: importing this module does not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pthforensics.core import (
    InputGuess,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildInfo,
    RebuildPart,
    StateDict,
)
from pthforensics.infer.base import layer_dims
from pthforensics.structure.layers import module_and_leaf

from .plan import (
    CELLS,
    FLAT_TYPES,
    RNN,
    Step,
    Tokens,
    buildable,
    conv_dims,
    default_input,
    float_dtype,
    head_groups,
    plan_maps,
    token_plan,
    walk_chain,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = ["REBUILD_ATTR", "rebuild_sequential"]

logger = logging.getLogger(__name__)

#: Attribute of the returned module holding its :class:`RebuildInfo`.
REBUILD_ATTR = "pthforensics_rebuild"


def rebuild_sequential(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
) -> tuple[nn.Module, str]:
    """Build the model (or its largest traceable part) on the meta device and load the
    checkpoint's tensor shapes into it strictly.

    Returns the module and a note saying what was rebuilt and why; raises
    :class:`~pthforensics.errors.RebuildError` when no chain can be built.
    """
    by_name = {g.name: g for g in guesses}
    plan, after = plan_maps(input_guess)
    order = list(groups)
    first_owner = next(
        (
            i
            for i, g in enumerate(order)
            if g.tensors and g.name in by_name and buildable(by_name[g.name].type)
        ),
        None,
    )
    if first_owner is None:
        raise RebuildError(
            "no module with a known type owns tensors: nothing to rebuild", path=state.path or None
        )
    tokens = token_plan(order, by_name)
    token_groups = {g.name for g in tokens.groups} if tokens else set()
    skipped_bare = [
        g.name or "(root)" for g in order[:first_owner] if g.tensors and g.name not in token_groups
    ]
    body = [g for g in order[:first_owner] if g.name in token_groups] + order[first_owner:]
    seq_len = (
        input_guess.shape[1]
        if input_guess.status == "fixed"
        and input_guess.shape
        and input_guess.kind in ("tokens", "sequence")
        and len(input_guess.shape) >= 2
        else None
    )
    whole = walk_chain(body, by_name, plan, after, "input", seq_len, tokens)
    first_guess = by_name.get(order[first_owner].name)
    shape, dtype = default_input(first_guess, input_guess)
    if whole.break_at is None and not skipped_bare:
        part, walk, note = RebuildPart.WHOLE, whole, "whole model is a chain"
    else:
        where = whole.break_at or (skipped_bare[0] if skipped_bare else "")
        why = whole.reason or "bare parameters (class token / position table) on a custom module"
        head_part = head_groups(order, by_name)
        head = walk_chain(head_part, by_name, {}, {}, "input") if head_part else None
        if head is not None and head.break_at is not None:
            head = None
        prefix_ok = whole.tensor_layers > 0 and not skipped_bare
        # A prefix reads the model's own input, so it checks the input guess: prefer it
        # unless it is a lone layer and a longer head exists.
        prefix_first = prefix_ok and (
            whole.tensor_layers >= 2 or any(st.type == "Tokens" for st in whole.steps)
        )
        if (
            head is not None
            and not prefix_first
            and (not prefix_ok or head.tensor_layers > whole.tensor_layers)
        ):
            hg = by_name[head_part[0].name]
            din, _ = layer_dims(hg)
            shape, dtype = (1, din or 1), float_dtype(head_part[0])
            part, walk = RebuildPart.HEAD, head
            note = f"head only ({head_part[0].name} .. {head_part[-1].name}): {why} at {where}"
        elif prefix_ok:
            part, walk = RebuildPart.PREFIX, whole
            last = whole.steps[-1].path if whole.steps else body[0].name
            note = f"prefix up to {last}: {why} at {where}"
            if tokens is not None and any(st.type == "Tokens" for st in whole.steps):
                note += (
                    f" (the patch tokens of {tokens.conv} meet the position table {tokens.pos_key})"
                )
        else:
            raise RebuildError(
                f"no chain can be built: {why} at {where}, and no flat head ends the model",
                path=state.path or None,
            )
    module = _build(walk.steps, state)
    info = RebuildInfo(
        part, shape, dtype, note, tuple(s.group.name for s in walk.steps if s.group is not None)
    )
    object.__setattr__(module, REBUILD_ATTR, info)
    logger.debug("rebuilt %s: %s", part, note)
    return module, note


# --- torch side -------------------------------------------------------------------------------


def _build(steps: list[Step], state: StateDict) -> nn.Module:
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
                    nxt = next(
                        (s for s in steps[i + 1 :] if s.group is not None and s.group.tensors), None
                    )
                    module = _make(step, nxt)
                _insert(root, step.path, module)
    except (TypeError, ValueError, RuntimeError, AttributeError, KeyError) as e:
        raise RebuildError(
            f"could not build {step.type} for {step.path or '(root)'}: {e}", path=state.path or None
        ) from e
    try:
        root.load_state_dict(sd, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as e:
        raise RebuildError(
            f"the checkpoint's tensor shapes do not load into the rebuilt "
            f"modules: {str(e).strip()[:600]}",
            path=state.path or None,
        ) from e
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


def _tokens_module(root: nn.Module, tokens: Tokens) -> nn.Module:
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
        if leaf in (
            "parametrizations.weight.original1",
            "weight_v",
            "weight_orig",
            "parametrizations.weight.original",
        ):
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


def _make(step: Step, nxt: Step | None) -> nn.Module:
    from torch import nn

    t, a = step.type, step.attrs
    if t.startswith(("Conv", "ConvTranspose")) and conv_dims(t):
        cls = _nn_class(t)
        k = tuple(a["kernel_size"])
        transposed = t.startswith("ConvTranspose")
        pad = a.get("padding", 0 if transposed else tuple((x - 1) // 2 for x in k))
        return cls(
            a["in_channels"],
            a["out_channels"],
            k,
            stride=a.get("stride", 1),
            padding=pad,
            groups=a.get("groups", 1),
            bias=a.get("bias", True),
        )
    if t in ("Linear", "NonDynamicallyQuantizableLinear"):
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
    if t.startswith(("BatchNorm", "InstanceNorm")):
        return _nn_class(t)(
            a["num_features"],
            affine=a.get("affine", True),
            track_running_stats=a.get("track_running_stats", True),
        )
    if t == "GroupNorm":
        c = a["num_channels"]
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if c % g == 0)
        return nn.GroupNorm(groups, c)
    if t == "LayerNorm":
        has_bias = step.group is None or step.group.tensor("bias") is not None
        affine = step.group is None or step.group.tensor("weight") is not None
        return nn.LayerNorm(
            a["normalized_shape"], elementwise_affine=affine, bias=has_bias if affine else True
        )
    if t == "RMSNorm":
        return nn.RMSNorm(a["normalized_shape"])
    if t == "LayerNorm2d":
        return _layer_norm_2d()(a["normalized_shape"])
    if t == "PReLU":
        return nn.PReLU(a.get("num_parameters", 1))
    if t in ("Embedding", "EmbeddingBag"):
        return _nn_class(t)(a["num_embeddings"], a["embedding_dim"])
    if t in RNN:
        # a classifier reads the last step; a language model (head back onto the token
        # table) reads every step; a head taking T x features reads them flattened
        lm = nxt is not None and a.get("vocab") and nxt.attrs.get("out_features") == a["vocab"]
        out_dim = (a.get("proj_size") or a["hidden_size"]) * (2 if a.get("bidirectional") else 1)
        last = (
            nxt is not None
            and nxt.type in FLAT_TYPES
            and not lm
            and nxt.attrs.get("in_features", out_dim) == out_dim
        )
        cls = _rnn_class(t, "last" if last else "seq")
        return cls(
            a["input_size"],
            a["hidden_size"],
            num_layers=a.get("num_layers", 1),
            bias=a.get("bias", True),
            batch_first=True,
            bidirectional=a.get("bidirectional", False),
            **({"proj_size": a["proj_size"]} if a.get("proj_size") else {}),
        )
    if t in CELLS:
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

        _CLASSES["LayerNorm2d"] = type(
            "LayerNorm2d", (nn.LayerNorm,), {"forward": forward, "__module__": __name__}
        )
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

        _CLASSES[key] = type(base, (parent,), {"forward": forward, "__module__": __name__})
    cls: type[nn.Module] = _CLASSES[key]
    return cls
