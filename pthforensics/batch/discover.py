"""Which files a batch scans, and which model each belongs to.

Walks folders recursively and keeps files whose first bytes are a checkpoint format
(:func:`pthforensics.container.sniff_file`), whatever their extension.  Symbolic links are
followed only while they stay inside the root they were found under; a file reached twice
(a Hugging Face ``snapshots/`` link and its ``blobs/`` target) is reported once, under the
meaningful name.  Sharded models (``*.index.json`` with a ``weight_map``) group their
shards; a Hugging Face cache layout (``models--org--name/snapshots/<rev>/``) names the model.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterator, Sequence

from pthforensics.container import read_shard_index, sniff_file
from pthforensics.core import Candidate, ModelGroup, PthForensicsError

__all__ = ["Candidate", "ModelGroup", "discover", "model_name"]

logger = logging.getLogger(__name__)

_SKIP_DIRS = frozenset({".git", "__pycache__", ".hg", ".svn", "node_modules", ".tox", ".venv"})
_CHECKPOINT_EXTENSIONS = (
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".safetensors",
    ".tar",
    ".joblib",
    ".model",
    ".pt2",
)


def model_name(path: str) -> str | None:
    """``org/name`` for a file inside a Hugging Face cache snapshot, else ``None``."""
    parts = os.path.normpath(path).split(os.sep)
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 2 < len(parts) and parts[i + 1] == "snapshots":
            return part[len("models--") :].replace("--", "/")
    return None


def _inside(path: str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(
    root: str, include_hidden: bool, exclude: Sequence[str]
) -> Iterator[tuple[str, os.stat_result | None]]:
    """Files under ``root`` (depth first, sorted, a folder's files before its subfolders)
    with their ``stat`` (``None`` when it fails, e.g. a dangling link).

    Built on ``os.scandir``: one ``stat`` per file, and ``realpath`` (an ``lstat`` per path
    component) only for symbolic links, the only way out of the root.
    """
    root_real = os.path.realpath(root)
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in visited:
            continue  # a symbolic link back to a folder already walked: a cycle
        visited.add((st.st_dev, st.st_ino))
        folders: list[str] = []
        for entry in entries:
            name, full = entry.name, entry.path
            if not include_hidden and name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir and name in _SKIP_DIRS:
                continue
            if (exclude and _excluded(full, exclude)) or (
                entry.is_symlink() and not _inside(full, root_real)
            ):
                continue
            if is_dir:
                folders.append(full)
                continue
            try:
                yield full, entry.stat()
            except OSError:
                yield full, None
        stack.extend(reversed(folders))


def _is_checkpoint(path: str, st: os.stat_result | None) -> bool:
    if st is None:
        return True  # report it as an error rather than dropping it
    if not stat.S_ISREG(st.st_mode):
        return False  # pipes, sockets, devices: not checkpoints, and opening may block
    if sniff_file(path, st) is not None:
        return True
    # A checkpoint name with content we cannot read is reported as an error, never skipped.
    return path.endswith(_CHECKPOINT_EXTENSIONS)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def discover(
    paths: Sequence[str], *, include_hidden: bool = False, exclude: Sequence[str] = ()
) -> tuple[tuple[Candidate, ...], tuple[ModelGroup, ...]]:
    """Files to scan (given files always, folders walked) and the sharded models found."""
    seen: dict[tuple[int, int], int] = {}
    found: list[Candidate] = []
    indexes: list[str] = []
    for root in paths:
        explicit = not os.path.isdir(root)
        walked = iter([(root, _stat(root))]) if explicit else _walk(root, include_hidden, exclude)
        for path, st in walked:
            if path.endswith(".index.json"):
                indexes.append(path)
                continue
            if not explicit and not _is_checkpoint(path, st):
                continue
            if st is None:
                found.append(Candidate(path, None, None, model_name(path)))
                continue
            key = (st.st_dev, st.st_ino)
            candidate = Candidate(path, st.st_size, st.st_mtime, model_name(path))
            if key in seen:
                # Prefer the name a person would recognise (snapshots/ link over blobs/ hash).
                if "/blobs/" in found[seen[key]].path and "/blobs/" not in path:
                    found[seen[key]] = candidate
                continue
            seen[key] = len(found)
            found.append(candidate)
    groups = tuple(g for g in (_group(i) for i in indexes) if g is not None)
    # Shards are matched by file identity, so a link and its target are the same shard.
    by_file = {
        (st.st_dev, st.st_ino): g for g in groups for s in g.shards if (st := _stat(s)) is not None
    }
    named = list(found)
    for key, index in seen.items():
        group = by_file.get(key)
        c = found[index]
        if group is not None and not c.model:
            named[index] = Candidate(c.path, c.size, c.mtime, group.name)
    return tuple(named), groups


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
