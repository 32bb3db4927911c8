"""Turn instantiated state_dicts into a layout record: templates, counts, shape formulas.

``fit_layout(base, buffers, names, defaults, changes)`` takes the state_dict of a
constructor at its defaults and the state_dicts obtained with one argument changed at a
time, and returns the layout the matcher reads (see ``pthforensics/infer/signatures``)::

    {"params": [argument, ...],            # the shape-bearing arguments, formula indices
     "t": [[template, count, index, per_key, dims], ...],   # in state_dict order
     "buffers": [template, ...], "tied": [[key, source key], ...]}

``count`` is a formula of the arguments (how many keys the template has); ``index`` is the
list of index tuples at the defaults (the file must have exactly these when the count is
constant); ``dims`` is one formula per
dimension when every key of the template has the same shape (``per_key`` 0), else
(``per_key`` 1) one list of formulas per index tuple.  An argument whose change adds or
removes templates, or changes the index set of a template whose keys differ in shape, is
not modelled: it is
dropped (kept at its default), with the reason.
"""

from __future__ import annotations

from typing import Any

from pthforensics.infer.signatures._formula import fit_formula, params_of
from pthforensics.infer.signatures._keys import split_key

StateList = list[tuple[str, tuple[int, ...]]]


def group(state: StateList) -> dict[str, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """template -> [(index tuple, shape)] in state_dict order."""
    out: dict[str, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {}
    for key, shape in state:
        template, index = split_key(key)
        out.setdefault(template, []).append((index, tuple(shape)))
    return out


def _homogeneous(instances: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> bool:
    return len({shape for _, shape in instances}) == 1


def fit_layout(
    base: StateList,
    buffers: set[str],
    names: list[str],
    defaults: list[int],
    changes: list[tuple[int, int, StateList]],
    tied: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> tuple[dict[str, Any], list[int], dict[str, str]]:
    """The layout, the defaults of the arguments it keeps, and why others were dropped."""
    groups = group(base)
    changed = [(i, value, group(state)) for i, value, state in changes]
    dropped: dict[str, str] = {}
    for i, _, other in changed:
        if other.keys() != groups.keys():
            diff = sorted(set(other) ^ set(groups))[:2]
            dropped[names[i]] = f"changes the key layout ({', '.join(diff)})"
    while True:
        live = [(i, v, g) for i, v, g in changed if names[i] not in dropped]
        bad = _unmodelled(groups, live, names)
        if not bad:
            break
        dropped.update(bad)
    rows, used = _rows(groups, live, defaults)
    keep = sorted(used)
    remap = {old: new for new, old in enumerate(keep)}
    rows = [_remap_row(row, remap) for row in rows]
    layout = {
        "params": [names[i] for i in keep],
        "t": rows,
        "buffers": sorted({split_key(k)[0] for k in buffers}),
        "tied": [list(pair) for pair in tied],
    }
    return layout, [defaults[i] for i in keep], dropped


def _unmodelled(groups: dict[str, Any], live: list[Any], names: list[str]) -> dict[str, str]:
    """Arguments whose change the layout cannot express."""
    bad: dict[str, str] = {}
    for template, instances in groups.items():
        homogeneous = _homogeneous(instances) and all(_homogeneous(g[template]) for _, _, g in live)
        ranks = {len(s) for _, s in instances}
        for i, _, g in live:
            other = g[template]
            if {len(s) for _, s in other} != ranks:
                bad[names[i]] = f"changes the rank of {template}"
            elif not homogeneous and [ix for ix, _ in other] != [ix for ix, _ in instances]:
                bad[names[i]] = f"changes the keys of {template}, whose shapes differ"
        if bad:
            return bad
    return bad


def _rows(
    groups: dict[str, Any], live: list[Any], defaults: list[int]
) -> tuple[list[Any], set[int]]:
    rows: list[Any] = []
    used: set[int] = set()

    def fit(base_value: int, values: list[tuple[int, int, int]]) -> Any:
        formula = fit_formula(base_value, defaults, values)
        if formula is None:  # not expressible: keep the default size (checked as a constant)
            return base_value
        used.update(params_of(formula))
        return formula

    for template, instances in groups.items():
        count = fit(len(instances), [(i, v, len(g[template])) for i, v, g in live])
        index = [list(ix) for ix, _ in instances]
        same = _homogeneous(instances) and all(_homogeneous(g[template]) for _, _, g in live)
        if same:
            shape = instances[0][1]
            dims: Any = [
                fit(size, [(i, v, g[template][0][1][d]) for i, v, g in live])
                for d, size in enumerate(shape)
            ]
        else:
            dims = [
                [
                    fit(size, [(i, v, g[template][n][1][d]) for i, v, g in live])
                    for d, size in enumerate(shape)
                ]
                for n, (_, shape) in enumerate(instances)
            ]
        rows.append([template, count, index, int(not same), dims])
    return rows, used


def _remap_formula(formula: Any, remap: dict[int, int]) -> Any:
    if isinstance(formula, int):
        return formula
    out = list(formula)
    out[-1] = [[remap[term[0]], *term[1:]] for term in formula[-1]]
    return out


def _remap_row(row: list[Any], remap: dict[int, int]) -> list[Any]:
    template, count, index, per_instance, dims = row
    if per_instance:
        dims = [[_remap_formula(f, remap) for f in inst] for inst in dims]
    else:
        dims = [_remap_formula(f, remap) for f in dims]
    return [template, _remap_formula(count, remap), index, per_instance, dims]
