"""Damaged names: a global one byte away from a name benign writers emit that exists in
no module is a bit-flipped file (its import or lookup fails, nothing runs), not a claim of
capability.

A damaged name keeps its length, so candidates are compared with the known names of the
same length only.  Whether a name exists is answered from the data (generated torch names,
:data:`.torchnames.EXISTING_NEIGHBOURS`) or, for a fixed list of standard-library modules,
by reading the module's namespace (never a module the file names).
"""

from __future__ import annotations

import _compat_pickle
import importlib
import sys
from collections.abc import Iterable, Mapping
from functools import cache

from .denylist import DANGEROUS_ROOTS, KNOWN_PACKAGES, THIRD_PARTY_DANGEROUS
from .torchnames import EXISTING_NEIGHBOURS

__all__ = ["KNOWN_ROOTS", "STDLIB", "by_length", "damaged_name", "one_byte_off"]

#: Standard-library module names (and Python 2 names the loader maps).
STDLIB = frozenset(sys.stdlib_module_names) | frozenset(_compat_pickle.IMPORT_MAPPING)
#: Roots whose layout we know: a walk from them is an attribute walk, and a dangerous
#: component anywhere in their paths is that component.
KNOWN_ROOTS = (
    STDLIB
    | {"torch"}
    | {k.split(".")[0] for k in (*DANGEROUS_ROOTS, *THIRD_PARTY_DANGEROUS, *KNOWN_PACKAGES)}
)
#: Roots whose real names near listed ones :data:`EXISTING_NEIGHBOURS` lists.
_LISTED_ROOTS = ("torch", "numpy")
#: Standard-library modules whose namespace is read (never those a file names: a fixed
#: list) to tell a damaged name from a real one.
_INTROSPECTED = frozenset(
    {
        "builtins",
        "collections",
        "copyreg",
        "_codecs",
        "codecs",
        "argparse",
        "types",
        "datetime",
        "decimal",
        "fractions",
        "uuid",
        "pathlib",
        "array",
        "enum",
        "re",
        "functools",
        "typing",
    }
)


def one_byte_off(text: str, known: Mapping[int, tuple[str, ...]]) -> bool:
    """Whether exactly one character separates ``text`` from a name of ``known`` (names
    grouped by length)."""
    for name in known.get(len(text), ()):
        diff = 0
        for a, b in zip(text, name, strict=True):
            if a != b:
                diff += 1
                if diff > 1:
                    break
        if diff == 1:
            return True
    return False


def damaged_name(module: str, name: str, known: Mapping[int, tuple[str, ...]]) -> bool:
    """``module.name`` is a damaged copy of a name of ``known`` (grouped by length), or its
    module root a damaged copy of a known root, and exists nowhere."""
    return _corrupt(module, name, known) or _corrupt_root(module)


def _corrupt(module: str, name: str, known: Mapping[int, tuple[str, ...]]) -> bool:
    """One byte away from a known name, and not a real name."""
    full = f"{module}.{name}"
    if full in EXISTING_NEIGHBOURS or not one_byte_off(full, known):
        return False
    if module in _INTROSPECTED:
        return name.split(".", 1)[0] not in vars(importlib.import_module(module))
    root = module.split(".", 1)[0]
    if root in _LISTED_ROOTS:
        return True  # EXISTING_NEIGHBOURS lists their real names near listed ones
    return root not in KNOWN_ROOTS  # a module root that exists nowhere we know


def _corrupt_root(module: str) -> bool:
    """A module root one byte away from a known root (``collectionr``, ``__b5iltin__``)
    that is none itself: an import that fails, whatever the name after it."""
    root = module.split(".", 1)[0]
    return root not in KNOWN_ROOTS and one_byte_off(root, _roots_by_length())


def by_length(names: Iterable[str]) -> dict[int, tuple[str, ...]]:
    """``names`` grouped by length, the index :func:`one_byte_off` searches."""
    groups: dict[int, list[str]] = {}
    for name in names:
        groups.setdefault(len(name), []).append(name)
    return {n: tuple(group) for n, group in groups.items()}


@cache
def _roots_by_length() -> dict[int, tuple[str, ...]]:
    return by_length(KNOWN_ROOTS)
