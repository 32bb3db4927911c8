"""Solutions of the solver as :class:`~pthforensics.core.InputHypothesis` records.

Several readings of what the weights do not store may reach the stored head; those that
admit the same input sizes are one hypothesis for the user (the cheapest reading names
it).  Each hypothesis says what it assumes (every departure from PyTorch's defaults that
the file does not state) and what in the file supports it; they are ranked by cost
(evidence first: a size the file stores beats every prior; then the hypothesis priors of
:mod:`.costs` and the size priors of :mod:`pthforensics.infer.priors`).

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pthforensics.core import InputHypothesis

from .context import Entry
from .costs import PaddingStyle
from .maps import plan_entries, pool_attrs
from .solver_records import Choice, OpKind, Solution, SpatialOp

__all__ = ["MAX_HYPOTHESES", "hypotheses_of", "undecided_note"]

MAX_HYPOTHESES = 4
"""Hypotheses reported per input at most (the best first)."""
_CLOSE = 1.0
"""Another hypothesis within this cost of the best is a real alternative: the evidence
does not decide between them."""


def hypotheses_of(
    solutions: Sequence[Solution],
    ops: Sequence[SpatialOp],
    entry: Entry,
    valid_of: Callable[[tuple[tuple[int, int], ...], tuple[int, ...]], tuple[Any, ...]],
) -> tuple[InputHypothesis, ...]:
    """One hypothesis per distinct set of input sizes, best first."""
    seen: set[tuple[tuple[int, int], ...]] = set()
    out: list[InputHypothesis] = []
    for sol in solutions:
        if sol.intervals in seen:
            continue
        seen.add(sol.intervals)
        out.append(_hypothesis(sol, ops, entry, valid_of))
        if len(out) >= MAX_HYPOTHESES:
            break
    return tuple(out)


def _hypothesis(
    sol: Solution,
    ops: Sequence[SpatialOp],
    entry: Entry,
    valid_of: Callable[[tuple[tuple[int, int], ...], tuple[int, ...]], tuple[Any, ...]],
) -> InputHypothesis:
    plan = tuple(plan_entries(ops, sol.choices, entry.dims))
    assumptions = _assumptions(sol, ops)
    stored = [op.name for op, ch in zip(ops, sol.choices, strict=True) if ch.stored]
    evidence = []
    if stored:
        evidence.append(f"hyper-parameters stored in the file for {', '.join(stored[:4])}")
    if sol.stored_size:
        evidence.append(f"the file stores the size {sol.sizes[0]} as a hyper-parameter")
    return InputHypothesis(
        name=_name(sol, ops),
        plan=plan,
        shape=(1, entry.channels, *sol.sizes),
        valid_sizes=valid_of(sol.intervals, sol.sizes),
        cost=sol.cost,
        evidence=tuple(evidence),
        assumptions=tuple(assumptions),
    )


def _departures(sol: Solution, ops: Sequence[SpatialOp]) -> list[str]:
    """The choices that are not PyTorch's defaults (nor the style's padding), as text."""
    out: list[str] = []
    for op, ch in zip(ops, sol.choices, strict=True):
        if op.kind is OpKind.GAP:
            if ch.pooled and ch.pool is not None:
                args = ", ".join(
                    str(v) if k == "kernel_size" else f"{k}={v}" for k, v in pool_attrs(ch.pool)
                )
                type_ = op.pool_type or f"MaxPool{len(ch.pool.kernel)}d"
                target = op.pool_module or (op.modules[-1] if op.modules else "")
                where = f"at {target}" if target else f"after {op.name}"
                out.append(f"{type_}({args}) {where}")
            continue
        notes = []
        if max(ch.stride) > 1:
            notes.append(f"stride {ch.stride[0] if len(set(ch.stride)) == 1 else ch.stride}")
        if _style_pad(op, sol.style) != ch.padding and not ch.extra:
            notes.append(f"padding {ch.padding[0] if len(set(ch.padding)) == 1 else ch.padding}")
        if ch.dilation and max(ch.dilation) > 1:
            notes.append(f"dilation {ch.dilation}")
        if notes:
            out.append(f"{' '.join(notes)} at {op.name}")
    return out


def _style_pad(op: SpatialOp, style: PaddingStyle) -> tuple[int, ...]:
    if style is PaddingStyle.VALID:
        return tuple(0 for _ in op.kernel)
    if style is PaddingStyle.HALF:
        return tuple(k // 2 for k in op.kernel)
    return tuple((k - 1) // 2 for k in op.kernel)


def _name(sol: Solution, ops: Sequence[SpatialOp]) -> str:
    if all(ch.stored for op, ch in zip(ops, sol.choices, strict=True) if op.kind is not OpKind.GAP):
        head = "as stored"
    else:
        head = f"{sol.style} padding"
    parts = _departures(sol, ops)
    return "; ".join([head, *parts]) if parts else f"{head}, no pooling"


def _assumptions(sol: Solution, ops: Sequence[SpatialOp]) -> list[str]:
    """What the hypothesis assumes that the file does not say."""
    assumed = [
        op.name for op, ch in zip(ops, sol.choices, strict=True) if op.kind is not OpKind.GAP
    ]
    out = []
    unstored = [
        op.name
        for op, ch in zip(ops, sol.choices, strict=True)
        if op.kind is not OpKind.GAP and not ch.stored
    ]
    if unstored:
        default = "PyTorch's default" if sol.style is PaddingStyle.VALID else "not the default"
        out.append(
            f"{sol.style} padding ({default}) for {len(unstored)} of {len(assumed)} "
            "convolution(s), not stored"
        )
    out.extend(
        f"{text} (not stored)"
        for text, (op, ch) in zip(_departures(sol, ops), _departed(sol, ops), strict=False)
        if not ch.stored and op is not None
    )
    functional = [
        op.name
        for op, ch in zip(ops, sol.choices, strict=True)
        if op.kind is OpKind.GAP and ch.pooled and not op.pool_module and not op.modules
    ]
    if functional:
        out.append(
            "a pool applied in forward() without a module after " + ", ".join(functional[:4])
        )
    return out


def _departed(sol: Solution, ops: Sequence[SpatialOp]) -> list[tuple[SpatialOp, Choice]]:
    """The (op, choice) pairs :func:`_departures` describes, in the same order."""
    out = []
    for op, ch in zip(ops, sol.choices, strict=True):
        if op.kind is OpKind.GAP:
            if ch.pooled:
                out.append((op, ch))
            continue
        if (
            max(ch.stride) > 1
            or (_style_pad(op, sol.style) != ch.padding and not ch.extra)
            or (ch.dilation and max(ch.dilation) > 1)
        ):
            out.append((op, ch))
    return out


def undecided_note(hyps: Sequence[InputHypothesis]) -> str:
    """A sentence naming the alternatives the evidence cannot rule out (``''``: none)."""
    if len(hyps) < 2 or hyps[1].cost - hyps[0].cost >= _CLOSE:
        return ""
    alts = "; ".join(
        f"{'x'.join(map(str, h.shape[2:] if h.shape else ()))} under '{h.name}'"
        for h in hyps[1:3]
        if h.cost - hyps[0].cost < _CLOSE
    )
    return (
        "the weights do not decide between the hypotheses: also possible "
        f"{alts} (ranked below by PyTorch's defaults and the size priors)"
    )
