"""From the stub object tree to tensor records, state_dicts and metadata.

Interprets what :mod:`pthforensics.unpickle` built: which stubs are tensors
(``torch._utils._rebuild_*``, as in ``torch/_utils.py``), which mappings are model
state_dicts (string keys whose values are tensors), which wrapper holds the model
(``state_dict``, ``model``, Lightning and EMA checkpoints, ``torch.save(model)``
object trees rebuilt from ``_modules``/``_parameters``/``_buffers``), and checks
every tensor against the storage index (missing or short storages, shapes that do
not fit).  Nothing is read from the file here.
"""

from __future__ import annotations

import logging
import math
import operator
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pthforensics.core import (
    DEFAULT_LIMITS,
    Checkpoint,
    CheckpointKind,
    Container,
    Finding,
    Limits,
    Location,
    Severity,
    StateDict,
    StorageEntry,
    TensorRecord,
    TensorSummary,
    new_record,
)
from pthforensics.core.vocab import dtype_name, learnable_keys, storage_dtype
from pthforensics.core.vocab import itemsize as _itemsize
from pthforensics.safety.unpickle import (
    GlobalName,
    MappingStub,
    PersistentRef,
    Recorder,
    StorageRef,
    Stub,
    TensorCall,
)

__all__ = [
    "check_integrity",
    "extract_checkpoint",
    "strip_prefixes",
    "summarize",
    "unreferenced_storages",
]

logger = logging.getLogger(__name__)

_REBUILD_TENSOR = frozenset(
    {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_qtensor"}
)
_REBUILD_PARAM = frozenset({"_rebuild_parameter", "_rebuild_parameter_with_state"})


#: Names of checkpoint entries that hold the model's own weights, in order of preference.
_MAIN_NAMES = (
    "state_dict",
    "model_state_dict",
    "model_state",
    "model",
    "module",
    "net",
    "network",
    "weights",
    "params",
    "model_dict",
    "generator",
    "student",
)
_NOT_MODEL = (
    "optimizer",
    "optim",
    "scheduler",
    "lr_scheduler",
    "scaler",
    "amp",
    "optimizer_states",
    "lr_schedulers",
    "callbacks",
    "loops",
    "rng",
)
#: Prefixes added by wrappers: DataParallel/DDP, torch.compile, Lightning, EMA helpers.
_WRAPPER_PREFIXES = (
    "module.",
    "_orig_mod.",
    "model.",
    "ema_model.",
    "model_ema.",
    "ema.",
    "net.",
    "network.",
    "_forward_module.",
    "_model.",
)


_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")
_ITEMSIZE_OF = operator.attrgetter("itemsize")


def summarize(tensors: tuple[TensorRecord, ...]) -> TensorSummary:
    """Counts of one state_dict for the report; shared storages are counted once.

    Column-wise (``map`` over the records' fields runs at C speed): this runs once per file
    over every tensor, thousands per file in a batch.
    """
    dtypes = Counter(map(_DTYPE, tensors))
    views = [
        (t.storage_key, t.storage_offset, t.shape) for t in tensors if t.storage_key is not None
    ]
    if len(set(views)) != len(views):  # the same view saved twice (tied weights)
        seen: set[tuple[str | None, int, tuple[int, ...]]] = set()
        unique = []
        for t in tensors:
            view = (t.storage_key, t.storage_offset, t.shape)
            if t.storage_key is None or view not in seen:
                seen.add(view)
                unique.append(t)
        tensors = tuple(unique)
    numels = list(map(math.prod, map(_SHAPE, tensors)))
    total_bytes = sum(map(operator.mul, numels, map(_ITEMSIZE_OF, tensors)))
    learnable = learnable_keys(tensors)
    params = sum(n for n, t in zip(numels, tensors, strict=True) if t.key in learnable)
    return TensorSummary(sum(dtypes.values()), params, total_bytes, tuple(sorted(dtypes.items())))


@dataclass
class _Walk:
    limits: Limits
    header: dict[str, TensorRecord]
    tensors: list[TensorRecord] = field(default_factory=list)
    candidates: list[StateDict] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    capped: bool = False


def _global(obj: Any) -> GlobalName | None:
    if isinstance(obj, Stub | Recorder):
        return obj.pf_global
    if isinstance(obj, type) and issubclass(obj, Stub | MappingStub):
        return obj.pf_global
    return None


def _dtype_name(obj: Any) -> str | None:
    g = _global(obj)
    if g is None or g.module != "torch":
        return None
    return dtype_name(g.name)


def _as_tensor(obj: Any, key: str, walk: _Walk) -> TensorRecord | None:
    """The tensor a recorded rebuild call describes, or ``None`` when ``obj`` is not one."""
    g: GlobalName | None
    if type(obj) is TensorCall:
        g, args = obj
    else:
        g = _global(obj)
        if g is None:
            if isinstance(obj, PersistentRef) and isinstance(obj.pid, str | bytes):
                pid = obj.pid if isinstance(obj.pid, str) else obj.pid.decode("latin-1")
                base = walk.header.get(pid)
                return _rekey(base, key) if base else None
            return None
        args = obj.pf_args if isinstance(obj, Stub) else ()
    if (
        g.name in _REBUILD_TENSOR
        and g.module == "torch._utils"
        and len(args) >= 4
        and isinstance(args[0], StorageRef)
    ):
        return _storage_tensor(g.name, args, key)  # every plain tensor: tested first
    if g.module == "torch._tensor" and g.name.startswith("_rebuild_from_type") and len(args) >= 3:
        inner = args[0]
        if isinstance(inner, Recorder) and isinstance(args[2], tuple):
            return _as_tensor(inner(*args[2]), key, walk)  # our recorder: records only
        return None
    if g.module != "torch._utils":
        return None
    if g.name in _REBUILD_PARAM and args:
        base = _as_tensor(args[0], key, walk)
        if base is None:
            return None
        return TensorRecord(
            key,
            base.shape,
            base.dtype,
            base.stride,
            base.storage_key,
            base.storage_offset,
            base.itemsize,
            bool(args[1]) if len(args) > 1 else True,
            is_parameter=True,
        )
    if g.name == "_rebuild_meta_tensor_no_storage" and len(args) >= 2:
        shape = _ints(args[1])
        dtype = _dtype_name(args[0]) or "float32"
        return TensorRecord(
            key,
            shape or (),
            dtype,
            _ints(args[2]) if len(args) > 2 else None,
            None,
            0,
            _itemsize(dtype),
        )
    if g.name == "_rebuild_wrapper_subclass" and len(args) >= 3:
        dtype = _dtype_name(args[1]) or "float32"
        return TensorRecord(key, _ints(args[2]) or (), dtype, None, None, 0, _itemsize(dtype))
    return None


def _storage_tensor(name: str, args: tuple[Any, ...], key: str) -> TensorRecord | None:
    """``_rebuild_tensor*(storage, offset, shape, stride, requires_grad, ...)``: what
    ``torch.save`` writes for every tensor backed by a storage (thousands per file)."""
    storage: StorageRef = args[0]
    dtype, itemsize = _storage_dtype(storage)
    if name == "_rebuild_tensor_v3" and len(args) >= 7 and _dtype_name(args[6]):
        dtype = _dtype_name(args[6]) or dtype
        itemsize = _itemsize(dtype)
    shape = _ints(args[2])
    if shape is None:
        return None
    return new_record(
        TensorRecord,
        (
            key,
            shape,
            dtype,
            _ints(args[3]),
            storage.key,
            args[1] if isinstance(args[1], int) else 0,
            itemsize,
            bool(args[4]) if len(args) > 4 and name != "_rebuild_qtensor" else False,
            False,
        ),
    )


def _rekey(record: TensorRecord, key: str) -> TensorRecord:
    return TensorRecord(
        key,
        record.shape,
        record.dtype,
        record.stride,
        record.storage_key,
        record.storage_offset,
        record.itemsize,
        record.requires_grad,
        record.is_parameter,
    )


def _storage_dtype(storage: StorageRef) -> tuple[str, int]:
    name = storage.storage_type.name if storage.storage_type else "UntypedStorage"
    return storage_dtype(name)


def _ints(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, Stub) and value.pf_global.name == "Size":
        value = value.pf_args[0] if value.pf_args else ()
    if not isinstance(value, tuple | list):
        return None
    try:
        return tuple(map(operator.index, value))  # ints only (C speed); anything else: None
    except TypeError:
        return None


def _mapping_items(obj: Any) -> list[tuple[Any, Any]] | None:
    """Items of a dict or of a mapping stub (OrderedDict, defaultdict...)."""
    if isinstance(obj, dict):
        return list(obj.items())
    if isinstance(obj, Stub) and obj.pf_global.name in (
        "OrderedDict",
        "defaultdict",
        "Counter",
        "dict",
        "AttributeDict",
        "DictConfig",
    ):
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


def _module_versions(obj: Any) -> tuple[tuple[str, int | None], ...] | None:
    state = getattr(obj, "pf_state", None) if isinstance(obj, Stub | MappingStub) else None
    if isinstance(state, tuple) and state and isinstance(state[0], dict):
        state = state[0]
    meta = state.get("_metadata") if isinstance(state, dict) else None
    items = _mapping_items(meta) if meta is not None else None
    if items is None:
        return None
    out: list[tuple[str, int | None]] = []
    for path, info in items:
        version = None
        info_items = _mapping_items(info)
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


def _walk(obj: Any, path: str, walk: _Walk, depth: int) -> None:
    if depth > walk.limits.max_depth:
        walk.capped = True
        return
    tensor = _as_tensor(obj, path, walk)
    if tensor is not None:
        walk.tensors.append(tensor)
        return
    if _is_module_stub(obj):
        _walk_module(obj, path, walk, depth)
        return
    items = _mapping_items(obj)
    if items is not None:
        found = [
            t for k, v in items if isinstance(k, str) and (t := _as_tensor(v, k, walk)) is not None
        ]
        if found and len(found) * 2 >= len(items):
            records = tuple(found)
            walk.tensors.extend(records)
            walk.candidates.append(StateDict(path, records, (), _module_versions(obj)))
            if len(found) == len(items):
                rest = []  # a pure state_dict: nothing else to walk
            else:
                taken = {t.key for t in found}
                rest = [(k, v) for k, v in items if not (isinstance(k, str) and k in taken)]
        else:
            rest = items
        for k, v in rest:
            _walk(v, f"{path}.{k}" if path else str(k), walk, depth + 1)
        return
    if isinstance(obj, list | tuple | set | frozenset):
        for i, v in enumerate(obj):
            _walk(v, f"{path}.{i}" if path else str(i), walk, depth + 1)
        return
    if isinstance(obj, Stub):
        state = _state_dict_of(obj)
        if isinstance(state, dict):
            if obj.pf_global.name in ("Namespace", "SimpleNamespace") or len(walk.metadata) < 200:
                for k, v in state.items():
                    _walk(v, f"{path}.{k}" if path else str(k), walk, depth + 1)
            return
        for i, v in enumerate(obj.pf_args):
            if isinstance(v, list | tuple | dict | Stub):
                _walk(v, f"{path}.{i}" if path else str(i), walk, depth + 1)
        if obj.pf_items or obj.pf_list:
            _walk([v for _, v in obj.pf_items] + obj.pf_list, path, walk, depth + 1)
        return
    if len(walk.metadata) < 200 and isinstance(obj, str | int | float | bool | bytes) and path:
        text = repr(obj) if not isinstance(obj, str) else obj
        walk.metadata.append((path, text[:200]))


def _walk_module(obj: Stub, path: str, walk: _Walk, depth: int) -> None:
    """A ``torch.save(model)`` object tree: rebuild state_dict keys from it."""
    tensors: list[TensorRecord] = []
    classes: list[tuple[str, str]] = []
    stack: list[tuple[str, Stub, int]] = [("", obj, depth)]
    while stack:
        prefix, module, level = stack.pop(0)
        if level > walk.limits.max_depth:
            walk.capped = True
            continue
        classes.append((prefix.rstrip("."), str(module.pf_global)))
        state = _state_dict_of(module)
        non_persistent = state.get("_non_persistent_buffers_set")
        skip = (
            set(non_persistent.pf_args[0])
            if isinstance(non_persistent, Stub)
            and non_persistent.pf_args
            and isinstance(non_persistent.pf_args[0], list)
            else set()
        )
        for slot in ("_parameters", "_buffers"):
            for name, value in _mapping_items(state.get(slot)) or []:
                if slot == "_buffers" and name in skip:
                    continue
                record = _as_tensor(value, f"{prefix}{name}", walk)
                if record is not None:
                    tensors.append(record)
        children = [
            (f"{prefix}{name}.", child, level + 1)
            for name, child in _mapping_items(state.get("_modules")) or []
            if isinstance(child, Stub)
        ]
        stack[0:0] = children
    walk.tensors.extend(tensors)
    versions = tuple((p, None) for p, _ in classes)
    walk.candidates.append(StateDict(path, tuple(tensors), (), versions, tuple(classes)))


def strip_prefixes(state: StateDict) -> StateDict:
    """Remove wrapper prefixes shared by every key (``module.``, ``_orig_mod.``...)."""
    tensors = state.tensors
    stripped: list[str] = []
    versions = state.module_versions
    classes = state.class_names
    changed = True
    while changed and tensors:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if all(t.key.startswith(prefix) for t in tensors):
                tensors = tuple(_rekey(t, t.key[len(prefix) :]) for t in tensors)
                stripped.append(prefix)
                base = prefix[:-1]
                if versions is not None:
                    versions = tuple(
                        (p[len(prefix) :] if p.startswith(prefix) else "", v)
                        for p, v in versions
                        if p == base or p.startswith(prefix)
                    )
                classes = tuple(
                    (p[len(prefix) :] if p.startswith(prefix) else "", c)
                    for p, c in classes
                    if p == base or p.startswith(prefix)
                )
                changed = True
                break
    return StateDict(state.path, tensors, (*state.stripped_prefixes, *stripped), versions, classes)


def _rank(state: StateDict) -> tuple[int, int, int]:
    segments = state.path.split(".") if state.path else []
    if any(s in _NOT_MODEL or s.startswith("optimizer") for s in segments):
        return (3, 0, -len(state.tensors))
    leaf = segments[-1] if segments else ""
    is_ema = "ema" in leaf.lower() or "average" in leaf.lower()
    if not segments:
        return (0, 0, -len(state.tensors))
    if leaf in _MAIN_NAMES and len(segments) <= 2:
        return (1 if not is_ema else 2, _MAIN_NAMES.index(leaf), -len(state.tensors))
    return (2, 99 + (1 if is_ema else 0), -len(state.tensors))


def extract_checkpoint(
    root: Any, container: Container, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[Checkpoint, tuple[Finding, ...]]:
    """Tensors, state_dicts and metadata of the object tree ``root`` (or of a header)."""
    header = {t.key: t for t in container.header_tensors}
    if root is None and header:
        state = StateDict("", container.header_tensors)
        return Checkpoint(
            (strip_prefixes(state),),
            container.header_tensors,
            container.header_metadata,
            CheckpointKind.STATE_DICT,
        ), ()
    walk = _Walk(limits, header)
    _walk(root, "", walk, 0)
    if not walk.candidates and _mapping_items(root) == []:
        walk.candidates.append(StateDict("", (), (), _module_versions(root)))
    candidates = sorted(walk.candidates, key=_rank)
    mains = tuple(strip_prefixes(c) for c in candidates)
    kind = CheckpointKind.OTHER
    if mains:
        kind = (
            CheckpointKind.FULL_MODEL
            if mains[0].class_names
            else (CheckpointKind.STATE_DICT if mains[0].path == "" else CheckpointKind.WRAPPED)
        )
    elif walk.tensors:
        kind = CheckpointKind.TENSOR
    findings = list(walk.findings)
    if walk.capped:
        findings.append(
            Finding(
                "nesting-depth-capped",
                Severity.INFO,
                Location(),
                f"the object tree nests deeper than {limits.max_depth} levels; "
                "deeper values were not examined",
            )
        )
    if len(walk.tensors) > limits.max_tensors:
        findings.append(
            Finding(
                "too-many-tensors",
                Severity.SUSPICIOUS,
                Location(),
                f"{len(walk.tensors)} tensors (limit {limits.max_tensors})",
            )
        )
    return Checkpoint(mains, tuple(walk.tensors), tuple(walk.metadata), kind), tuple(findings)


def unreferenced_storages(checkpoint: Checkpoint, container: Container) -> tuple[str, ...]:
    """Keys of indexed storages that no tensor uses."""
    used = {t.storage_key for t in checkpoint.tensors}
    return tuple(s.key for s in container.storages if s.key not in used)


def check_integrity(
    checkpoint: Checkpoint, container: Container, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[Finding, ...]:
    """Every storage a tensor uses exists and is large enough; nothing is silently missing."""
    return tuple(_integrity(checkpoint, container, limits))


def _integrity(checkpoint: Checkpoint, container: Container, limits: Limits) -> Iterator[Finding]:
    if container.header_tensors and not container.storages:
        return  # safetensors: the header validation already checked every byte range
    index: dict[str, StorageEntry] = {s.key: s for s in container.storages}
    need: dict[str, tuple[int, str]] = {}
    huge = 0
    cap = limits.max_tensor_elements
    # Shapes repeat (every BatchNorm vector, every block's kernels): one product and one
    # contiguous-stride tuple per distinct shape.
    numels: dict[tuple[int, ...], tuple[int, tuple[int, ...] | None]] = {}
    for t in checkpoint.tensors:
        shape = t.shape
        known = numels.get(shape)
        if known is None:
            numel = math.prod(shape)
            plausible = numel <= cap and not (shape and min(shape) < 0)
            known = numels[shape] = (numel, _contiguous(shape) if plausible else None)
        numel, contiguous = known
        if contiguous is None:
            huge += 1
            if huge == 1:
                yield Finding(
                    "tensor-shape-implausible",
                    Severity.SUSPICIOUS,
                    Location(key=t.key),
                    f"declares shape {list(shape)} ({numel} elements), beyond "
                    f"what any storage could hold (limit {cap})",
                )
            continue
        if t.storage_key is None or numel == 0:
            continue
        stride = t.stride
        if stride is None or stride == contiguous:
            extent = t.storage_offset + numel  # contiguous: the common case, no per-dim sum
        else:
            extent = (
                t.storage_offset
                + 1
                + sum((d - 1) * s for d, s in zip(shape, stride, strict=False) if d > 0)
            )
        nbytes = extent * t.itemsize
        if nbytes > need.get(t.storage_key, (0, ""))[0]:
            need[t.storage_key] = (nbytes, t.key)
    if not container.storages_complete and not index:
        return
    missing = [k for k in need if k not in index]
    if missing:
        yield Finding(
            "storage-missing",
            Severity.SUSPICIOUS,
            Location(key=need[missing[0]][1]),
            f"{len(missing)} storage(s) referenced by tensors are absent from the file "
            f"(first: {missing[0]!r}); a truncated download or a tampered archive",
        )
    short = [
        (k, n, index[k].nbytes)
        for k, (n, _key) in need.items()
        if k in index and index[k].nbytes < n
    ]
    if short:
        key, needed, have = short[0]
        yield Finding(
            "storage-truncated",
            Severity.SUSPICIOUS,
            Location(member=index[key].member, key=need[key][1]),
            f"{len(short)} storage(s) are shorter than their tensors need (first: "
            f"{needed} bytes needed, {have} present); the file is truncated or the "
            "shapes were tampered with",
        )
    unused = [k for k in index if k not in need]
    if unused and checkpoint.tensors:
        yield Finding(
            "storage-unreferenced",
            Severity.INFO,
            Location(member=index[unused[0]].member),
            f"{len(unused)} storage(s) are not used by any tensor",
        )


def _contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides: list[int] = []
    step = 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))
