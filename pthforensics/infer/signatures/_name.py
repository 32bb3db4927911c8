"""``name_architecture``: the state_dict's keys and shapes -> :class:`Architecture`.

Steps: recognise adapters and quantized layouts (:mod:`._adapters`); otherwise look the
keys up as they are, with the wrapper prefixes the structure stage removed put back (a
library's own ``model.`` looks like Lightning's), and with a shared first segment removed
(``backbone.``); the first view some layout explains wins.  ``named`` needs every tensor
explained; the best failed candidate or the nearest layout gives ``family`` with why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pthforensics.core import Architecture, ArchitectureStatus, StateDict, freeze

from ._adapters import Adapter, Quantized, find_adapter, find_quantization
from ._code import LoadPlan, loading_code, meta_code
from ._config import input_convention, recover_config
from ._lookup import Found, Near, closest_layout, find_layouts, group_names, rank_key
from ._match import FileView
from ._store import Entry, Store, load_store

__all__ = ["name_architecture"]

Items = list[tuple[str, tuple[int, ...], str | None]]

#: Confidence of a name when every tensor is explained, and what each assumption costs.
NAMED_CONFIDENCE = 0.97
ASSUMPTION_COST = 0.04
#: Confidence of a family, scaled by the share of templates in common.
FAMILY_CONFIDENCE = 0.6
#: Most other constructors listed in ``same_layout``.
MAX_SAME = 24


#: How a view reads the keys: as the structure stage left them, with a removed wrapper
#: prefix put back, or without a first segment every key shares.
AS_IS, PREFIX_KEPT, SEGMENT_REMOVED = "as-is", "prefix-kept", "segment-removed"


@dataclass(frozen=True, slots=True)
class _View:
    items: Items
    strip: tuple[str, ...]
    """Prefixes the loading code removes from the file's keys, outermost first."""
    note: str | None
    reading: str = AS_IS


def _views(state: StateDict) -> list[_View]:
    items = [(t.key, tuple(t.shape), t.storage_key) for t in state.tensors]
    stripped = tuple(state.stripped_prefixes)
    views = [_View(items, stripped, None)]
    for j in range(len(stripped) - 1, -1, -1):
        kept = "".join(stripped[j:])
        views.append(
            _View(
                [(kept + k, s, st) for k, s, st in items],
                stripped[:j],
                f"the prefix {kept!r} belongs to the model's own keys",
                PREFIX_KEPT,
            )
        )
    first = {k.split(".", 1)[0] for k, _, _ in items}
    if len(first) == 1 and all("." in k for k, _, _ in items):
        (segment,) = first
        if not segment.isdigit():
            views.append(
                _View(
                    [(k.split(".", 1)[1], s, st) for k, s, st in items],
                    (*stripped, f"{segment}."),
                    f"every key starts with {segment + '.'!r}, which the loading code removes",
                    SEGMENT_REMOVED,
                )
            )
    return views


def name_architecture(
    state: StateDict,
    *,
    path: str,
    container_format: str = "torch-zip",
    kind: str = "state_dict",
    meta: bool = False,
) -> Architecture:
    """Name the library constructor that built ``state`` (the main state_dict, wrapper
    prefixes stripped) and write the code that loads ``path`` into it.

    ``container_format`` (``Format``: ``safetensors`` is read with ``load_file``) and
    ``kind`` (``CheckpointKind``: ``full_model`` files are read by unpickling) shape the
    loading code.  ``meta``: ``code`` is instead the script the rebuild runs (the model on
    the meta device, ``sd`` given; see :func:`._code.meta_code`).  Torch-free; reads the
    shipped signature data on first use."""
    store = load_store()
    if store is None:
        return Architecture(ArchitectureStatus.UNKNOWN, evidence=("signature data not installed",))
    if not state.tensors:
        return Architecture(ArchitectureStatus.UNKNOWN, evidence=("the file holds no state_dict",))
    full = [(t.key, tuple(t.shape), t.dtype, t.storage_key) for t in state.tensors]
    adapter = find_adapter(full)
    if adapter is not None:
        return _adapter(store, adapter)
    quantized = find_quantization(full)
    if quantized is not None:
        return _quantized(store, quantized)
    views = _views(state)
    answers = []
    for view in views:
        file_view = FileView.of(view.items)
        good, _ = find_layouts(store, file_view)
        if good:
            answers.append((view, file_view, good))
    if not answers:
        return _family(store, FileView.of(views[0].items))
    view, file_view, good = _preferred(answers, state.path)
    make_plan = _planner(path, container_format, kind, state.path, view)
    others = [_ranked(store, g)[0][1].label for v, _, g in answers if v is not view]
    note = view.note
    if others:
        extra = f"read another way, the keys also fit {', '.join(others)}"
        note = f"{note}; {extra}" if note else extra
    return _named(store, good, file_view, make_plan, note, meta_code if meta else loading_code)


def _preferred(
    answers: list[tuple[_View, FileView, list[Found]]], tree: str
) -> tuple[_View, FileView, list[Found]]:
    """The reading of the keys to name the file by: as the structure stage left them,
    except for a state_dict at the file's root whose removed prefix (``model.``) the
    library's own keys have: ``save_pretrained`` writes ``model.layers...`` without the
    tied ``lm_head``, which is no training wrapper's doing."""
    if tree == "" and answers[0][0].reading == AS_IS:
        kept = [a for a in answers if a[0].reading == PREFIX_KEPT]
        if kept:
            return kept[0]
    return answers[0]


def _planner(path: str, fmt: str, kind: str, tree: str, view: _View) -> Callable[[Found], LoadPlan]:
    def plan(found: Found) -> LoadPlan:
        m = found.match
        return LoadPlan(
            path=path,
            safetensors=str(fmt) == "safetensors",
            full_model=str(kind) == "full_model",
            torchscript=str(fmt) == "torchscript",
            tree_path=tuple(tree.split(".")) if tree else (),
            strip=view.strip,
            drop=m.extra_keys,
            fill_volatile=bool(m.missing_keys),
            alias=tuple(m.tied_missing),
            head_removed=tuple(sorted({t.rsplit(".", 1)[0] for t in m.head_removed})),
        )

    return plan


def _ranked(store: Store, good: list[Found]) -> list[tuple[Found, Entry]]:
    pairs = [(found, entry) for found in good for entry in found.entries]
    modules = {store.info[e.info].get("module") for _, e in pairs}
    lineage = [set(store.lineage.get(store.info[e.info].get("module", ""), ())) for _, e in pairs]

    def descendants(entry: Entry) -> int:
        module = store.info[entry.info].get("module")
        return sum(1 for a in lineage if module in a) if module in modules else 0

    pairs.sort(key=lambda p: rank_key(p[0], p[1], descendants(p[1])))
    by_label: dict[str, list[tuple[Found, Entry]]] = {}
    for pair in pairs:
        by_label.setdefault(pair[1].label, []).append(pair)
    return [next((p for p in same if _native(store, p[1])), same[0]) for same in by_label.values()]


def _native(store: Store, entry: Entry) -> bool:
    """Whether ``entry`` was recorded under the class's own model type (``GPT2LMHeadModel``
    under ``gpt2``, not under ``gpt-sw3``, which reuses GPT-2's classes): its config class
    is the module's own (``GPT2Config`` for ``gpt2``).  Vision entries always are."""
    info = store.info[entry.info]
    config, module = info.get("config_class"), info.get("module")
    if not config or not module:
        return True
    return str(config).removesuffix("Config").lower() == str(module).replace("_", "").lower()


def _named(
    store: Store,
    good: list[Found],
    view: FileView,
    make_plan: Callable[[Found], LoadPlan],
    note: str | None,
    write_code: Callable[..., str] = loading_code,
) -> Architecture:
    ranked = _ranked(store, good)
    found, entry = ranked[0]
    info = store.info[entry.info]
    recovered = recover_config(entry, info, found.match, view)
    plan = make_plan(found)
    code = write_code(entry.library, entry.name, recovered.kwargs, info, plan)
    m = found.match
    evidence = [
        f"every tensor matches the layout of {entry.library} {entry.name}"
        f" ({len(view.groups)} key templates, arguments read back from the shapes)"
    ]
    if note:
        evidence.append(note)
    evidence += list(recovered.notes)
    if m.extra_keys:
        evidence.append(
            f"{len(m.extra_keys)} buffers this library version does not keep: "
            f"{group_names(tuple(m.extra_keys))}"
        )
    if m.missing_keys:
        evidence.append(
            f"buffers the file lacks (another library version): {group_names(m.missing_keys)}"
        )
    for missing, present in m.tied_missing:
        evidence.append(f"{missing} is tied to {present} and stored once")
    others = [e.label for _, e in ranked[1:]]
    if others:
        evidence.append(f"the same layout is built by {len(others)} other constructor(s)")
    confidence = (
        NAMED_CONFIDENCE
        - ASSUMPTION_COST * (len(m.assumed) > 0)
        - ASSUMPTION_COST * bool(m.head_removed)
    )
    return Architecture(
        status=ArchitectureStatus.NAMED,
        library=entry.library,
        name=entry.name,
        same_layout=tuple(others[:MAX_SAME]),
        config=freeze(recovered.config),
        input_convention=freeze(input_convention(entry, info, recovered)),
        confidence=round(confidence, 2),
        evidence=tuple(evidence),
        code=code,
    )


def _family(store: Store, view: FileView) -> Architecture:
    _, bad = find_layouts(store, view, quick=False)
    if bad:
        best, entry = min(
            ((f, e) for f in bad for e in f.entries),
            key=lambda fe: (fe[0].match.distance, fe[0].match.tolerances, rank_key(*fe)),
        )
        said = f"where {best.entries[0].name} has"  # the reasons name the layout's first entry
        reasons = tuple(r.replace(said, f"where {entry.name} has") for r in best.match.reasons)
        reasons = reasons or ("its sizes fit no arguments of the constructor",)
        return Architecture(
            status=ArchitectureStatus.FAMILY,
            library=entry.library,
            name=entry.name,
            confidence=FAMILY_CONFIDENCE,
            evidence=(
                f"{entry.name}-style network with the same key layout as {entry.library} "
                f"{entry.name}, but not a {entry.library} variant: {reasons[0]}",
                *reasons[1:],
            ),
        )
    near = closest_layout(store, view)
    return _near(near)


def _near(near: Near | None, what: str = "the file") -> Architecture:
    if near is None or not near.entries:
        return Architecture(
            ArchitectureStatus.UNKNOWN, evidence=("no signature shares a key template",)
        )
    entry = min(near.entries, key=lambda e: (_library_rank(e), len(e.name), e.name))
    text = f"closest: {entry.library} {entry.name}, {near.share:.0%} of key templates in common"
    if near.share < 0.5:
        return Architecture(ArchitectureStatus.UNKNOWN, confidence=0.0, evidence=(text,))
    evidence = [text]
    if near.missing:
        evidence.append(f"{what} lacks {group_names(near.missing)}")
    if near.extra:
        evidence.append(f"{what} has {group_names(near.extra)}, which {entry.name} does not")
    return Architecture(
        status=ArchitectureStatus.FAMILY,
        library=entry.library,
        name=entry.name,
        confidence=round(FAMILY_CONFIDENCE * near.share, 2),
        evidence=tuple(evidence),
    )


def _library_rank(entry: Entry) -> int:
    order = ("torchvision", "timm", "transformers")
    return order.index(entry.library) if entry.library in order else len(order)


def _adapter(store: Store, adapter: Adapter) -> Architecture:
    items: Items = [(key, shape, None) for key, shape in adapter.weights]
    view = FileView.of(items)
    near = closest_layout(store, view)
    config = {
        "adapter": f"lora ({adapter.kind})",
        "rank": adapter.rank,
        "target_modules": list(adapter.targets),
        "patched_modules": adapter.modules,
    }
    evidence = [
        f"a LoRA adapter ({adapter.kind}): rank {adapter.rank}, {adapter.modules} modules patched "
        f"({', '.join(adapter.targets[:8])}); it holds weight deltas, not a model"
    ]
    base = None
    if near is not None and near.entries and not near.extra:
        base = near.entries[0]
        evidence.append(
            f"the patched modules exist in {base.library} {base.name}"
            + (
                f" and {len(near.entries) - 1} other constructor(s)"
                if len(near.entries) > 1
                else ""
            )
        )
    return Architecture(
        status=ArchitectureStatus.FAMILY,
        library=base.library if base else None,
        name=base.name if base else None,
        config=freeze(config),
        confidence=0.5 if base else 0.3,
        evidence=(
            *evidence,
            "load the base model, then this adapter with peft and its adapter_config",
        ),
    )


def _quantized(store: Store, quantized: Quantized) -> Architecture:
    config = {
        "quantization": quantized.scheme,
        **quantized.details,
        "quantized_layers": quantized.layers,
    }
    evidence = [
        f"{quantized.scheme} quantized weights ({quantized.layers} layers"
        + "".join(f", {k} {v}" for k, v in quantized.details.items())
        + "): loading needs the quantization library, not load_state_dict"
    ]
    if quantized.dense is not None:
        view = FileView.of(list(quantized.dense))
        good, _ = find_layouts(store, view)
        if good:
            found, entry = _ranked(store, good)[0]
            recovered = recover_config(entry, store.info[entry.info], found.match, view)
            evidence.append(f"dequantized, the layout is {entry.library} {entry.name}'s")
            return Architecture(
                status=ArchitectureStatus.FAMILY,
                library=entry.library,
                name=entry.name,
                config=freeze({**recovered.config, **config}),
                confidence=0.8,
                evidence=(*evidence, *recovered.notes),
            )
        near = closest_layout(store, view)
        if near is not None and near.entries and near.share >= 0.5:
            entry = near.entries[0]
            evidence.append(
                f"closest dense layout: {entry.library} {entry.name} ({near.share:.0%})"
            )
            return Architecture(
                ArchitectureStatus.FAMILY,
                entry.library,
                entry.name,
                config=freeze(config),
                confidence=0.5,
                evidence=tuple(evidence),
            )
    return Architecture(
        ArchitectureStatus.FAMILY, config=freeze(config), confidence=0.4, evidence=tuple(evidence)
    )
