"""Grading the globals a pickle stream names: the logic over the policy tables.

Every global is normalised the way the loader would (Python 2 names through
``_compat_pickle``, as ``pickle`` does for protocols < 3) and judged in this order:

1. names that cannot be known statically (computed ``STACK_GLOBAL``, ``EXT*``) -> malicious;
2. the allow-list (:data:`~.allowlist.ALLOWED`): torch's own rebuild machinery -> no finding;
3. known-benign metadata (:data:`~.allowlist.BENIGN_METADATA`), TorchScript classes and
   typing constructs -> ``info``; gadgets (:data:`~.allowlist.GADGETS`) -> suspicious;
4. the hard block-list: dunder attribute paths, dangerous modules anywhere in the
   dotted path (:mod:`.denylist`), callables that run code / touch files, processes or the
   network / import modules / load other files (:mod:`.denynames`) -> malicious (cannot be
   overridden);
5. ``torch`` names outside the allow-list: ``nn``/``optim`` classes (full-model pickles)
   -> info, dangerous sub-packages -> malicious, the rest -> suspicious;
6. third-party areas that load files or run code -> malicious; any other standard-library
   global -> malicious: the standard library is full of gadgets (``timeit``, ``pdb``,
   ``cProfile``, ``uuid._get_command_stdout``...) and a model checkpoint needs none of them
   beyond the allow-listed data types;
7. everything else (third-party or user classes such as ``__main__.Net``) -> suspicious:
   ``torch.load`` would import that module and run its code.

The stream-level rules that turn one stream's opcode pass into findings are in
:mod:`.stream_rules`.

Sources: ``torch/_weights_only_unpickler.py`` (``_get_allowed_globals``,
``_tensor_rebuild_functions``), fickling ``fickling/ml.py`` (allow-list with reasons),
picklescan ``scanner.py`` (dangerous globals), published scanner bypasses (see
``corpus/generate.py`` for one sample per technique with its advisory).
"""

from __future__ import annotations

import _compat_pickle
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from pthforensics.core import Severity

from .allowlist import ALLOWED, BENIGN_METADATA, GADGETS
from .denylist import (
    DANGEROUS_COMPONENTS,
    DANGEROUS_ROOTS,
    THIRD_PARTY_DANGEROUS,
    TORCH_DANGEROUS,
    TORCH_MODEL_PACKAGES,
)
from .denynames import DANGEROUS_NAMES

__all__ = ["Judgement", "judge_global", "normalize_global"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The grade of one global and why."""

    severity: Severity
    rule_id: str
    reason: str


_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(_compat_pickle.IMPORT_MAPPING)
# Prefix tables as tuples: ``_starts`` walks them in order.
_THIRD_PARTY_AREAS = tuple(THIRD_PARTY_DANGEROUS)
_TORCH_AREAS = tuple(TORCH_DANGEROUS)
_TORCH_MODEL_AREAS = tuple(TORCH_MODEL_PACKAGES)
#: Dunder components that are plain names, not attribute walks.
_HARMLESS_DUNDERS = ("__main__",)

_UNRESOLVED = Judgement(
    Severity.MALICIOUS,
    "unresolved-global",
    "the global's module or name is computed at load time, so no scanner "
    "can tell what the loader will import; checkpoint writers never do this",
)
_TORCHSCRIPT = Judgement(
    Severity.INFO,
    "torchscript-class",
    "a TorchScript class compiled from the archive's own code/ (the archive "
    "itself is reported as code); Python's pickle cannot import it",
)
_TYPING = Judgement(
    Severity.INFO,
    "benign-metadata-global",
    "a typing construct (omegaconf/Lightning configs record type hints)",
)


def normalize_global(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names to Python 3 ones exactly as ``pickle``'s loader does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _starts(dotted: str, prefixes: tuple[str, ...]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def judge_global(module: str | None, name: str | None) -> Judgement | None:
    """Grade one global; ``None`` means allow-listed (no finding)."""
    if module is None or name is None:
        return _UNRESOLVED
    module, name = normalize_global(module, name)
    full = f"{module}.{name}"
    if full in ALLOWED:
        return None
    for step in _STEPS:
        judgement = step(module, name, full)
        if judgement is not None:
            return judgement
    return _judge_by_area(module, name, full)


def _judge_listed(module: str, name: str, full: str) -> Judgement | None:
    """Step 3: known-benign metadata, TorchScript classes, typing constructs, gadgets."""
    if full in BENIGN_METADATA:
        return Judgement(Severity.INFO, "benign-metadata-global", BENIGN_METADATA[full].reason)
    if module == "__torch__" or module.startswith("__torch__."):
        return _TORCHSCRIPT
    if module == "typing" and name.isidentifier() and name[:1].isupper():
        return _TYPING
    if full in GADGETS:
        return Judgement(Severity.SUSPICIOUS, "gadget-global", GADGETS[full].reason)
    return None


def _judge_dunder(module: str, name: str, full: str) -> Judgement | None:
    """Step 4a: a dunder attribute walk (``X.__init__.__globals__``)."""
    if any(
        c.startswith("__") and c.endswith("__") and c not in _HARMLESS_DUNDERS
        for c in name.split(".")
    ):
        return Judgement(
            Severity.MALICIOUS,
            "dunder-attribute",
            f"'{full}' walks dunder attributes, the classic route from any "
            "object to builtins and arbitrary code",
        )
    return None


def _judge_module(module: str, name: str, full: str) -> Judgement | None:
    """Step 4b: a dangerous module as the root or anywhere in the dotted path."""
    components = [*module.split("."), *name.split(".")]
    root = components[0]
    bad = [c for c in components if c in DANGEROUS_COMPONENTS]
    if root in DANGEROUS_ROOTS or bad:
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' reaches module '{bad[0] if bad else root}', which can run "
            "code, spawn processes, import modules or touch files or the network",
        )
    return None


def _judge_callable(module: str, name: str, full: str) -> Judgement | None:
    """Step 4c: a dangerous callable name anywhere in the attribute path."""
    bad_names = [c for c in name.split(".") if c in DANGEROUS_NAMES]
    if bad_names:
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-callable",
            f"'{full}' is a callable ('{bad_names[0]}') that executes code, loads "
            "files or pickles, or reaches processes, files or the network",
        )
    return None


#: The ordered steps after the allow-list; the first judgement wins.
_STEPS: tuple[Callable[[str, str, str], Judgement | None], ...] = (
    _judge_listed,
    _judge_dunder,
    _judge_module,
    _judge_callable,
)


def _judge_by_area(module: str, name: str, full: str) -> Judgement:
    """Steps 5-7: torch areas, third-party areas, the standard library, the rest."""
    if module.split(".", 1)[0] == "torch":
        return _judge_torch(module, name, full)
    if _starts(module, _THIRD_PARTY_AREAS) or _starts(full, _THIRD_PARTY_AREAS):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' lies in a package area that loads files or runs code",
        )
    if module.split(".", 1)[0] in _STDLIB:
        return Judgement(
            Severity.MALICIOUS,
            "stdlib-global",
            f"'{full}' is a standard-library global outside the allow-list; "
            "checkpoints need none beyond plain data types, while the standard "
            "library offers many code-execution gadgets",
        )
    return Judgement(
        Severity.SUSPICIOUS,
        "unknown-global",
        f"'{full}' is not on the allow-list: loading imports '{module}' and runs "
        "its code; trust it only if you trust that package",
    )


def _judge_torch(module: str, name: str, full: str) -> Judgement:
    if _starts(module, _TORCH_AREAS) or _starts(full, _TORCH_AREAS):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-torch-global",
            f"'{full}' lies in a torch sub-package that loads files, compiles or "
            "runs code, or spawns work",
        )
    leaf = name.rsplit(".", 1)[-1]
    if _starts(module, _TORCH_MODEL_AREAS) and (
        leaf[:1].isupper() or module.startswith("torch.nn.functional")
    ):
        return Judgement(
            Severity.INFO,
            "torch-module-class",
            f"'{full}' is a torch.nn/optim class or pure function (a full-model "
            "pickle; loading instantiates it without running user code)",
        )
    return Judgement(
        Severity.SUSPICIOUS,
        "unknown-torch-global",
        f"'{full}' is a torch global outside the allow-list; no checkpoint writer emits it",
    )
