"""Ground truth for a checkpoint, taken from the real model: leaf types, parameter count, and
the set of inputs the model accepts, found by running it over a sweep of sizes.

Shared by ``build_zoo.py`` (library and hand-written models) and ``build_real.py`` (models
that other projects ship in their packages). Needs torch; run with a Python that has the
model's library (``/work/sigvenv/bin/python`` for the zoo).

An input is described by a *template*: a list whose entries are fixed ints or variable
names (``[1, 3, "S", "S"]``: batch 1, 3 channels, a square image of side S). Each variable
is swept on its own (the others at their design value); the truth records, per variable,
the values tried and the values that ran, as sorted ``[first, last]`` ranges, and the
output shape for every value that ran. Shapes that the template cannot express (another
rank, a non-square image) are decided by running them exactly (``check_shapes``) and kept
in ``checked``.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

Template = list[int | str]

_ERROR_CHARS = 240


@dataclass
class InputSpec:
    """The input convention of a model: what its ``forward`` takes."""

    kind: str  # image | volume | sequence | tokens | vector | latent | spectrogram | video ...
    template: Template
    design: dict[str, int]  # the value of each variable the author/library documents
    sweeps: dict[str, list[int]]  # values tried per variable
    dtype: str = "float32"
    # builds the call from the main tensor (e.g. adds decoder_input_ids); default: model(x)
    call: Callable[[nn.Module, torch.Tensor], Any] | None = None
    # tensors are made of this value (int inputs need valid token ids)
    fill: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def dense(first: int, last: int, step: int = 1) -> list[int]:
    """Every ``step``-th value from first to last inclusive."""
    return list(range(first, last + 1, step))


def ranges(values: Iterable[int]) -> list[list[int]]:
    """Sorted values as ``[[first, last], ...]`` runs of consecutive integers."""
    out: list[list[int]] = []
    for v in sorted(set(values)):
        if out and v == out[-1][1] + 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def shape_key(shape: Sequence[int], dtype: str) -> str:
    """The key of an exact input shape in ``checked``: ``"1x3x224x224:float32"``."""
    return "x".join(str(int(d)) for d in shape) + ":" + dtype


# --------------------------------------------------------------------------------------------
# modules


def torch_base(cls: type) -> str:
    """The nearest ``torch.nn`` class in the MRO (the class itself when it is one)."""
    for klass in cls.__mro__:
        if klass.__module__ == "torch.nn.utils.parametrize":
            continue  # ParametrizedConv1d, made at run time by torch.nn.utils.parametrize
        if klass.__module__.startswith("torch.nn.") and klass is not nn.Module:
            return klass.__name__
    return "Module"


def module_truth(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Every module that is a leaf or owns tensors directly -> its type and torch base."""
    out: dict[str, dict[str, Any]] = {}
    for name, mod in model.named_modules():
        if not name:
            continue
        direct = [n for n, _ in mod.named_parameters(recurse=False)]
        direct += [n for n, _ in mod.named_buffers(recurse=False)]
        leaf = not any(True for _ in mod.children())
        if not (leaf or direct):
            continue
        params = sum(p.numel() for p in mod.parameters(recurse=False))
        out[name] = {
            "type": type(mod).__name__,
            "torch_base": torch_base(type(mod)),
            "module": type(mod).__module__,
            "leaf": leaf,
            "tensors": direct,
            "parameters": params,
        }
    return out


def count_parameters(model: nn.Module) -> int:
    """``sum(p.numel() for p in model.parameters())`` (tied parameters once)."""
    return sum(p.numel() for p in model.parameters())


def count_buffers(model: nn.Module) -> int:
    """Elements of registered buffers (persistent or not)."""
    return sum(b.numel() for b in model.buffers())


# --------------------------------------------------------------------------------------------
# running


def _first_shape(out: Any) -> list[int] | None:
    """Shape of the main tensor of a forward's output (logits/last_hidden_state first)."""
    if isinstance(out, torch.Tensor):
        return list(out.shape)
    for attr in ("logits", "last_hidden_state", "out", "prediction_logits"):
        value = getattr(out, attr, None) if not isinstance(out, dict) else out.get(attr)
        if isinstance(value, torch.Tensor):
            return list(value.shape)
    values: Iterable[Any]
    if isinstance(out, dict):
        values = out.values()
    elif isinstance(out, (list, tuple)):
        values = out
    elif hasattr(out, "to_tuple"):
        values = out.to_tuple()
    else:
        return None
    for v in values:
        shape = _first_shape(v)
        if shape is not None:
            return shape
    return None


def make_input(spec: InputSpec, shape: Sequence[int], device: str) -> torch.Tensor:
    dtype = getattr(torch, spec.dtype)
    return torch.full(tuple(shape), spec.fill, dtype=dtype, device=device)


def run_once(
    model: nn.Module, spec: InputSpec, shape: Sequence[int], device: str
) -> tuple[bool, Any]:
    """Run the model on one input; (True, output shape) or (False, error message)."""
    x = make_input(spec, shape, device)
    try:
        with torch.no_grad():
            out = spec.call(model, x) if spec.call else model(x)
    except Exception as e:  # noqa: BLE001 - any error is the model rejecting the input
        return False, f"{type(e).__name__}: {e}"[:_ERROR_CHARS]
    return True, _first_shape(out)


def concrete(template: Template, values: dict[str, int]) -> list[int]:
    return [values[d] if isinstance(d, str) else d for d in template]


# Sizes people use (a prior only for where to look first: every value between two tried
# values with different outcomes is tried as well, so no boundary is skipped).
COMMON_SIZES = (
    96,
    112,
    128,
    160,
    192,
    200,
    224,
    227,
    240,
    256,
    288,
    299,
    300,
    320,
    384,
    416,
    448,
    480,
    500,
    512,
    518,
    520,
    576,
    600,
    1024,
    2048,
    3000,
    4096,
    8000,
    16000,
)
ADAPTIVE_ABOVE = 300  # sweeps longer than this are tried adaptively
GRID_STEP = 7  # odd, so a divisibility rule (multiples of 2^k) shows as changing outcomes


def _first_pass(values: list[int], design: int | None) -> list[int]:
    """Where an adaptive sweep starts: the smallest values, a window around the design
    value, common sizes and their neighbours, and every GRID_STEP-th value."""
    pick: set[int] = set(values[:57]) | set(values[::GRID_STEP]) | {values[-1]}
    if design is not None:
        pick |= {v for v in values if abs(v - design) <= 32}
    for c in COMMON_SIZES:
        pick |= {c - 1, c, c + 1}
    return sorted(pick & set(values))


def sweep(
    model: nn.Module, spec: InputSpec, device: str, budget_s: float = 900.0
) -> dict[str, Any]:
    """Sweep every variable of the template; the accepted sets and their outputs.

    A long sweep is adaptive: a first pass (``_first_pass``), then every value between two
    neighbouring tried values of which one runs and the other not, until no
    such pair is left. Values never tried are recorded as such (``tried``), never assumed.
    """
    result: dict[str, Any] = {}
    for var, wanted in spec.sweeps.items():
        ok: dict[int, Any] = {}
        errors: dict[int, str] = {}
        start = time.monotonic()

        def run(
            value: int, var: str = var, ok: dict[int, Any] = ok, errors: dict[int, str] = errors
        ) -> None:
            values = dict(spec.design, **{var: value})
            accepted, info = run_once(model, spec, concrete(spec.template, values), device)
            if accepted:
                ok[value] = info
            else:
                errors[value] = info

        order = sorted(set(wanted))
        todo = order if len(order) <= ADAPTIVE_ABOVE else _first_pass(order, spec.design.get(var))
        while todo and time.monotonic() - start <= budget_s:
            for value in todo:
                if time.monotonic() - start > budget_s:
                    break
                run(value)
            done = sorted(set(ok) | set(errors))
            index = {v: i for i, v in enumerate(order)}
            todo = []
            for a, b in itertools.pairwise(done):
                if index[b] - index[a] > 1 and (a in ok) != (b in ok):
                    todo.extend(order[index[a] + 1 : index[b]])
        done = sorted(set(ok) | set(errors))
        result[var] = {
            "tried": ranges(done),
            "accepted": ranges(ok),
            "outputs": _group_outputs(ok),
            "errors": _boundary_errors(errors),
            "seconds": round(time.monotonic() - start, 1),
            "adaptive": len(order) > ADAPTIVE_ABOVE,
        }
    return result


def _group_outputs(ok: dict[int, Any]) -> list[list[Any]]:
    """``[[first, last, shape], ...]``: runs of consecutive values with the same output."""
    out: list[list[Any]] = []
    for v in sorted(ok):
        if out and v == out[-1][1] + 1 and ok[v] == out[-1][2]:
            out[-1][1] = v
        else:
            out.append([v, v, ok[v]])
    return out


def _boundary_errors(errors: dict[int, str]) -> dict[str, str]:
    """The error of the first value of each rejected run (a sample of why, not every one)."""
    return {str(first): errors[first] for first, _last in ranges(errors)}


# A flatten head fixes the final map m: the sizes that floor to it span less than (m+1)/m
# <= 2 times the smallest (a little more with kernel offsets); runs over a wider spread
# (sizes that are multiples of 32 from 32 to 576) mean the size is free up to a divisibility.
FREE_SPREAD = 4


def status_of(accepted: list[list[int]], tried: list[list[int]]) -> str:
    """``free`` when the accepted set reaches an end of the sweep: the largest value tried
    (unbounded above: global pooling, recurrent or convolutional bodies) or the smallest
    (any length up to a maximum: position tables), or spreads over FREE_SPREAD times its
    smallest value; ``fixed`` when it is a narrow window inside the sweep (a flatten head,
    a position table of one size, pooling floors); ``none`` when nothing ran."""
    if not accepted:
        return "none"
    lo, hi = accepted[0][0], accepted[-1][1]
    if hi == tried[-1][1] or lo == tried[0][0] or hi >= FREE_SPREAD * lo:
        return "free"
    return "fixed"


def refine_on_cpu(cpu_model: nn.Module, spec: InputSpec, sweeps: dict[str, Any]) -> None:
    """Token ids index tables, and the meta device cannot tell an index out of range (its
    tensors have no values). An index out of range grows with the length, so the values that
    run on CPU are a prefix of those that ran on meta: find its end by bisection on CPU."""
    for var, result in sweeps.items():
        accepted = [v for first, last in result["accepted"] for v in range(first, last + 1)]
        if not accepted:
            continue

        def runs(value: int, var: str = var) -> tuple[bool, Any]:
            values = dict(spec.design, **{var: value})
            return run_once(cpu_model, spec, concrete(spec.template, values), "cpu")

        lo, hi = 0, len(accepted) - 1
        ok_hi, _ = runs(accepted[hi])
        if ok_hi:
            result["cpu_checked"] = f"largest value {accepted[hi]} runs on cpu"
            continue
        ok_lo, err = runs(accepted[lo])
        if not ok_lo:
            result["cpu_checked"] = f"smallest value {accepted[lo]} fails on cpu: {err}"
            bad = accepted
        else:
            while hi - lo > 1:  # invariant: accepted[lo] runs, accepted[hi] fails
                mid = (lo + hi) // 2
                if runs(accepted[mid])[0]:
                    lo = mid
                else:
                    hi = mid
            err = runs(accepted[hi])[1]
            result["cpu_checked"] = (
                f"on cpu values up to {accepted[lo]} run, {accepted[hi]} fails: {err}"
            )
            bad = accepted[hi:]
        keep = set(accepted) - set(bad)
        result["accepted"] = ranges(keep)
        top = max(keep, default=-1)
        result["outputs"] = [[a, min(b, top), s] for a, b, s in result["outputs"] if a <= top]
        result["errors"][str(bad[0])] = err


class _FreshCopies(nn.Module):
    """Calls a deep copy of the model each time, so no call sees another's side effects."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return copy.deepcopy(self.model)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["model"], name)


def input_truth(
    model: nn.Module, spec: InputSpec, device: str, cpu_model: nn.Module | None = None
) -> dict[str, Any]:
    design_shape = concrete(spec.template, spec.design)
    pristine = copy.deepcopy(model)
    ok_before, _ = run_once(model, spec, design_shape, device)
    sweeps = sweep(model, spec, device)
    ok, info = run_once(model, spec, design_shape, device)
    stateful = ok_before and not ok
    if stateful:
        # the model changed itself during the sweep (HF Swin shrinks its window in place
        # for a small input): sweep again with a fresh copy for every run
        sweeps = sweep(_FreshCopies(pristine), spec, device)
        ok, info = run_once(copy.deepcopy(pristine), spec, design_shape, device)
    if cpu_model is not None:
        refine_on_cpu(cpu_model, spec, sweeps)
    doc: dict[str, Any] = {
        "kind": spec.kind,
        "dtype": spec.dtype,
        "template": spec.template,
        "design": spec.design,
        "design_shape": design_shape,
        "design_runs": ok,
        "design_output": info if ok else None,
        "design_error": None if ok else info,
        "variables": sweeps,
        "device": device,
        "stateful": stateful,
        "note": spec.note,
        **spec.extra,
    }
    doc.update(derive_status(doc))
    return doc


def derive_status(doc: dict[str, Any]) -> dict[str, Any]:
    """The input status from a truth ``input`` document (no model needed).

    When the design output is batch-first, only values whose output keeps its rank and
    leading (batch) dimension count: a model that reshapes its input into more rows
    (CREPE's ``reshape(-1, 2048)``) runs on 2048 samples but reads them as two inputs.
    """
    design_out = doc.get("design_output")
    batch = doc["template"][0] if isinstance(doc["template"][0], int) else None
    if not (isinstance(design_out, list) and design_out[:1] == [batch]):
        design_out = None  # the output is not batch-first (a [T, N, C] CTC output): no check
    statuses: dict[str, str] = {}
    for var, s in doc["variables"].items():
        consistent = [
            v
            for first, last, shape in s["outputs"]
            for v in range(first, last + 1)
            if not isinstance(design_out, list)
            or (
                isinstance(shape, list)
                and len(shape) == len(design_out)
                and shape[:1] == design_out[:1]
            )
        ]
        statuses[var] = status_of(ranges(consistent), s["tried"])
    if not statuses:
        status = "fixed"
    elif any(s == "free" for s in statuses.values()):
        status = "free"
    elif all(s == "fixed" for s in statuses.values()):
        status = "fixed"
    else:
        status = "none"
    return {"status": status, "status_per_variable": statuses}


def check_shapes(
    model: nn.Module, spec: InputSpec, shapes: Iterable[tuple[list[int], str]], device: str
) -> dict[str, Any]:
    """Run exact shapes (with their dtype); ``{shape_key: {"ok", "output"|"error"}}``."""
    out: dict[str, Any] = {}
    for shape, dtype in shapes:
        spec_d = InputSpec(**{**spec.__dict__, "dtype": dtype})
        ok, info = run_once(copy.deepcopy(model), spec_d, shape, device)  # no side effects
        out[shape_key(shape, dtype)] = {"ok": ok, ("output" if ok else "error"): info}
    return out


# --------------------------------------------------------------------------------------------
# saving


def stride0_state_dict(model: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The model's state_dict with every tensor a stride-0 expansion of one element on CPU.

    torch.save keeps the view: the file holds a one-element storage per tensor, and every key,
    shape, dtype and ``_metadata`` entry of the real state_dict. Tied tensors (the same
    Parameter under two names) share one expansion, so they share a storage as in a real file.
    """
    sd = model.state_dict(keep_vars=True)
    made: dict[int, torch.Tensor] = {}
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in sd.items():
        ident = id(value)
        if ident not in made:
            if value.dim() == 0:
                made[ident] = torch.zeros((), dtype=value.dtype)
            else:
                made[ident] = torch.zeros(1, dtype=value.dtype).expand(value.shape)
        out[key] = made[ident]
    out._metadata = getattr(sd, "_metadata", None)  # type: ignore[attr-defined]
    return out


def wrap(sd: OrderedDict[str, torch.Tensor], container: str) -> Any:
    """Put a state_dict in the container people use (see README for the list)."""
    if container in ("plain", "safetensors", "hf-bin"):
        return sd
    if container == "state_dict":
        return {"state_dict": sd, "epoch": 12, "best_acc": 0.91}
    if container == "model_key":
        return {"model": sd, "optimizer_name": "adam", "epoch": 3}
    if container == "lightning":
        inner = OrderedDict((f"model.{k}", v) for k, v in sd.items())
        meta = getattr(sd, "_metadata", None)
        if meta is not None:
            inner._metadata = OrderedDict(  # type: ignore[attr-defined]
                (("model." + k) if k else "model", v) for k, v in meta.items()
            )
        return {
            "epoch": 9,
            "global_step": 4500,
            "pytorch-lightning_version": "2.2.0",
            "state_dict": inner,
            "hyper_parameters": {"lr": 0.001, "num_classes": 10},
        }
    if container == "dataparallel":
        inner = OrderedDict((f"module.{k}", v) for k, v in sd.items())
        meta = getattr(sd, "_metadata", None)
        if meta is not None:
            inner._metadata = OrderedDict(  # type: ignore[attr-defined]
                (("module." + k) if k else "module", v) for k, v in meta.items()
            )
        return inner
    raise ValueError(f"unknown container {container}")


EXTENSIONS = {
    "plain": ".pt",
    "state_dict": ".pth",
    "model_key": ".pth",
    "lightning": ".ckpt",
    "dataparallel": ".pth",
    "safetensors": ".safetensors",
    "hf-bin": ".bin",
    "full": ".pt",
}


def save_checkpoint(model: nn.Module, container: str, path: Path) -> None:
    """Write the model's tensors (stride-0, or contiguous zeros for safetensors)."""
    if container == "full":
        torch.save(model, path)
        return
    sd = stride0_state_dict(model)
    if container == "safetensors":
        from safetensors.torch import save_file

        seen: set[int] = set()
        flat: dict[str, torch.Tensor] = {}
        for key, value in sd.items():
            if id(value) in seen:  # safetensors refuses shared tensors; keep the first name
                continue
            seen.add(id(value))
            flat[key] = torch.zeros(value.shape, dtype=value.dtype)
        save_file(flat, str(path), metadata={"format": "pt"})
        return
    torch.save(wrap(sd, container), path)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc, indent=1) + "\n")
