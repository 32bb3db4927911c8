"""Shared pieces of the corpus generator: the ``Sample`` record and its truth, the
harmless payloads, and the tiny model every torch sample is cut from."""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field
from typing import Any

import torch
from _containers import split_pickles
from _opcodes import Asm
from torch import nn

__all__ = [
    "CMD",
    "CMD_ARGV",
    "PY",
    "TENSORS",
    "Sample",
    "benign",
    "broken",
    "legacy_save_bytes",
    "malicious",
    "tiny_model",
    "torch_save_bytes",
]

CMD = "echo pthforensics-corpus"
"""Shell command used by every command-execution sample (harmless if ever run)."""
CMD_ARGV = ["echo", "pthforensics-corpus"]
PY = "print('pthforensics-corpus')"
"""Python source used by every eval/exec-style sample."""

TENSORS = 9
"""Tensors in ``tiny_model().state_dict()`` (conv 2, batchnorm 5, linear 2)."""


@dataclass(frozen=True)
class Sample:
    """One corpus file and the truth a scanner must report for it."""

    path: str
    """Relative to ``corpus/`` (``malicious/os_system.pkl``)."""
    data: bytes
    truth: dict[str, Any] = field(default_factory=dict)


def _truth(
    *,
    status: str,
    verdict: str | None,
    exit_code: int,
    fmt: str,
    wrappers: tuple[str, ...],
    tensor_count: int | None,
    technique: str,
    reference: str | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    truth: dict[str, Any] = {
        "status": status,
        "verdict": verdict,
        "exit_code": exit_code,
        "format": fmt,
        "wrappers": list(wrappers),
        "tensor_count": tensor_count,
        "technique": technique,
        "reference": reference,
    }
    truth.update(extra)
    return truth


def benign(
    name: str,
    data: bytes,
    *,
    fmt: str,
    technique: str,
    tensor_count: int | None = TENSORS,
    verdict: str = "clean",
    wrappers: tuple[str, ...] = (),
    reference: str | None = None,
    **extra: Any,
) -> Sample:
    """A file made by torch/safetensors from trusted in-memory data (never ``malicious``)."""
    assert verdict in ("clean", "suspicious"), name
    exit_code = 0 if verdict == "clean" else 1
    return Sample(
        f"benign/{name}",
        data,
        _truth(
            status="ok", verdict=verdict, exit_code=exit_code, fmt=fmt, wrappers=wrappers,
            tensor_count=tensor_count, technique=technique, reference=reference, extra=extra,
        ),
    )  # fmt: skip


def malicious(
    name: str,
    data: bytes,
    *,
    technique: str,
    reference: str | None,
    fmt: str = "pickle",
    wrappers: tuple[str, ...] = (),
    runs: bool = True,
    **extra: Any,
) -> Sample:
    """A file assembled from opcodes whose payload is harmless but would run on load
    (``runs=False``: an attack whose payload cannot run under ``torch.load`` in a fresh
    interpreter; it must be at least ``suspicious``, and is recorded as such)."""
    if not runs:
        extra = {**extra, "payload_runs": False}
    return Sample(
        f"malicious/{name}",
        data,
        _truth(
            status="ok", verdict="malicious" if runs else "suspicious", exit_code=1, fmt=fmt,
            wrappers=wrappers, tensor_count=None, technique=technique, reference=reference,
            extra=extra,
        ),
    )  # fmt: skip


def broken(
    name: str,
    data: bytes,
    *,
    technique: str,
    fmt: str = "unknown",
    status: str = "error",
    verdict: str | None = None,
    tensor_count: int | None = None,
    reference: str | None = None,
    **extra: Any,
) -> Sample:
    """An unreadable or damaged file: no verdict (exit 2) unless told otherwise."""
    exit_code = {None: 2, "clean": 0, "suspicious": 1, "malicious": 1}[verdict]
    return Sample(
        f"broken/{name}",
        data,
        _truth(
            status=status, verdict=verdict, exit_code=exit_code, fmt=fmt, wrappers=(),
            tensor_count=tensor_count, technique=technique, reference=reference, extra=extra,
        ),
    )  # fmt: skip


def tiny_model() -> nn.Sequential:
    """Conv2d(3,8,3) + BatchNorm2d + pool + Linear(8,10): 9 state_dict tensors, ~5 KB."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    model.eval()
    return model


def torch_save_bytes(obj: Any, **kwargs: Any) -> bytes:
    """``torch.save`` to memory; the zip's root folder is then ``archive``."""
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def legacy_save_bytes(obj: dict[str, torch.Tensor], *, pickle_protocol: int = 2) -> bytes:
    """``torch.save(_use_new_zipfile_serialization=False)`` with deterministic storage keys.

    The legacy writer names storages by memory address (``str(storage._cdata)``), and
    writes the sorted key list then the storages in that order.  Here every key string in
    the object pickle is overwritten in place by a fixed string of the same length (in order
    of first use), and the key list and storages are rewritten in the new sorted order.
    Streams are walked with ``pickletools.genops``; nothing is unpickled.  ``obj`` is a
    flat dict of tensors with distinct storages, so key ``i`` (in order of first use)
    belongs to the ``i``-th tensor.
    """
    data = torch_save_bytes(
        obj, _use_new_zipfile_serialization=False, pickle_protocol=pickle_protocol
    )
    (magic, protocol, sys_info, obj_stream, keys_stream), storages = split_pickles(data, 5)
    obj_pickle = bytearray(obj_stream)
    old_keys = [arg for _op, arg, _at in pickletools.genops(keys_stream) if isinstance(arg, str)]
    nbytes = [t.untyped_storage().nbytes() for t in obj.values()]
    renamed: dict[str, str] = {}
    size: dict[str, int] = {}
    for op, arg, at in pickletools.genops(obj_stream):
        if op.name in ("BINUNICODE", "SHORT_BINUNICODE") and arg in old_keys:
            assert at is not None
            new = renamed.setdefault(arg, str(10 ** (len(arg) - 1) + 64 * len(renamed)))
            size.setdefault(arg, 8 + nbytes[len(size)])
            start = at + (5 if op.name == "BINUNICODE" else 2)
            obj_pickle[start : start + len(arg)] = new.encode()
    assert sorted(renamed) == sorted(old_keys), "a storage key was not found in the object"
    blobs = {}
    pos = 0
    for key in old_keys:  # each storage: int64 element count, then its bytes
        blobs[renamed[key]] = storages[pos : pos + size[key]]
        pos += size[key]
    assert pos == len(storages)
    new_keys = sorted(blobs)
    keys_pickle = Asm(pickle_protocol).value(new_keys).stop().data
    head = magic + protocol + sys_info + bytes(obj_pickle) + keys_pickle
    return head + b"".join(blobs[k] for k in new_keys)
