"""Which files a batch scans, which it skips and why, and which model each belongs to.

Walks folders recursively.  A file is scanned when its name says checkpoint (an extension
some loader reads: :data:`CHECKPOINT_EXTENSIONS`), when its first bytes are a checkpoint
format (:func:`pthforensics.container.sniff`, whatever the name), or when it cannot be
read at all: such a file gets an ``error`` report, it is never dropped.  Every other file
is skipped and counted by reason (:data:`SKIP_REASONS`).

Symbolic links are followed only while they stay inside the root they were found under.
A file reached by several paths (hard links, symbolic links, a Hugging Face
``snapshots/`` link and its ``blobs/`` target) is read once, under the most meaningful
name, its other paths listed as the candidate's ``aliases``.  Sharded models
(``*.index.json`` with a ``weight_map``) group their shards; a Hugging Face cache layout
(``models--org--name/snapshots/<rev>/``) names the model.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from pthforensics.container import StorageOptions, is_url, read_shard_index, sniff
from pthforensics.core import Candidate, ModelGroup, PthForensicsError

from .names import CHECKPOINT_EXTENSIONS, TOOL_FOLDERS, has_checkpoint_name
from .remote import discover_remote

__all__ = [
    "CHECKPOINT_EXTENSIONS",
    "SKIP_REASONS",
    "Candidate",
    "Discovery",
    "ModelGroup",
    "discover",
    "discover_tree",
    "has_checkpoint_name",
    "model_name",
    "skip_reason",
]

logger = logging.getLogger(__name__)

#: Bytes read to recognise a format by its first bytes (what ``container.sniff_file`` reads).
_HEAD_BYTES = 4096
SKIP_NOT_CHECKPOINT = "not-a-checkpoint"
SKIP_EMPTY = "empty"
SKIP_SPECIAL = "special-file"
SKIP_HIDDEN = "hidden"
SKIP_EXCLUDED = "excluded"
SKIP_OUTSIDE = "link-outside-root"
SKIP_TOOL_FOLDER = "tool-folder"
SKIP_FOLDER_SEEN = "folder-already-walked"
SKIP_UNLISTABLE = "unlistable-folder"
#: Why an entry of a walked folder is not scanned (the keys of ``summary.skipped``).
SKIP_REASONS = {
    SKIP_NOT_CHECKPOINT: "a file whose name and first bytes are no checkpoint format",
    SKIP_EMPTY: "an empty file without a checkpoint name",
    SKIP_SPECIAL: "a FIFO, socket or device without a checkpoint name (never opened)",
    SKIP_HIDDEN: "a hidden file or folder (scan them with --hidden)",
    SKIP_EXCLUDED: "a file or folder matching --exclude",
    SKIP_OUTSIDE: "a symbolic link leading out of the folder given",
    SKIP_TOOL_FOLDER: "a tool's folder (.git, __pycache__, node_modules...)",
    SKIP_FOLDER_SEEN: "a folder reached again through a symbolic link (walked once)",
    SKIP_UNLISTABLE: "a folder whose entries cannot be listed (permissions)",
}


class Discovery(NamedTuple):
    """What walking the paths found."""

    files: tuple[Candidate, ...]
    """Files to scan, each once (other paths of the same file in its ``aliases``)."""
    models: tuple[ModelGroup, ...]
    """Sharded models (``*.index.json`` with a ``weight_map``)."""
    skipped: tuple[tuple[str, int], ...]
    """Entries not scanned, counted by reason (keys of :data:`SKIP_REASONS`), sorted."""


def model_name(path: str) -> str | None:
    """``org/name`` for a file inside a Hugging Face cache snapshot, else ``None``."""
    parts = os.path.normpath(path).split(os.sep)
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 2 < len(parts) and parts[i + 1] == "snapshots":
            return part[len("models--") :].replace("--", "/")
    return None


def skip_reason(path: str, st: os.stat_result | None) -> str | None:
    """``None`` when a file found in a folder is to be scanned, else why not.

    Scanned: a file we cannot ``stat`` or open (its report says why), a checkpoint name
    (non-regular files too: their report says so, without opening them), and a regular
    file whose first bytes are a checkpoint format.
    """
    if st is None or has_checkpoint_name(path):
        return None
    if not stat.S_ISREG(st.st_mode):
        return SKIP_SPECIAL  # pipes, sockets, devices: opening may block
    if st.st_size == 0:
        return SKIP_EMPTY
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return None  # unreadable: an error report, never a silent skip
    return None if sniff(head, st.st_size) is not None else SKIP_NOT_CHECKPOINT


def _inside(path: str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(
    root: str,
    include_hidden: bool,
    exclude: Sequence[str],
    skipped: Counter[str],
    visited: set[tuple[int, int]],
) -> Iterator[tuple[str, os.stat_result | None]]:
    """Files under ``root`` (depth first, sorted, a folder's files before its subfolders)
    with their ``stat`` (``None`` when it fails, e.g. a dangling link); what is not
    walked is counted in ``skipped``; ``visited``: the folders walked (by device and
    inode), over all roots, so none is walked twice.

    Built on ``os.scandir``: one ``stat`` per file, and ``realpath`` (an ``lstat`` per path
    component) only for symbolic links, the only way out of the root.
    """
    root_real = os.path.realpath(root)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            skipped[SKIP_UNLISTABLE] += 1
            continue
        if (st.st_dev, st.st_ino) in visited:
            skipped[SKIP_FOLDER_SEEN] += 1  # a link back to a folder already walked
            continue
        visited.add((st.st_dev, st.st_ino))
        folders: list[str] = []
        for entry in entries:
            name, full = entry.name, entry.path
            if not include_hidden and name.startswith("."):
                skipped[SKIP_HIDDEN] += 1
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir and name in TOOL_FOLDERS:
                skipped[SKIP_TOOL_FOLDER] += 1
                continue
            if exclude and _excluded(full, exclude):
                skipped[SKIP_EXCLUDED] += 1
                continue
            if entry.is_symlink() and not _inside(full, root_real):
                skipped[SKIP_OUTSIDE] += 1
                continue
            if is_dir:
                folders.append(full)
                continue
            try:
                yield full, entry.stat()
            except OSError:
                yield full, None
        stack.extend(reversed(folders))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


class _Found:
    """Files kept so far, one entry per file (by device and inode), with their aliases."""

    def __init__(self) -> None:
        self.files: list[Candidate] = []
        self.aliases: list[list[str]] = []
        self.by_inode: dict[tuple[int, int], int] = {}
        self.paths: set[str] = set()

    def add(self, path: str, st: os.stat_result | None) -> None:
        if path in self.paths:
            return  # the same path again (a root given twice, or inside another root)
        self.paths.add(path)
        if st is None:
            self.files.append(Candidate(path, None, None, model_name(path)))
            self.aliases.append([])
            return
        key = (st.st_dev, st.st_ino)
        index = self.by_inode.get(key)
        if index is None:
            self.by_inode[key] = len(self.files)
            self.files.append(Candidate(path, st.st_size, st.st_mtime, model_name(path)))
            self.aliases.append([])
            return
        first = self.files[index]
        if "/blobs/" in first.path and "/blobs/" not in path:
            # The name a person recognises (a snapshots/ link) over a blobs/ hash.
            self.aliases[index].append(first.path)
            self.files[index] = Candidate(path, st.st_size, st.st_mtime, model_name(path))
        else:
            self.aliases[index].append(path)

    def candidates(self) -> list[Candidate]:
        return [
            Candidate(c.path, c.size, c.mtime, c.model, tuple(a)) if a else c
            for c, a in zip(self.files, self.aliases, strict=True)
        ]


def discover_tree(
    paths: Sequence[str],
    *,
    include_hidden: bool = False,
    exclude: Sequence[str] = (),
    storage: StorageOptions = (),
) -> Discovery:
    """Files to scan (given files always, folders walked), the sharded models found, and
    what was skipped, by reason.

    URLs (``s3://bucket/prefix/``, ``https://...``) are listed by :mod:`.remote`, with the
    file systems' ``storage`` options; their objects follow the local files."""
    urls = [p for p in paths if is_url(p)]
    if urls:
        local = discover_tree(
            [p for p in paths if not is_url(p)], include_hidden=include_hidden, exclude=exclude
        )
        objects, groups = discover_remote(
            urls, include_hidden=include_hidden, exclude=exclude, storage=storage
        )
        return Discovery(local.files + objects, local.models + groups, local.skipped)
    found = _Found()
    skipped: Counter[str] = Counter()
    visited: set[tuple[int, int]] = set()
    indexes: list[str] = []
    for root in dict.fromkeys(paths):
        if not os.path.isdir(root):
            if root.endswith(".index.json"):
                indexes.append(root)
            else:
                found.add(root, _stat(root))  # named explicitly: always reported
            continue
        for path, st in _walk(root, include_hidden, exclude, skipped, visited):
            if path.endswith(".index.json"):
                indexes.append(path)
                continue
            reason = skip_reason(path, st)
            if reason is not None:
                skipped[reason] += 1
                continue
            found.add(path, st)
    groups = tuple(g for g in (_group(i) for i in indexes) if g is not None)
    files = _name_models(found.candidates(), found.by_inode, groups)
    return Discovery(tuple(files), groups, tuple(sorted(skipped.items())))


def discover(
    paths: Sequence[str],
    *,
    include_hidden: bool = False,
    exclude: Sequence[str] = (),
    storage: StorageOptions = (),
) -> tuple[tuple[Candidate, ...], tuple[ModelGroup, ...]]:
    """Files to scan and the sharded models found (:func:`discover_tree` without the
    skipped counts)."""
    files, models, _ = discover_tree(
        paths, include_hidden=include_hidden, exclude=exclude, storage=storage
    )
    return files, models


def _name_models(
    files: list[Candidate], by_inode: dict[tuple[int, int], int], groups: tuple[ModelGroup, ...]
) -> list[Candidate]:
    """Shards take their index's model name (matched by file identity, so a link and its
    target are the same shard)."""
    by_file = {
        (st.st_dev, st.st_ino): g for g in groups for s in g.shards if (st := _stat(s)) is not None
    }
    named = list(files)
    for key, index in by_inode.items():
        group = by_file.get(key)
        c = files[index]
        if group is not None and not c.model:
            named[index] = Candidate(c.path, c.size, c.mtime, group.name, c.aliases)
    return named


def _group(index: str) -> ModelGroup | None:
    folder = os.path.dirname(index)
    name = model_name(index) or os.path.basename(os.path.abspath(folder)) or index
    try:
        weight_map = read_shard_index(index)
    except PthForensicsError as exc:
        return ModelGroup(name, index, (), (), 0, error=str(exc))
    shards: list[str] = []
    for file in weight_map.values():
        path = os.path.join(folder, file)
        if path not in shards:
            shards.append(path)
    missing = tuple(p for p in shards if not os.path.exists(p))
    return ModelGroup(name, index, tuple(shards), missing, len(weight_map))
