"""Rebuild the guessed model as ``torch.nn`` modules on the meta device.

``rebuild_sequential`` plans the part to build (:mod:`.parts`: the whole chain, a prefix
or a flat head), makes each step's module (:mod:`.modules`) and nests them as
``nn.Sequential`` containers named like the checkpoint, so that
``load_state_dict(strict=True, assign=True)`` with meta tensors of the recorded shapes and
dtypes checks every key and shape without reading a weight value.  Re-parametrised
weights (weight_norm, spectral_norm, parametrize) load as their plain ``weight``.

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
    StateDict,
)

from .modules import make_module, tokens_module
from .parts import plan_rebuild
from .state import Step

if TYPE_CHECKING:
    from torch import nn

__all__ = ["REBUILD_ATTR", "rebuild_sequential"]

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


def rebuild_sequential(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
) -> tuple[nn.Module, str]:
    """Build the model (or its largest traceable part) on the meta device and load the
    checkpoint's tensor shapes into it strictly.

    Returns the module and a note saying what was rebuilt and why; raises
    :class:`~pthforensics.core.RebuildError` when no chain can be built.
    """
    part = plan_rebuild(groups, guesses, input_guess, state)
    module = _build(list(part.steps), state)
    info = RebuildInfo(
        part.part,
        part.input_shape,
        part.input_dtype,
        part.note,
        tuple(s.group.name for s in part.steps if s.group is not None),
    )
    object.__setattr__(module, REBUILD_ATTR, info)
    logger.debug("rebuilt %s: %s", part.part, part.note)
    return module, part.note


def _build(steps: list[Step], state: StateDict) -> nn.Module:
    """The modules of ``steps`` nested by path, with the checkpoint's shapes loaded."""
    import torch
    from torch import nn

    root = nn.Sequential()
    sd: dict[str, torch.Tensor] = {}
    try:
        with torch.device("meta"):
            for i, step in enumerate(steps):
                _add_step(root, step, steps[i + 1 :], sd, torch)
    except (TypeError, ValueError, RuntimeError, AttributeError, KeyError) as e:
        raise RebuildError(
            f"could not build {step.type} for {step.path or '(root)'}: {e}", path=state.path or None
        ) from e
    try:
        root.load_state_dict(sd, strict=True, assign=True)
    except (RuntimeError, ValueError, TypeError) as e:
        raise RebuildError(
            f"the checkpoint's tensor shapes do not load into the rebuilt "
            f"modules: {str(e).strip()[:_MESSAGE_CHARS]}",
            path=state.path or None,
        ) from e
    root.eval()
    return root


def _add_step(
    root: nn.Module, step: Step, later: list[Step], sd: dict[str, Any], torch: Any
) -> None:
    """Make ``step`` (``later``: the steps after it) and put it in place; its tensors go
    into ``sd``."""
    if step.group is not None:
        sd.update(_meta_tensors(step.group, torch))
    if step.type == "Parameters":
        assert step.group is not None
        _register(root, step.group, sd, torch)
        return
    if step.type == "Tokens":
        module = tokens_module(root, step.attrs["tokens"])
    else:
        nxt = next((s for s in later if s.group is not None and s.group.tensors), None)
        module = make_module(step, nxt)
    _insert(root, step.path, module)


def _container(root: nn.Module, path: str) -> nn.Module:
    """The (nested) ``nn.Sequential`` at ``path``, made on the way."""
    from torch import nn

    parent = root
    for comp in path.split(".") if path else []:
        child = parent._modules.get(comp)
        if child is None:
            child = nn.Sequential()
            parent.add_module(comp, child)
        parent = child
    return parent


def _leaf(group: LayerGroup, key: str) -> str:
    return key[len(group.name) + 1 :] if group.name else key


def _register(root: nn.Module, group: LayerGroup, sd: dict[str, Any], torch: Any) -> None:
    """Bare parameters/buffers of a custom module, registered where the keys expect them."""
    owner = _container(root, group.name)
    for t in group.tensors:
        leaf = _leaf(group, t.key)
        value = sd[t.key]
        if value.is_floating_point():
            owner.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
        else:
            owner.register_buffer(leaf, value)


def _insert(root: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, last = path.rpartition(".") if path else ("", "", "root")
    _container(root, parent_path).add_module(last, module)


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
