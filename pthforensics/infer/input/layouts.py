"""How ``forward()`` most likely takes an input whose map the solver found.

The weights fix the map a convolution reads, not the tensor the model's ``forward()`` is
called with.  Two layouts are common enough to rank first, each kept as a hypothesis next
to the plain map:

- **a signal laid out as a column**: a one-channel ``Conv2d`` whose kernels all have width 1
  (``(512, 1)``, ``(64, 1)``) reads ``[N, 1, L, 1]``, which ``forward()`` makes from frames
  ``[N, L]`` (CREPE: ``x[:, None, :, None]``; Kim et al., 2018; torchcrepe
  ``Crepe.forward``);
- **a list of images**: a torchvision detector's ``forward()`` takes ``[C, H, W]`` images in
  a list and batches them itself (:data:`~..knowledge.DETECTOR_HEADS`), so each image is
  reported without a batch axis;
- **per frame**: a flatten head whose output an RNN reads runs the convolutions once per
  time step, so the input is a sequence of frames ``[N, T, L]`` (BeatNet's ``BDA``: a
  ``Conv1d`` over each frame's features, then an LSTM over frames).

The plan of a re-laid hypothesis starts with the step that makes the map from the input:
``("-<entry module>", "Unflatten", (("dim", 1), ("unflattened_size", (1, L, 1))))`` (a
step whose module is ``-<name>`` runs *before* that module).

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace

from pthforensics.core import InputGuess, InputHypothesis, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink
from pthforensics.infer.defaults import DEFAULT_STEPS
from pthforensics.infer.priors import TEXT_LINE_KIND

from .context import Entry, InputContext

__all__ = ["TEXT_LINE", "image_list", "per_frame", "signal_layout", "waveform_layout"]

TEXT_LINE = TEXT_LINE_KIND
"""The solver kind of a CRNN's input: a text line (height prior 32, width free)."""


def signal_layout(guess: InputGuess, active: tuple[bool, ...]) -> InputGuess:
    """A one-channel column map ``[N, 1, L, 1]`` re-laid as frames ``[N, L]`` first."""
    if guess.shape is None or len(guess.shape) != len(active) + 2:
        return guess
    axis = active.index(True)
    entry_module = guess.plan[0][0] if guess.plan else ""
    hyps = guess.hypotheses or (
        InputHypothesis("as solved", guess.plan, guess.shape, guess.valid_sizes),
    )
    relaid = tuple(_as_frames(h, axis, entry_module) for h in hyps)
    top = relaid[0]
    ev = (
        *guess.evidence,
        "every kernel has width 1 on a single channel: the input is a signal laid out as "
        f"[N, 1, L, 1]; forward() most likely takes frames [N, L] (CREPE's "
        f"x[:, None, :, None]); the map itself, {list(guess.shape)}, is the next hypothesis",
    )
    return replace(
        guess,
        kind=InputKind.SEQUENCE,
        shape=top.shape,
        valid_sizes=top.valid_sizes,
        evidence=ev,
        plan=top.plan,
        hypotheses=(*relaid[:1], *hyps[:1], *relaid[1:]),
    )


def waveform_layout(guess: InputGuess, why: str) -> InputGuess:
    """A one-channel 1-d map ``[N, 1, L]`` re-laid as the waveform ``[N, L]`` first (``why``:
    the convention that says so)."""
    if guess.shape is None or len(guess.shape) != 3 or guess.shape[1] != 1:
        return guess
    entry_module = guess.plan[0][0] if guess.plan else ""
    hyps = guess.hypotheses or (
        InputHypothesis("as solved", guess.plan, guess.shape, guess.valid_sizes),
    )
    relaid = tuple(_as_frames(h, 0, entry_module) for h in hyps)
    top = relaid[0]
    return replace(
        guess,
        shape=top.shape,
        valid_sizes=top.valid_sizes,
        evidence=(*guess.evidence, f"{why}: the input is [N, L]; [N, 1, L] is the next reading"),
        plan=top.plan,
        hypotheses=(*relaid[:1], *hyps[:1], *relaid[1:]),
    )


def _as_frames(h: InputHypothesis, axis: int, entry_module: str) -> InputHypothesis:
    if h.shape is None:
        return h
    length = h.shape[2 + axis]
    sizes = h.valid_sizes
    if sizes and not all(isinstance(v, int) for v in sizes):
        sizes = tuple(sizes[axis])
    unflatten = (
        f"-{entry_module}",
        "Unflatten",
        (
            ("dim", 1),
            (
                "unflattened_size",
                tuple(length if a == 2 + axis else 1 for a in range(1, len(h.shape))),
            ),
        ),
    )
    return replace(
        h,
        name=f"frames [N, L]; {h.name}",
        shape=(1, length),
        valid_sizes=sizes,
        plan=(unflatten, *h.plan),
        assumptions=(*h.assumptions, "forward() adds the unit axes: [N, L] -> [N, 1, L, 1]"),
    )


def per_frame(ctx: InputContext, guess: InputGuess, head: ChainLink, entry: Entry) -> InputGuess:
    """The convolutions before ``head`` run once per time step: ``[N, T, *frame]`` with
    the frame as solved and ``T`` free."""
    if guess.shape is None:
        return guess
    frame = guess.shape[1:]
    if frame and frame[0] == 1 and entry.dims == 1:
        frame = frame[1:]  # a one-channel signal per frame: [N, T, L]
    shape = (1, DEFAULT_STEPS, *frame)
    nxt = next(lk for lk in ctx.links[ctx.links.index(head) + 1 :] if lk.in_dim is not None)
    ev = (
        *guess.evidence,
        f"{nxt.name} ({nxt.type}) reads the output of {head.name}: the convolutions run "
        f"once per time step on frames of {list(frame)}; the number of frames is free",
    )
    frames = InputHypothesis(
        "per frame: " + (guess.hypotheses[0].name if guess.hypotheses else "as solved"),
        guess.plan,
        shape,
        guess.valid_sizes,
        guess.hypotheses[0].cost if guess.hypotheses else 0.0,
        assumptions=("forward() runs the convolutions on each of T frames",),
    )
    return replace(
        guess,
        status=InputStatus.FREE,
        kind=InputKind.SEQUENCE,
        shape=shape,
        evidence=ev,
        hypotheses=(frames, *guess.hypotheses),
    )


def image_list(guess: InputGuess, entry_module: str, why: str) -> InputGuess:
    """A free image map re-laid as one ``[C, H, W]`` image of the list a detector takes
    (``why``: the modules that mark the detector); the plan first adds the batch axis the
    detector's transform adds when it batches the list."""
    if guess.shape is None or len(guess.shape) != _IMAGE_RANK:
        return guess
    batch = (
        f"-{entry_module}",
        "Unflatten",
        (("dim", 0), ("unflattened_size", (1, guess.shape[1]))),
    )
    hyps = tuple(
        replace(
            h,
            shape=h.shape[1:] if h.shape and len(h.shape) == _IMAGE_RANK else h.shape,
            plan=(batch, *h.plan),
            assumptions=(
                *h.assumptions,
                "the detector batches its list: [C, H, W] -> [1, C, H, W]",
            ),
        )
        for h in guess.hypotheses
    )
    ev = (
        *guess.evidence,
        f"{why}: a torchvision detector, whose forward() takes a list of [C, H, W] images of "
        "any sizes and resizes and batches them itself; one image is "
        f"{list(guess.shape[1:])}",
    )
    return replace(
        guess, shape=guess.shape[1:], evidence=ev, hypotheses=hyps, plan=(batch, *guess.plan)
    )


_IMAGE_RANK = 4
"""``[N, C, H, W]``: the rank of a batched image."""
