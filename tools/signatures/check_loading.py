"""Does the generated code load the file strictly?  A check across the three libraries.

Three steps, in two Pythons (the libraries are never dependencies of pthforensics):

    PY=/path/to/python-with-torchvision-timm-transformers
    $PY  tools/signatures/check_loading.py make --out /tmp/sigcheck [--per-lib 16]
    python tools/signatures/check_loading.py name --out /tmp/sigcheck     # pthforensics' venv
    $PY  tools/signatures/check_loading.py run  --out /tmp/sigcheck

``make`` samples constructors (seeded), builds each with changed arguments (vision: another
``num_classes``, sometimes no head; transformers: a small config of the same model type),
and saves its ``state_dict`` in varied wrappers: plain, Lightning (``{"state_dict"}`` with
``model.``), DataParallel (``module.``), float16, safetensors (transformers'
``save_pretrained``, checkpoint-format keys, tied weights left out).  Vision files hold
stride-0 views (a few KB each).  It also writes perturbed layouts (a block removed, a width
changed) that must not be named.  ``name`` runs pthforensics on every file and writes the
generated code; ``run`` executes each script in a subprocess and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Largest model (parameters) the check builds for real when running the generated code.
MAX_PARAMS = 120_000_000
#: Small values given to a transformers config's standard size names.
SHRINK = {
    "hidden_size": 64,
    "d_model": 64,
    "n_embd": 64,
    "embed_dim": 64,
    "num_hidden_layers": 2,
    "n_layer": 2,
    "num_layers": 2,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "num_decoder_layers": 2,
    "intermediate_size": 128,
    "d_ff": 128,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
    "n_inner": 128,
    "num_attention_heads": 4,
    "n_head": 4,
    "num_heads": 4,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 512,
    "d_kv": 16,
}
WRAPPERS = ("plain", "lightning", "dataparallel", "fp16")


def _views(state: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {k: torch.zeros(1, dtype=v.dtype).reshape(()).expand(v.shape) for k, v in state.items()}


def _save(state: dict[str, Any], path: Path, wrapper: str) -> None:
    import torch

    if wrapper == "lightning":
        torch.save({"epoch": 1, "state_dict": {f"model.{k}": v for k, v in state.items()}}, path)
    elif wrapper == "dataparallel":
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    elif wrapper == "fp16":
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path)
    else:
        torch.save(state, path)


def _vision(lib: str, name: str, rng: random.Random) -> tuple[Any, dict[str, Any]]:
    import inspect

    import timm
    import torchvision
    from _collect import _build

    num_classes = rng.choice([10, 37, 1000, 5])
    if lib == "timm":
        kwargs: dict[str, Any] = {"num_classes": 0 if rng.random() < 0.15 else num_classes}
        model = _build(lambda: timm.create_model(name, pretrained=False, **kwargs))
    else:
        kwargs = {"num_classes": num_classes}
        builder = torchvision.models.get_model_builder(name)
        if "weights_backbone" in inspect.signature(builder).parameters:
            kwargs["weights_backbone"] = None  # never fetch an ImageNet backbone
        model = _build(lambda: builder(weights=None, **kwargs))
    return model, kwargs


def _transformers(model_type: str, cls_name: str) -> tuple[Any, dict[str, Any]]:
    import torch
    import transformers

    base = transformers.AutoConfig.for_model(model_type)
    shrink = {k: v for k, v in SHRINK.items() if k in base.to_dict()}
    cls = getattr(transformers, cls_name)
    config = transformers.AutoConfig.for_model(model_type, **shrink)
    with torch.device("meta"):
        model = cls(config)
    return model, {"config": shrink}


def make(out: Path, per_lib: int, seed: int) -> None:
    import timm
    import torch
    import transformers

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _paths import setup

    setup()
    from _collect import torchvision_names
    from _collect_hf import transformers_classes

    transformers.logging.set_verbosity_error()
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, Any]] = []
    pools = {
        "torchvision": [("torchvision", n) for n in torchvision_names()],
        "timm": [("timm", n) for n in timm.list_models()],
        "transformers": [("transformers", f"{t}|{c}") for t, c in transformers_classes()],
    }
    for lib, pool in pools.items():
        rng.shuffle(pool)
        made = 0
        for _, name in pool:
            if made >= per_lib:
                break
            try:
                if lib == "transformers":
                    model_type, cls_name = name.split("|")
                    model, args = _transformers(model_type, cls_name)
                    name = cls_name
                else:
                    model, args = _vision(lib, name, rng)
            except Exception as exc:  # noqa: BLE001 - a constructor that cannot be built here: next one
                print(f"skip {lib} {name}: {type(exc).__name__}: {str(exc)[:80]}")
                continue
            if sum(p.numel() for p in model.parameters()) > MAX_PARAMS:
                continue
            state = {k: torch.empty(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()}
            item = {"id": f"{lib}-{made}", "library": lib, "name": name, "args": args}
            if lib == "transformers" and made % 2 == 0:
                real = type(model)(model.config)
                target = out / item["id"]
                real.save_pretrained(target)
                files = sorted(target.glob("*.safetensors"))
                if len(files) != 1:
                    continue
                item["file"] = str(files[0])
                item["wrapper"] = "save_pretrained"
            else:
                wrapper = WRAPPERS[made % len(WRAPPERS)]
                path = out / f"{item['id']}.pt"
                _save(_views(state), path, wrapper)
                item["file"], item["wrapper"] = str(path), wrapper
            manifest.append(item)
            made += 1
            if lib != "transformers" and made % 3 == 0:
                manifest += _perturbed(state, out, item, rng)
            print(f"{item['id']}: {lib} {name} ({item['wrapper']})", flush=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _perturbed(
    state: dict[str, Any], out: Path, item: dict[str, Any], rng: random.Random
) -> list[dict[str, Any]]:
    """A block removed (the last index of the longest list) and a width changed."""
    import torch

    made = []
    lists: dict[str, set[str]] = {}
    for key in state:
        parts = key.split(".")
        for i, p in enumerate(parts):
            if p.isdigit():
                lists.setdefault(".".join(parts[:i]), set()).add(p)
    if lists:
        path_, idx = max(lists.items(), key=lambda kv: len(kv[1]))
        last = max(idx, key=int)
        cut = {k: v for k, v in state.items() if not k.startswith(f"{path_}.{last}.")}
        if len(cut) < len(state) and len(idx) > 1:
            p = out / f"{item['id']}-noblock.pt"
            torch.save(_views(cut), p)
            made.append(
                {
                    **item,
                    "id": f"{item['id']}-noblock",
                    "file": str(p),
                    "negative": f"{path_}.{last} removed",
                }
            )
    convs = [k for k, v in state.items() if v.dim() == 4 and k.endswith("weight")]
    if len(convs) > 2:
        key = convs[len(convs) // 2]
        changed = dict(state)
        shape = list(changed[key].shape)
        shape[0] += 8
        changed[key] = torch.empty(shape)
        p = out / f"{item['id']}-width.pt"
        torch.save(_views(changed), p)
        made.append(
            {**item, "id": f"{item['id']}-width", "file": str(p), "negative": f"{key} widened"}
        )
    return made


def name(out: Path) -> None:
    from pthforensics.container.reader import read_container
    from pthforensics.infer.signatures import name_architecture
    from pthforensics.pipeline import scan_container

    manifest = json.loads((out / "manifest.json").read_text())
    for item in manifest:
        container = read_container(item["file"])
        _, checkpoint = scan_container(container)
        assert checkpoint is not None and checkpoint.main is not None
        start = time.perf_counter()
        arch = name_architecture(
            checkpoint.main,
            path=item["file"],
            container_format=container.format,
            kind=checkpoint.kind,
        )
        item["ms"] = round((time.perf_counter() - start) * 1000, 1)
        item["got"] = arch.to_dict()
        if arch.code:
            (out / f"{item['id']}.code.py").write_text(arch.code)
    (out / "named.json").write_text(json.dumps(manifest, indent=1))


def run(out: Path) -> None:
    manifest = json.loads((out / "named.json").read_text())
    positives = [m for m in manifest if "negative" not in m]
    negatives = [m for m in manifest if "negative" in m]
    right = loaded = ran = 0
    per_lib: dict[str, list[int]] = {}
    for item in positives:
        got = item["got"]
        labels = {f"{got['library']}:{got['name']}", *got["same_layout"]}
        ok_name = got["status"] == "named" and any(
            label.split("(")[0] == f"{item['library']}:{item['name']}" for label in labels
        )
        right += ok_name
        code = out / f"{item['id']}.code.py"
        ok_load = False
        if code.exists():
            ran += 1
            proc = subprocess.run(
                [sys.executable, str(code)], capture_output=True, text=True, timeout=600
            )
            ok_load = proc.returncode == 0 and "strictly" in proc.stdout
            if not ok_load:
                last = proc.stderr.strip().splitlines()[-1:]
                print(f"LOAD FAIL {item['id']} {item['name']}: {last}")
        loaded += ok_load
        stats = per_lib.setdefault(item["library"], [0, 0, 0])
        stats[0] += 1
        stats[1] += ok_name
        stats[2] += ok_load
        if not ok_name:
            print(
                f"NAME MISS {item['id']} {item['library']} {item['name']} -> {got['status']} "
                f"{got['library']} {got['name']}: {got['evidence'][:2]}"
            )
    wrong = [m for m in negatives if m["got"]["status"] == "named"]
    for m in wrong:
        print(f"NEGATIVE NAMED {m['id']} ({m['negative']}) -> {m['got']['name']}")
    ms = sorted(m["ms"] for m in manifest)
    print(
        json.dumps(
            {
                "files": len(positives),
                "named_right": right,
                "code_generated": ran,
                "strict_loads": loaded,
                "per_library": {
                    k: {"files": v[0], "named_right": v[1], "strict_loads": v[2]}
                    for k, v in per_lib.items()
                },
                "negatives": len(negatives),
                "negatives_named": len(wrong),
                "match_ms_median": ms[len(ms) // 2] if ms else None,
                "match_ms_max": ms[-1] if ms else None,
            },
            indent=1,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("make", "name", "run"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/sigcheck"))
    parser.add_argument("--per-lib", type=int, default=16)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.step == "make":
        make(args.out, args.per_lib, args.seed)
    elif args.step == "name":
        name(args.out)
    else:
        run(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
