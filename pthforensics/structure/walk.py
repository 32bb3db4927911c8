"""The walk over a stub object tree: tensors, state_dicts, full-model pickles, metadata.

A mapping with string keys whose values are mostly tensors is a state_dict candidate (its
``_metadata`` read from the ``BUILD`` state of the ``OrderedDict``); a stub whose state
holds ``_modules`` is a ``torch.save(model)`` tree, whose state_dict keys are rebuilt from
``_parameters``/``_buffers`` (``torch/nn/modules/module.py``: non-persistent buffers
excluded); other values are walked for more, and small scalars kept as metadata.  The
walk is bounded by ``limits.max_depth``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import Limits, StateDict, TensorRecord
from pthforensics.safety import MappingStub, Stub

from .tensors import as_tensor

__all__ = ["TreeWalk", "mapping_items", "module_attributes", "module_versions", "walk_tree"]

#: Scalars kept as metadata per file, and the characters kept of each.
_MAX_METADATA = 200
_MAX_METADATA_TEXT = 200
#: Stub types that behave as mappings (their items are recorded by ``SETITEM``).
_MAPPING_STUBS = ("OrderedDict", "defaultdict", "Counter", "dict", "AttributeDict", "DictConfig")
#: Namespaces whose attributes are walked even once the metadata is full.
_NAMESPACES = ("Namespace", "SimpleNamespace")
#: Values kept as metadata.
_SCALARS = (str, int, float, bool, bytes)
#: A module's slots holding its own tensors (``nn.Module.__dict__``), and its children.
_TENSOR_SLOTS = ("_parameters", "_buffers")
#: Attributes kept per module of a full-model pickle, and the length of a tuple kept.
_MAX_MODULE_ATTRIBUTES = 48
_MAX_ATTRIBUTE_TUPLE = 16
#: ``nn.Module.__dict__`` entries that are no hyper-parameter (``training`` is the mode).
_NOT_ATTRIBUTES = frozenset({"training"})
#: Scalar types kept as module attributes (``bool`` is an ``int``).
_ATTRIBUTE_SCALARS = (int, float, str)


@dataclass
class TreeWalk:
    """What the walk collected (mutable while walking, local to one extraction)."""

    limits: Limits
    header: dict[str, TensorRecord]
    """Tensors declared by a non-pickle header, by key (persistent ids name them)."""
    tensors: list[TensorRecord] = field(default_factory=list)
    candidates: list[StateDict] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    capped: bool = False
    """Whether the tree nests deeper than the limit."""


def walk_tree(root: Any, walk: TreeWalk) -> None:
    """Walk the object tree ``root`` into ``walk``."""
    _walk(root, "", walk, 0)


def mapping_items(obj: Any) -> list[tuple[Any, Any]] | None:
    """Items of a dict or of a mapping stub (OrderedDict, defaultdict...)."""
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, Stub) and obj.pf_global.name in _MAPPING_STUBS:
        items = list(obj.pf_items)
        if (
            obj.pf_global.name == "OrderedDict"
            and obj.pf_args
            and isinstance(obj.pf_args[0], list | tuple)
        ):
            items = [
                tuple(i) for i in obj.pf_args[0] if isinstance(i, list | tuple) and len(i) == 2
            ] + items
        return items
    return None


def module_versions(obj: Any) -> tuple[tuple[str, int | None], ...] | None:
    """``state_dict._metadata`` (module path -> ``version``) from the state a ``BUILD``
    gave the mapping ``obj``; ``None`` when it has none."""
    state = getattr(obj, "pf_state", None) if isinstance(obj, Stub | MappingStub) else None
    if isinstance(state, tuple) and state and isinstance(state[0], dict):
        state = state[0]
    meta = state.get("_metadata") if isinstance(state, dict) else None
    items = mapping_items(meta) if meta is not None else None
    if items is None:
        return None
    out: list[tuple[str, int | None]] = []
    for path, info in items:
        version = None
        info_items = mapping_items(info)
        if info_items:
            version = next(
                (v for k, v in info_items if k == "version" and isinstance(v, int)), None
            )
        out.append((str(path), version))
    return tuple(out)


def _is_module_stub(obj: Any) -> bool:
    return (
        isinstance(obj, Stub)
        and isinstance(_state_dict_of(obj), dict)
        and "_modules" in _state_dict_of(obj)
    )


def _state_dict_of(obj: Stub) -> Any:
    state = obj.pf_state
    if isinstance(state, tuple) and state and isinstance(state[0], dict):
        return state[0]
    return state


def _walk(obj: Any, path: str, walk: TreeWalk, depth: int) -> None:
    """One value at ``path``: a tensor, a model tree, a mapping, a sequence, a stub or a
    scalar, each handled by its own step."""
    if depth > walk.limits.max_depth:
        walk.capped = True
        return
    tensor = as_tensor(obj, path, walk.header)
    if tensor is not None:
        walk.tensors.append(tensor)
        return
    if _is_module_stub(obj):
        _walk_module(obj, path, walk, depth)
        return
    items = mapping_items(obj)
    if items is not None:
        _walk_mapping(obj, items, path, walk, depth)
    elif isinstance(obj, list | tuple | set | frozenset):
        for i, v in enumerate(obj):
            _walk(v, _child(path, i), walk, depth + 1)
    elif isinstance(obj, Stub):
        _walk_stub(obj, path, walk, depth)
    elif len(walk.metadata) < _MAX_METADATA and isinstance(obj, _SCALARS) and path:
        text = repr(obj) if not isinstance(obj, str) else obj
        walk.metadata.append((path, text[:_MAX_METADATA_TEXT]))


def _child(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _walk_mapping(
    obj: Any, items: list[tuple[Any, Any]], path: str, walk: TreeWalk, depth: int
) -> None:
    """A mapping whose values are mostly tensors is a state_dict candidate; whatever else
    it holds is walked on."""
    header = walk.header
    found = [
        t for k, v in items if isinstance(k, str) and (t := as_tensor(v, k, header)) is not None
    ]
    if found and len(found) * 2 >= len(items):
        records = tuple(found)
        walk.tensors.extend(records)
        walk.candidates.append(StateDict(path, records, (), module_versions(obj)))
        if len(found) == len(items):
            rest = []  # a pure state_dict: nothing else to walk
        else:
            taken = {t.key for t in found}
            rest = [(k, v) for k, v in items if not (isinstance(k, str) and k in taken)]
    else:
        rest = items
    for k, v in rest:
        _walk(v, _child(path, k), walk, depth + 1)


def _walk_stub(obj: Stub, path: str, walk: TreeWalk, depth: int) -> None:
    """An object a call built: its state's attributes, else its containers among the
    arguments and what ``APPEND``/``SETITEM`` put into it."""
    state = _state_dict_of(obj)
    if isinstance(state, dict):
        if obj.pf_global.name in _NAMESPACES or len(walk.metadata) < _MAX_METADATA:
            for k, v in state.items():
                _walk(v, _child(path, k), walk, depth + 1)
        return
    for i, v in enumerate(obj.pf_args):
        if isinstance(v, list | tuple | dict | Stub):
            _walk(v, _child(path, i), walk, depth + 1)
    if obj.pf_items or obj.pf_list:
        _walk([v for _, v in obj.pf_items] + obj.pf_list, path, walk, depth + 1)


def _attribute_value(value: Any) -> Any:
    """A module attribute kept as it is (a scalar, ``None``, a short tuple of scalars, a
    ``torch.Size``), else ``...`` (not kept)."""
    if value is None or isinstance(value, _ATTRIBUTE_SCALARS):
        return value if not isinstance(value, str) else value[:_MAX_METADATA_TEXT]
    if isinstance(value, Stub) and value.pf_global.name == "Size" and value.pf_args:
        value = value.pf_args[0]
    if isinstance(value, list | tuple) and len(value) <= _MAX_ATTRIBUTE_TUPLE:
        items = tuple(_attribute_value(v) for v in value)
        if all(v is not ... and not isinstance(v, tuple) for v in items):
            return items
    return ...


def module_attributes(state: dict[Any, Any]) -> tuple[tuple[str, Any], ...]:
    """The hyper-parameters a module stored in its ``__dict__`` (public names only:
    ``stride``, ``padding``, ``ceil_mode``, ``output_size``, a custom ``dim_in``...)."""
    out: list[tuple[str, Any]] = []
    for name, value in state.items():
        if not isinstance(name, str) or name.startswith("_") or name in _NOT_ATTRIBUTES:
            continue
        kept = _attribute_value(value)
        if kept is not ...:
            out.append((name, kept))
            if len(out) >= _MAX_MODULE_ATTRIBUTES:
                break
    return tuple(out)


def _walk_module(obj: Stub, path: str, walk: TreeWalk, depth: int) -> None:
    """A ``torch.save(model)`` object tree: rebuild state_dict keys from it, with every
    module's class and stored hyper-parameters."""
    tensors: list[TensorRecord] = []
    classes: list[tuple[str, str]] = []
    attributes: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
    stack: list[tuple[str, Stub, int]] = [("", obj, depth)]
    while stack:
        prefix, module, level = stack.pop(0)
        if level > walk.limits.max_depth:
            walk.capped = True
            continue
        classes.append((prefix.rstrip("."), str(module.pf_global)))
        state = _state_dict_of(module)
        stored = module_attributes(state)
        if stored:
            attributes.append((prefix.rstrip("."), stored))
        non_persistent = state.get("_non_persistent_buffers_set")
        skip = (
            set(non_persistent.pf_args[0])
            if isinstance(non_persistent, Stub)
            and non_persistent.pf_args
            and isinstance(non_persistent.pf_args[0], list)
            else set()
        )
        for slot in _TENSOR_SLOTS:
            for name, value in mapping_items(state.get(slot)) or []:
                if slot == "_buffers" and name in skip:
                    continue
                record = as_tensor(value, f"{prefix}{name}", walk.header)
                if record is not None:
                    tensors.append(record)
        children = [
            (f"{prefix}{name}.", child, level + 1)
            for name, child in mapping_items(state.get("_modules")) or []
            if isinstance(child, Stub)
        ]
        stack[0:0] = children
    walk.tensors.extend(tensors)
    versions = tuple((p, None) for p, _ in classes)
    walk.candidates.append(
        StateDict(path, tuple(tensors), (), versions, tuple(classes), tuple(attributes))
    )
