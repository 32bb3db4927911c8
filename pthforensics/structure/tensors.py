"""From stub records to tensor records: which recorded calls are tensors, and how they look.

``torch.save`` pickles a tensor as a call of one of torch's rebuild functions
(``torch/_utils.py``: ``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
hooks)`` for almost every one; ``_rebuild_parameter`` around it for an ``nn.Parameter``;
``_rebuild_from_type_v2`` for subclasses; the meta, wrapper-subclass and quantized forms)
with the storage as a persistent id.  The stub unpickler (``pthforensics.safety``) records
those calls without making them; :func:`as_tensor` reads a
:class:`~pthforensics.core.TensorRecord` off one.  dtypes and item sizes come from
:mod:`pthforensics.core.vocab`.  Nothing is read from the file here.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from pthforensics.core import TensorRecord, new_record, vocab
from pthforensics.safety import (
    GlobalName,
    MappingStub,
    PersistentRef,
    Recorder,
    StorageRef,
    Stub,
    TensorCall,
)

__all__ = ["as_tensor", "global_of", "rekey"]

#: Rebuild functions whose first argument is the storage (``_rebuild_qtensor`` too).
_REBUILD_TENSOR = frozenset(
    {"_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_qtensor"}
)
#: Rebuild functions of ``nn.Parameter``: their first argument is the tensor.
_REBUILD_PARAM = frozenset({"_rebuild_parameter", "_rebuild_parameter_with_state"})
#: The dtype of a tensor whose dtype argument is not a torch dtype.
_DEFAULT_DTYPE = "float32"
_UNTYPED_STORAGE = "UntypedStorage"
_INDEX = operator.index


def global_of(obj: Any) -> GlobalName | None:
    """The global a stub (or stub class, or recorder) stands for; ``None`` for data."""
    if isinstance(obj, Stub | Recorder):
        return obj.pf_global
    if isinstance(obj, type) and issubclass(obj, Stub | MappingStub):
        return obj.pf_global
    return None


def _dtype_name(obj: Any) -> str | None:
    g = global_of(obj)
    if g is None or g.module != "torch":
        return None
    return vocab.dtype_name(g.name)


def as_tensor(obj: Any, key: str, header: Mapping[str, TensorRecord]) -> TensorRecord | None:
    """The tensor a recorded rebuild call describes, or ``None`` when ``obj`` is not one."""
    g: GlobalName | None
    if type(obj) is TensorCall:
        g, args = obj
    else:
        g = global_of(obj)
        if g is None:
            if isinstance(obj, PersistentRef) and isinstance(obj.pid, str | bytes):
                pid = obj.pid if isinstance(obj.pid, str) else obj.pid.decode("latin-1")
                base = header.get(pid)
                return rekey(base, key) if base else None
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
            return as_tensor(inner(*args[2]), key, header)  # our recorder: records only
        return None
    if g.module != "torch._utils":
        return None
    if g.name in _REBUILD_PARAM and args:
        base = as_tensor(args[0], key, header)
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
        dtype = _dtype_name(args[0]) or _DEFAULT_DTYPE
        return TensorRecord(
            key,
            shape or (),
            dtype,
            _ints(args[2]) if len(args) > 2 else None,
            None,
            0,
            vocab.itemsize(dtype),
        )
    if g.name == "_rebuild_wrapper_subclass" and len(args) >= 3:
        dtype = _dtype_name(args[1]) or _DEFAULT_DTYPE
        return TensorRecord(key, _ints(args[2]) or (), dtype, None, None, 0, vocab.itemsize(dtype))
    return None


def _storage_tensor(name: str, args: tuple[Any, ...], key: str) -> TensorRecord | None:
    """``_rebuild_tensor*(storage, offset, shape, stride, requires_grad, ...)``: what
    ``torch.save`` writes for every tensor backed by a storage (thousands per file)."""
    storage: StorageRef = args[0]
    dtype, itemsize = _storage_dtype(storage)
    if name == "_rebuild_tensor_v3" and len(args) >= 7 and _dtype_name(args[6]):
        dtype = _dtype_name(args[6]) or dtype
        itemsize = vocab.itemsize(dtype)
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


def rekey(record: TensorRecord, key: str) -> TensorRecord:
    """The same tensor under another key."""
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
    name = storage.storage_type.name if storage.storage_type else _UNTYPED_STORAGE
    return vocab.storage_dtype(name)


def _ints(value: Any) -> tuple[int, ...] | None:
    if type(value) is not tuple:  # a plain tuple (every shape and stride torch writes) skips
        if isinstance(value, Stub) and value.pf_global.name == "Size":  # the type tests
            value = value.pf_args[0] if value.pf_args else ()
        if not isinstance(value, tuple | list):
            return None
    try:
        return tuple(map(_INDEX, value))  # ints only (C speed); anything else: None
    except TypeError:
        return None
