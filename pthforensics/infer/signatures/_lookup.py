"""Find the layouts that explain a file, or the closest one when none does.

Candidates come from the hash index (:mod:`._store`): the file's templates as they are,
without version-dependent buffers, without tied aliases, and (torchvision/timm) without the
classification head.  Each candidate is checked (:func:`._match.match_layout`) once per
distinct set of defaults among the constructors that share it.  When none explains the file,
the nearest layout by shared templates is the family.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._keys import core_templates, skeleton_hash
from ._match import FileView, Match, match_layout
from ._store import Entry, Store

__all__ = ["Found", "Near", "closest_layout", "find_layouts", "head_templates"]

#: Arguments whose formulas mark a template as part of the classification head.
HEAD_PARAMS = frozenset({"num_classes"})
#: Order of preference between libraries whose layouts coincide.
LIBRARY_ORDER = ("torchvision", "timm", "transformers")
#: Share of templates two layouts must have in common to be called one family.
FAMILY_SHARE = 0.5
#: Candidate layouts examined at most in the nearest-family search.
_NEAREST = 5


@dataclass(frozen=True, slots=True)
class Found:
    """A layout checked against the file, with the constructors that share it."""

    match: Match
    entries: tuple[Entry, ...]
    layout: int


@dataclass(frozen=True, slots=True)
class Near:
    """The nearest layout by shared templates."""

    layout: int
    entries: tuple[Entry, ...]
    share: float
    """Shared templates over all templates of the two (Jaccard)."""
    missing: tuple[str, ...]
    """Its templates the file lacks."""
    extra: tuple[str, ...]
    """The file's templates it lacks."""


def head_templates(layout: dict[str, Any]) -> frozenset[str]:
    """Templates whose sizes depend on the number of classes."""
    heads = {i for i, p in enumerate(layout["params"]) if p in HEAD_PARAMS}
    out: set[str] = set()
    for template, _, _, per_key, dims in layout["t"]:
        formulas = [f for inst in dims for f in inst] if per_key else dims
        if any(not isinstance(f, int) and any(t[0] in heads for t in f[-1]) for f in formulas):
            out.add(template)
    return frozenset(out)


def _candidates(store: Store, view: FileView) -> dict[int, bool]:
    """Layout id -> whether only a headless match is sought."""
    mine = view.templates
    core = core_templates(mine)
    digests = {skeleton_hash(mine), skeleton_hash(core)}
    out: dict[int, bool] = {}
    for digest in digests:
        for kind in ("skeleton", "core", "untied"):
            for layout_id in store.candidates(kind, digest):
                out[layout_id] = False
    for digest in digests:
        for layout_id in store.candidates("headless", digest):
            out.setdefault(layout_id, True)
    return out


def _tieable(
    store: Store, layout: dict[str, Any], entries: tuple[Entry, ...]
) -> tuple[tuple[str, str], ...]:
    pairs = [(a, b) for a, b in layout.get("tied", [])]
    for entry in entries:
        pair = store.info[entry.info].get("embeddings")
        if pair and tuple(pair) not in pairs:
            pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def find_layouts(
    store: Store, view: FileView, *, quick: bool = True
) -> tuple[list[Found], list[Found]]:
    """(layouts that explain every tensor, candidates that do not) for one file view;
    ``quick=False`` explains every failed candidate in full."""
    good: list[Found] = []
    bad: list[Found] = []
    for layout_id, headless in _candidates(store, view).items():
        layout = store.layout(layout_id)
        entries = store.by_layout.get(layout_id, ())
        head = head_templates(layout) if headless else frozenset()
        tieable = _tieable(store, layout, entries)
        groups: dict[tuple[int, ...], list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.defaults, []).append(entry)
        for defaults, group in groups.items():
            match = match_layout(
                view, layout, defaults, group[0].name, tieable=tieable, head=head, quick=quick
            )
            (good if match.ok else bad).append(Found(match, tuple(group), layout_id))
    return good, bad


def rank_key(found: Found, entry: Entry, descendants: int = 0) -> tuple[Any, ...]:
    """Sort key of the constructors explaining a file: fewest tolerated keys, the most
    other candidates whose code derives from its (``descendants``: Llama before the models
    written from Llama's code, whatever their defaults), fewest arguments away from the
    constructor's own defaults, the defaults nearest the file's values, library order,
    module-form keys, name."""
    params = list(found.match.values)
    pairs = [(found.match.values[p], d) for p, d in zip(params, entry.defaults, strict=False)]
    disagree = sum(1 for v, d in pairs if v != d)
    distance = sum(abs(math.log(v / d)) for v, d in pairs if v > 0 and d > 0)
    lib = (
        LIBRARY_ORDER.index(entry.library) if entry.library in LIBRARY_ORDER else len(LIBRARY_ORDER)
    )
    return (
        found.match.tolerances + len(found.match.tied_missing),
        len(found.match.head_removed),
        -descendants,
        disagree,
        round(distance, 6),
        lib,
        entry.form != "module",
        len(entry.name),
        entry.name,
        entry.label,
    )


def closest_layout(store: Store, view: FileView) -> Near | None:
    """The layout sharing the most templates with the file (Jaccard), if any shares some."""
    per_layout, postings = store.templates()
    mine = view.templates
    counts: Counter[int] = Counter()
    for template in mine:
        counts.update(postings.get(template, ()))
    if not counts:
        return None
    scored = []
    for layout_id, shared in counts.most_common(_NEAREST * 20):
        theirs = set(per_layout[layout_id])
        scored.append((shared / len(theirs | mine), layout_id, theirs))
    share, layout_id, theirs = max(scored, key=lambda s: (s[0], -s[1]))
    return Near(
        layout_id,
        store.by_layout.get(layout_id, ()),
        share,
        tuple(sorted(theirs - mine)),
        tuple(sorted(mine - theirs)),
    )


def group_names(templates: tuple[str, ...], limit: int = 3) -> str:
    """``layer4.#.conv1.weight, layer4.#.bn1.weight...`` -> ``layer4 (12 keys)``."""
    groups: Counter[str] = Counter()
    for t in templates:
        head = t.split(".#", 1)[0] if ".#" in t else t.rsplit(".", 1)[0]
        groups[head or t] += 1
    parts = [f"{g} ({n} key{'s' if n > 1 else ''})" for g, n in groups.most_common(limit)]
    if len(groups) > limit:
        parts.append(f"{len(groups) - limit} more")
    return ", ".join(parts)
