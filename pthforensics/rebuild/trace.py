"""Run the rebuilt model on dummy inputs and record every layer's shapes.

Forward hooks on every leaf module capture input and output shapes, as torchinfo's
``forward_pass`` does (TylerYep/torchinfo: torchinfo/torchinfo.py).  On the meta device no
memory is allocated for weights or activations, so a 350 MB checkpoint traces in well
under a second: only shapes are computed.

The guessed shape is tried first, then a few sizes around it (the ends of the valid range
and one just outside it for a fixed input; the minimum and a larger size for a free one),
or only the shape the user passes.  A candidate that fails is data: its PyTorch error
message goes into ``tried``.  :mod:`.verdict` says what the runs show.

``trace_input`` is the stage: it rebuilds and traces the model under every surviving
input hypothesis (``InputGuess.hypotheses``) and reports the best one's trace with what
each hypothesis gave.

torch is imported inside the functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pthforensics.core import (
    InputGuess,
    InputHypothesis,
    InputKind,
    InputStatus,
    LayerGroup,
    LayerGuess,
    RebuildError,
    RebuildInfo,
    RebuildPart,
    StateDict,
    TraceError,
    TraceLayer,
    TraceResult,
    TraceStatus,
)
from pthforensics.infer import layer_type

from .build import REBUILD_ATTR, rebuild_model
from .verdict import Run, verdict

if TYPE_CHECKING:
    from torch import nn

__all__ = ["trace_input", "trace_model"]

logger = logging.getLogger(__name__)

_MAX_CANDIDATES = 5
"""Input shapes run at most (the guess and a few around it)."""
_MAX_HYPOTHESES = 8
"""Input hypotheses rebuilt and traced at most (best first)."""
_MESSAGE_CHARS = 300

_Tried = list[tuple[tuple[int, ...], str]]


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {first}"[:_MESSAGE_CHARS]


def trace_input(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    input_guess: InputGuess,
    state: StateDict,
    *,
    input_shape: tuple[int, ...] | None = None,
    device: str = "meta",
) -> TraceResult:
    """Rebuild and trace the model under each surviving input hypothesis (the guess's
    own reading when it lists none); the best hypothesis's trace, with what each gave in
    ``hypotheses``.  A model nothing of which can be rebuilt is ``skipped``."""
    hypotheses = input_guess.hypotheses[:_MAX_HYPOTHESES]
    if not hypotheses:
        result, rests = _trace_one(groups, guesses, input_guess, state, None, input_shape, device)
        return _guess_not_refuted(result) if rests and input_shape is None else result
    results = [
        (h, *_trace_one(groups, guesses, _reading(input_guess, h), state, h, input_shape, device))
        for h in hypotheses
    ]
    _, best, rests = results[0]
    summary = tuple((h.name, r.status, _short(r)) for h, r, _ in results)
    others = [h.name for h, r, _ in results[1:] if r.status in _RAN]
    if others and best.status not in _RAN:
        best = replace(best, detail=f"{best.detail}; runs under: {', '.join(others[:3])}")
    if rests and input_shape is None:
        best = _guess_not_refuted(best)
    return replace(best, hypotheses=summary)


_RAN = (TraceStatus.CONFIRMED, TraceStatus.PARTIAL)


def _guess_not_refuted(result: TraceResult) -> TraceResult:
    """A guessed input that fails in a rebuild resting on what the file does not store
    (assumed paddings, strides or pools; modules of unknown role; only part of the model)
    refutes the rebuild's reading, not the input: as ``confirmed`` needs nothing assumed,
    so does ``refuted`` (a hypothesis's own entry in ``hypotheses`` stays ``refuted``)."""
    if result.status is not TraceStatus.REFUTED:
        return result
    return replace(
        result,
        status=TraceStatus.PARTIAL,
        detail=f"{result.detail}; not refuted: the rebuild rests on what the file does not "
        "store, so the failure may be the rebuild's, not the input's",
    )


def _reading(guess: InputGuess, h: InputHypothesis) -> InputGuess:
    """The input guess as one hypothesis reads it."""
    return replace(
        guess,
        shape=h.shape if h.shape is not None else guess.shape,
        valid_sizes=h.valid_sizes,
        plan=h.plan,
    )


def _short(result: TraceResult) -> str:
    return result.detail.split("; ", 1)[0] if result.status in _RAN else result.detail


def _trace_one(
    groups: Sequence[LayerGroup],
    guesses: Sequence[LayerGuess],
    guess: InputGuess,
    state: StateDict,
    hypothesis: InputHypothesis | None,
    input_shape: tuple[int, ...] | None,
    device: str,
) -> tuple[TraceResult, bool]:
    """The trace under one hypothesis, and whether its rebuild rests on anything the file
    does not store (assumed sizes, modules of unknown role, a part of the model only)."""
    try:
        module = rebuild_model(groups, guesses, guess, state, hypothesis)
    except RebuildError as exc:
        return TraceResult(TraceStatus.SKIPPED, detail=f"not rebuilt: {exc.message}"), False
    info: RebuildInfo = getattr(module, REBUILD_ATTR)
    rests = bool(info.assumptions or info.unused or info.part is not RebuildPart.WHOLE)
    try:
        result = trace_model(module, guess, input_shape=input_shape, device=device)
    except TraceError as exc:
        skipped = TraceResult(
            TraceStatus.SKIPPED, detail=f"{info.note}; trace failed: {exc.message}"
        )
        return skipped, rests
    return replace(result, detail="; ".join(x for x in (info.note, result.detail) if x)), rests


def _resize(base: tuple[int, ...], guess: InputGuess, size: int) -> tuple[int, ...] | None:
    kind = guess.kind
    if kind == InputKind.IMAGE and len(base) == 4:
        return (*base[:2], size, size)
    if kind == InputKind.VOLUME and len(base) == 5:
        return (*base[:3], size, size)
    if kind == InputKind.SEQUENCE and len(base) == 3:
        # the axis whose size is one of the valid sizes; else (batch, channels, length)
        # behind Conv1d layers, (batch, length, features) otherwise
        sizes = {s for s in guess.valid_sizes or () if isinstance(s, int)}
        hits = [axis for axis in (1, 2) if base[axis] in sizes]
        conv = any(layer_type(t).conv_dims for _, t, _ in guess.plan)
        last = hits == [2] or (len(hits) != 1 and conv)
        return (*base[:2], size) if last else (base[0], size, base[2])
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
            TraceStatus.SKIPPED,
            detail="no input shape is known; pass one to try (--input-shape)",
            part=info.part,
        )
    module, dev = _on_device(module, device)
    run = _run(module, candidates, info, dev)
    status, detail = verdict(info, input_guess, input_shape is not None, Run(run.tried), run.where)
    return TraceResult(
        status,
        run.output,
        run.layers,
        run.used,
        detail,
        run.tried,
        part=info.part,
        assumptions=info.assumptions,
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
    where: str = ""
    """The module the primary shape failed in (if it did)."""


def _run(module: nn.Module, candidates: list[tuple[int, ...]], info: RebuildInfo, dev: Any) -> _Run:
    """Run each candidate with hooks on every leaf module."""
    import torch

    name = info.input_dtype
    dtype = torch.int64 if name == "int64" else getattr(torch, name, torch.float32)
    records: list[TraceLayer] = []
    entered: list[str] = []
    handles = _hook_leaves(module, records, entered, info.hypothetical)
    tried: _Tried = []
    first: tuple[tuple[int, ...], tuple[TraceLayer, ...], tuple[int, ...] | None] | None = None
    where = ""
    try:
        for shape in candidates[:_MAX_CANDIDATES]:
            records.clear()
            entered.clear()
            try:
                with torch.no_grad():
                    out = module(torch.zeros(shape, dtype=dtype, device=dev))
            except Exception as e:  # noqa: BLE001 - any failure of a candidate is data
                tried.append((shape, _message(e)))
                if len(tried) == 1:
                    where = entered[-1] if entered else ""
                continue
            tried.append((shape, "ok"))
            if first is None:
                first = (shape, tuple(records), _shape_of(out))
    finally:
        for h in handles:
            h.remove()
    if first is None:
        return _Run(tuple(tried), None, (), None, where)
    return _Run(tuple(tried), *first, where)


def _hook_leaves(
    module: nn.Module, records: list[TraceLayer], entered: list[str], hypothetical: frozenset[str]
) -> list[Any]:
    """Hooks on every leaf module: its call into ``records`` (marked hypothetical when
    its shapes are assumed), its name into ``entered`` when it starts."""

    def hook(name: str, mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        records.append(
            TraceLayer(
                name, type(mod).__name__, _shape_of(args), _shape_of(out), name in hypothetical
            )
        )

    handles = []
    for name, mod in module.named_modules():
        if any(True for _ in mod.children()):
            continue
        handles.append(mod.register_forward_hook(lambda m, a, o, _n=name: hook(_n, m, a, o)))
        handles.append(mod.register_forward_pre_hook(lambda m, a, _n=name: entered.append(_n)))
    return handles


def _shape_of(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    if isinstance(value, (tuple, list)) and value:
        return _shape_of(value[0])
    return None
