"""Grading the globals a pickle stream names: the logic over the policy tables.

A global is first named as the loader resolves it (:func:`.names.loader_name`: Python 2
names below protocol 3, torch's module renames), then judged in this order:

1. unknown module/name (computed at load time) -> malicious when the loader calls it,
   suspicious when it is only named;
2. an exact (module, qualified name) of the known-good tables -> no finding (the
   allow-list, modelled on ``torch/_weights_only_unpickler.py::_get_allowed_globals``) or
   ``info`` (benign metadata, torch.nn/optim classes, pure tensor functions).  A dotted
   name that spells a listed one through submodule attributes (``torch`` +
   ``nn.parameter.Parameter``) is that global;
3. one byte away from a known-good name (or its module root from a known root) and
   existing nowhere -> suspicious, "corrupt" (a damaged file: loading fails, nothing
   runs; :mod:`.damaged`);
4. a dotted name: below protocol 4 a single ``getattr`` that cannot resolve (corrupt);
   from 4 on an attribute walk (``find_class`` does ``getattr`` per component), which from
   any module we know reaches whatever that module imported -> malicious; a walk through
   class-like components of a user module is a nested class (judged as one);
5. the plain name: TorchScript classes, typing constructs -> info; gadgets and code
   carriers -> suspicious (the stream rules look at what they are given); dunders, dangerous
   modules, dangerous callables in known packages (or called anywhere), dangerous torch and
   third-party areas, the rest of the standard library -> malicious;
6. everything else (a user or third-party class such as ``__main__.Net``) -> suspicious:
   ``torch.load`` would import that module and run its code; a *function* the stream calls
   -> malicious in a package whose layout we know, suspicious (that package's own code,
   like its classes) in one we do not.

A user module path that merely contains a word like ``code`` or ``sh`` is judged by its
root (``mypkg.code.model`` is mypkg's module, not the standard ``code``); only the roots of
known packages are read component by component.

Sources: ``torch/_weights_only_unpickler.py``; CPython ``Modules/_pickle.c``
(``find_class``, ``get_dotted_path``); fickling ``fickling/ml.py`` (allow-list with
reasons); picklescan ``scanner.py`` (dangerous globals).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from pthforensics.core import Severity

from .allowlist import ALLOWED, BENIGN_METADATA, GADGETS
from .calls import CODE_CARRIERS
from .damaged import KNOWN_ROOTS, STDLIB, damaged_name
from .denylist import (
    DANGEROUS_COMPONENTS,
    DANGEROUS_ROOTS,
    THIRD_PARTY_DANGEROUS,
    TORCH_DANGEROUS,
)
from .denynames import DANGEROUS_NAMES, LOWERCASE_CLASSES
from .names import WALK_PROTOCOL, loader_name
from .torchnames import TORCH_CLASSES, TORCH_FUNCTIONS

__all__ = [
    "KNOWN_GOOD",
    "KNOWN_ROOTS",
    "Judgement",
    "is_function_name",
    "judge_global",
    "normalize_global",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The grade of one global and why."""

    severity: Severity
    rule_id: str
    reason: str


#: Roots whose importers alias other modules under their own paths (``six.moves.builtins``
#: is ``builtins``): a dangerous component anywhere in such a module path counts.
_ALIASING_ROOTS = frozenset({"six", "future", "past"})
_THIRD_PARTY_AREAS = tuple(THIRD_PARTY_DANGEROUS)
_TORCH_AREAS = tuple(TORCH_DANGEROUS)
#: Dunder components that are plain names, not attribute walks.
_HARMLESS_DUNDERS = frozenset({"__main__", "__torch__"})
_GETATTR = ("builtins", "getattr")
_ATEN_NAMESPACE = {
    "torch._C._VariableFunctionsClass": Judgement(
        Severity.INFO,
        "benign-metadata-global",
        "the class holding torch's ATen operators: protocol 2 pickles torch.relu as "
        "getattr(torch._C._VariableFunctionsClass, 'relu'), judged as that walk",
    )
}


def _known_good() -> dict[str, Judgement | None]:
    table: dict[str, Judgement | None] = {}
    for source, rule in (
        (TORCH_FUNCTIONS, "torch-function"),
        (TORCH_CLASSES, "torch-module-class"),
        (BENIGN_METADATA, "benign-metadata-global"),
    ):
        for full, entry in source.items():
            table[full] = Judgement(Severity.INFO, rule, entry.reason)
    table.update(_ATEN_NAMESPACE)
    table.update(dict.fromkeys(ALLOWED))
    return table


#: Exact ``module.qualname`` -> its judgement (``None``: allowed, no finding).
KNOWN_GOOD: dict[str, Judgement | None] = _known_good()

_UNRESOLVED = Judgement(
    Severity.MALICIOUS,
    "unresolved-global",
    "the global's module or name is computed at load time, so no scanner can tell what the "
    "loader will import; checkpoint writers never do this",
)
_UNRESOLVED_NAMED = Judgement(
    Severity.SUSPICIOUS,
    "unresolved-global",
    "the global's module or name is computed at load time (an import no scanner can "
    "predict) but nothing calls it; checkpoint writers never do this (a damaged stream can)",
)


def normalize_global(module: str, name: str, proto: int = WALK_PROTOCOL - 2) -> tuple[str, str]:
    """Map Python 2 names to Python 3 ones as ``pickle``'s loader does (protocols < 3)."""
    return loader_name(module, name, proto)


def judge_global(
    module: str | None, name: str | None, *, proto: int = WALK_PROTOCOL, called: bool = False
) -> Judgement | None:
    """Grade one global resolved under protocol ``proto`` (``called``: the loader calls or
    constructs it); ``None`` means allow-listed (no finding)."""
    if module is None or name is None:
        return _UNRESOLVED if called else _UNRESOLVED_NAMED
    module, name = loader_name(module, name, proto)
    full = f"{module}.{name}"
    if full in KNOWN_GOOD:
        return KNOWN_GOOD[full]
    if damaged_name(module, name, _known_by_length()):
        return Judgement(
            Severity.SUSPICIOUS,
            "corrupt-global",
            f"'{full}' is one byte away from a name checkpoints use (or its module from a "
            "known package) and exists in no module: a damaged file (loading it fails, "
            "nothing runs)",
        )
    if "." in name:
        if proto < WALK_PROTOCOL:
            return Judgement(
                Severity.SUSPICIOUS,
                "corrupt-global",
                f"'{full}': below protocol 4 find_class does one getattr of the dotted "
                "text, which cannot resolve (loading fails)",
            )
        return _judge_walk(module, name, full, called)
    return _judge_plain(module, name, full, called)


def is_function_name(name: str | None) -> bool:
    """Whether a global's last name component reads as a function rather than a class."""
    leaf = (name or "").rsplit(".", 1)[-1]
    core = leaf.lstrip("_")
    return bool(core) and core[:1].islower() and leaf not in LOWERCASE_CLASSES


# -- damaged names -------------------------------------------------------------------------


@cache
def _known_by_length() -> dict[int, tuple[str, ...]]:
    """Names benign writers emit, grouped by length (a damaged name keeps its length): the
    known-good ones, and the gadgets, carriers and loaders the stream rules look into."""
    from .calls import ARGUMENT_CALLS, NESTED_LOADERS  # noqa: PLC0415 - a rules-only lookup

    emitted = {f"{m}.{n}" for m, n in (*CODE_CARRIERS, *NESTED_LOADERS, *ARGUMENT_CALLS)}
    groups: dict[int, list[str]] = {}
    for full in {*KNOWN_GOOD, *GADGETS, *emitted, "builtins.getattr"}:
        groups.setdefault(len(full), []).append(full)
    return {n: tuple(names) for n, names in groups.items()}


# -- dotted names (attribute walks) ---------------------------------------------------------


def _dunders(parts: Iterable[str]) -> list[str]:
    return [
        p for p in parts if p.startswith("__") and p.endswith("__") and p not in _HARMLESS_DUNDERS
    ]


def _judge_walk(module: str, name: str, full: str, called: bool) -> Judgement:
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return Judgement(
            Severity.SUSPICIOUS,
            "corrupt-global",
            f"'{full}' holds a component getattr cannot resolve (loading fails)",
        )
    if _dunders(parts):
        return _dunder(full)
    root = module.split(".", 1)[0]
    if root not in KNOWN_ROOTS and all(p.lstrip("_")[:1].isupper() for p in parts):
        return _judge_plain(module, name, full, called)  # Outer.Inner: a nested class
    return Judgement(
        Severity.MALICIOUS,
        "attribute-walk",
        f"'{module}' + '{name}' is an attribute walk (protocol 4 find_class does getattr "
        f"per component): a module exposes what it imported, so the walk can end anywhere, "
        "code execution included; it spells no allow-listed global",
    )


def _dunder(full: str) -> Judgement:
    return Judgement(
        Severity.MALICIOUS,
        "dunder-attribute",
        f"'{full}' walks dunder attributes, the classic route from any object to builtins "
        "and arbitrary code",
    )


# -- plain names ------------------------------------------------------------------------------


def _judge_plain(module: str, name: str, full: str, called: bool) -> Judgement:
    """Steps 5-6 for a name that is not a walk (or a nested class of a user module)."""
    parts = module.split(".")
    if not all(p.isidentifier() for p in parts) or not all(
        p.isidentifier() for p in name.split(".")
    ):
        return Judgement(
            Severity.SUSPICIOUS,
            "unknown-global",
            f"'{full}' is not a dotted identifier: no installed module can normally be "
            "imported under it (a damaged or hand-made name)",
        )
    listed = _judge_listed(module, name, full)
    if listed is not None:
        return listed
    if (module, name) == _GETATTR and not called:
        return Judgement(
            Severity.SUSPICIOUS,
            "gadget-global",
            "builtins.getattr named but never called: protocol 2 writes it for every "
            "torch.relu or nested class (getattr(cls, 'name')), judged as that walk when called",
        )
    if _dunders(name.split(".")):
        return _dunder(full)
    root = parts[0]
    known = root in KNOWN_ROOTS
    # A module path is imported, not walked: its components matter only under roots whose
    # importers alias modules; the name's components are getattr results (module objects).
    path = parts[1:] if root in _ALIASING_ROOTS else []
    bad = [c for c in (*path, *name.split(".")) if c in DANGEROUS_COMPONENTS]
    if root in DANGEROUS_ROOTS or (known and bad):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' reaches module '{bad[0] if bad else root}', which can run code, spawn "
            "processes, import modules or touch files or the network",
        )
    bad_names = [c for c in name.split(".") if c in DANGEROUS_NAMES]
    if bad_names and (known or called):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-callable",
            f"'{full}' is a callable ('{bad_names[0]}') that executes code, loads files or "
            "pickles, or reaches processes, files or the network"
            + ("" if known else " (the stream calls it)"),
        )
    return _judge_by_area(module, name, full, called, known)


def _judge_listed(module: str, name: str, full: str) -> Judgement | None:
    if module == "__torch__" or module.startswith("__torch__."):
        return Judgement(
            Severity.INFO,
            "torchscript-class",
            "a TorchScript class compiled from the archive's own code/ (the archive itself "
            "is reported as code); Python's pickle cannot import it",
        )
    if module == "typing" and name.isidentifier() and name[:1].isupper():
        return Judgement(
            Severity.INFO,
            "benign-metadata-global",
            "a typing construct (omegaconf/Lightning configs record type hints)",
        )
    if full in GADGETS:
        return Judgement(Severity.SUSPICIOUS, "gadget-global", GADGETS[full].reason)
    carrier = CODE_CARRIERS.get((module, name))
    if carrier is not None:
        return Judgement(Severity.SUSPICIOUS, "code-carrier", carrier.entry.reason)
    return None


def _starts(dotted: str, prefixes: tuple[str, ...]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def _judge_by_area(module: str, name: str, full: str, called: bool, known: bool) -> Judgement:
    """torch areas, third-party areas, the standard library, the rest."""
    root = module.split(".", 1)[0]
    if root == "torch" and (_starts(module, _TORCH_AREAS) or _starts(full, _TORCH_AREAS)):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-torch-global",
            f"'{full}' lies in a torch sub-package that loads files, compiles or runs code, "
            "or spawns work",
        )
    if _starts(module, _THIRD_PARTY_AREAS) or _starts(full, _THIRD_PARTY_AREAS):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' lies in a package area that loads files or runs code",
        )
    if root in STDLIB:
        return Judgement(
            Severity.MALICIOUS,
            "stdlib-global",
            f"'{full}' is a standard-library global outside the allow-list; checkpoints need "
            "none beyond plain data types, while the standard library offers many "
            "code-execution gadgets",
        )
    if called and is_function_name(name):
        # A function of a package we know the layout of (torch, numpy...) is a known
        # capability; one of a package we do not is that package's code, like its classes.
        return Judgement(
            Severity.MALICIOUS if known else Severity.SUSPICIOUS,
            "unknown-function-call",
            f"the stream calls '{full}', a function outside the allow-list (not a class): "
            "checkpoint writers only call class constructors and torch's rebuild helpers"
            + ("" if known else f"; loading imports '{module}' and runs it"),
        )
    if root == "torch":
        return Judgement(
            Severity.SUSPICIOUS,
            "unknown-torch-global",
            f"'{full}' is a torch global outside the allow-list; no checkpoint writer emits it",
        )
    return Judgement(
        Severity.SUSPICIOUS,
        "unknown-global",
        f"'{full}' is not on the allow-list: loading imports '{module}' and runs its code; "
        "trust it only if you trust that package",
    )
