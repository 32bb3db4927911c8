"""Objects in stores and on web servers, through fsspec (the ``pthforensics[remote]`` extra).

The one module that talks to fsspec: which paths are URLs, the file system a URL names
(with the user's storage options), what an object is (size, ETag), the objects under a
prefix, and a handle whose reads are range requests.  fsspec is imported only here and
only when a URL is met, so ``import pthforensics`` and local scans never load it.

Credentials and endpoints follow fsspec's and the store's own conventions: environment
(``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL``, ``FSSPEC_S3_ENDPOINT_URL``,
...), profiles and config files, plus ``--storage-option KEY=VALUE`` pairs
(:data:`StorageOptions`): ``KEY=VALUE`` applies to every protocol, ``PROTOCOL.KEY=VALUE``
to one (``s3.endpoint_url=http://127.0.0.1:9000``).  A value is read as JSON when it
parses (``anon=true``, ``client_kwargs={"region_name": "eu-west-1"}``), else as a string.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pthforensics.core import ContainerError

__all__ = [
    "RemoteObject",
    "StorageOptions",
    "is_url",
    "list_objects",
    "open_object",
    "parse_storage_option",
    "prepare",
    "read_heads",
    "read_range",
    "stat_object",
    "storage_options",
]

logger = logging.getLogger(__name__)

StorageOptions = tuple[tuple[str, str], ...]
"""``--storage-option`` pairs as given (key, raw value): plain strings, so the options of a
batch pickle to any worker; :func:`_options_for` reads them for one protocol."""

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: Requests a handle makes are exactly the ranges asked for: caching is the caller's
#: (:mod:`.source`), where it is counted.  fsspec's own read-ahead would double it.
_NO_CACHE = "none"
#: Block size handed to fsspec's file objects: unused with no cache, but it must be
#: non-zero (HTTP gives a streaming, unseekable file for 0).
_BLOCK = 1 << 20
#: Requests made at once while a folder is listed (sizes, first bytes).
_THREADS = 16
#: Protocols of web servers (folders are URLs ending with ``/``).
_WEB = frozenset({"http", "https"})


def is_url(path: str) -> bool:
    """Whether ``path`` names a remote object (``s3://``, ``https://``, ``hf://``...)."""
    return _URL.match(path) is not None


def _protocol(url: str) -> str:
    match = _URL.match(url)
    return match.group(1).lower() if match else "file"


def parse_storage_option(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (or ``PROTOCOL.KEY=VALUE``) -> ``(KEY, VALUE)``; ``ValueError`` for
    anything else."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or not all(part.isidentifier() for part in key.split(".", 1)):
        raise ValueError(f"not a storage option: {text!r} (use KEY=VALUE or PROTOCOL.KEY=VALUE)")
    return key, value


def storage_options(given: Mapping[str, Any] | Iterable[str]) -> StorageOptions:
    """:data:`StorageOptions` from a mapping (values kept as they are: each is stored as
    JSON) or from ``KEY=VALUE`` strings (:func:`parse_storage_option`)."""
    if isinstance(given, Mapping):
        return tuple((str(k), json.dumps(v)) for k, v in given.items())
    if isinstance(given, str):
        given = [given]
    return tuple(parse_storage_option(text) for text in given)


def _options_for(protocol: str, storage: StorageOptions) -> dict[str, Any]:
    """The keyword arguments of ``protocol``'s file system: unscoped options, then those
    scoped to this protocol (which win)."""
    out: dict[str, Any] = {}
    for scoped in (False, True):
        for key, raw in storage:
            scope, dot, name = key.rpartition(".")
            if bool(dot) != scoped or (dot and scope.lower() != protocol):
                continue
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw
            out[name] = value
    return out


def _filesystem(url: str, storage: StorageOptions) -> tuple[Any, str]:
    """fsspec's file system for ``url`` and the path in it (ImportError explained)."""
    try:
        import fsspec  # noqa: PLC0415 - the optional extra, loaded only for URLs
    except ImportError as exc:
        raise ContainerError(
            "reading URLs needs fsspec: pip install 'pthforensics[remote]'", path=url
        ) from exc
    try:
        fs, path = fsspec.core.url_to_fs(url, **_options_for(_protocol(url), storage))
    except (ImportError, ValueError) as exc:  # unknown protocol, or its package missing
        raise ContainerError(f"cannot open this URL's file system ({exc})", path=url) from exc
    return fs, str(path)


def prepare(url: str, storage: StorageOptions = ()) -> None:
    """Import what reading ``url`` needs and make its file system now, so that processes
    forked from this one (a batch's workers) start with them (importing s3fs and its
    AWS client costs ~0.4 s, once per process); ``ContainerError`` is for the reader to
    report, so it is not raised here."""
    try:
        _filesystem(url, storage)
    except ContainerError:
        logger.debug("%s: cannot prepare its file system", url, exc_info=True)


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """One object as its store describes it."""

    url: str
    size: int | None
    etag: str | None
    """The store's version tag (S3 ``ETag``, HTTP ``ETag``), quotes removed."""
    is_dir: bool = False
    ranges: bool = True
    """False when the server says it answers no range request (``Accept-Ranges: none``)."""


def _etag(info: dict[str, Any]) -> str | None:
    for key in ("ETag", "etag", "e_tag", "Etag"):
        value = info.get(key)
        if value:
            return str(value).strip('"')
    return None


def _object(fs: Any, path: str, info: dict[str, Any]) -> RemoteObject:
    size = info.get("size")
    return RemoteObject(
        fs.unstrip_protocol(path),
        int(size) if size is not None else None,
        _etag(info),
        info.get("type") == "directory",
        info.get("partial", True) is not False,
    )


def _failure(url: str, what: str, exc: Exception) -> ContainerError:
    """A :class:`ContainerError` for a failed store call (network, permission, missing)."""
    if isinstance(exc, ContainerError):
        return exc
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        reason = "no such object"
    return ContainerError(f"cannot {what} ({type(exc).__name__}: {reason})", path=url)


def stat_object(url: str, storage: StorageOptions = ()) -> RemoteObject:
    """What the store says of ``url``; ``ContainerError`` when it cannot be asked.

    A web server has no folders, only pages that link to files: an ``http(s)`` URL ending
    with ``/`` is taken for a folder (its links are listed), any other for a file (asking
    whether a URL lists links would download it).
    """
    if _protocol(url) in _WEB and url.endswith("/"):
        return RemoteObject(url, None, None, is_dir=True)
    fs, path = _filesystem(url, storage)
    try:
        return _object(fs, path, fs.info(path))
    except Exception as exc:
        raise _failure(url, "read object information", exc) from exc


def list_objects(url: str, storage: StorageOptions = ()) -> list[RemoteObject]:
    """Every object under the folder (prefix) ``url``, recursively, with sizes and ETags.

    Raises :class:`ContainerError` when the listing fails.
    """
    fs, path = _filesystem(url, storage)
    try:
        found = fs.find(path, detail=True, withdirs=False)
    except Exception as exc:
        raise _failure(url, "list objects", exc) from exc
    objects = [_object(fs, p, i) for p, i in found.items() if i.get("type") != "directory"]
    unsized = [o for o in objects if o.size is None]
    if not unsized:
        return objects
    # A web server's index gives names only: ask each file for its size and ETag.
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - remote runs only

    with ThreadPoolExecutor(min(_THREADS, len(unsized))) as pool:
        stats = pool.map(lambda o: _stat_or_keep(o, storage), unsized)
        sized = dict(zip(unsized, stats, strict=True))
    return [sized.get(o, o) for o in objects]


def _stat_or_keep(obj: RemoteObject, storage: StorageOptions) -> RemoteObject:
    """``obj`` as the server describes it, or as it is when the server will not say (its
    reading then says why)."""
    try:
        return stat_object(obj.url, storage)
    except ContainerError:
        return obj


def open_object(url: str, size: int, storage: StorageOptions = ()) -> Any:
    """A seekable handle on ``url`` whose every read is one range request (nothing cached,
    nothing read on opening: the size is given)."""
    fs, path = _filesystem(url, storage)
    try:
        return fs.open(path, "rb", block_size=_BLOCK, cache_type=_NO_CACHE, size=size)
    except Exception as exc:
        raise _failure(url, "open object", exc) from exc


def read_range(handle: Any, url: str, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` of an :func:`open_object` handle (one request)."""
    try:
        handle.seek(offset)
        data = handle.read(length)
    except Exception as exc:
        raise _failure(url, f"read {length} bytes at offset {offset}", exc) from exc
    return bytes(data)


def read_heads(
    objects: Sequence[RemoteObject], length: int, storage: StorageOptions = ()
) -> list[bytes | ContainerError]:
    """The first ``length`` bytes of each object (a few at once), or why they could not be
    read: one range request per object, as listing a folder of a million objects needs."""

    def head(obj: RemoteObject) -> bytes | ContainerError:
        if not obj.ranges:
            return ContainerError("the server answers no range request", path=obj.url)
        if not obj.size:
            return b""
        try:
            handle = open_object(obj.url, obj.size, storage)
            try:
                return read_range(handle, obj.url, 0, min(length, obj.size))
            finally:
                handle.close()
        except ContainerError as exc:
            return exc

    if len(objects) <= 1:
        return [head(obj) for obj in objects]
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - remote runs only

    with ThreadPoolExecutor(min(_THREADS, len(objects))) as pool:
        return list(pool.map(head, objects))
