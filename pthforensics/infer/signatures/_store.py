"""The shipped signature data, read lazily: nothing is opened until a file is named.

``signatures.zip`` (written by ``tools/signatures/build.py``) holds ``meta.json`` (library
versions, counts), ``index.json`` (entries and the skeleton hash -> layout index),
``layouts.bin`` (every layout deflated on its own, at the offsets the index gives, so
only candidates are inflated) and
``templates.json`` (every layout's templates, read only for the nearest-family search).
One :class:`Store` per process (:func:`load_store`) caches what it read.
"""

from __future__ import annotations

import functools
import io
import json
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["DATA_FILE", "Entry", "Store", "load_store"]

#: The data file, next to this module.
DATA_FILE = "signatures.zip"
#: Constructor arguments that do not make a variant of their own (no weights are fetched;
#: timm models without a head by default are recorded with one).
_NOT_VARIANT = frozenset({"weights", "weights_backbone", "num_classes"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One constructor (in one key form) and the layout it builds."""

    library: str
    """``torchvision``, ``timm`` or ``transformers``."""
    name: str
    """Constructor or class name."""
    layout: int
    """Index of its layout."""
    defaults: tuple[int, ...]
    """Its default value of each of the layout's arguments."""
    kwargs: tuple[tuple[str, Any], ...]
    """Fixed constructor arguments of this variant (``aux_loss=True``)."""
    info: int
    """Index of its info record (input convention, transformers config class...)."""
    form: str
    """``module`` (``model.state_dict()`` keys) or ``checkpoint`` (``save_pretrained``'s)."""

    @property
    def label(self) -> str:
        """``library:name`` (with the variant's fixed arguments)."""
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs if k not in _NOT_VARIANT)
        return f"{self.library}:{self.name}" + (f"({extra})" if extra else "")


class Store:
    """Lazy reader of the signature data (thread-safe)."""

    def __init__(self, data: bytes) -> None:
        self._zip = zipfile.ZipFile(io.BytesIO(data))
        self._lock = threading.Lock()
        index = self._json("index.json")
        self.entries: tuple[Entry, ...] = tuple(
            Entry(lib, name, layout, tuple(defaults), tuple(kwargs.items()), info, form)
            for lib, name, layout, defaults, kwargs, info, form in index["entries"]
        )
        self.info: tuple[dict[str, Any], ...] = tuple(index["info"])
        self.lineage: dict[str, list[str]] = index.get("lineage", {})
        """transformers module -> the modules its code derives from."""
        self._offsets: list[int] = index["offsets"]
        self._blob = self._zip.read("layouts.bin")
        self.index: dict[str, dict[str, list[int]]] = {
            kind: index.get(kind, {}) for kind in ("skeleton", "core", "headless", "untied")
        }
        by_layout: dict[int, list[Entry]] = {}
        for entry in self.entries:
            by_layout.setdefault(entry.layout, []).append(entry)
        self.by_layout = {k: tuple(v) for k, v in by_layout.items()}
        self._layouts: dict[int, dict[str, Any]] = {}
        self._templates: tuple[tuple[str, ...], dict[str, list[int]]] | None = None

    def _json(self, member: str) -> Any:
        with self._lock:
            return json.loads(self._zip.read(member))

    @functools.cached_property
    def meta(self) -> dict[str, Any]:
        """Library versions and counts of the build."""
        meta: dict[str, Any] = self._json("meta.json")
        return meta

    def layout(self, layout_id: int) -> dict[str, Any]:
        """One layout (decompressed once)."""
        cached = self._layouts.get(layout_id)
        if cached is None:
            start, end = self._offsets[layout_id], self._offsets[layout_id + 1]
            cached = json.loads(zlib.decompress(self._blob[start:end]))
            self._layouts[layout_id] = cached
        return cached

    def candidates(self, kind: str, digest: str) -> tuple[int, ...]:
        """Layouts whose ``kind`` hash (skeleton, core, headless) is ``digest``."""
        return tuple(self.index[kind].get(digest, ()))

    def templates(self) -> tuple[tuple[str, ...], dict[str, list[int]]]:
        """Every layout's template set and the template -> layouts postings."""
        if self._templates is None:
            doc = self._json("templates.json")
            strings = doc["strings"]
            per_layout = tuple(tuple(strings[i] for i in ids) for ids in doc["layouts"])
            postings: dict[str, list[int]] = {}
            for layout_id, names in enumerate(per_layout):
                for name in set(names):
                    postings.setdefault(name, []).append(layout_id)
            self._templates = (per_layout, postings)  # type: ignore[assignment]
        return self._templates  # type: ignore[return-value]

    def iter_entries(self, layout_id: int) -> Iterator[Entry]:
        """The entries sharing one layout."""
        return iter(self.by_layout.get(layout_id, ()))


_LOCK = threading.Lock()


@functools.cache
def load_store() -> Store | None:
    """The process's store, or ``None`` when the data file is not installed."""
    with _LOCK:
        try:
            data = resources.files(__package__).joinpath(DATA_FILE).read_bytes()
        except (FileNotFoundError, OSError):
            return None
        return Store(data)
