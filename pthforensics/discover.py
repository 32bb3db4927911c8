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

from .container import read_shard_index, sniff_file
from .errors import PthForensicsError
from .records import Candidate, ModelGroup

__all__ = ["Candidate", "ModelGroup", "discover", "model_name"]

logger = logging.getLogger(__name__)

_SKIP_DIRS = frozenset({".git", "__pycache__", ".hg", ".svn", "node_modules", ".tox", ".venv"})
_CHECKPOINT_EXTENSIONS = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".safetensors",
                          ".tar", ".joblib", ".model", ".pt2")


def model_name(path: str) -> str | None:
    """``org/name`` for a file inside a Hugging Face cache snapshot, else ``None``."""
    parts = os.path.normpath(path).split(os.sep)
    for i, part in enumerate(parts):
        if part.startswith("models--") and i + 2 < len(parts) and parts[i + 1] == "snapshots":
            return part[len("models--"):].replace("--", "/")
    return None


def _inside(path: str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _stays_inside(path: str, root_real: str) -> bool:
    return not os.path.islink(path) or _inside(path, root_real)


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _walk(root: str, include_hidden: bool, exclude: Sequence[str]) -> Iterator[str]:
    root_real = os.path.realpath(root)
    visited: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:
            dirs[:] = []  # a symbolic link back to a folder already walked: a cycle
            continue
        visited.add((st.st_dev, st.st_ino))
        # The walk only descends into folders already inside the root, so only symbolic
        # links can lead out of it: realpath (an lstat per path component) is for them only.
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS
                         and (include_hidden or not d.startswith("."))
                         and not _excluded(os.path.join(folder, d), exclude)
                         and _stays_inside(os.path.join(folder, d), root_real))
        for name in sorted(files):
            full = os.path.join(folder, name)
            if (include_hidden or not name.startswith(".")) and not _excluded(full, exclude) \
                    and _stays_inside(full, root_real):
                yield full


def _is_checkpoint(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True  # report it as an error rather than dropping it
    if not stat.S_ISREG(st.st_mode):
        return False  # pipes, sockets, devices: not checkpoints, and opening may block
    if sniff_file(path) is not None:
        return True
    return st.st_size == 0 and path.endswith(_CHECKPOINT_EXTENSIONS)


def discover(paths: Sequence[str], *, include_hidden: bool = False,
             exclude: Sequence[str] = ()) -> tuple[tuple[Candidate, ...], tuple[ModelGroup, ...]]:
    """Files to scan (given files always, folders walked) and the sharded models found."""
    seen: dict[tuple[int, int], int] = {}
    found: list[Candidate] = []
    indexes: list[str] = []
    for root in paths:
        if not os.path.isdir(root):
            walked: Iterator[str] = iter([root])
            explicit = True
        else:
            walked = _walk(root, include_hidden, exclude)
            explicit = False
        for path in walked:
            if path.endswith(".index.json"):
                indexes.append(path)
                continue
            if not explicit and not _is_checkpoint(path):
                continue
            try:
                st = os.stat(path)
            except OSError:
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
    by_path = {os.path.realpath(s): g for g in groups for s in g.shards}
    named = tuple(c if c.model or os.path.realpath(c.path) not in by_path else
                  Candidate(c.path, c.size, c.mtime, by_path[os.path.realpath(c.path)].name)
                  for c in found)
    return named, groups


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
