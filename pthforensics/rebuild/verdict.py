"""What a run of the rebuilt model shows: the trace status and its detail.

``confirmed`` is a claim about the real model, so it needs three things: the whole model
was rebuilt (every module owning tensors called, every tensor loaded strictly), the input
ran through it, and nothing that decides which inputs run was assumed -- no padding,
stride or pool the file does not store, no module of unknown role left uncalled.  A
rebuild carrying such assumptions shows only that the input and the hypothesis agree
(the input was usually solved from that same hypothesis): ``partial``, and the detail
names what it rests on.  An input that fails is ``refuted`` with PyTorch's error (a
guessed input failing in a rebuild that rests on assumptions is turned ``partial`` by
:func:`~.trace.trace_input`: the failure may be the rebuild's).

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pthforensics.core import InputGuess, InputStatus, RebuildInfo, RebuildPart, TraceStatus

__all__ = ["Run", "verdict"]

_LISTED = 3
"""Assumptions quoted in a detail at most."""

#: ``(shape, "ok" or the error)`` for each shape tried, the primary first.
Tried = Sequence[tuple[tuple[int, ...], str]]


class Run:
    """The shapes a trace tried and what each gave (scratch)."""

    def __init__(self, tried: Tried) -> None:
        self.tried = list(tried)

    @property
    def runs(self) -> list[tuple[int, ...]]:
        """Shapes that ran, in order."""
        return [s for s, msg in self.tried if msg == "ok"]

    @property
    def primary_ok(self) -> bool:
        """The first shape (the user's, or the guess) ran."""
        return bool(self.tried) and self.tried[0][1] == "ok"


def verdict(
    info: RebuildInfo, guess: InputGuess, user: bool, run: Run, where: str
) -> tuple[TraceStatus, str]:
    """Status and detail of a trace (``where``: the module that raised, if the primary
    shape failed)."""
    primary = run.tried[0][0] if run.tried else ()
    if info.part is RebuildPart.HEAD and user and not run.primary_ok:
        detail = (
            f"only the head was rebuilt: the given shape {list(primary)} (the model's input) "
            "cannot be checked" + (f"; the head runs on {list(run.runs[0])}" if run.runs else "")
        )
        return (TraceStatus.PARTIAL if run.runs else TraceStatus.REFUTED), detail
    if not run.primary_ok:
        return TraceStatus.REFUTED, _refuted(info, run, where)
    ran = _ran(info, guess, user, run)
    if info.part is not RebuildPart.WHOLE:
        return TraceStatus.PARTIAL, ran
    if info.unused:
        return TraceStatus.PARTIAL, (
            f"{ran}; not confirmed: {len(info.unused)} module(s) of unknown role were loaded "
            "but not called"
        )
    if info.assumptions:
        return TraceStatus.PARTIAL, f"{ran}; {_rests_on(info, user)}"
    return TraceStatus.CONFIRMED, ran


def _rests_on(info: RebuildInfo, user: bool) -> str:
    """Why a whole rebuild that ran is no confirmation."""
    shown = "; ".join(info.assumptions[:_LISTED])
    more = len(info.assumptions) - _LISTED
    what = "the given shape runs under" if user else "it confirms only"
    return (
        f"not confirmed: {what} the rebuild's own hypothesis on what the weights do not "
        f"store ({len(info.assumptions)} assumption(s) about sizes: {shown}"
        + (f"; and {more} more" if more > 0 else "")
        + ")"
    )


def _refuted(info: RebuildInfo, run: Run, where: str) -> str:
    primary, error = run.tried[0] if run.tried else ((), "nothing was run")
    detail = f"{list(primary)} fails: {error}"
    if where:
        detail += f" (at {where}" + (
            ", whose sizes are assumed)" if where in info.hypothetical else ")"
        )
    if run.runs:
        detail += f"; {list(run.runs[0])} runs"
    return detail


def _ran(info: RebuildInfo, guess: InputGuess, user: bool, run: Run) -> str:
    """What a run of the primary shape shows, and what the sweep around it failed on."""
    primary = run.tried[0][0]
    who = "the given shape" if user else "the guessed shape"
    if info.part is RebuildPart.WHOLE:
        detail = f"{who} {list(primary)} runs through the whole rebuilt model"
    else:
        detail = f"{who} {list(primary)} runs through the rebuilt {info.part}"
    failed = [s for s, msg in run.tried[1:] if msg != "ok"]
    if failed and not user:
        detail += (
            f"; {list(failed[-1])} (just outside the valid sizes) fails as expected"
            if guess.status == InputStatus.FIXED and failed[-1] == run.tried[-1][0]
            else f"; {list(failed[0])} fails"
        )
    return detail
