"""Identify a checkpoint file and index it without reading tensor payloads.

The only stage that opens input files.  Formats are sniffed from content, never the
extension (:mod:`.sniff`), and each is read the way ``torch.load`` would meet it:

* torch zip and TorchScript zip, zips of checkpoints: :mod:`.torchzip`;
* the legacy stream (:mod:`.legacy`) and legacy tar (:mod:`.tar`) layouts;
* any other pickle of protocol 0-5, and pickles stacked after it; ``.npy``: :mod:`.pickles`;
* safetensors: header only (:mod:`.safetensors_header`);
* gzip / bz2 / xz (decompressed under a size cap), 7z (under the same cap); zstd, rar and
  lz4 are named but not opened: :mod:`.wrappers`.

A file inside another (a zip member, a gzip payload, an archive carried as bytes in a
value) is read by the same dispatcher, its members named ``outer!inner``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import BinaryIO

from pthforensics.core import (
    DEFAULT_LIMITS,
    Container,
    ContainerError,
    Format,
    LimitExceeded,
    Limits,
    PickleStream,
)
from pthforensics.safety import looks_like_pickle

from .base import ReadContext
from .pickles import read_npy, read_pickle_file
from .safetensors_header import read_safetensors_header
from .sniff import COMPRESSED, OPAQUE, SNIFF_BYTES, FileKind, has_zip_end, sniff
from .source import Source, open_source
from .tar import read_tar
from .torchzip import hidden_pickles, read_zip
from .wrappers import opaque_archive, read_compressed, read_sevenzip

__all__ = ["read_container", "read_embedded", "read_hidden_pickles"]

logger = logging.getLogger(__name__)

#: Wrappers (gzip in a zip in a 7z...) one file may nest.
_MAX_WRAPPERS = 8
#: Formats whose storage members :func:`read_hidden_pickles` can re-read.
_ZIP_FORMATS = (Format.TORCH_ZIP, Format.TORCHSCRIPT)


def read_container(
    path: str | Source, *, limits: Limits = DEFAULT_LIMITS, fast: bool = False
) -> Container:
    """Identify ``path`` (a local path or URL, or a :class:`.source.Source` already open)
    and index it; raise :class:`ContainerError` when impossible.

    ``fast`` finds the boundaries of the legacy formats' header pickles with the C stub
    unpickler instead of an opcode walk; like the scan's fast path, only for a process
    with a memory cap (CPython's C unpickler sizes its memo from indices in the file).
    """
    if isinstance(path, str):
        with open_source(path) as source:
            return read_container(source, limits=limits, fast=fast)
    try:
        ctx = ReadContext(path.path, limits, _dispatch, fast)
        return _dispatch(ctx, path.file, path.size, "", ())
    except OSError as exc:
        raise ContainerError(f"cannot read file ({exc.strerror or exc})", path=path.path) from exc


def read_embedded(
    data: bytes, path: str, name: str, *, limits: Limits = DEFAULT_LIMITS
) -> Container:
    """A checkpoint embedded as bytes in another one (``torch.storage._load_from_bytes``
    carries a whole torch zip); member names are prefixed with ``name!``."""
    ctx = ReadContext(path, limits, _dispatch)
    return _dispatch(ctx, io.BytesIO(data), len(data), f"{name}!", ())


def read_hidden_pickles(
    container: Container,
    keys: Sequence[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    source: Source | None = None,
) -> tuple[PickleStream, ...]:
    """Pickles stored in storage members no tensor uses (``archive/data/<key>``).

    torch never unpickles a storage member, but a tampered archive can park a payload
    there for another loader; only unreferenced members are sniffed, so no tensor payload
    is read.  Only top-level torch zips are handled (nested ones were read from a
    temporary file that no longer exists).  ``source``: the file the container was read
    from, still open (else it is opened again from ``container.path``).
    """
    if container.wrappers or container.format not in _ZIP_FORMATS:
        return ()
    wanted = {s.member for s in container.storages if s.key in set(keys)}
    if not wanted:
        return ()
    if source is None:
        with open_source(container.path) as opened:
            return read_hidden_pickles(container, keys, limits=limits, source=opened)
    ctx = ReadContext(container.path, limits, _dispatch)
    try:
        return hidden_pickles(ctx, source.file, container.size, wanted)
    except OSError as exc:
        raise ContainerError(f"cannot re-read archive ({exc})", path=container.path) from exc


def _dispatch(
    ctx: ReadContext, f: BinaryIO, size: int, prefix: str, wrappers: tuple[str, ...]
) -> Container:
    """Identify the file ``f`` from its first bytes and read it with its format's reader."""
    if len(wrappers) > _MAX_WRAPPERS:
        raise LimitExceeded("nested wrappers", _MAX_WRAPPERS, len(wrappers), path=ctx.path)
    if size == 0:
        raise ctx.error(f"{prefix or 'file'} is empty (0 bytes)")
    f.seek(0)
    head = f.read(SNIFF_BYTES)
    kind = sniff(head, size)
    if kind is None:
        if has_zip_end(f, size):  # a zip with bytes prepended (self-extracting, polyglot)
            return read_zip(ctx, f, size, prefix, wrappers)
        raise ctx.error(
            f"not a recognised checkpoint format (first bytes {head[:8]!r}); "
            "expected a torch zip, a pickle, safetensors or a compressed wrapper",
            prefix or None,
        )
    if kind is FileKind.ZIP:
        return read_zip(ctx, f, size, prefix, wrappers)
    if kind in COMPRESSED.values():
        return read_compressed(ctx, f, kind, size, prefix, wrappers)
    if kind is FileKind.SEVEN_ZIP:
        inner = read_sevenzip(ctx, f, size, prefix, wrappers)
        if inner is not None:
            return inner
    if kind in OPAQUE.values():
        return opaque_archive(ctx, kind, size, prefix, wrappers)
    if kind is FileKind.TAR:
        try:
            return read_tar(ctx, f, size, prefix, wrappers)
        except ContainerError:
            # torch.load falls back to the pickle reader when tarfile refuses the archive.
            if not looks_like_pickle(head):
                raise
            return read_pickle_file(ctx, f, size, prefix, wrappers)
    if kind is FileKind.SAFETENSORS:
        tensors, metadata = read_safetensors_header(f, size, ctx.path, ctx.limits.max_tensors)
        return Container(
            ctx.path,
            Format.SAFETENSORS,
            size,
            wrappers=wrappers,
            header_tensors=tensors,
            header_metadata=metadata,
        )
    if kind is FileKind.PICKLE:
        return read_pickle_file(ctx, f, size, prefix, wrappers)
    return read_npy(ctx, f, size, prefix, wrappers)
