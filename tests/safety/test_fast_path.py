"""The fast path (C stub unpickler, no opcode walk) is kept only where it is equivalent:
the same verdict and the same non-info rules as the full pass, on every corpus sample and
every oracle variant (issue 9: "a test asserts the same verdict from both paths")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pthforensics.core import FileReport, Severity
from pthforensics.pipeline import analyze_file

_CORPUS = Path(__file__).resolve().parents[2] / "corpus"
_SAMPLES = sorted(
    p
    for p in _CORPUS.rglob("*")
    if p.is_file() and not p.name.endswith((".json", ".py", ".md")) and "models" not in p.parts
)


def _summary(report: FileReport) -> tuple[object, ...]:
    rules = sorted({f.rule_id for f in report.findings if f.severity > Severity.INFO})
    return report.status, report.verdict, tuple(rules)


def _both(path: Path) -> tuple[tuple[object, ...], tuple[object, ...]]:
    return _summary(analyze_file(str(path), fast=False)), _summary(
        analyze_file(str(path), fast=True)
    )


@pytest.mark.parametrize("path", _SAMPLES, ids=[str(p.relative_to(_CORPUS)) for p in _SAMPLES])
def test_corpus_sample_same_on_both_paths(path: Path) -> None:
    slow, fast = _both(path)
    assert slow == fast


@pytest.mark.torch
def test_oracle_variants_same_on_both_paths(tmp_path: Path) -> None:
    from tests.safety.oracle.variants import ci_variants, write_variants

    variants = ci_variants()
    paths = write_variants(variants, tmp_path)
    differ = [
        f"{v.name}: {slow} != {fast}"
        for v in variants
        for slow, fast in [_both(paths[v.name])]
        if slow != fast
    ]
    assert not differ, "\n".join(differ)


def test_fast_path_refuses_what_the_walk_judges_by_protocol() -> None:
    """A dotted name or a Python 2 name depends on the protocol in effect: no fast path."""
    from pthforensics.safety.streams import _fast_judgement
    from pthforensics.safety.unpickle import GlobalName

    assert _fast_judgement(GlobalName("torch", "nn.parameter.Parameter")) is False
    assert _fast_judgement(GlobalName("__builtin__", "set")) is False
    assert _fast_judgement(GlobalName("collections", "OrderedDict")) is None
