"""Pack collected records into the shipped data file, ``signatures.zip``.

Members (JSON, deflated)::

    meta.json        library versions, counts, constructors that failed and why
    index.json       entries [lib, name, layout, defaults, kwargs, info, form], the info
                     records they share, and skeleton/core/headless hash -> layout ids
    layouts.bin      every layout (``_layout.py``), each deflated on its own; index.json
                     has their offsets, so only candidates are inflated
    templates.json   every layout's templates, for the nearest-family search

Identical layouts (same templates, counts and formulas) are stored once; the entries that
share one are the identical-layout sets the matcher reports together.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import platform
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

from pthforensics.infer.signatures._keys import (
    compact_index,
    core_templates,
    skeleton_hash,
    template_of,
)
from pthforensics.infer.signatures._lookup import head_templates

#: Libraries whose files often have the head removed (``fc = Identity``, ``num_classes=0``).
HEADLESS_LIBS = ("torchvision", "timm")


def _versions() -> dict[str, str]:
    import timm
    import torch
    import torchvision
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "transformers": transformers.__version__,
    }


def _read(sources: list[Path]) -> list[dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for path in sources:
        if path.exists():
            with path.open() as f:
                for line in f:
                    rec = json.loads(line)
                    records[f"{rec['lib']}|{rec['job']}"] = rec  # the last attempt wins
    return list(records.values())


_DERIVED = re.compile(
    r"^from \.\.(\w+)\.(?:modeling|configuration)_\w+ import"
    r"|Copied from transformers\.models\.(\w+)\.",
    re.M,
)


def _ancestors() -> dict[str, list[str]]:
    """transformers module -> the modules its code derives from, transitively: what its
    ``modular_*.py`` imports from (``from ..llama.modeling_llama import``) and what its
    ``modeling_*.py`` says it copied (``# Copied from transformers.models.bert...``)."""
    import transformers

    root = Path(transformers.__file__).parent / "models"
    parents: dict[str, set[str]] = {}
    for folder in root.iterdir():
        found: set[str] = set()
        for source in (*folder.glob("modular_*.py"), *folder.glob("modeling_*.py")):
            for a, b in _DERIVED.findall(source.read_text(errors="replace")):
                found.add(a or b)
        parents[folder.name] = found - {folder.name}
    closed: dict[str, list[str]] = {}
    for module in parents:
        seen: set[str] = set()
        stack = list(parents[module])
        while stack:
            item = stack.pop()
            if item not in seen and item != module:
                seen.add(item)
                stack.extend(parents.get(item, ()))
        closed[module] = sorted(seen)
    return closed


def _with_lineage(extra: dict[str, Any], lineage: dict[str, list[str]]) -> dict[str, Any]:
    """A transformers record's info with its code module and the modules it derives from
    (the matcher names the root of a shared layout: LlamaModel before GraniteModel)."""
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    if "model_type" not in extra:
        return extra
    module = model_type_to_module_name(extra["model_type"])
    return {**extra, "module": module}


def _tied_templates(layout: dict[str, Any], extra: dict[str, Any]) -> frozenset[str]:
    """Templates of the aliases a file stores once (tied weights): the later key of each tied
    pair, and the output embedding of classes that can tie it to the input one."""
    keys = [alias for alias, _ in layout.get("tied", [])]
    keys += list(extra.get("embeddings") or [])[:1]
    return frozenset(template_of(k) for k in keys)


def _forms(rec: dict[str, Any]) -> list[tuple[str, dict[str, Any], list[int]]]:
    out = [("module", rec["layout"], rec["defaults"])]
    if "checkpoint_layout" in rec:
        out.append(("checkpoint", rec["checkpoint_layout"], rec["checkpoint_defaults"]))
    return out


def pack(sources: list[Path], out: Path) -> dict[str, Any]:
    """Write ``out`` from the JSONL records; return the figures of the build."""
    records = _read(sources)
    lineage = _ancestors()
    layouts: list[str] = []
    layout_ids: dict[str, int] = {}
    infos: list[str] = []
    info_ids: dict[str, int] = {}
    entries: list[list[Any]] = []
    index: dict[str, dict[str, list[int]]] = {
        "skeleton": {},
        "core": {},
        "headless": {},
        "untied": {},
    }
    templates_of: list[list[str]] = []
    failures: dict[str, list[list[str]]] = collections.defaultdict(list)
    counts: collections.Counter[str] = collections.Counter()
    for rec in sorted(records, key=lambda r: (r["lib"], r["job"])):
        if "error" not in rec and not rec["layout"]["t"]:
            rec = {**rec, "error": "no parameters or buffers: nothing to recognise"}
        if "error" in rec:
            failures[rec["lib"]].append([rec["job"], rec["error"]])
            continue
        counts[rec["lib"]] += 1
        info = json.dumps(_with_lineage(rec["extra"], lineage), sort_keys=True)
        info_id = info_ids.setdefault(info, len(infos))
        if info_id == len(infos):
            infos.append(info)
        for form, layout, defaults in _forms(rec):
            for row in layout["t"]:
                if not isinstance(row[1], int):  # a repeated template: store its positions
                    row[2] = compact_index(row[2])
            text = json.dumps(layout, sort_keys=True, separators=(",", ":"))
            layout_id = layout_ids.setdefault(text, len(layouts))
            if layout_id == len(layouts):
                layouts.append(text)
                names = [row[0] for row in layout["t"]]
                templates_of.append(names)
                core = core_templates(names)
                for kind, tset in (("skeleton", set(names)), ("core", core)):
                    index[kind].setdefault(skeleton_hash(tset), []).append(layout_id)
                tied = _tied_templates(layout, rec["extra"])
                if tied & core:
                    index["untied"].setdefault(skeleton_hash(core - tied), []).append(layout_id)
                if rec["lib"] in HEADLESS_LIBS:
                    heads = head_templates(layout)  # the matcher's own rule
                    if heads:
                        key = skeleton_hash(core - heads)
                        index["headless"].setdefault(key, []).append(layout_id)
            # weights=None / weights_backbone=None stay: the loading code must pass them, or
            # torchvision's detection builders fetch an ImageNet backbone
            entries.append(
                [rec["lib"], rec["name"], layout_id, defaults, rec["kwargs"], info_id, form]
            )
    strings = sorted({t for names in templates_of for t in names})
    position = {t: i for i, t in enumerate(strings)}
    meta = {
        "format": 1,
        "built": datetime.date.today().isoformat(),
        "versions": _versions(),
        "constructors": dict(counts),
        "failed": {lib: len(v) for lib, v in failures.items()},
        "failures": failures,
        "entries": len(entries),
        "layouts": len(layouts),
    }
    blobs = [zlib.compress(text.encode(), 9) for text in layouts]
    offsets = [0]
    for blob in blobs:
        offsets.append(offsets[-1] + len(blob))
    modules = {json.loads(i).get("module") for i in infos} - {None}
    index_doc = {
        "entries": entries,
        "info": [json.loads(i) for i in infos],
        "lineage": {m: lineage[m] for m in sorted(modules) if lineage.get(m)},
        "offsets": offsets,
        **index,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("meta.json", json.dumps(meta, indent=0))
        z.writestr("index.json", json.dumps(index_doc, separators=(",", ":")))
        # one stored member of separately deflated layouts: no zip directory of thousands
        # of entries to read, and one layout inflated per candidate
        z.writestr("layouts.bin", b"".join(blobs), compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "templates.json",
            json.dumps(
                {"strings": strings, "layouts": [[position[t] for t in n] for n in templates_of]},
                separators=(",", ":"),
            ),
        )
    raw = sum(len(t) for t in layouts) + sum(len(i) for i in infos)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
    return {
        **{k: v for k, v in meta.items() if k != "failures"},
        "raw_layout_bytes": raw,
        "file_bytes": out.stat().st_size,
        "sha256": digest,
    }
