"""Check a file's keys and shapes against one signature layout, reading its arguments back.

Every size the layout describes (a template's key count, a dimension of its keys) gives an
equation ``formula(arguments) = size``.  Equations with one unknown argument are solved
first (``hidden_size`` from the embedding width, ``num_classes`` from the head); arguments
no size shows alone (attention heads behind ``kv_heads * hidden / heads``) get their
default, then every equation is checked.  The file matches when every tensor is explained:
no key the layout lacks and no key missing, except buffers that library versions keep or
drop (:data:`._keys.VOLATILE_LEAVES`), one of two tied tensors, and, if asked, the
classification head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ._formula import evaluate, params_of, solve_for
from ._keys import INDEX, index_positions, index_tuples, is_volatile, split_key

__all__ = ["FileView", "Match", "match_layout"]

Shape = tuple[int, ...]

#: Arguments filled with their default first when sizes leave them open: attention heads
#: never show alone in a weight's shape (only ``heads * head_dim``).
_OPEN_FIRST = ("num_attention_heads", "n_head", "num_heads", "encoder_attention_heads")

#: Most mismatches listed in a match's explanation.
_MAX_REASONS = 4
#: ``Match.mismatched``/``distance`` of a layout rejected in quick mode.
_REJECTED = 1 << 30
#: ``Match.distance`` of a layout whose templates differ (beyond any size difference).
_STRUCTURAL = 1000.0


@dataclass(frozen=True, slots=True)
class FileView:
    """A state_dict's keys grouped by template, as the matcher reads them."""

    groups: dict[str, dict[tuple[int, ...], tuple[str, Shape]]]
    """template -> index tuple -> (key, shape)."""
    storages: dict[str, str | None]
    """key -> storage key (tied tensors share one)."""

    @classmethod
    def of(cls, items: list[tuple[str, Shape, str | None]]) -> FileView:
        """From ``(key, shape, storage key)`` triples."""
        groups: dict[str, dict[tuple[int, ...], tuple[str, Shape]]] = {}
        for key, shape, _ in items:
            template, index = split_key(key)
            groups.setdefault(template, {})[index] = (key, shape)
        return cls(groups, {key: storage for key, _, storage in items})

    @property
    def templates(self) -> frozenset[str]:
        """The file's templates."""
        return frozenset(self.groups)


@dataclass(frozen=True, slots=True)
class Match:
    """How one layout explains a file."""

    ok: bool
    """Every tensor explained and every size checked."""
    values: dict[str, int]
    """Recovered arguments, by name (defaults for those no size shows)."""
    reasons: tuple[str, ...] = ()
    """Why not (mismatches, most telling first)."""
    assumed: tuple[str, ...] = ()
    """Arguments no size determines, kept at their default."""
    extra_keys: tuple[str, ...] = ()
    """The file's volatile buffers the layout lacks (the loading code drops them)."""
    missing_keys: tuple[str, ...] = ()
    """The layout's volatile buffers the file lacks (the loading code takes the model's)."""
    tied_missing: tuple[tuple[str, str], ...] = ()
    """(missing key, the present key it is tied to)."""
    head_removed: tuple[str, ...] = ()
    """Templates of the classification head the file does not have."""
    mismatched: int = 0
    """How many checks failed."""
    distance: float = 0.0
    """How far the failed sizes are from the layout's (closeness among failed candidates)."""
    tolerances: int = field(default=0)
    """How many keys were tolerated rather than matched."""


def _instances(view: FileView, template: str) -> dict[tuple[int, ...], tuple[str, Shape]]:
    return view.groups.get(template, {})


def _list_path(template: str) -> str:
    """``layer3.#.conv1.weight`` -> ``layer3`` (the container whose length differs)."""
    head = template.split(f".{INDEX}", 1)[0]
    return head or template


class _Reject(Exception):
    """A constant size differs: the layout cannot explain the file (quick mode)."""


class _Equations:
    """Equations ``formula = size`` with where each comes from.

    In quick mode a constant formula that differs from its size rejects the layout at once
    (layouts sharing a skeleton mostly differ in constant widths and depths)."""

    def __init__(self, quick: bool) -> None:
        self.items: list[tuple[Any, int, str, str]] = []  # formula, size, where, kind
        self.open: list[tuple[Any, int, str, tuple[int, ...]]] = []  # ... with its arguments
        self.quick = quick

    def add(self, formula: Any, size: int, where: str, kind: str) -> None:
        if isinstance(formula, int):
            if self.quick and formula != size:
                raise _Reject(where)
        else:
            self.open.append((formula, size, where, params_of(formula)))
        self.items.append((formula, size, where, kind))


def _collect(
    view: FileView,
    layout: dict[str, Any],
    present: set[str],
    reasons: list[str],
    name: str,
    quick: bool,
) -> _Equations:
    eqs = _Equations(quick)
    for template, count, index, per_key, dims in layout["t"]:
        if template not in present:
            continue
        found = _instances(view, template)
        eqs.add(count, len(found), template, "count")
        if not isinstance(count, int) and not _dense(found, index):
            if quick:
                raise _Reject(template)
            reasons.append(f"{_list_path(template)} has indices {_indices(found)}, not 0..n-1")
            continue
        if isinstance(count, int):
            expected = set(index_tuples(index))
            if set(found) != expected:
                if quick:
                    raise _Reject(template)
                if len(found) == len(expected):
                    reasons.append(
                        f"{_list_path(template)} has indices {_indices(found)} where {name} "
                        f"has {_indices(expected)}"
                    )
                continue
        if per_key:
            for ix, inst_dims in zip(index_tuples(index), dims, strict=False):
                key, shape = found[tuple(ix)]
                _dims(eqs, inst_dims, shape, key, reasons, name)
        else:
            shapes = {shape for _, shape in found.values()}
            if len(shapes) > 1:
                reasons.append(f"the keys of {template} differ in shape, unlike {name}")
                continue
            key, shape = next(iter(found.values()))
            _dims(eqs, dims, shape, key if len(found) == 1 else template, reasons, name)
    return eqs


def _dense(found: Any, index: Any) -> bool:
    """Whether a repeated template's indices are those of a full container: each index
    position takes the values it takes at the defaults, or all of ``0..n-1``."""
    for position, default in enumerate(index_positions(index)):
        values = {ix[position] for ix in found}
        if values != set(default) and values != set(range(len(values))):
            return False
    return True


def _indices(index: Any) -> str:
    """A short rendering of index tuples: ``0, 3, 6``."""
    shown = sorted(index)[:6]
    text = ", ".join(".".join(map(str, ix)) for ix in shown)
    return text + (", ..." if len(index) > len(shown) else "")


def _dims(
    eqs: _Equations, dims: list[Any], shape: Shape, key: str, reasons: list[str], name: str
) -> None:
    if len(dims) != len(shape):
        reasons.append(f"{key} has {len(shape)} dimensions where {name} has {len(dims)}")
        return
    for d, (formula, size) in enumerate(zip(dims, shape, strict=True)):
        eqs.add(formula, size, f"{key}[{d}]", "dim")


def _solve(eqs: _Equations, known: dict[int, int]) -> str | None:
    """Solve equations with one unknown until none is left; a conflict's description."""
    progress = True
    while progress:
        progress = False
        for formula, size, where, args in eqs.open:
            open_params = [p for p in args if p not in known]
            if len(set(open_params)) != 1:
                continue
            param, value = solve_for(formula, size, known)
            if value.denominator != 1 or value <= 0:
                return f"{where} = {size} fits no whole value of argument {param}"
            known[param] = int(value)
            progress = True
    return None


def _check(eqs: _Equations, known: dict[int, int], name: str) -> tuple[list[str], float]:
    """The sizes that differ from the layout's (depths first, each said once) and how far
    off they are in all (the sum of ``|log(size / expected)|``)."""
    bad: dict[str, None] = {}
    distance = 0.0
    for formula, size, where, kind in eqs.items:
        value = evaluate(formula, known)
        if value is None or value == size:
            continue
        distance += abs(math.log(max(size, 1) / max(float(value), 1e-9)))
        if kind == "count":
            bad[f"{_list_path(where)} has {size} blocks where {name} has {_show(value)}"] = None
        else:
            bad[f"{where} is {size} where {name} has {_show(value)}"] = None
    return sorted(bad, key=lambda r: " blocks " not in r), distance


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3g}"


def match_layout(
    view: FileView,
    layout: dict[str, Any],
    defaults: tuple[int, ...],
    name: str,
    *,
    tieable: tuple[tuple[str, str], ...] = (),
    head: frozenset[str] = frozenset(),
    quick: bool = False,
) -> Match:
    """How ``layout`` (its arguments at ``defaults``) explains the file ``view``.

    ``tieable``: pairs of keys that may share one tensor (a file may store one of them);
    ``head``: templates that may be absent (the classification head was removed);
    ``quick``: stop at the first differing constant size (no explanation needed)."""
    params: list[str] = layout["params"]
    theirs = {row[0] for row in layout["t"]}
    mine = view.templates
    reasons: list[str] = []
    missing_keys: list[str] = []
    tied_missing: list[tuple[str, str]] = []
    removed: list[str] = []
    for template in sorted(theirs - mine):
        if is_volatile(template, theirs):
            missing_keys.append(template)
            continue
        partner = _tied_partner(template, tieable, view)
        if partner:
            tied_missing.append((template, partner))
        elif template in head:
            removed.append(template)
        else:
            reasons.append(f"{template} is missing")
    extra = [t for t in sorted(mine - theirs) if is_volatile(t, mine)]
    reasons.extend(f"{t} is not in {name}" for t in sorted(mine - theirs) if t not in extra)
    present = theirs & mine
    if quick and reasons:
        return Match(False, {}, tuple(reasons[:1]), mismatched=_REJECTED, distance=_REJECTED)
    try:
        eqs = _collect(view, layout, present, reasons, name, quick)
    except _Reject as exc:
        return Match(False, {}, (f"{exc} differs",), mismatched=_REJECTED, distance=_REJECTED)
    if reasons:
        unique = tuple(dict.fromkeys(reasons))[:_MAX_REASONS]
        return Match(
            False, {}, unique, mismatched=len(reasons), distance=_STRUCTURAL + len(reasons)
        )
    known: dict[int, int] = {}
    conflict = _solve(eqs, known)
    assumed: list[str] = []
    if conflict is None:
        conflict, assumed = _fill_open(eqs, known, params, defaults)
    bad, distance = ([conflict], float(_REJECTED)) if conflict else _check(eqs, known, name)
    if not bad and not _consistent(eqs, known):
        bad, distance = ["the sizes need a head width that is not a whole number"], 1.0
    values = {p: known.get(i, defaults[i]) for i, p in enumerate(params)}
    extra_keys = tuple(k for t in extra for k, _ in view.groups[t].values())
    return Match(
        ok=not bad,
        values=values,
        reasons=tuple(bad[:_MAX_REASONS]),
        assumed=tuple(assumed),
        extra_keys=extra_keys,
        missing_keys=tuple(missing_keys),
        tied_missing=tuple(tied_missing),
        head_removed=tuple(removed),
        mismatched=len(bad),
        distance=distance,
        tolerances=len(extra_keys) + len(missing_keys) + len(removed),
    )


def _tied_partner(
    template: str, tieable: tuple[tuple[str, str], ...], view: FileView
) -> str | None:
    for a, b in tieable:
        for missing, other in ((a, b), (b, a)):
            if missing == template and split_key(other)[0] in view.groups:
                return other
    return None


def _fill_open(
    eqs: _Equations, known: dict[int, int], params: list[str], defaults: tuple[int, ...]
) -> tuple[str | None, list[str]]:
    """Give open arguments their default, heads first, until every equation is solved.
    When that leaves a size that fits no whole value, or a quotient that is no whole number
    (``hidden / heads``), try the first open argument at the divisors of what it divides,
    nearest its default first, and other orders."""
    open_params = sorted(
        {p for _, _, _, args in eqs.open for p in args} - set(known),
        key=lambda i: (params[i].rsplit(".", 1)[-1] not in _OPEN_FIRST, i),
    )
    if not open_params:
        return None, []
    for first in open_params:
        for value in _candidates(eqs, known, first, defaults[first]):
            trial = {**known, first: value}
            assumed = [params[first]]
            conflict = _solve(eqs, trial)
            for p in open_params:
                if conflict or p in trial:
                    continue
                trial[p] = defaults[p]
                assumed.append(params[p])
                conflict = _solve(eqs, trial)
            if conflict is None and _consistent(eqs, trial):
                known.update(trial)
                return None, assumed
    for p in open_params:
        known.setdefault(p, defaults[p])
    return None, [params[p] for p in open_params]


#: Most divisor values tried for one open argument.
_MAX_TRIES = 8


def _candidates(eqs: _Equations, known: dict[int, int], param: int, default: int) -> list[int]:
    """The default, then divisors of the known values ``param`` divides in some formula,
    nearest the default first."""
    numerators = {
        known[i]
        for formula, _, _, args in eqs.open
        if formula[0] != "L" and any(t[0] == param and t[1] < 0 for t in formula[-1])
        for i, e in formula[-1]
        if e > 0 and i in known
    }
    divisors = {d for n in numerators for d in range(1, n + 1) if n % d == 0} - {default}
    ranked = sorted(divisors, key=lambda d: (abs(math.log(d / default)), d))
    return [default, *ranked[:_MAX_TRIES]]


def _consistent(eqs: _Equations, values: dict[int, int]) -> bool:
    """Every equation holds, and every quotient of arguments is whole: in
    ``kv * hidden / heads`` some argument above the line is a multiple of ``heads`` (the
    layer computes ``hidden // heads``)."""
    for formula, size, _, _ in eqs.open:
        if evaluate(formula, values) not in (None, size):
            return False
        if formula[0] == "L":
            continue
        above = [values[i] for i, e in formula[-1] if e > 0 and i in values]
        for i, e in formula[-1]:
            if e < 0 and i in values and above and all(a % values[i] for a in above):
                return False
    return True
