"""Which objects a batch scans under remote folders (``s3://bucket/prefix/``,
``https://host/models/``), with the rules :mod:`.discover` applies to local folders.

A URL that names an object is scanned whatever it holds (as a local file given by name);
a URL that names a folder (a prefix) is listed recursively with sizes and ETags, and its
objects are kept when their first bytes are a checkpoint format (one range request per
object, several at once), whatever their name.  Hidden names (a path component starting
with ``.``), the folders local discovery skips and ``--exclude`` globs are applied to the
keys below the folder.  Objects come in the order a local walk of the same tree gives
(a folder's files sorted, then its subfolders), each once.  Sharded models
(``*.index.json`` with a ``weight_map``) group their shards as locally; a Hugging Face
cache layout in the keys names the model.  An object that cannot be listed, asked about
or sniffed is kept, so that its report says why: discovery never drops one silently.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
from collections.abc import Sequence

from pthforensics.container import (
    SNIFF_BYTES,
    RemoteObject,
    StorageOptions,
    list_objects,
    read_heads,
    read_shard_index,
    sniff,
    stat_object,
)
from pthforensics.core import Candidate, ModelGroup, PthForensicsError

from .names import TOOL_FOLDERS, has_checkpoint_name

__all__ = ["discover_remote"]

logger = logging.getLogger(__name__)

_INDEX_SUFFIX = ".index.json"


def discover_remote(
    urls: Sequence[str],
    *,
    include_hidden: bool = False,
    exclude: Sequence[str] = (),
    storage: StorageOptions = (),
) -> tuple[tuple[Candidate, ...], tuple[ModelGroup, ...]]:
    """Objects to scan under ``urls`` (objects always, folders listed) and the sharded
    models found among them."""
    found: list[Candidate] = []
    seen: set[str] = set()
    groups: list[ModelGroup] = []
    for url in urls:
        objects, indexes, listed = _objects(url, include_hidden, exclude, storage)
        for obj in objects:
            if obj.url not in seen:
                seen.add(obj.url)
                # No size for a server that refuses ranges: the reader asks it again and
                # reports why it cannot read the object.
                size = obj.size if obj.ranges else None
                found.append(Candidate(obj.url, size, None, _model_name(obj.url), etag=obj.etag))
        groups.extend(_group(index, listed, storage) for index in indexes)
    return _name_shards(found, groups), tuple(groups)


def _objects(
    url: str, include_hidden: bool, exclude: Sequence[str], storage: StorageOptions
) -> tuple[list[RemoteObject], list[str], set[str]]:
    """The objects to scan for one URL given, the shard indexes beside them, and every
    object URL listed (to tell which shards are missing)."""
    try:
        info = stat_object(url, storage)
    except PthForensicsError as exc:
        # Missing, refused, unreachable: reported as the file's error, never dropped.
        logger.info("%s: %s", url, exc)
        return [RemoteObject(url, None, None)], [], set()
    if not info.is_dir:
        indexes = [url] if url.endswith(_INDEX_SUFFIX) else []
        return ([] if indexes else [info]), indexes, {url}
    try:
        listed = list_objects(url, storage)
    except PthForensicsError as exc:
        logger.warning("%s: %s", url, exc)
        return [RemoteObject(url, None, None)], [], set()
    root = url.rstrip("/") + "/"
    kept = [o for o in listed if _wanted(o.url[len(root) :], o.url, include_hidden, exclude)]
    kept.sort(key=lambda o: _walk_order(o.url[len(root) :]))
    indexes = [o.url for o in kept if o.url.endswith(_INDEX_SUFFIX)]
    files = [o for o in kept if not o.url.endswith(_INDEX_SUFFIX)]
    return _checkpoints(files, storage), indexes, {o.url for o in listed}


def _wanted(key: str, url: str, include_hidden: bool, exclude: Sequence[str]) -> bool:
    """Whether the object at ``key`` (below the folder given) is walked to, as a local
    walk of the same tree would: no hidden or skipped folder on the way, no excluded
    folder or file."""
    parts = key.split("/")
    for depth, part in enumerate(parts):
        if not include_hidden and part.startswith("."):
            return False
        if depth < len(parts) - 1 and part in TOOL_FOLDERS:
            return False
        if exclude:
            prefix = url[: len(url) - len(key)] + "/".join(parts[: depth + 1])
            if any(fnmatch.fnmatch(prefix, p) or fnmatch.fnmatch(part, p) for p in exclude):
                return False
    return True


def _walk_order(key: str) -> list[tuple[int, str]]:
    """Sort key of a local walk: a folder's files (sorted) before its subfolders (sorted)."""
    *folders, name = key.split("/")
    return [(1, f) for f in folders] + [(0, name)]


def _checkpoints(objects: list[RemoteObject], storage: StorageOptions) -> list[RemoteObject]:
    """The objects whose first bytes are a checkpoint format (or that could not be read,
    or are empty with a checkpoint's name)."""
    heads = read_heads(objects, SNIFF_BYTES, storage)
    return [obj for obj, head in zip(objects, heads, strict=True) if _is_checkpoint(obj, head)]


def _is_checkpoint(obj: RemoteObject, head: bytes | PthForensicsError) -> bool:
    if isinstance(head, PthForensicsError):
        logger.info("%s: %s", obj.url, head)
        return True  # report it as an error rather than dropping it
    if not obj.size:
        return obj.size is None or has_checkpoint_name(obj.url)
    return has_checkpoint_name(obj.url) or sniff(head, obj.size) is not None


def _model_name(url: str) -> str | None:
    """``org/name`` for an object inside a Hugging Face cache snapshot, else ``None``."""
    parts = url.split("/")
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 2 < len(parts) and parts[i + 1] == "snapshots":
            return part[len("models--") :].replace("--", "/")
    return None


def _group(index: str, listed: set[str], storage: StorageOptions) -> ModelGroup:
    folder = posixpath.dirname(index)
    name = _model_name(index) or posixpath.basename(folder) or index
    try:
        weight_map = read_shard_index(index, storage=storage)
    except PthForensicsError as exc:
        return ModelGroup(name, index, (), (), 0, error=str(exc))
    shards = tuple(dict.fromkeys(f"{folder}/{file}" for file in weight_map.values()))
    missing = tuple(s for s in shards if s not in listed)
    return ModelGroup(name, index, shards, missing, len(weight_map))


def _name_shards(found: list[Candidate], groups: list[ModelGroup]) -> tuple[Candidate, ...]:
    """Candidates with the model of the shard index that names them (when no cache
    layout named one)."""
    by_shard = {s: g.name for g in groups for s in g.shards}
    return tuple(
        Candidate(c.path, c.size, c.mtime, by_shard[c.path], etag=c.etag)
        if not c.model and c.path in by_shard
        else c
        for c in found
    )
