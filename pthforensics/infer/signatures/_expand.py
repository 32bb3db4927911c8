"""A layout turned back into concrete keys and shapes (for tests and benchmarks).

``expand_layout(layout, values)`` writes the state_dict keys a constructor has for argument
values: each template's index tuples (those recorded at the defaults; a one-index template
whose count changes gets ``0..n-1``) and each dimension's formula evaluated.  It is the
inverse of what the matcher reads, so the shipped data can be checked against itself.
"""

from __future__ import annotations

from typing import Any

from ._formula import evaluate
from ._keys import INDEX, index_tuples

__all__ = ["expand_layout", "key_of"]


def key_of(template: str, index: tuple[int, ...] | list[int]) -> str:
    """``layer1.#.conv1.weight`` and ``(0,)`` -> ``layer1.0.conv1.weight``."""
    parts = template.split(".")
    it = iter(index)
    return ".".join(str(next(it)) if p == INDEX else p for p in parts)


def _size(formula: Any, known: dict[int, int]) -> int:
    value = evaluate(formula, known)
    if value is None or value.denominator != 1:
        raise ValueError(f"formula {formula} gives no whole size for {known}")
    return int(value)


def expand_layout(
    layout: dict[str, Any], values: dict[str, int]
) -> list[tuple[str, tuple[int, ...]]]:
    """(key, shape) of every tensor of ``layout`` with its arguments at ``values`` (all of
    ``layout["params"]``)."""
    known = {i: values[p] for i, p in enumerate(layout["params"])}
    out: list[tuple[str, tuple[int, ...]]] = []
    for template, count, index, per_key, dims in layout["t"]:
        n = _size(count, known)
        indices = index_tuples(index)
        if n != len(indices):
            if template.count(INDEX) != 1:
                raise ValueError(f"cannot place {n} keys of {template}")
            indices = [(i,) for i in range(n)]
        for k, ix in enumerate(indices):
            formulas = dims[k] if per_key else dims
            out.append((key_of(template, ix), tuple(_size(f, known) for f in formulas)))
    return out
