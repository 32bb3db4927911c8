"""Files that are pickles: a raw pickle (any protocol, stacked ones included), the legacy
torch stream it may turn out to be, and NumPy ``.npy`` files.

``torch.load`` reads any file that does not start with ``PK\\x03\\x04`` as a pickle; the
first pickle of a legacy stream is its magic number (:mod:`.legacy`).  A file that is
also a zip archive at its end is a polyglot: both faces are scanned.  An ``.npy`` object
array holds a pickle after its header, which ``np.load(allow_pickle=True)`` runs.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import BinaryIO

from pthforensics.core import (
    Container,
    ContainerError,
    Finding,
    Format,
    LimitExceeded,
    Location,
    PickleStream,
    Severity,
    TensorRecord,
    vocab,
)
from pthforensics.safety import simple_values

from .base import Parts, ReadContext
from .legacy import LEGACY_MAGIC, read_legacy
from .npy import read_npy_header
from .sniff import has_zip_end
from .torchzip import read_zip

__all__ = ["read_npy", "read_pickle_file"]

#: Bytes that hold the legacy stream's magic-number pickle (a protocol-2 long: 19 bytes).
_MAGIC_WINDOW = 64


def read_pickle_file(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A pickle file: a legacy stream when its first pickle is torch's magic number,
    else one stream of the whole file (the scan judges bytes after ``STOP`` itself)."""
    f.seek(0)
    value, _pids, end = simple_values(f.read(_MAGIC_WINDOW))
    if end is not None and type(value) is int and value == LEGACY_MAGIC:
        f.seek(0)
        return read_legacy(ctx, f, size, prefix, wrappers, f.read(end), end)
    if size > ctx.limits.max_pickle_bytes:
        raise LimitExceeded("pickle bytes", ctx.limits.max_pickle_bytes, size, path=ctx.path)
    parts = Parts()
    f.seek(0)
    parts.streams.append(PickleStream(f"{prefix}pickle", f.read(size)))
    if has_zip_end(f, size):
        _zip_face(ctx, f, size, prefix, wrappers, parts)
    return Container(
        ctx.path,
        Format.PICKLE,
        size,
        tuple(parts.streams),
        (),
        tuple(parts.findings),
        wrappers,
    )


def _zip_face(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...], parts: Parts
) -> None:
    """torch.load reads a file that does not start with PK\\x03\\x04 as a pickle, while zip
    tools read the archive at its end: scan both faces of the polyglot."""
    parts.findings.append(
        Finding(
            "pickle-zip-polyglot",
            Severity.SUSPICIOUS,
            Location(prefix or None, 0),
            "the file is both a pickle (what torch.load runs) and a zip archive (what "
            "zip-based scanners read)",
        )
    )
    with contextlib.suppress(ContainerError):
        inner = read_zip(ctx, f, size, prefix + "zip!", wrappers)
        parts.streams.extend(replace(s, loaded=False) for s in inner.streams)
        parts.findings.extend(inner.findings)


def read_npy(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """A ``.npy`` file: its array as one header tensor, or the pickle of an object array."""
    shape, dtype, offset, is_object = read_npy_header(f, size, ctx.path)
    if not is_object:
        # Named after the .npz member it came from ("x.npy!" -> "x"), else "array".
        key = prefix.rstrip("!").rsplit("!", 1)[-1].rsplit("/", 1)[-1].removesuffix(".npy")
        record = TensorRecord(
            key or "array", shape, dtype, storage_key=key or "array", itemsize=vocab.itemsize(dtype)
        )
        return Container(ctx.path, Format.NUMPY, size, wrappers=wrappers, header_tensors=(record,))
    # An object array is a pickle after the header: np.load(allow_pickle=True) runs it.
    if size - offset > ctx.limits.max_pickle_bytes:
        raise LimitExceeded(
            "pickle bytes", ctx.limits.max_pickle_bytes, size - offset, path=ctx.path
        )
    f.seek(offset)
    stream = PickleStream(f"{prefix}npy@{offset}", f.read(size - offset))
    finding = Finding(
        "numpy-object-array",
        Severity.INFO,
        Location(prefix or None, offset),
        "an object array: its data is a pickle, which np.load(allow_pickle="
        "True) unpickles; it was scanned",
    )
    return Container(
        ctx.path, Format.NUMPY, size, (stream,), findings=(finding,), wrappers=wrappers
    )
