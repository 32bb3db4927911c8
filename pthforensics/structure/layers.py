"""Group state_dict tensors into modules, in registration order.

A ``state_dict`` key is ``<module path>.<leaf>``: ``nn.Module._save_to_state_dict`` writes a
module's own parameters and buffers, then ``Module.state_dict`` recurses into the children
in registration order (pytorch: torch/nn/modules/module.py ``state_dict``).  The same
traversal fills ``state_dict._metadata`` with one entry per module, parameter-less ones
(ReLU, MaxPool2d, Flatten, Dropout) included, so when it is present it gives both the order
and the position of every module.  Without it we fall back on the stored key order, and
when the keys are sorted (safetensors writes them sorted, so ``layer10`` comes before
``layer2`` and ``bn1`` before ``conv1``) on a natural sort with a few naming conventions
(:mod:`.order`).

Special leaves follow torch.nn layouts: ``parametrizations.<name>.original0/1``
(torch/nn/utils/parametrize.py) belong to the module that owns ``parametrizations``.

Pure: no torch, no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple

from pthforensics.core import LayerGroup, LayerOrder, LayerSource, StateDict, TensorRecord

from .order import insert_gaps, looks_sorted, restore_order

__all__ = ["group_layers", "module_and_leaf"]

logger = logging.getLogger(__name__)

_PARAMETRIZATIONS = "parametrizations"


def module_and_leaf(key: str) -> tuple[str, str]:
    """Split a state_dict key into (module path, leaf), e.g. ``features.0.weight`` ->
    ``('features.0', 'weight')``; ``conv.parametrizations.weight.original0`` ->
    ``('conv', 'parametrizations.weight.original0')``; a root parameter ``cls_token`` ->
    ``('', 'cls_token')``."""
    parts = key.split(".")
    if _PARAMETRIZATIONS in parts[:-1]:
        i = parts.index(_PARAMETRIZATIONS)
        return ".".join(parts[:i]), ".".join(parts[i:])
    if len(parts) == 1:
        return "", key
    return ".".join(parts[:-1]), parts[-1]


def _is_parametrization_path(path: str) -> bool:
    """Submodules created by torch.nn.utils.parametrize (never layers of their own)."""
    return _PARAMETRIZATIONS in path.split(".")


def _strip(path: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        p = prefix.rstrip(".")
        if p and (path == p or path.startswith(p + ".")):
            return path[len(p) + 1 :] if path != p else ""
    return path


def _metadata_paths(state: StateDict, owners: set[str]) -> list[tuple[str, int | None]]:
    """``_metadata`` entries, with wrapper prefixes removed when the keys lost them."""
    entries = list(state.module_versions or ())
    if not entries:
        return []
    names = {p for p, _ in entries}
    if owners and not (owners - {""}) & names and state.stripped_prefixes:
        entries = [(_strip(p, state.stripped_prefixes), v) for p, v in entries]
    seen: set[str] = set()
    out = []
    for path, version in entries:
        if path not in seen:
            seen.add(path)
            out.append((path, version))
    return out


def _prefixes(paths: Iterable[str]) -> set[str]:
    """Every proper ancestor of the given module paths (``''`` is the root's)."""
    prefixes = set()
    for p in paths:
        if not p:
            continue
        prefixes.add("")
        parts = p.split(".")
        for i in range(1, len(parts)):
            prefixes.add(".".join(parts[:i]))
    return prefixes


def _leaves(paths: Iterable[str]) -> set[str]:
    paths = [p for p in paths if p]
    prefixes = _prefixes(paths)
    return {p for p in paths if p not in prefixes}


def _index_gaps(owners: list[str]) -> list[str]:
    """Missing indices of numbered containers: parameter-less modules (ReLU, pools...)."""
    children: dict[str, set[int]] = {}
    named: set[str] = set()
    for path in owners:
        parts = path.split(".")
        for i in range(len(parts)):
            parent = ".".join(parts[:i])
            if parts[i].isdigit():
                children.setdefault(parent, set()).add(int(parts[i]))
            else:
                named.add(parent)
    gaps: list[str] = []
    for parent, idx in children.items():
        if parent in named or len(idx) < 2:
            continue  # a container mixing names and numbers is no nn.Sequential
        prefix = f"{parent}." if parent else ""
        gaps.extend(f"{prefix}{i}" for i in range(max(idx)) if i not in idx)
    return gaps


def group_layers(state: StateDict) -> tuple[LayerGroup, ...]:
    """Group ``state.tensors`` by owning module, in registration order.

    Modules owning tensors become groups with their tensors; parameter-less leaf modules
    listed in ``_metadata`` (or named by a full-model pickle) become groups with no tensors
    (``source='metadata'``), and so do missing indices of numbered containers when there is
    no metadata (``source='index-gap'``).  Containers that own nothing are left out.

    Steps: tensors by owning module (:func:`_by_module`), the module structure the file
    declares (:func:`_declared`), the parameter-less modules (:func:`_parameterless`), their
    order (:func:`_order`), then one :class:`LayerGroup` per module.
    """
    by_module, first_seen = _by_module(state.tensors)
    owners = set(by_module)
    declared = _declared(state, owners)
    all_paths = set(declared.structure) | owners
    paramless, source = _parameterless(declared.structure, all_paths, owners, first_seen)
    order, how = _order(state, declared.structure, first_seen, paramless)
    if "" in declared.attributes and "" not in order:
        order.insert(0, "")  # the root's stored hyper-parameters (a custom model's dim_in)
    has_children = _prefixes(all_paths)
    groups = tuple(
        LayerGroup(
            name=path,
            tensors=tuple(by_module.get(path, ())),
            version=declared.versions.get(path),
            class_name=declared.classes.get(path),
            index=index,
            source=source.get(path, LayerSource.TENSORS),
            has_children=path in has_children,
            order=how,
            attributes=declared.attributes.get(path, ()),
        )
        for index, path in enumerate(order)
    )
    logger.debug(
        "grouped %d tensors into %d modules (%d parameter-less)",
        len(state.tensors),
        len(groups),
        len(paramless),
    )
    return groups


def _by_module(
    tensors: tuple[TensorRecord, ...],
) -> tuple[dict[str, list[TensorRecord]], list[str]]:
    """Tensors by the module that owns them, and the modules in the order first met."""
    by_module: dict[str, list[TensorRecord]] = {}
    first_seen: list[str] = []
    for t in tensors:
        module, _ = module_and_leaf(t.key)
        if module not in by_module:
            by_module[module] = []
            first_seen.append(module)
        by_module[module].append(t)
    return by_module, first_seen


class _Declared(NamedTuple):
    """What the file says of its modules besides its tensors."""

    structure: list[str]
    """Every module path in registration order (``_metadata``, else the full-model
    pickle's classes), parametrization submodules left out; empty when neither exists."""
    versions: dict[str, int | None]
    """Module path -> ``_metadata`` version."""
    classes: dict[str, str]
    """Module path -> ``module.Class`` named by a full-model pickle."""
    attributes: dict[str, tuple[tuple[str, Any], ...]]
    """Module path -> hyper-parameters a full-model pickle stored on it."""


def _declared(state: StateDict, owners: set[str]) -> _Declared:
    meta = _metadata_paths(state, owners)
    classes = {
        _strip(p, state.stripped_prefixes) if p not in owners else p: c
        for p, c in state.class_names
    }
    attributes = {
        _strip(p, state.stripped_prefixes) if p not in owners else p: a
        for p, a in state.module_attributes
    }
    structure = [p for p, _ in meta] or [p for p, _ in state.class_names]
    structure = [p for p in structure if not _is_parametrization_path(p)]
    return _Declared(structure, dict(meta), classes, attributes)


def _parameterless(
    structure: list[str], all_paths: set[str], owners: set[str], first_seen: list[str]
) -> tuple[list[str], dict[str, LayerSource]]:
    """Leaf modules that own no tensor: declared ones, else the missing indices of
    numbered containers (ReLU, pools, dropout in an ``nn.Sequential``); with their source."""
    leaves = _leaves(all_paths)
    paramless = [p for p in structure if p in leaves and p not in owners]
    source = dict.fromkeys(paramless, LayerSource.METADATA)
    if not structure:
        for gap in _index_gaps([p for p in first_seen if p]):
            if gap not in owners:
                paramless.append(gap)
                source[gap] = LayerSource.INDEX_GAP
    return paramless, source


def _order(
    state: StateDict, structure: list[str], first_seen: list[str], paramless: list[str]
) -> tuple[list[str], LayerOrder]:
    """The modules in registration order, and how that order was known: the declared
    structure, else the stored key order (restored when the keys come sorted)."""
    members = list(dict.fromkeys(first_seen + paramless))
    if structure:
        return _merge_declared(structure, members), LayerOrder.METADATA
    if looks_sorted([t.key for t in state.tensors], len({t.dtype for t in state.tensors})):
        return restore_order(members), LayerOrder.RESTORED
    if paramless:
        return insert_gaps(first_seen, paramless), LayerOrder.STORED
    return members, LayerOrder.STORED


def _merge_declared(structure: list[str], members: list[str]) -> list[str]:
    """``members`` in declared order; modules missing from the declaration keep their
    place after the module whose tensors preceded them (a stable merge)."""
    position = {p: i for i, p in enumerate(structure)}
    anchored = sorted((position[p], i, p) for i, p in enumerate(members) if p in position)
    pending = [p for p in members if p not in position]
    order = [p for _, _, p in anchored]
    for p in pending:
        i = members.index(p)
        prev = next((q for q in reversed(members[:i]) if q in order), None)
        order.insert(order.index(prev) + 1 if prev is not None else 0, p)
    return order
