"""Measure ``pthforensics inspect`` against the truth of a zoo (``build_zoo.py``) or of real
checkpoints (``build_real.py``). Run with the project's Python against the checkout::

    python tools/eval/evaluate.py [DIR ...] [--json-out FILE] [--pending-out FILE]
                                  [--only SUBSTRING ...] [--failures] [--reports-out FILE]

DIR defaults to /work/evalzoo/zoo and /work/evalzoo/real; each holds checkpoints with a
``<file>.truth.json`` beside them. For every file: the input verdict (status and shape
accepted by the real model), whether the truth lies in ``input.valid_sizes``, the trace
status and whether a ``confirmed`` trace ran an input the real model rejects, layer-type
accuracy, parameter count, and the architecture name when the report has one. It reads the
JSON contract of DESIGN.md only, and treats every field as optional: a field the report
does not have yet is counted as "absent", never as a crash.

Shapes the truth cannot decide from its sweep (another rank, a non-square image, a value
outside the swept range) are "undecided"; ``--pending-out`` lists them, and
``build_zoo.py --verify`` / ``build_real.py --verify`` run them on the real models, so the
next evaluation decides them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DIRS = ("/work/evalzoo/zoo", "/work/evalzoo/real")

# Report types accepted for a truth class that is not a torch.nn class (a library's own
# implementation of a torch.nn layer). Keyed by a regular expression on the class name.
EQUIVALENT_TYPES: tuple[tuple[str, frozenset[str]], ...] = (
    (r"RMSNorm$", frozenset({"RMSNorm"})),  # LlamaRMSNorm, Qwen2RMSNorm...: torch.nn.RMSNorm
    (r"^T5LayerNorm$", frozenset({"RMSNorm"})),  # T5's LayerNorm has no mean, no bias
    (r"^Conv1D$", frozenset({"Conv1D"})),  # transformers GPT-2 Conv1D (transposed Linear)
)

# Modules that are the identity in eval mode: a ``drop_path``/``dropout`` slot that a
# library fills with nn.Identity when its rate is 0 is not mistyped when called DropPath.
EVAL_NO_OPS = frozenset(
    {
        "Identity",
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "DropPath",
        "DropBlock2d",
    }
)

ACCEPTED, REJECTED, UNDECIDED, ABSENT = "accepted", "rejected", "undecided", "absent"


# --------------------------------------------------------------------------------------------
# running the tool


def run_inspect(path: str) -> tuple[dict[str, Any] | None, str, float]:
    """``pthforensics inspect --json`` in-process; (report, stderr/error text, seconds)."""
    from pthforensics.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["inspect", path, "--json"])
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        return None, f"{type(e).__name__}: {e}", time.monotonic() - start
    seconds = time.monotonic() - start
    try:
        return json.loads(out.getvalue()), err.getvalue(), seconds
    except ValueError:
        return None, "no JSON on stdout: " + err.getvalue()[-500:], seconds


# --------------------------------------------------------------------------------------------
# truth look-ups


def _in_ranges(value: int, runs: Iterable[Sequence[int]]) -> bool:
    return any(a <= value <= b for a, b in runs)


def _dtype_class(dtype: str | None) -> str:
    if not dtype:
        return "unknown"
    d = str(dtype).replace("torch.", "")
    if d.startswith(("int", "uint", "long")) or d == "bool":
        return "int"
    if d.startswith(("float", "bfloat", "half", "double")):
        return "float"
    return "unknown"


def shape_key(shape: Sequence[int], dtype: str) -> str:
    return "x".join(str(int(d)) for d in shape) + ":" + dtype


def decide_shape(truth: dict[str, Any], shape: Any, dtype: str | None) -> tuple[str, str]:
    """Does the real model accept this input? (accepted|rejected|undecided|absent, why)."""
    if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
        return ABSENT, "no shape reported"
    tin = truth["input"]
    tdtype = tin.get("dtype", "float32")
    dtype = dtype or tdtype
    hit = truth.get("checked", {}).get(shape_key(shape, dtype))
    if hit is not None:
        detail = hit.get("error") or hit.get("output")
        return (ACCEPTED if hit["ok"] else REJECTED), f"checked exactly: {detail}"
    if _dtype_class(dtype) != _dtype_class(tdtype) and "unknown" not in (
        _dtype_class(dtype),
        _dtype_class(tdtype),
    ):
        return REJECTED, f"dtype {dtype}: the model takes {tdtype}"
    template = tin["template"]
    if len(template) != len(shape):
        return UNDECIDED, f"rank {len(shape)} vs template {template}"
    values: dict[str, int] = {}
    for i, (want, got) in enumerate(zip(template, shape, strict=True)):
        if isinstance(want, int):
            batch = i == 0 and (want == 1 or "batch_multiple" in tin)
            if want != got and not batch:  # the batch dimension is free
                return REJECTED, f"dimension {got} where the model takes {want} ({template})"
            continue
        if want in values and values[want] != got:
            return UNDECIDED, f"{want} takes two values {values[want]} and {got}"
        values[want] = got
    design = tin.get("design", {})
    moved = [v for v in values if values[v] != design.get(v)]
    if len(moved) > 1:
        return UNDECIDED, f"{' and '.join(moved)} both differ from the swept design"
    variables = tin.get("variables", {})
    for var, value in values.items():
        sweep = variables.get(var)
        if sweep is None:
            return UNDECIDED, f"{var} not swept"
        if _in_ranges(value, sweep["accepted"]):
            continue
        if _in_ranges(value, sweep["tried"]):
            return REJECTED, f"{var}={value} fails on the real model: " + _nearest_error(
                sweep, value
            )
        return UNDECIDED, f"{var}={value} outside the sweep"
    return ACCEPTED, "in the swept accepted set"


def _nearest_error(sweep: dict[str, Any], value: int) -> str:
    errors = sweep.get("errors", {})
    keys = sorted((int(k) for k in errors), key=lambda k: (k > value, abs(k - value)))
    return errors[str(keys[0])][:160] if keys else ""


def _design_values(truth: dict[str, Any]) -> dict[str, int]:
    return dict(truth["input"].get("design", {}))


def read_valid_sizes(truth: dict[str, Any], valid: Any) -> dict[str, set[int]] | None:
    """``input.valid_sizes`` as values per template variable, or None if unreadable.

    Forms read (DESIGN.md leaves the form open, InputGuess documents the first two):
    a flat list of ints = sizes of the single (or square) variable; a list with one list of
    ints per distinct variable = values per variable; a dict of such forms per hypothesis
    (values are merged). Anything else is unreadable.
    """
    vars_ = list(dict.fromkeys(d for d in truth["input"]["template"] if isinstance(d, str)))
    if isinstance(valid, dict):
        merged: dict[str, set[int]] = defaultdict(set)
        for sub in valid.values():
            part = read_valid_sizes(truth, sub)
            if part is None:
                return None
            for k, v in part.items():
                merged[k] |= v
        return dict(merged)
    if not isinstance(valid, list) or not valid:
        return None
    if all(isinstance(x, int) for x in valid):
        if len(vars_) == 1:
            return {vars_[0]: set(valid)}
        return {"*": set(valid)}  # one list for several variables: each may take these
    if not all(isinstance(x, list) and all(isinstance(y, int) for y in x) for x in valid):
        return None
    if len(valid) == len(vars_):
        return {var: set(vals) for var, vals in zip(vars_, valid, strict=True)}
    dims = [d for d in truth["input"]["template"] if isinstance(d, str)]  # with repeats
    if len(valid) == len(dims):  # one list per spatial dimension: H and W of a square S
        per_var: dict[str, set[int]] = {}
        for var, vals in zip(dims, valid, strict=True):
            per_var[var] = per_var[var] & set(vals) if var in per_var else set(vals)
        return per_var
    return None


def valid_sizes_verdict(truth: dict[str, Any], valid: Any) -> tuple[str, str]:
    """(design in valid_sizes: yes|no|absent|unreadable,
    every listed size accepted by the real model: sound|unsound|unknown|absent)."""
    if valid is None:
        return "absent", "absent"
    per_var = read_valid_sizes(truth, valid)
    if per_var is None:
        return "unreadable", "unknown"
    design = _design_values(truth)
    variables = truth["input"].get("variables", {})
    inside = True
    sound = "sound"
    for var, value in design.items():
        values = per_var.get(var, per_var.get("*"))
        if values is None:
            continue
        inside = inside and value in values
        sweep = variables.get(var)
        for v in values:
            if sweep is None or not _in_ranges(v, sweep["tried"]):
                sound = "unknown" if sound == "sound" else sound
            elif not _in_ranges(v, sweep["accepted"]):
                sound = "unsound"
    return ("yes" if inside else "no"), sound


# --------------------------------------------------------------------------------------------
# layers


def _type_ok(reported: str, truth: dict[str, Any]) -> bool:
    if reported in (truth["type"], truth["torch_base"]):
        return True
    if truth["type"] == "Identity" and reported in EVAL_NO_OPS:
        return True
    if truth["type"].startswith("Parametrized"):  # torch.nn.utils.parametrize's run-time class
        return reported == truth["type"][len("Parametrized") :]
    for pattern, names in EQUIVALENT_TYPES:
        if re.search(pattern, truth["type"]) and reported in names:
            return True
    return False


def _is_judgeable(truth: dict[str, Any]) -> bool:
    """A truth class the report can name: a torch.nn class, a subclass, or an equivalent."""
    if truth["torch_base"] != "Module":
        return True
    return any(re.search(p, truth["type"]) for p, _ in EQUIVALENT_TYPES)


def layer_scores(truth: dict[str, Any], layers: Any) -> dict[str, Any]:
    modules: dict[str, dict[str, Any]] = truth.get("modules", {})
    if not isinstance(layers, list):
        return {
            "judged": 0,
            "right": 0,
            "absent": True,
            "wrong": [],
            "custom": 0,
            "unmatched": 0,
            "free_judged": 0,
            "free_right": 0,
            "free_wrong": [],
        }
    prefixes = ("", truth.get("prefix", ""), "model.", "module.", "net.", "_orig_mod.")
    judged = right = custom = unmatched = free_judged = free_right = 0
    wrong: list[str] = []
    free_wrong: list[str] = []
    for layer in layers:
        name = str(layer.get("name", ""))
        rtype = str(layer.get("type", ""))
        tmod = None
        for prefix in prefixes:
            if name.startswith(prefix) and name[len(prefix) :] in modules:
                tmod = modules[name[len(prefix) :]]
                break
        if tmod is None:
            unmatched += 1
            continue
        if not _is_judgeable(tmod):
            custom += 1
            continue
        ok = _type_ok(rtype, tmod)
        if not tmod.get("tensors"):  # parameter-less (from _metadata or the rebuild): apart
            free_judged += 1
            free_right += ok
            if not ok:
                free_wrong.append(f"{name}: said {rtype}, is {tmod['type']}")
            continue
        judged += 1
        if ok:
            right += 1
        else:
            wrong.append(f"{name}: said {rtype}, is {tmod['type']} ({tmod['torch_base']})")
    tensor_modules = sum(1 for m in modules.values() if m.get("tensors"))
    return {
        "judged": judged,
        "right": right,
        "wrong": wrong,
        "custom": custom,
        "unmatched": unmatched,
        "absent": False,
        "truth_modules_with_tensors": tensor_modules,
        "free_judged": free_judged,
        "free_right": free_right,
        "free_wrong": free_wrong,
    }


# --------------------------------------------------------------------------------------------
# architecture


def architecture_verdict(truth: dict[str, Any], arch: Any) -> str:
    """right | wrong | abstained | family | absent (no architecture field).

    ``right``: the library and constructor, or a ``same_layout`` entry naming them (bare
    when the library is the one named, else ``library.constructor``); any name given to a
    hand-written or real (non-library) file is ``wrong``."""
    if not isinstance(arch, dict):
        return "absent"
    status = arch.get("status")
    src = truth.get("source", {})
    library = src.get("library")
    is_library = library in ("torchvision", "timm", "transformers")
    if status != "named":
        return "abstained" if status == "unknown" else "family"
    if not is_library:
        return "wrong"
    constructor = src.get("constructor")
    if arch.get("library") == library and arch.get("name") == constructor:
        return "right"
    for other in arch.get("same_layout") or []:  # "resnet18", "torchvision.resnet18", ...
        if isinstance(other, dict):
            other = f"{other.get('library')}.{other.get('name')}"
        other = str(other)
        if other == constructor and arch.get("library") == library:
            return "right"
        if other in {f"{library}{sep}{constructor}" for sep in ".:/"}:
            return "right"
    return "wrong"


# --------------------------------------------------------------------------------------------
# one file


@dataclass
class FileResult:
    file: str
    group: str  # zoo-library | zoo-handwritten | real
    kind: str
    truth_status: str
    design: list[int] | None
    error: str | None = None
    status: str | None = None
    shape: Any = None
    dtype: str | None = None
    shape_verdict: str = ABSENT
    shape_why: str = ""
    status_ok: bool = False
    verdict_ok: bool = False
    valid_sizes: str = "absent"
    valid_sound: str = "absent"
    trace_status: str = "absent"
    trace_input: Any = None
    trace_input_verdict: str = ABSENT
    confirmed_rejected: bool = False
    layers_judged: int = 0
    layers_right: int = 0
    layers_wrong: list[str] = field(default_factory=list)
    layers_unmatched: int = 0
    free_layers_judged: int = 0
    free_layers_right: int = 0
    free_layers_wrong: list[str] = field(default_factory=list)
    params_reported: int | None = None
    params_truth: int = 0
    params_ok: bool = False
    architecture: str = "absent"
    arch_name: str | None = None
    evidence: list[str] = field(default_factory=list)
    trace_detail: str = ""
    seconds: float = 0.0
    pending: list[tuple[list[int], str]] = field(default_factory=list)
    report: dict[str, Any] | None = field(default=None, repr=False)


def _group(truth: dict[str, Any]) -> str:
    lib = truth.get("source", {}).get("library")
    if truth.get("real"):
        return "real"
    return "zoo-handwritten" if lib == "handwritten" else "zoo-library"


def evaluate_file(path: Path, truth: dict[str, Any]) -> FileResult:
    tin = truth["input"]
    res = FileResult(
        file=truth.get("file", path.name),
        group=_group(truth),
        kind=tin.get("kind", "?"),
        truth_status=tin.get("status", "?"),
        design=tin.get("design_shape"),
        params_truth=int(truth.get("parameters", 0)),
    )
    report, err, res.seconds = run_inspect(str(path))
    res.report = report
    if report is None:
        res.error = err
        return res
    if report.get("status") == "error":
        res.error = json.dumps(report.get("error"))[:300]
    inp = report.get("input") or {}
    res.status = inp.get("status")
    res.shape = inp.get("shape")
    res.dtype = inp.get("dtype")
    res.evidence = [str(e) for e in (inp.get("evidence") or [])][:8]
    res.status_ok = res.status == res.truth_status
    res.shape_verdict, res.shape_why = decide_shape(truth, res.shape, res.dtype)
    res.verdict_ok = res.status_ok and res.shape_verdict == ACCEPTED
    res.valid_sizes, res.valid_sound = valid_sizes_verdict(truth, inp.get("valid_sizes"))
    trace = report.get("trace") or {}
    res.trace_status = str(trace.get("status", "absent"))
    res.trace_detail = str(trace.get("detail", trace.get("reason", "")))[:300]
    res.trace_input = trace.get("input_shape") or _first_trace_input(trace) or res.shape
    res.trace_input_verdict, _why = decide_shape(truth, res.trace_input, res.dtype)
    res.confirmed_rejected = res.trace_status == "confirmed" and res.trace_input_verdict == REJECTED
    checks = [(res.shape, res.shape_verdict)]
    if res.trace_status == "confirmed":  # a partial trace's input is a part's, not the model's
        checks.append((res.trace_input, res.trace_input_verdict))
    for shape, verdict in checks:
        if verdict == UNDECIDED:
            res.pending.append((shape, res.dtype or tin.get("dtype", "float32")))
    scores = layer_scores(truth, report.get("layers"))
    res.layers_judged, res.layers_right = scores["judged"], scores["right"]
    res.layers_wrong, res.layers_unmatched = scores["wrong"], scores["unmatched"]
    res.free_layers_judged, res.free_layers_right = scores["free_judged"], scores["free_right"]
    res.free_layers_wrong = scores["free_wrong"]
    tensors = report.get("tensors") or {}
    res.params_reported = tensors.get("parameters")
    res.params_ok = res.params_reported == res.params_truth
    res.architecture = architecture_verdict(truth, report.get("architecture"))
    arch = report.get("architecture")
    if isinstance(arch, dict):
        res.arch_name = f"{arch.get('status')}:{arch.get('library')}:{arch.get('name')}"
    return res


def _first_trace_input(trace: dict[str, Any]) -> Any:
    layers = trace.get("layers") or []
    if layers and isinstance(layers[0], dict):
        return layers[0].get("input_shape")
    return None


# --------------------------------------------------------------------------------------------
# totals and output


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} ({100.0 * num / den:.1f}%)" if den else "0/0"


def summarise(results: list[FileResult]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    groups = defaultdict(list)
    for r in results:
        groups[r.group].append(r)
        if r.group.startswith("zoo"):
            groups["zoo"].append(r)
    groups["all"] = list(results)
    for name, rs in sorted(groups.items()):
        n = len(rs)
        judged = sum(r.layers_judged for r in rs)
        right = sum(r.layers_right for r in rs)
        lib = [r for r in rs if r.group == "zoo-library"]
        not_lib = [r for r in rs if r.group != "zoo-library"]
        out[name] = {
            "files": n,
            "errors": sum(1 for r in rs if r.error),
            "input_verdict_right": sum(r.verdict_ok for r in rs),
            "input_status_right": sum(r.status_ok for r in rs),
            "shape_accepted": sum(r.shape_verdict == ACCEPTED for r in rs),
            "shape_rejected": sum(r.shape_verdict == REJECTED for r in rs),
            "shape_undecided": sum(r.shape_verdict == UNDECIDED for r in rs),
            "shape_absent": sum(r.shape_verdict == ABSENT for r in rs),
            "design_in_valid_sizes": sum(r.valid_sizes == "yes" for r in rs),
            "valid_sizes_absent": sum(r.valid_sizes == "absent" for r in rs),
            "valid_sizes_unsound": sum(r.valid_sound == "unsound" for r in rs),
            "trace": dict(Counter(r.trace_status for r in rs)),
            "confirmed_with_rejected_input": sum(r.confirmed_rejected for r in rs),
            "layers_judged": judged,
            "layers_right": right,
            "layer_accuracy": round(right / judged, 4) if judged else None,
            "paramless_layers_judged": sum(r.free_layers_judged for r in rs),
            "paramless_layers_right": sum(r.free_layers_right for r in rs),
            "params_right": sum(r.params_ok for r in rs),
            "architecture": dict(Counter(r.architecture for r in rs)),
            "library_named_right": sum(r.architecture == "right" for r in lib),
            "library_files": len(lib),
            "wrong_names_outside_libraries": sum(r.architecture == "wrong" for r in not_lib),
            "input_verdict_rate": round(sum(r.verdict_ok for r in rs) / n, 4) if n else None,
            "params_rate": round(sum(r.params_ok for r in rs) / n, 4) if n else None,
            "input_causes": dict(Counter(input_cause(r) for r in rs if not r.verdict_ok)),
        }
    return out


def _short(value: Any, width: int = 22) -> str:
    text = "-" if value is None else json.dumps(value).replace(" ", "")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(results: list[FileResult]) -> None:
    from tabulate import tabulate

    rows = []
    for r in results:
        mark = {ACCEPTED: "ok", REJECTED: "REJ", UNDECIDED: "?", ABSENT: "-"}[r.shape_verdict]
        rows.append(
            [
                r.file[:38],
                r.kind[:6],
                f"{r.status or '-'}/{r.truth_status}",
                ("✓" if r.verdict_ok else "✗"),
                _short(r.shape),
                mark,
                _short(r.design),
                r.valid_sizes + ("/UNSOUND" if r.valid_sound == "unsound" else ""),
                r.trace_status + ("!" if r.confirmed_rejected else ""),
                f"{r.layers_right}/{r.layers_judged}",
                "✓" if r.params_ok else "✗",
                r.architecture,
            ]
        )
    headers = [
        "file",
        "kind",
        "said/true",
        "in",
        "shape",
        "acc",
        "design",
        "valid",
        "trace",
        "types",
        "par",
        "arch",
    ]
    print(tabulate(rows, headers=headers, tablefmt="simple"))


def print_summary(summary: dict[str, Any]) -> None:
    from tabulate import tabulate

    rows = []
    for name, s in summary.items():
        n = s["files"]
        rows.append(
            [
                name,
                n,
                _pct(s["input_verdict_right"], n),
                _pct(s["input_status_right"], n),
                f"{s['shape_accepted']}/{s['shape_rejected']}/{s['shape_undecided']}"
                f"/{s['shape_absent']}",
                _pct(s["design_in_valid_sizes"], n) + f" unsound {s['valid_sizes_unsound']}",
                " ".join(f"{k}:{v}" for k, v in sorted(s["trace"].items())),
                s["confirmed_with_rejected_input"],
                _pct(s["layers_right"], s["layers_judged"]),
                _pct(s["paramless_layers_right"], s["paramless_layers_judged"]),
                _pct(s["params_right"], n),
                " ".join(f"{k}:{v}" for k, v in sorted(s["architecture"].items())),
                s["errors"],
            ]
        )
    headers = [
        "set",
        "files",
        "input verdict",
        "status",
        "shape acc/rej/?/-",
        "design∈valid",
        "trace",
        "conf+rej",
        "layer types",
        "no-param types",
        "params",
        "arch",
        "err",
    ]
    print(tabulate(rows, headers=headers, tablefmt="simple"))


def input_cause(r: FileResult) -> str:
    """A coarse cause of a wrong input verdict, for grouping the failures."""
    if r.error:
        return "the tool failed"
    if r.shape_verdict == ABSENT:
        return f"no shape (said {r.status})"
    why = r.shape_why
    if r.shape_verdict == REJECTED:
        if "checked exactly" in why and r.design and len(r.shape) != len(r.design):
            return "input layout wrong: another rank than the model's forward takes"
        if why.startswith("dimension"):
            return "input layout wrong: a fixed dimension (channels/features/axis order)"
        if why.startswith("dtype"):
            return "dtype wrong"
        return "size rejected by the real model"
    if r.shape_verdict == UNDECIDED:
        return "shape undecided (run --verify)"
    return f"status wrong: said {r.status}, is {r.truth_status}"


def print_failures(results: list[FileResult]) -> None:
    results = sorted(results, key=lambda r: (r.verdict_ok, input_cause(r), r.file))
    cause = None
    for r in results:
        if not r.verdict_ok and input_cause(r) != cause:
            cause = input_cause(r)
            print(f"\n# input verdict wrong: {cause}")
        elif r.verdict_ok and cause != "other":
            cause = "other"
            print("\n# input verdict right, other problems")
        problems = []
        if r.error:
            problems.append(f"error: {r.error}")
        if not r.verdict_ok:
            problems.append(
                f"input: said {r.status} {r.shape} ({r.dtype}); true {r.truth_status} "
                f"design {r.design}; shape {r.shape_verdict}: {r.shape_why}"
            )
        if r.confirmed_rejected:
            problems.append(f"CONFIRMED with a rejected input {r.trace_input}: {r.trace_detail}")
        if r.layers_wrong:
            problems.append(f"types: {'; '.join(r.layers_wrong[:6])}")
        if r.free_layers_wrong:
            problems.append(f"parameter-less types: {'; '.join(r.free_layers_wrong[:4])}")
        if not r.params_ok:
            problems.append(f"params: said {r.params_reported}, true {r.params_truth}")
        if r.architecture == "wrong":
            problems.append(f"architecture WRONG: {r.arch_name}")
        if problems:
            print(f"\n## {r.file} [{r.group}, {r.kind}]")
            for p in problems:
                print("  - " + p)
            if not r.verdict_ok and r.evidence:
                print("    evidence: " + " | ".join(r.evidence[:4])[:400])


def find_files(
    dirs: Sequence[str], only: Sequence[str] | None
) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".truth.json"):
                continue
            truth = json.loads((Path(d) / name).read_text())
            ckpt = Path(d) / name[: -len(".truth.json")]
            if not ckpt.exists():
                continue
            if only and not any(o in name for o in only):
                continue
            out.append((ckpt, truth))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", default=list(DEFAULT_DIRS))
    parser.add_argument("--json-out", help="write per-file results and the summary here")
    parser.add_argument("--pending-out", help="write undecided shapes here (for --verify)")
    parser.add_argument("--only", nargs="*", help="files whose name contains one of these")
    parser.add_argument("--failures", action="store_true", help="list failures with details")
    parser.add_argument("--reports-out", help="write every inspect report (JSONL) here")
    args = parser.parse_args(argv)
    files = find_files(args.dirs, args.only)
    if not files:
        print("no checkpoints with a .truth.json found in", args.dirs, file=sys.stderr)
        return 2
    results = []
    for i, (path, truth) in enumerate(files, 1):
        print(f"[{i}/{len(files)}] {path.name}", file=sys.stderr, flush=True)
        results.append(evaluate_file(path, truth))
    print_table(results)
    print()
    summary = summarise(results)
    print_summary(summary)
    if args.failures:
        print_failures(results)
    pending: dict[str, list[Any]] = defaultdict(list)
    for r in results:
        for shape, dtype in r.pending:
            if [shape, dtype] not in pending[r.file]:
                pending[r.file].append([shape, dtype])
    if args.pending_out:
        Path(args.pending_out).write_text(json.dumps(pending, indent=1))
        print(
            f"\n{sum(len(v) for v in pending.values())} undecided shape(s) written to "
            f"{args.pending_out}",
            file=sys.stderr,
        )
    if args.reports_out:
        with open(args.reports_out, "w") as f:
            for r in results:
                f.write(json.dumps({"file": r.file, "report": r.report}) + "\n")
    if args.json_out:
        rows = [{k: v for k, v in asdict(r).items() if k != "report"} for r in results]
        doc = {"summary": summary, "files": rows}
        Path(args.json_out).write_text(json.dumps(doc, indent=1))
    print("\n" + json.dumps({"summary": summary}, indent=None)[:100000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
