"""The container stage: the only package that opens files.

Stage function: :func:`read_container` (a path -> :class:`~pthforensics.core.Container`:
formats, pickle byte streams, storage index, structural anomalies), with
:func:`read_embedded` (a checkpoint carried as bytes in another one) and
:func:`read_hidden_pickles` (pickles parked in storage members no tensor uses), which the
pipeline passes to the safety stage.  :func:`sniff_file` and :func:`read_shard_index` serve
folder discovery.  Files are opened by :func:`open_source` (:mod:`.source`): a local path or
a URL of an object store or web server (:mod:`.remote`, through fsspec), read by ranges and
counted (``Source.bytes_read``); :func:`list_objects`, :func:`stat_object` and
:func:`read_heads` serve the discovery of remote folders.

Layout: :mod:`.reader` dispatches on :mod:`.sniff`'s verdict to :mod:`.torchzip` (over the
forgiving directory reader :mod:`.zipread`), :mod:`.pickles`, :mod:`.legacy`, :mod:`.tar`,
:mod:`.safetensors_header`, :mod:`.npy` and :mod:`.wrappers` (gzip/bz2/xz, 7z through
:mod:`.sevenzip`).  Imports ``core`` and ``safety`` only.
"""

from __future__ import annotations

from .reader import read_container, read_embedded, read_hidden_pickles
from .remote import (
    RemoteObject,
    StorageOptions,
    is_url,
    list_objects,
    parse_storage_option,
    read_heads,
    stat_object,
    storage_options,
)
from .remote import prepare as prepare_remote
from .shards import read_shard_index
from .sniff import SNIFF_BYTES, FileKind, sniff, sniff_file
from .source import Source, open_source
from .zipread import ZipDirectory, ZipEntry, read_member, read_zip_directory

__all__ = [
    "SNIFF_BYTES",
    "FileKind",
    "RemoteObject",
    "Source",
    "StorageOptions",
    "ZipDirectory",
    "ZipEntry",
    "read_container",
    "read_embedded",
    "read_hidden_pickles",
    "read_member",
    "read_shard_index",
    "read_zip_directory",
    "sniff",
    "sniff_file",
    # remote objects (fsspec, loaded only for URLs)
    "is_url",
    "list_objects",
    "open_source",
    "parse_storage_option",
    "prepare_remote",
    "read_heads",
    "stat_object",
    "storage_options",
]
