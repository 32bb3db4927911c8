"""How one tensor dimension (or one template's count) follows from constructor arguments.

The build script instantiates each constructor at its defaults and once more with each
shape-bearing argument changed (``hidden_size`` doubled, ``num_classes`` doubled...), and
fits every observed size to one of these forms over the arguments ``p``::

    c * prod(p_i ** e_i) + b      e_i in -3..3   a product (``hidden_size``, ``3 * n_embd``,
                                                 ``kv_heads * hidden / heads``) plus a
                                                 constant (``(image / patch) ** 2 + 1``)
    b + sum(a_i * p_i)                           a sum (``layers - first_dense_layers``)

A formula is JSON: an ``int`` (a constant), ``[c_num, c_den, b_num, b_den, [[i, e], ...]]``
(a product plus a constant) or ``["L", b_num, b_den, [[i, a_num, a_den], ...]]`` (a sum),
where ``i`` indexes the layout's argument list.  The matcher reads arguments back from a
file's sizes (:func:`solve_for`) and checks every size against them (:func:`evaluate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

__all__ = ["Formula", "evaluate", "fit_formula", "params_of", "solve_for"]

#: A fitted formula as stored (see the module docstring).
Formula = Any

#: Exponents tried when a size changes by a power of an argument's change.
_EXPONENTS = (1, -1, 2, -2, 3, -3)

#: The marker of a sum formula.
_SUM = "L"


def params_of(formula: Formula) -> tuple[int, ...]:
    """Indices of the arguments a formula depends on."""
    if isinstance(formula, int):
        return ()
    return tuple(term[0] for term in formula[-1])


def evaluate(formula: Formula, values: Mapping[int, int]) -> Fraction | None:
    """The size a formula gives for argument values (``None`` if one is unknown)."""
    if isinstance(formula, int):
        return Fraction(formula)
    if formula[0] == _SUM:
        total = Fraction(formula[1], formula[2])
        for i, a_num, a_den in formula[3]:
            if i not in values:
                return None
            total += Fraction(a_num, a_den) * values[i]
        return total
    c_num, c_den, b_num, b_den, terms = formula
    product = Fraction(c_num, c_den)
    for i, e in terms:
        if i not in values:
            return None
        product *= Fraction(values[i]) ** e
    return product + Fraction(b_num, b_den)


def solve_for(formula: Formula, size: int, values: Mapping[int, int]) -> tuple[int, Fraction]:
    """The one unknown argument of a formula and the value that gives ``size``.

    The caller makes sure exactly one argument of the formula is unknown; the value is a
    fraction (an argument must come out a positive integer, which the caller checks)."""
    if formula[0] == _SUM:
        rest = Fraction(size) - Fraction(formula[1], formula[2])
        unknown, coef = -1, Fraction(0)
        for i, a_num, a_den in formula[3]:
            if i in values:
                rest -= Fraction(a_num, a_den) * values[i]
            else:
                unknown, coef = i, Fraction(a_num, a_den)
        return unknown, rest / coef
    c_num, c_den, b_num, b_den, terms = formula
    rest = (Fraction(size) - Fraction(b_num, b_den)) / Fraction(c_num, c_den)
    unknown, power = -1, 1
    for i, e in terms:
        if i in values:
            rest /= Fraction(values[i]) ** e
        else:
            unknown, power = i, e
    return unknown, _root(rest, power)


def _root(value: Fraction, power: int) -> Fraction:
    """``value ** (1 / power)`` when it is a positive rational, else ``0`` (no solution)."""
    if value <= 0:
        return Fraction(0)
    if power < 0:
        value, power = 1 / value, -power
    if power == 1:
        return value
    num = round(value.numerator ** (1 / power))
    den = round(value.denominator ** (1 / power))
    if den and Fraction(num, den) ** power == value:
        return Fraction(num, den)
    return Fraction(0)


def fit_formula(
    base: int,
    defaults: Sequence[int],
    changes: Sequence[tuple[int, int, int]],
) -> Formula | None:
    """Fit the size ``base`` (at ``defaults``) and its values under single-argument changes
    ``(argument index, new argument value, new size)`` to one of the forms; ``None`` when
    none fits (a size the matcher cannot predict)."""
    moved = [(i, p, v) for i, p, v in changes if v != base]
    if not moved:
        return base
    for b in _offsets(base, defaults, moved):
        terms = _exponents(base - b, defaults, moved, b)
        if terms is not None:
            c = Fraction(base - b)
            for i, e in terms:
                c /= Fraction(defaults[i]) ** e
            return [c.numerator, c.denominator, b.numerator, b.denominator, terms]
    return _linear(base, defaults, moved)


def _offsets(
    base: int, defaults: Sequence[int], moved: Sequence[tuple[int, int, int]]
) -> list[Fraction]:
    """Candidate constants ``b``: none first, then the one each exponent of the first
    changed argument implies."""
    out = [Fraction(0)]
    i, p, v = moved[0]
    q = Fraction(p, defaults[i])
    for e in _EXPONENTS:
        k = q**e
        if k != 1:
            b = (k * base - v) / (k - 1)
            if b not in out and b != base:
                out.append(b)
    return out


def _exponents(
    rest: Fraction | int,
    defaults: Sequence[int],
    moved: Sequence[tuple[int, int, int]],
    b: Fraction,
) -> list[list[int]] | None:
    """One integer exponent per changed argument, if every change scales ``size - b`` by
    the argument's ratio to that power (the same exponent for every change of it)."""
    if rest == 0:
        return None
    found: dict[int, int] = {}
    for i, p, v in moved:
        ratio = (Fraction(v) - b) / rest
        q = Fraction(p, defaults[i])
        e = next((e for e in _EXPONENTS if q**e == ratio), None)
        if e is None or found.setdefault(i, e) != e:
            return None
    if b != 0 and len(moved) == 1:
        return None  # one point cannot tell a power plus a constant from a line
    return [[i, found[i]] for i in sorted(found)]


def _linear(
    base: int, defaults: Sequence[int], moved: Sequence[tuple[int, int, int]]
) -> Formula | None:
    """``b + sum(a_i p_i)`` from one change per argument (checked against any second one)."""
    slopes: dict[int, Fraction] = {}
    for i, p, v in moved:
        a = Fraction(v - base, p - defaults[i])
        if slopes.setdefault(i, a) != a:
            return None
    b = Fraction(base) - sum((a * defaults[i] for i, a in slopes.items()), Fraction(0))
    return [
        _SUM,
        b.numerator,
        b.denominator,
        [[i, a.numerator, a.denominator] for i, a in sorted(slopes.items())],
    ]
