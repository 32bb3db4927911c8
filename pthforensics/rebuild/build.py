"""Rebuild the guessed model as ``torch.nn`` modules on the meta device.

``rebuild_model`` plans a program (:mod:`.program`: the whole model, or its largest
verifiable part), makes each planned module (:mod:`.modules`) at its checkpoint path inside
a ``GraphModel`` (:mod:`.ops`) that runs the program, and loads meta tensors of the recorded
shapes and dtypes with ``load_state_dict(strict=True, assign=True)``: every key and shape
is checked, no weight value is read.  Re-parametrised weights (weight_norm, spectral_norm,
parametrize) load as their plain ``weight``.

This is the generic path; a rebuild of the real library class (when its signature is
known and the library installed) can return any ``nn.Module`` carrying a
:class:`~pthforensics.core.RebuildInfo` under :data:`REBUILD_ATTR`, and
:func:`~.trace.trace_model` traces it the same way.

torch is imported inside the functions: importing this module does not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pthforensics.core import (
    InputGuess,
    InputHypothesis,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildInfo,
    StateDict,
)

from .modules import make_module
from .program import Program, plan_program
from .values import OpKind

if TYPE_CHECKING:
    from torch import nn

__all__ = ["REBUILD_ATTR", "build_program", "rebuild_model"]

logger = logging.getLogger(__name__)

#: Attribute of the returned module holding its :class:`RebuildInfo`.
REBUILD_ATTR = "pthforensics_rebuild"

#: Leaves that load as the plain ``weight`` of the rebuilt module (the direction of a
#: weight norm, the original of a spectral norm or parametrization).
_AS_WEIGHT = (
    "parametrizations.weight.original1",
    "weight_v",
    "weight_orig",
    "parametrizations.weight.original",
)
#: Leaves with no counterpart in the plain module (weight-norm gains, power iterations).
_DROPPED = ("parametrizations.weight.original0", "weight_g", "weight_u")
_MESSAGE_CHARS = 600


def rebuild_model(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
    hypothesis: InputHypothesis | None = None,
) -> nn.Module:
    """The model (or its largest verifiable part) under ``hypothesis`` (default: the
    guess's own reading), on the meta device with the checkpoint's shapes loaded
    strictly; its :class:`RebuildInfo` is under :data:`REBUILD_ATTR`.  Raises
    :class:`~pthforensics.core.RebuildError` when nothing can be built."""
    program = plan_program(groups, guesses, input_guess, state, hypothesis)
    module = build_program(program, groups, state)
    info = RebuildInfo(
        program.part,
        program.input_shape,
        program.input_dtype,
        program.note,
        tuple(g.name for g in groups if g.name in program.covered and g.tensors),
        hypothesis.name if hypothesis is not None else "",
        program.assumptions,
        program.hypothetical,
        program.unused,
    )
    object.__setattr__(module, REBUILD_ATTR, info)
    logger.debug("rebuilt %s: %s", program.part, program.note)
    return module


def build_program(program: Program, groups: Sequence[LayerGroup], state: StateDict) -> nn.Module:
    """The ``GraphModel`` (:mod:`.ops`) of ``program`` with the checkpoint's shapes loaded."""
    import torch

    from .ops import torch_classes

    classes = torch_classes()
    root: nn.Module = classes["GraphModel"](
        program.ops, [(v.id, v.sizes) for v in program.inputs], program.output
    )
    sd: dict[str, Any] = {}
    loaded = [g for g in groups if g.name in program.covered and g.tensors]
    current = "(root)"
    try:
        with torch.device("meta"):
            for spec in program.specs:
                current = spec.path
                _insert(root, spec.path, make_module(spec))
            for op in program.ops:
                current = op.target
                if op.kind is OpKind.ATTEND:
                    _insert(root, op.target, classes["Attend"]())
                elif op.kind is OpKind.TOKENS:
                    a = op.attr
                    _insert(root, op.target, classes["Tokenize"](root, a["cls"], a["pos"]))
            for group in loaded:
                current = group.name
                sd.update(_meta_tensors(group, torch))
            for group in program.held:
                _register(root, group, sd, torch)
    except (TypeError, ValueError, RuntimeError, AttributeError, KeyError) as e:
        raise RebuildError(
            f"could not build {current or '(root)'}: {e}", path=state.path or None
        ) from e
    try:
        root.load_state_dict(sd, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as e:
        raise RebuildError(
            "the checkpoint's tensor shapes do not load into the rebuilt "
            f"modules: {str(e).strip()[:_MESSAGE_CHARS]}",
            path=state.path or None,
        ) from e
    root.eval()
    return root


def _container(root: nn.Module, path: str) -> nn.Module:
    """The module at ``path``, made (as an empty container) on the way."""
    from .ops import torch_classes

    container = torch_classes()["Container"]
    parent = root
    for comp in path.split(".") if path else []:
        child = parent._modules.get(comp)
        if child is None:
            child = container()
            parent.add_module(comp, child)
        parent = child
    return parent


def _insert(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, last = path.rpartition(".")
    parent = _container(root, parent_path)
    existing = parent._modules.get(last)
    if existing is not None:
        for name, child in existing.named_children():
            module.add_module(name, child)  # a container made before its own module
    parent.add_module(last, module)


def _leaf(group: LayerGroup, key: str) -> str:
    return key[len(group.name) + 1 :] if group.name else key


def _register(root: nn.Module, group: LayerGroup, sd: dict[str, Any], torch: Any) -> None:
    """Bare parameters/buffers of a custom module, registered where the keys expect them."""
    owner = _container(root, group.name)
    for t in group.tensors:
        leaf = _leaf(group, t.key)
        value = sd[t.key]
        holder = _container(owner, leaf.rpartition(".")[0]) if "." in leaf else owner
        name = leaf.rpartition(".")[2]
        if value.is_floating_point():
            holder.register_parameter(name, torch.nn.Parameter(value, requires_grad=False))
        else:
            holder.register_buffer(name, value)


def _meta_tensors(group: LayerGroup, torch: Any) -> dict[str, Any]:
    """Meta tensors of the group's recorded shapes and dtypes, keyed as the plain module
    expects them."""
    out = {}
    for t in group.tensors:
        leaf = _leaf(group, t.key)
        if leaf in _AS_WEIGHT:
            if leaf == "weight_v" and not any(x.key.endswith("weight_g") for x in group.tensors):
                continue  # spectral_norm's power-iteration vector
            leaf = "weight"
        elif leaf in _DROPPED:
            continue
        dtype = getattr(torch, t.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise RebuildError(f"unknown dtype {t.dtype!r} for {t.key}")
        key = f"{group.name}.{leaf}" if group.name else leaf
        out[key] = torch.empty(t.shape, dtype=dtype, device="meta")
    return out
