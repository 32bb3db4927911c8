"""Run the rebuilt model on dummy inputs and record every layer's shapes.

Forward hooks on every leaf module capture input and output shapes, as torchinfo's
``forward_pass`` does (TylerYep/torchinfo: torchinfo/torchinfo.py).  On the meta device no
memory is allocated for weights or activations, so a 350 MB checkpoint traces in well
under a second: only shapes are computed.

The guessed shape is tried first, then a few sizes around it (the ends of the valid range
and one just outside it for a fixed input; the minimum and a larger size for a free one),
or only the shape the user passes.  A candidate that fails is data: its PyTorch error
message goes into ``tried``.

Status: ``confirmed`` (the whole model was rebuilt and the guessed shape runs through it,
so every Linear received its stored ``in_features``), ``partial`` (a part was rebuilt and
runs), ``refuted`` (the guessed shape fails; ``detail`` says what runs instead, if
anything), ``skipped`` (nothing to run).

torch is imported inside the functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pthforensics.core import (
    InputGuess,
    InputKind,
    InputStatus,
    RebuildInfo,
    RebuildPart,
    TraceError,
    TraceLayer,
    TraceResult,
    TraceStatus,
)
from pthforensics.infer import layer_type

from .build import REBUILD_ATTR

if TYPE_CHECKING:
    from torch import nn

__all__ = ["trace_model"]

logger = logging.getLogger(__name__)

_MAX_CANDIDATES = 5
"""Input shapes run at most (the guess and a few around it)."""
_MESSAGE_CHARS = 300

_Tried = list[tuple[tuple[int, ...], str]]


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {first}"[:_MESSAGE_CHARS]


def _resize(base: tuple[int, ...], guess: InputGuess, size: int) -> tuple[int, ...] | None:
    kind = guess.kind
    if kind == InputKind.IMAGE and len(base) == 4:
        return (*base[:2], size, size)
    if kind == InputKind.VOLUME and len(base) == 5:
        return (*base[:3], size, size)
    if kind == InputKind.SEQUENCE and len(base) == 3:
        # (batch, channels, length) behind Conv1d layers, else (batch, length, features)
        conv = any(layer_type(t).conv_dims for _, t, _ in guess.plan)
        return (*base[:2], size) if conv else (base[0], size, base[2])
    if kind == InputKind.TOKENS and len(base) == 2:
        return (base[0], size)
    return None


def _sweep(guess: InputGuess, base: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Sizes worth trying besides the guess (ints only: non-square sets are not swept)."""
    sizes = [s for s in (guess.valid_sizes or ()) if isinstance(s, int)]
    wanted: list[int] = []
    if guess.status == InputStatus.FIXED and sizes:
        wanted = [min(sizes), max(sizes), max(sizes) + 1]
    elif guess.status == InputStatus.FREE:
        if guess.min_size:
            wanted.append(guess.min_size)
        wanted.extend(s for s in sizes if s > (guess.min_size or 0))
    out = []
    for size in wanted:
        shape = _resize(base, guess, size)
        if shape is not None and shape != base and shape not in out:
            out.append(shape)
    return out[: _MAX_CANDIDATES - 1]


def trace_model(
    module: nn.Module,
    input_guess: InputGuess,
    *,
    input_shape: tuple[int, ...] | None = None,
    device: str = "meta",
) -> TraceResult:
    """Run ``module`` on dummy inputs and record per-layer shapes.

    ``input_shape`` replaces the guessed candidates with the user's shape.  Raises
    :class:`~pthforensics.core.TraceError` only when nothing can be run at all (not a
    module, unusable device); a shape that fails is recorded in ``tried``.
    """
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TraceError(f"expected a torch.nn.Module to trace, got {type(module).__name__}")
    info = getattr(module, REBUILD_ATTR, None)
    if not isinstance(info, RebuildInfo):
        info = RebuildInfo(RebuildPart.WHOLE, input_guess.shape, input_guess.dtype)
    candidates = _candidates(info, input_guess, input_shape)
    if not candidates:
        return TraceResult(
            TraceStatus.SKIPPED, detail="no input shape is known; pass one to try (--input-shape)"
        )
    module, dev = _on_device(module, device)
    run = _run(module, candidates, info.input_dtype, dev)
    return _result(info, input_guess, candidates[0], input_shape is not None, run)


def _candidates(
    info: RebuildInfo, guess: InputGuess, input_shape: tuple[int, ...] | None
) -> list[tuple[int, ...]]:
    """Shapes to run, the primary first: the user's, or the guess and a sweep around it."""
    base = info.input_shape
    if input_shape is not None:
        candidates = [tuple(int(d) for d in input_shape)]
        if info.part == RebuildPart.HEAD and base is not None and base != candidates[0]:
            candidates.append(base)  # the given shape feeds the model, not its head
        return candidates
    if base is None:
        return []
    return [base] + (_sweep(guess, base) if info.part == RebuildPart.WHOLE else [])


def _on_device(module: nn.Module, device: str) -> tuple[nn.Module, Any]:
    import torch

    try:
        dev = torch.device(device)
        if dev.type != "meta":
            module = module.to_empty(device=dev)
    except (RuntimeError, ValueError, TypeError) as e:
        raise TraceError(f"cannot use device {device!r}: {_message(e)}") from e
    return module, dev


@dataclass(frozen=True, slots=True)
class _Run:
    """What running the candidates gave."""

    tried: tuple[tuple[tuple[int, ...], str], ...]
    """Each shape with ``ok`` or its error."""
    used: tuple[int, ...] | None
    """The first shape that ran..."""
    layers: tuple[TraceLayer, ...]
    """... the calls it made..."""
    output: tuple[int, ...] | None
    """... and its output shape."""

    @property
    def runs(self) -> list[tuple[int, ...]]:
        """Shapes that ran, in order."""
        return [s for s, msg in self.tried if msg == "ok"]


def _run(module: nn.Module, candidates: list[tuple[int, ...]], dtype_name: str, dev: Any) -> _Run:
    """Run each candidate with hooks on every leaf module."""
    import torch

    dtype = torch.int64 if dtype_name == "int64" else getattr(torch, dtype_name, torch.float32)
    records: list[TraceLayer] = []
    handles = _hook_leaves(module, records)
    tried: _Tried = []
    first: tuple[tuple[int, ...], tuple[TraceLayer, ...], tuple[int, ...] | None] | None = None
    try:
        for shape in candidates[:_MAX_CANDIDATES]:
            records.clear()
            try:
                with torch.no_grad():
                    out = module(torch.zeros(shape, dtype=dtype, device=dev))
            except Exception as e:  # noqa: BLE001 - any failure of a candidate is data
                tried.append((shape, _message(e)))
                continue
            tried.append((shape, "ok"))
            if first is None:
                first = (shape, tuple(records), _shape_of(out))
    finally:
        for h in handles:
            h.remove()
    if first is None:
        return _Run(tuple(tried), None, (), None)
    return _Run(tuple(tried), *first)


def _hook_leaves(module: nn.Module, records: list[TraceLayer]) -> list[Any]:
    """Forward hooks appending every leaf module's call to ``records``; their handles."""

    def hook(name: str, mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        records.append(TraceLayer(name, type(mod).__name__, _shape_of(args), _shape_of(out)))

    return [
        mod.register_forward_hook(lambda m, a, o, _n=name: hook(_n, m, a, o))
        for name, mod in module.named_modules()
        if not any(True for _ in mod.children())
    ]


def _result(
    info: RebuildInfo, guess: InputGuess, primary: tuple[int, ...], user: bool, run: _Run
) -> TraceResult:
    """The verdict on ``primary`` (the user's shape or the guess) from the runs."""
    primary_ok = bool(run.tried) and run.tried[0][1] == "ok"
    if user and info.part == RebuildPart.HEAD and not primary_ok:
        status = TraceStatus.PARTIAL if run.runs else TraceStatus.REFUTED
        detail = (
            f"only the head was rebuilt: the given shape {list(primary)} (the model's input) "
            "cannot be checked" + (f"; the head runs on {list(run.runs[0])}" if run.runs else "")
        )
    elif primary_ok:
        status = TraceStatus.CONFIRMED if info.part == RebuildPart.WHOLE else TraceStatus.PARTIAL
        detail = _ran(info, guess, primary, user, run)
    else:
        status = TraceStatus.REFUTED
        detail = f"{list(primary)} fails: {run.tried[0][1]}" if run.tried else "nothing was run"
        if run.runs:
            detail += f"; {list(run.runs[0])} runs"
    return TraceResult(status, run.output, run.layers, run.used, detail, run.tried)


def _ran(
    info: RebuildInfo, guess: InputGuess, primary: tuple[int, ...], user: bool, run: _Run
) -> str:
    """What a run of ``primary`` shows, and what the sweep around it failed on."""
    if info.part == RebuildPart.WHOLE:
        who = "the given shape" if user else "the guessed shape"
        linears = sum(1 for lay in run.layers if lay.type == "Linear")
        detail = f"{who} {list(primary)} runs through the whole rebuilt model" + (
            f"; {linears} Linear layer(s) received their stored in_features" if linears else ""
        )
    else:
        detail = f"{list(primary)} runs through the rebuilt {info.part}"
    failed = [s for s, msg in run.tried[1:] if msg != "ok"]
    if failed and not user:
        detail += (
            f"; {list(failed[-1])} (just outside the valid sizes) fails as expected"
            if guess.status == InputStatus.FIXED and failed[-1] == run.tried[-1][0]
            else f"; {list(failed[0])} fails"
        )
    return detail


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    if isinstance(value, (tuple, list)) and value:
        return _shape_of(value[0])
    return None
