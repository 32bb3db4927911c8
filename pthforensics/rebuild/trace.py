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
    tried, used, layers, output = _run(module, candidates, info.input_dtype, dev)
    return _result(
        info, input_guess, candidates[0], input_shape is not None, tried, used, layers, output
    )


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


def _run(
    module: nn.Module, candidates: list[tuple[int, ...]], dtype_name: str, dev: Any
) -> tuple[_Tried, tuple[int, ...] | None, tuple[TraceLayer, ...], tuple[int, ...] | None]:
    """Run each candidate with hooks on every leaf; (tried, the first shape that ran, its
    layers, its output shape)."""
    import torch

    dtype = getattr(torch, dtype_name, torch.float32)
    records: list[TraceLayer] = []
    handles = []

    def hook(name: str, mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        records.append(TraceLayer(name, type(mod).__name__, _shape_of(args), _shape_of(out)))

    for name, mod in module.named_modules():
        if not any(True for _ in mod.children()):
            handles.append(mod.register_forward_hook(lambda m, a, o, _n=name: hook(_n, m, a, o)))
    tried: _Tried = []
    layers: tuple[TraceLayer, ...] = ()
    output: tuple[int, ...] | None = None
    used: tuple[int, ...] | None = None
    try:
        for shape in candidates[:_MAX_CANDIDATES]:
            records.clear()
            try:
                x = (
                    torch.zeros(shape, dtype=torch.int64, device=dev)
                    if dtype_name == "int64"
                    else torch.zeros(shape, dtype=dtype, device=dev)
                )
                with torch.no_grad():
                    out = module(x)
            except Exception as e:  # noqa: BLE001 - any failure of a candidate is data
                tried.append((shape, _message(e)))
                continue
            tried.append((shape, "ok"))
            if used is None:
                used, layers, output = shape, tuple(records), _shape_of(out)
    finally:
        for h in handles:
            h.remove()
    return tried, used, layers, output


def _result(
    info: RebuildInfo,
    guess: InputGuess,
    primary: tuple[int, ...],
    user: bool,
    tried: _Tried,
    used: tuple[int, ...] | None,
    layers: tuple[TraceLayer, ...],
    output: tuple[int, ...] | None,
) -> TraceResult:
    primary_ok = bool(tried) and tried[0][1] == "ok"
    if user and info.part == RebuildPart.HEAD and not primary_ok:
        runs = [s for s, msg in tried if msg == "ok"]
        return TraceResult(
            TraceStatus.PARTIAL if runs else TraceStatus.REFUTED,
            output,
            layers,
            used,
            f"only the head was rebuilt: the given shape {list(primary)} (the model's input) "
            "cannot be checked" + (f"; the head runs on {list(runs[0])}" if runs else ""),
            tuple(tried),
        )
    linears = sum(1 for lay in layers if lay.type == "Linear")
    if primary_ok:
        status = TraceStatus.CONFIRMED if info.part == RebuildPart.WHOLE else TraceStatus.PARTIAL
        who = "the given shape" if user else "the guessed shape"
        detail = (
            f"{who} {list(primary)} runs through the whole rebuilt model"
            + (f"; {linears} Linear layer(s) received their stored in_features" if linears else "")
            if info.part == RebuildPart.WHOLE
            else f"{list(primary)} runs through the rebuilt {info.part}"
        )
        failed = [s for s, msg in tried[1:] if msg != "ok"]
        if failed and not user:
            detail += (
                f"; {list(failed[-1])} (just outside the valid sizes) fails as expected"
                if guess.status == InputStatus.FIXED and failed[-1] == tried[-1][0]
                else f"; {list(failed[0])} fails"
            )
    else:
        status = TraceStatus.REFUTED
        works = [s for s, msg in tried if msg == "ok"]
        detail = f"{list(primary)} fails: {tried[0][1]}" if tried else "nothing was run"
        if works:
            detail += f"; {list(works[0])} runs"
    return TraceResult(status, output, layers, used, detail, tuple(tried))


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    if isinstance(value, (tuple, list)) and value:
        return _shape_of(value[0])
    return None
