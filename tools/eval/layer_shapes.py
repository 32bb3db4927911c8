"""Check the per-layer output shapes of ``inspect``'s traces against the real models.

Run with the Python that builds the zoo (torch + torchvision, timm, transformers)::

    /work/sigvenv/bin/python tools/eval/layer_shapes.py REPORTS.jsonl [--zoo DIR]
                                                        [--only SUBSTRING ...] [--json-out FILE]

REPORTS.jsonl is what ``evaluate.py --reports-out`` writes.  For every zoo file whose
report has a trace, the real model (rebuilt from the truth's ``source`` exactly as
``build_zoo.py`` builds it) runs the input the trace ran, with forward hooks on every
module; each traced layer of the report that names a module of the real model is compared
with the real module's first call (the output shape, the first tensor of a tuple).
Layers the rebuild inserted (names with ``<`` or ``+``) and modules the real model did
not call are not judged.  Per file: layers whose output shape equals the real one, over
those compared; and apart, over the layers that received the real input shape and whose
sizes the trace does not mark assumed, how many give the real output (a module rebuilt
wrong, not a hypothesis); the first difference.  Per set the same, and separately over
the traces that rebuilt the whole model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from torch import nn  # noqa: E402

DEFAULT_ZOO = Path("/work/evalzoo/zoo")


def _first_shape(out: Any) -> list[int] | None:
    if isinstance(out, torch.Tensor):
        return list(out.shape)
    if isinstance(out, (tuple, list)):
        for item in out:
            shape = _first_shape(item)
            if shape is not None:
                return shape
    if isinstance(out, dict):
        for item in out.values():
            shape = _first_shape(item)
            if shape is not None:
                return shape
    return None


def real_calls(
    model: nn.Module, shape: list[int], dtype: str, device: str
) -> tuple[dict[str, tuple[list[int] | None, list[int] | None]], str]:
    """First-call (input shape, output shape) of every module of ``model``."""
    seen: dict[str, tuple[list[int] | None, list[int] | None]] = {}

    def hook(name: str, args: Any, out: Any) -> None:
        seen.setdefault(name, (_first_shape(args), _first_shape(out)))

    handles = [
        m.register_forward_hook(lambda mod, a, o, _n=name: hook(_n, a, o))
        for name, m in model.named_modules()
        if name
    ]
    x = torch.zeros(shape, dtype=getattr(torch, dtype), device=device)
    error = ""
    try:
        with torch.no_grad():
            model(x)
    except Exception as e:  # noqa: BLE001 - the real model rejecting the input is data
        error = f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        for h in handles:
            h.remove()
    return seen, error


def compare(
    report: dict[str, Any], seen: dict[str, tuple[list[int] | None, list[int] | None]]
) -> dict[str, Any]:
    """Traced layers against the real first calls: output shapes equal; and, apart, the
    layers that got the real input shape and whose sizes are not assumed (does the
    rebuilt module do what the real one does?)."""
    layers = (report.get("trace") or {}).get("layers") or []
    compared = equal = same_input = same_input_equal = 0
    diffs: list[str] = []
    wrong_modules: list[str] = []
    for layer in layers:
        name = layer.get("name", "")
        if "<" in name or "+" in name or name not in seen or seen[name][1] is None:
            continue
        real_in, real_out = seen[name]
        compared += 1
        ours = layer.get("output_shape")
        if ours == real_out:
            equal += 1
        else:
            diffs.append(f"{name}: ours {ours} real {real_out}")
        if layer.get("input_shape") == real_in and not layer.get("hypothetical"):
            same_input += 1
            if ours == real_out:
                same_input_equal += 1
            else:
                wrong_modules.append(f"{name}: ours {ours} real {real_out}")
    return {
        "compared": compared,
        "equal": equal,
        "same_input": same_input,
        "same_input_equal": same_input_equal,
        "first_differences": diffs[:3],
        "wrong_modules": wrong_modules[:3],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports")
    parser.add_argument("--zoo", default=str(DEFAULT_ZOO))
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)

    import build_zoo

    entries = build_zoo._entries()
    zoo = Path(args.zoo)
    rows: list[dict[str, Any]] = []
    for line in Path(args.reports).read_text().splitlines():
        row_in = json.loads(line)
        report = row_in.get("report") or row_in  # evaluate.py wraps each report
        path = Path(report.get("path", ""))
        truth_path = zoo / (path.name + ".truth.json")
        if path.parent != zoo or not truth_path.exists():
            continue
        if args.only and not any(s in path.name for s in args.only):
            continue
        truth = json.loads(truth_path.read_text())
        trace = report.get("trace") or {}
        shape = trace.get("input_shape")
        if truth.get("name") not in entries or not shape or trace.get("status") == "skipped":
            continue
        factory = entries[truth["name"]][0]
        device = truth["input"].get("device", "meta")
        dtype = (report.get("input") or {}).get("dtype") or truth["input"].get("dtype", "float32")
        try:
            model = build_zoo._make(factory, device)
        except Exception as e:  # noqa: BLE001
            print(f"{path.name}: cannot build the real model: {e}")
            continue
        seen, error = real_calls(model, shape, dtype, device)
        row = {
            "file": path.name,
            "status": trace.get("status"),
            "part": trace.get("part")
            or ("whole" if "whole model" in trace.get("detail", "") else "?"),
            "input": shape,
            "real_error": error,
            **compare(report, seen),
        }
        rows.append(row)
        counts = (
            f"{row['equal']:4}/{row['compared']:<4} "
            f"{row['same_input_equal']:4}/{row['same_input']:<4}"
        )
        print(
            f"{path.name:42} {row['status']:9} {row['part']:6} {counts}"
            f" {'REAL REJECTS ' + error[:60] if error else ''}"
            f" {'; '.join(row['wrong_modules'][:1] or row['first_differences'][:1])}"
        )
    for label, subset in (("all", rows), ("whole", [r for r in rows if r["part"] == "whole"])):
        c = sum(r["compared"] for r in subset)
        e = sum(r["equal"] for r in subset)
        files_exact = sum(1 for r in subset if r["compared"] and r["compared"] == r["equal"])
        si = sum(r["same_input"] for r in subset)
        sie = sum(r["same_input_equal"] for r in subset)
        print(
            f"{label:6} files {len(subset):3}  layers equal {e}/{c} ({100 * e / max(c, 1):.1f}%)"
            f"  files with every compared layer equal {files_exact}"
            f"  | given the real input, not assumed: {sie}/{si} ({100 * sie / max(si, 1):.1f}%)"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
