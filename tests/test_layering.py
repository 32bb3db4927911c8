"""The import direction of the whole package (DESIGN.md, "Layout"): each package imports
only packages before it in ``_ORDER``, and other packages only through their ``__init__``;
only ``pthforensics/rebuild/`` imports torch, and only inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests._helpers import ROOT

_ORDER = (
    "core",
    "safety",
    "container",
    "structure",
    "infer",
    "rebuild",
    "report",
    "batch",
    "pipeline",
    "__init__",
    "cli_support",
    "cli_args",
    "cli",
    "__main__",
)
_PACKAGE = ROOT / "pthforensics"


def _unit(path: Path) -> str:
    """The layering unit a module belongs to: its top-level package or module name."""
    rel = path.relative_to(_PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(tree: ast.AST, module: str) -> list[str]:
    """``pthforensics.*`` modules imported by the module ``module`` (dotted), relative
    imports resolved."""
    found: list[str] = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("pthforensics"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                if not node.module:  # ``from . import x``: x may be a module of base
                    found.extend(f"{base}.{a.name}" for a in node.names if _is_module(base, a.name))
                found.append(target)
            elif node.module and node.module.startswith("pthforensics"):
                found.append(node.module)
    return found


def _is_module(package: str, name: str) -> bool:
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").is_file() or (folder / name).is_dir()


def _violations(source: str, module: str, unit: str) -> list[str]:
    allowed_units = set(_ORDER[: _ORDER.index(unit)])
    own = f"pthforensics.{unit}"
    bad = []
    for target in _imports(ast.parse(source), module):
        parts = target.split(".")
        if target == own or target.startswith(own + "."):
            continue
        if target == "pthforensics":
            if "__init__" not in allowed_units:
                bad.append(target)
            continue
        other = parts[1]
        if other not in allowed_units:
            bad.append(target)
        elif len(parts) > 2 and (_PACKAGE / other).is_dir() and parts[2] != "__init__":
            bad.append(target)  # reaches inside another package instead of its __init__
    return bad


def _modules() -> list[tuple[Path, str, str]]:
    out = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        module = ".".join(rel.parts)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")] + ".__init__"
        out.append((path, module, _unit(path)))
    return out


@pytest.mark.parametrize("unit", _ORDER)
def test_units_import_only_earlier_ones_through_their_init(unit: str) -> None:
    files = [(p, m) for p, m, u in _modules() if u == unit]
    assert files, unit
    for path, module in files:
        assert _violations(path.read_text(), module, unit) == [], path


def test_only_rebuild_imports_torch_and_only_lazily() -> None:
    for path, _module, unit in _modules():
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names] + [
            n.module or "" for n in top if isinstance(n, ast.ImportFrom)
        ]
        assert not any(n == "torch" or n.startswith("torch.") for n in names), path
        if unit != "rebuild":
            everywhere = [
                a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
            ] + [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not any(n == "torch" or n.startswith("torch.") for n in everywhere), path


def test_the_check_catches_what_it_forbids() -> None:
    source = (
        "from pthforensics.container.reader import read_container\n"
        "from pthforensics.core.vocab import itemsize\n"
        "from ..structure import group_layers\n"
        "from ..core import vocab\n"
        "from .rules import judge_global\n"
        "import pthforensics.core\n"
        "from pthforensics.report import to_text\n"
    )
    assert _violations(source, "pthforensics.safety.x", "safety") == [
        "pthforensics.container.reader",
        "pthforensics.core.vocab",
        "pthforensics.structure",
        "pthforensics.report",
    ]
    assert (
        _violations(
            "from pthforensics.safety import Stub\n", "pthforensics.structure.x", "structure"
        )
        == []
    )
    assert _violations(
        "from ..pipeline import analyze_file\n", "pthforensics.batch.x", "batch"
    ) == ["pthforensics.pipeline"]
