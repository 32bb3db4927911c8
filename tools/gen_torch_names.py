"""Generate ``pthforensics/safety/torchnames.py``: exact torch names a checkpoint may hold.

Run with the torch (and numpy) a release supports:
``python tools/gen_torch_names.py > pthforensics/safety/torchnames.py``.

It imports torch and numpy (trusted, installed packages) and lists, by introspection:

* the classes defined in ``torch.nn``, ``torch.ao.nn`` and ``torch.optim`` modules, as
  ``pickle`` names them (``cls.__module__``, ``cls.__qualname__``): what
  ``torch.save(model)`` and ``torch.save(optimizer)`` write;
* the public functions of ``torch.nn.functional`` and ``torch.nn.init``, again under the
  name pickling gives them (``F.gelu`` pickles as ``torch._C._nn.gelu``): activation
  functions stored in configs and modules;
* names that exist in the modules of the allow-list and of the tables above, one byte
  away from a name of theirs (so that a damaged name is told from a real one).

Nothing from a checkpoint is loaded: only the installed packages are inspected.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import types
from collections.abc import Iterable, Iterator

_CLASS_PACKAGES = ("torch.nn", "torch.ao.nn", "torch.optim")
_FUNCTION_MODULES = ("torch.nn.functional", "torch.nn.init")
#: Functions of those modules that call what they are given, or dispatch to overrides.
_NOT_PURE = frozenset(
    {
        "handle_torch_function",
        "has_torch_function",
        "has_torch_function_unary",
        "has_torch_function_variadic",
        "boolean_dispatch",
    }
)


def _modules(packages: Iterable[str]) -> Iterator[types.ModuleType]:
    for package in packages:
        root = importlib.import_module(package)
        yield root
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if ".test" in info.name or "._" in info.name.rsplit(".", 1)[-1][:2]:
                pass
            try:
                yield importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - optional backends that need extras
                continue


def _classes() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for module in _modules(_CLASS_PACKAGES):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and "<" not in value.__qualname__
            ):
                found.add((value.__module__, value.__qualname__))
    return found


def _pickled_name(value: object) -> tuple[str, str] | None:
    """(module, name) under which ``pickle`` finds ``value`` again: its module and qualname,
    or for a method of a class (``torch.relu`` is ``torch._C._VariableFunctionsClass.relu``)
    the walk ``getattr(cls, name)`` that protocol 2 writes."""
    owner = getattr(value, "__self__", None)
    if isinstance(owner, type) and not inspect.ismodule(owner):
        parent = _pickled_name(owner)
        name = getattr(value, "__name__", None)
        if parent and isinstance(name, str) and getattr(owner, name, None) is value:
            return parent[0], f"{parent[1]}.{name}"
        return None
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return (module, qualname) if obj is value else None


#: ATen operators that read or write files (``torch.from_file`` maps one, creating it).
_FILE_OPS = frozenset({"from_file"})


def _functions() -> set[tuple[str, str]]:
    """Pure tensor functions: torch.nn.functional/init (and their aliases), every ATen op
    of ``torch`` and ``torch._C._nn`` but the file ones."""
    import torch

    found: set[tuple[str, str]] = set()
    for name in _FUNCTION_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or attr in _NOT_PURE or not callable(value):
                continue
            if isinstance(value, type) or inspect.ismodule(value):
                continue
            if inspect.isfunction(value) and value.__module__ != name:
                continue  # imported helpers (typing, warnings, overrides)
            pickled = _pickled_name(value)
            if pickled and pickled[0].startswith("torch") and attr not in _FILE_OPS:
                found.add(pickled)
                found.add((name, attr))  # F.gelu names torch._C._nn.gelu: the alias too
    for attr in dir(torch._C._VariableFunctionsClass):
        if not attr.startswith("_") and attr not in _FILE_OPS:
            found.add(("torch._C", f"_VariableFunctionsClass.{attr}"))
    for attr in dir(torch._C._nn):
        if not attr.startswith("_") and callable(getattr(torch._C._nn, attr)):
            found.add(("torch._C._nn", attr))
    return found


def _one_byte(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def _neighbours(known: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Real names one byte away from a known name under the same parent (a module, or
    the class a walk goes through)."""
    by_parent: dict[tuple[str, str], set[str]] = {}
    for module, name in known:
        parent, _, leaf = name.rpartition(".")
        by_parent.setdefault((module, parent), set()).add(leaf)
    found: set[tuple[str, str]] = set()
    for (module, parent), names in by_parent.items():
        try:
            obj: object = importlib.import_module(module)
            for part in parent.split(".") if parent else ():
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            continue
        for candidate in set(dir(obj)) - names:
            if any(_one_byte(candidate, name) for name in names):
                found.add((module, f"{parent}.{candidate}" if parent else candidate))
    return found


def _wrapped(words: list[str], indent: str) -> str:
    """Space-separated ``words`` as implicitly joined string literals of <= 100 columns."""
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(indent) + len(line) + len(word) + 4 > 100:
            lines.append(line)
            line = ""
        line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(f'{indent}"{" " if i else ""}{text}"' for i, text in enumerate(lines))


def _emit(title: str, reason: str, source: str, names: set[tuple[str, str]]) -> str:
    """One table: an ``entries(...)`` per parent (module, or the class a walk goes
    through), merged."""
    by_parent: dict[str, list[str]] = {}
    for module, name in sorted(names):
        parent, _, leaf = f"{module}.{name}".rpartition(".")
        by_parent.setdefault(parent, []).append(leaf)
    variable = title.split(":")[0]
    parts = [
        f"    **entries(\n        _{variable}_REASON,\n        _{variable}_SOURCE,\n"
        f"        (\n{_wrapped(leaves, '            ')}\n        ),\n"
        f'        prefix="{parent}.",\n    ),'
        for parent, leaves in by_parent.items()
    ]
    body = "\n".join(parts)
    return (
        f"_{variable}_REASON = {reason!r}\n_{variable}_SOURCE = {source!r}\n"
        f"#: {title}\n{variable}: Table = {{\n{body}\n}}\n"
    )


def main() -> int:
    import numpy  # noqa: F401 - so that numpy modules count as real
    import torch

    sys.path.insert(0, ".")
    from pthforensics.safety.allowlist import ALLOWED, BENIGN_METADATA

    classes = _classes()
    functions = _functions()
    listed = {tuple(q.rsplit(".", 1)) for q in (*ALLOWED, *BENIGN_METADATA)}
    known = classes | functions | {(m, n) for m, n in listed}  # type: ignore[misc]
    neighbours = _neighbours(known)
    print(f'''"""Exact torch names a checkpoint may hold, generated from torch {torch.__version__}.

Generated by ``tools/gen_torch_names.py`` (do not edit by hand): the classes defined in
``torch.nn``/``torch.ao.nn``/``torch.optim`` and the public functions of
``torch.nn.functional``/``torch.nn.init``, each under the name ``pickle`` gives it, and the
real names one byte away from a listed one (:data:`EXISTING_NEIGHBOURS`: not corrupt).
"""

from __future__ import annotations

from .policy import Table, entries

__all__ = ["EXISTING_NEIGHBOURS", "TORCH_CLASSES", "TORCH_FUNCTIONS"]

''')
    print(
        _emit(
            "TORCH_CLASSES: classes torch.save(model) / torch.save(optimizer) name",
            "a torch.nn/optim class: a full-model pickle constructs it without its __init__",
            f"torch {torch.__version__}: classes defined in torch.nn, torch.ao.nn, torch.optim",
            classes,
        )
    )
    print(
        _emit(
            "TORCH_FUNCTIONS: pure tensor functions stored as activations in configs",
            "a torch.nn.functional/init function: computes on tensors, runs no other code",
            f"torch {torch.__version__}: public functions of torch.nn.functional, torch.nn.init",
            functions,
        )
    )
    print(
        _emit(
            "EXISTING_NEIGHBOURS: real names one byte from a listed one",
            "exists in torch/numpy, so a name equal to it is not a damaged one",
            f"torch {torch.__version__}, numpy {sys.modules['numpy'].__version__}: namespaces",
            neighbours,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
