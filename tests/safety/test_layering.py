"""Import direction of the static stages: core -> safety -> container -> structure, each
package reached only through its ``__init__`` (DESIGN.md, "Layout")."""

from __future__ import annotations

import ast

import pytest

from tests._helpers import ROOT

_ORDER = ("core", "safety", "container", "structure")
_PACKAGE = ROOT / "pthforensics"


def _imports(source: str, package: str) -> list[str]:
    """``pthforensics.*`` modules that ``source`` (a module of ``package``) imports from,
    relative imports resolved."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("pthforensics"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                found.append(f"{base}.{node.module}" if node.module else base)
            elif node.module and node.module.startswith("pthforensics"):
                found.append(node.module)
    return found


def _violations(source: str, stage: str) -> list[str]:
    allowed = {f"pthforensics.{p}" for p in _ORDER[: _ORDER.index(stage)]}
    own = f"pthforensics.{stage}"
    return [
        m
        for m in _imports(source, own)
        if not (m == own or m.startswith(own + ".")) and m not in allowed
    ]


@pytest.mark.parametrize("stage", _ORDER[1:])
def test_stages_import_only_earlier_packages_through_their_init(stage: str) -> None:
    files = sorted((_PACKAGE / stage).glob("*.py"))
    assert len(files) > 3
    for path in files:
        assert _violations(path.read_text(), stage) == [], path.name


def test_the_check_catches_what_it_forbids() -> None:
    source = (
        "from pthforensics.container.reader import read_container\n"
        "from pthforensics.core.vocab import itemsize\n"
        "from ..structure import group_layers\n"
        "from ..core import vocab\n"
        "from .rules import judge_global\n"
        "import pthforensics.core\n"
    )
    assert _violations(source, "safety") == [
        "pthforensics.container.reader",
        "pthforensics.core.vocab",
        "pthforensics.structure",
    ]
    assert _violations("from pthforensics.safety import Stub\n", "structure") == []
    assert _violations("from pthforensics.structure import summarize\n", "container") == [
        "pthforensics.structure"
    ]
