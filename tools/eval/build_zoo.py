"""Build the library zoo: checkpoints of torchvision, timm, transformers and hand-written
models, each with ``<file>.truth.json`` taken from the real model.

Run with a Python that has torch, torchvision, timm, transformers and safetensors
(``/work/sigvenv/bin/python``)::

    python tools/eval/build_zoo.py [OUT_DIR] [--only NAME ...] [--skip-existing]
    python tools/eval/build_zoo.py [OUT_DIR] --verify PENDING.json

Tensors are saved as stride-0 expansions of a one-element tensor (shapes, dtypes, keys,
``_metadata`` and tied storages intact, files of a few KB); safetensors files hold real
zeros. ``--verify`` runs the exact shapes ``evaluate.py`` could not decide from the sweep
(another rank, a non-square image...) on the real models and stores them in ``checked``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from torch import nn  # noqa: E402
from truth import (  # noqa: E402
    EXTENSIONS,
    InputSpec,
    check_shapes,
    count_buffers,
    count_parameters,
    derive_status,
    input_truth,
    module_truth,
    run_once,
    save_checkpoint,
    write_json,
)

DEFAULT_OUT = Path("/work/evalzoo/zoo")


def _entries() -> dict[str, tuple[Any, InputSpec, str, str, dict[str, Any]]]:
    """name -> (factory, input spec, container, device, source)."""
    import handwritten
    import zoo_specs

    out: dict[str, tuple[Any, InputSpec, str, str, dict[str, Any]]] = {}
    for spec in zoo_specs.ALL:
        out[spec.name] = (
            lambda device=None, s=spec: zoo_specs.build(s, device),
            spec.input,
            spec.container,
            spec.device,
            {
                "library": spec.library,
                "constructor": spec.constructor,
                "kwargs": spec.kwargs,
                "config": spec.config,
                "_spec": spec,
            },
        )
    for name, (factory, ispec, container) in handwritten.HANDWRITTEN.items():
        device = "cpu" if container == "full" else "meta"
        out[name] = (
            lambda device=None, f=factory: f(),
            ispec,
            container,
            device,
            {
                "library": "handwritten",
                "constructor": factory.__name__,
                "kwargs": {},
                "doc": (factory.__doc__ or "").strip(),
            },
        )
    return out


def _make(factory: Any, device: str) -> nn.Module:
    """Build on ``device`` (hand-written classes ignore the argument and are built under the
    device context)."""
    if device == "cpu":
        torch.manual_seed(0)
    with torch.device(device):
        model = factory(device)
    return model.eval()


def _versions() -> dict[str, str]:
    out = {"torch": torch.__version__}
    for lib in ("torchvision", "timm", "transformers"):
        with contextlib.suppress(ImportError):
            out[lib] = __import__(lib).__version__
    return out


def build_one(
    name: str, entry: tuple[Any, InputSpec, str, str, dict[str, Any]], out_dir: Path
) -> dict[str, Any]:
    factory, ispec, container, device, source = entry
    source = {k: v for k, v in source.items() if not k.startswith("_")}
    t0 = time.monotonic()
    model = _make(factory, device)
    run_device = device
    if device == "meta" and any(isinstance(m, nn.RNNBase) for m in model.modules()):
        # recurrent layers run step by step on meta (minutes per sweep); CPU is faster
        model = _make(factory, "cpu")
        run_device = "cpu"
    elif device == "meta":
        ok, info = run_once(model, ispec, _design_shape(ispec), "meta")
        if not ok:
            print(f"  {name}: meta run failed at the design input ({info}); using cpu")
            model = _make(factory, "cpu")
            run_device = "cpu"
    # the saved file never depends on the device the sweep used
    path = out_dir / (name + EXTENSIONS[container])
    save_checkpoint(model if container != "full" else _make(factory, "cpu"), container, path)
    truth = {
        "name": name,
        "file": path.name,
        "container": container,
        "prefix": {"lightning": "model.", "dataparallel": "module."}.get(container, ""),
        "source": source,
        "versions": _versions(),
        "parameters": count_parameters(model),
        "buffers": count_buffers(model),
        "modules": module_truth(model),
        "input": input_truth(model, ispec, run_device, _cpu_model(factory, ispec, run_device)),
        "checked": {},
    }
    truth["build_seconds"] = round(time.monotonic() - t0, 1)
    write_json(out_dir / (path.name + ".truth.json"), truth)
    return truth


def _cpu_model(factory: Any, ispec: InputSpec, device: str) -> nn.Module | None:
    """A CPU copy for integer inputs swept on meta (see ``truth.refine_on_cpu``)."""
    if device != "meta" or not ispec.dtype.startswith("int"):
        return None
    return _make(factory, "cpu")


def _design_shape(ispec: InputSpec) -> list[int]:
    return [ispec.design[d] if isinstance(d, str) else d for d in ispec.template]


def verify(out_dir: Path, pending_path: Path) -> None:
    """Run the exact shapes listed in PENDING (``{file: [[shape, dtype], ...]}``)."""
    pending = json.loads(pending_path.read_text())
    entries = _entries()
    for file_name, shapes in pending.items():
        truth_path = out_dir / (file_name + ".truth.json")
        if not truth_path.exists():
            continue
        truth = json.loads(truth_path.read_text())
        if truth["name"] not in entries:
            continue
        factory, ispec, _c, _d, _s = entries[truth["name"]]
        device = truth["input"]["device"]
        model = _make(factory, device)
        checked = check_shapes(model, ispec, [(list(s), d) for s, d in shapes], device)
        truth["checked"].update(checked)
        write_json(truth_path, truth)
        print(f"{file_name}: {len(checked)} shape(s) checked")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(DEFAULT_OUT))
    parser.add_argument("--only", nargs="*", help="build these names only")
    parser.add_argument("--skip-existing", action="store_true")
    parser.add_argument("--verify", metavar="PENDING", help="check exact shapes from evaluate")
    parser.add_argument("--list", action="store_true", help="list the names and exit")
    parser.add_argument(
        "--restatus", action="store_true", help="recompute input status of existing truth files"
    )
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    if args.verify:
        verify(out_dir, Path(args.verify))
        return 0
    if args.restatus:
        for truth_path in sorted(out_dir.glob("*.truth.json")):
            truth = json.loads(truth_path.read_text())
            before = truth["input"].get("status")
            truth["input"].update(derive_status(truth["input"]))
            write_json(truth_path, truth)
            if before != truth["input"]["status"]:
                print(f"{truth_path.name}: {before} -> {truth['input']['status']}")
        return 0
    entries = _entries()
    if args.list:
        print("\n".join(entries))
        return 0
    names = args.only or list(entries)
    failed = []
    for name in names:
        _f, _i, container, _d, _s = entries[name]
        target = out_dir / (name + EXTENSIONS[container] + ".truth.json")
        if args.skip_existing and target.exists():
            continue
        try:
            truth = build_one(name, entries[name], out_dir)
        except Exception:  # noqa: BLE001 - one broken entry must not stop the zoo
            failed.append(name)
            traceback.print_exc()
            continue
        inp = truth["input"]
        acc = {v: s["accepted"][:3] for v, s in inp["variables"].items()}
        print(
            f"{name}: {truth['parameters']} params, input {inp['status']} "
            f"design {inp['design_shape']} runs={inp['design_runs']} accepted {acc} "
            f"({truth['build_seconds']} s)",
            flush=True,
        )
    if failed:
        print("FAILED:", " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
