"""Solve for input sizes from what a flatten head stores.

A ``Linear`` after convolutions with ``in_features = C*H'*W'`` fixes the final feature
map.  The weights do not store padding, stride, dilation or pooling, so we enumerate
hypotheses (padding 0 or k//2, stride 1/2/k/2/k, a 2x pool or not at each gap between
convolutions), each with a cost saying how unusual it is, and walk the size arithmetic of
``torch.nn.Conv*d``/``MaxPool*d`` backwards (pytorch: torch/nn/modules/conv.py shape
formulas): every op is monotone in its input size, so the sizes mapping onto one output
size form an interval, and a beam over the ops keeps the cheapest hypotheses.  The
winner is the hypothesis + input size with the lowest cost + "how common is this size"
(224, 32, 28...).

Pure arithmetic: no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Choice",
    "Solution",
    "SpatialOp",
    "cheapest_plan",
    "common_sizes",
    "preimage",
    "size_cost",
    "solve",
]

MAX_SIZE = 8192
_BEAM = 128

_IMAGE3 = {
    224: 0.0,
    32: 0.1,
    64: 0.5,
    128: 0.5,
    96: 0.6,
    256: 0.6,
    299: 0.7,
    227: 0.7,
    384: 0.8,
    512: 0.8,
    28: 0.8,
    48: 0.9,
    112: 0.9,
    160: 0.9,
    192: 0.9,
    240: 1.0,
    260: 1.0,
    288: 1.0,
    300: 1.0,
    320: 1.0,
    380: 1.0,
    448: 1.0,
    456: 1.0,
    480: 1.0,
    528: 1.0,
    600: 1.0,
    640: 1.0,
    40: 1.0,
    84: 1.0,
    120: 1.2,
    150: 1.2,
    16: 1.5,
}
# One channel: MNIST-family 28x28 (a LeNet with padding 2 rather than 32x32 unpadded).
_IMAGE1 = {
    28: 0.0,
    32: 1.2,
    64: 0.6,
    48: 0.8,
    96: 0.8,
    128: 0.8,
    224: 0.8,
    256: 0.9,
    40: 1.0,
    84: 1.0,
    100: 1.0,
    112: 1.0,
    16: 1.5,
    20: 1.5,
}
# Four channels: Atari's stacked 84x84 frames far more often than RGBA/RGB-D.
_IMAGE4 = {
    84: 0.0,
    64: 0.8,
    96: 1.0,
    **{k: v + 0.6 for k, v in _IMAGE3.items() if k not in (84, 64, 96)},
}
_LENGTH = {
    16000: 0.0,
    8000: 0.3,
    22050: 0.5,
    44100: 0.6,
    128: 0.6,
    256: 0.6,
    512: 0.6,
    1024: 0.6,
    100: 0.8,
    200: 0.8,
    1000: 0.8,
    4000: 0.8,
    32: 1.0,
    64: 1.0,
    187: 1.0,
}  # 187: MIT-BIH heartbeat windows
_FRAMES = {16: 0.0, 8: 0.2, 32: 0.4, 4: 0.5, 1: 0.8, 2: 0.8, 3: 0.8, 10: 1.0, 64: 1.0}
_VIDEO_HW = {112: 0.0, 224: 0.1, 128: 0.3, 64: 0.4, 32: 0.5, 160: 0.6, 256: 0.6, 96: 0.7}


def _table(kind: str, channels: int | None, axis: int) -> dict[int, float]:
    if kind == "sequence":
        return _LENGTH
    if kind == "volume":
        return _FRAMES if axis == 0 else _VIDEO_HW
    if channels == 1:
        return _IMAGE1
    if channels == 4:
        return _IMAGE4
    return _IMAGE3


def size_cost(size: int, kind: str, channels: int | None, axis: int = 0) -> float:
    """How unusual an input size is (0 = the commonest) for this kind of input."""
    table = _table(kind, channels, axis)
    if size in table:
        return table[size]
    return 3.0 + 0.001 * size


def common_sizes(kind: str, channels: int | None, axis: int = 0) -> list[int]:
    """Known sizes for this kind of input, commonest first."""
    table = _table(kind, channels, axis)
    return sorted(table, key=lambda s: (table[s], s))


@dataclass(frozen=True, slots=True)
class SpatialOp:
    """One op of the main path that changes sizes (or may): a convolution or a gap."""

    kind: str
    """``conv``, ``convT`` or ``gap`` (between two convolutions, or before the head)."""
    name: str
    """The convolution's module path; for a gap the last module before it (anchor)."""
    kernel: tuple[int, ...] = ()
    first: bool = False
    """The first convolution of the model (stems often use stride 2)."""
    modules: tuple[str, ...] = ()
    """Parameter-less modules of unknown type sitting in the gap (candidates for a pool)."""
    pool_hint: str = ""
    """``pool`` (a module named/typed as pool is there), ``adaptive``, ``none`` (the gap's
    modules are named activations/dropouts: only a functional pool would be possible),
    ``unknown`` (no module information) or ``""`` (modules known, none in the gap)."""
    pool_module: str = ""
    """The module named/typed as a pool (or adaptive pool) in the gap, if any."""
    members: tuple[str, ...] = ()
    """Every parameter-less module in the gap, typed or not."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A hypothesis for one op: padding/stride of a convolution, or a pool factor."""

    padding: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    pool: tuple[int, ...] = ()

    def describe(self) -> str:
        """Short text: ``padding=1 stride=2`` or ``pool 2``."""
        if self.pool:
            return "pool " + "x".join(map(str, self.pool)) if max(self.pool) > 1 else "no pool"
        pad = self.padding[0] if len(set(self.padding)) == 1 else self.padding
        st = self.stride[0] if len(set(self.stride)) == 1 else self.stride
        return f"padding={pad} stride={st}"


@dataclass(frozen=True, slots=True)
class Solution:
    """An input size (per spatial dim), the interval of sizes that work, and the plan."""

    cost: float
    sizes: tuple[int, ...]
    intervals: tuple[tuple[int, int], ...]
    choices: tuple[Choice, ...]
    style: str


def _conv_options(op: SpatialOp, style: str) -> list[tuple[Choice, float]]:
    k = op.kernel
    kmax = max(k)
    pads: dict[tuple[int, ...], float] = {}
    same = tuple((x - 1) // 2 for x in k)
    for mode, pad in (
        ("valid", tuple(0 for _ in k)),
        ("same", same),
        ("half", tuple(x // 2 for x in k)),
    ):
        if mode == "half" and pad == same:
            continue  # only even kernels have a distinct k//2 padding
        cost = 0.0 if mode == style else (0.4 if mode == "half" else 1.0)
        pads[pad] = min(pads.get(pad, 9.0), cost)
    strides: dict[tuple[int, ...], float] = {tuple(1 for _ in k): 0.0}
    stem = op.first and kmax >= 7
    even = kmax % 2 == 0 and kmax >= 4
    # A strided 3x3 costs a little more than a functional 2x pool (the classic nets pool).
    strides[tuple(2 if x > 1 or len(k) == 1 else 1 for x in k)] = 0.3 if stem or even else 1.2
    if len(k) == 3:
        strides.setdefault((1, 2, 2), 0.6)
    if kmax >= 6:  # Nature-DQN: 8x8 stride 4
        strides.setdefault(tuple(max(1, x // 2) for x in k), 0.6)
    if kmax >= 9:  # AlexNet: 11x11 stride 4
        strides.setdefault(tuple(4 if x > 1 else 1 for x in k), 0.6)
    if kmax >= 2:
        strides.setdefault(k, 1.5)
    if op.kind == "convT":
        strides = {
            s: (0.0 if max(s) == 2 else c + 0.3) if max(s) > 1 else 0.2 for s, c in strides.items()
        }
    return [
        (Choice(padding=p, stride=s), pc + sc)
        for p, pc in pads.items()
        for s, sc in strides.items()
    ]


def _gap_options(op: SpatialOp, ndim: int) -> list[tuple[Choice, float]]:
    one = tuple(1 for _ in range(ndim))
    two = tuple(2 for _ in range(ndim))
    if op.pool_hint == "adaptive":
        return [(Choice(pool=one), 0.0)]
    if op.pool_hint == "pool":
        costs = (0.0, 3.0)
    elif op.pool_hint == "unknown":
        costs = (0.5, 0.0)
    elif len(op.modules) >= 2:
        costs = (0.0, 1.0)
    elif len(op.modules) == 1:
        costs = (0.6, 0.2)
    else:  # modules are known and none could be a pool: only a functional one
        costs = (1.0, 0.0)
    options = [(Choice(pool=two), costs[0]), (Choice(pool=one), costs[1])]
    if ndim == 3:
        options.append((Choice(pool=(1, 2, 2)), costs[0] + 0.3))
    return options


def options(op: SpatialOp, style: str, ndim: int) -> list[tuple[Choice, float]]:
    """Every hypothesis for ``op`` with its cost under a padding ``style``."""
    return _conv_options(op, style) if op.kind != "gap" else _gap_options(op, ndim)


def _pre_one(op: SpatialOp, c: Choice, axis: int, a: int, b: int) -> tuple[int, int] | None:
    if op.kind == "gap":
        f = c.pool[axis]
        lo, hi = a * f, b * f + f - 1
    else:
        k, p, s = op.kernel[axis], c.padding[axis], c.stride[axis]
        if op.kind == "conv":
            lo = (a - 1) * s + k - 2 * p
            hi = (b - 1) * s + k - 2 * p + s - 1
        else:  # ConvTranspose: out = (in - 1) * s - 2p + k
            lo = -((-(a - k + 2 * p)) // s) + 1
            hi = (b - k + 2 * p) // s + 1
    lo = max(lo, 1)
    if hi < lo or lo > MAX_SIZE:
        return None
    return lo, min(hi, 10 * MAX_SIZE)


def preimage(
    ops: Sequence[SpatialOp], choices: Sequence[Choice], final: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...] | None:
    """Input sizes (an interval per dim) that give ``final`` under ``choices``."""
    intervals = list(final)
    for op, choice in zip(reversed(ops), reversed(choices), strict=True):
        for axis, (a, b) in enumerate(intervals):
            pre = _pre_one(op, choice, axis, a, b)
            if pre is None:
                return None
            intervals[axis] = pre
    return tuple(intervals)


def cheapest_plan(ops: Sequence[SpatialOp], ndim: int, style: str = "same") -> tuple[Choice, ...]:
    """The zero-evidence hypothesis: each op's cheapest option (used when size is free)."""
    return tuple(min(options(op, style, ndim), key=lambda oc: oc[1])[0] for op in ops)


def solve(
    ops: Sequence[SpatialOp],
    finals: Sequence[tuple[tuple[int, ...], float]],
    *,
    kind: str,
    channels: int | None,
    limit: int = 8,
) -> list[Solution]:
    """Best hypotheses under which the input maps onto one of ``finals`` (final sizes per
    dim with a prior cost), cheapest first."""
    results: list[Solution] = []
    beam = _BEAM if len(ops) <= 24 else 64
    for final, final_cost in finals:
        ndim = len(final)
        for style in ("valid", "same"):
            states: list[tuple[float, tuple[tuple[int, int], ...], tuple[Choice, ...]]] = [
                (final_cost, tuple((f, f) for f in final), ())
            ]
            for op in reversed(ops):
                best: dict[tuple[tuple[int, int], ...], tuple[float, tuple[Choice, ...]]] = {}
                for cost, iv, chosen in states:
                    for choice, c in options(op, style, ndim):
                        pre = []
                        for axis, (a, b) in enumerate(iv):
                            one = _pre_one(op, choice, axis, a, b)
                            if one is None:
                                break
                            pre.append(one)
                        else:
                            key = tuple(pre)
                            nc = cost + c
                            if key not in best or best[key][0] > nc:
                                best[key] = (nc, (choice, *chosen))
                states = sorted(((c, iv, ch) for iv, (c, ch) in best.items()), key=lambda s: s[0])[
                    :beam
                ]
            for cost, iv, chosen in states:
                sizes = tuple(
                    _best_size(lo, hi, kind, channels, axis) for axis, (lo, hi) in enumerate(iv)
                )
                total = cost + _sizes_cost(sizes, kind, channels)
                results.append(Solution(round(total, 3), sizes, iv, chosen, style))
    results.sort(key=lambda s: (s.cost, s.sizes))
    return results[:limit]


def _best_size(lo: int, hi: int, kind: str, channels: int | None, axis: int) -> int:
    # Sizes outside the table cost more the larger they are, so ``lo`` is the best of them.
    table = _table(kind, channels, axis)
    candidates = [s for s in table if lo <= s <= hi] + [lo]
    return min(candidates, key=lambda s: (size_cost(s, kind, channels, axis), s))


def _sizes_cost(sizes: tuple[int, ...], kind: str, channels: int | None) -> float:
    if kind == "volume":
        return size_cost(sizes[0], kind, channels, 0) + max(
            size_cost(s, kind, channels, 1) for s in sizes[1:]
        )
    cost = max(size_cost(s, kind, channels) for s in sizes)
    if len(set(sizes)) > 1:
        cost += 0.5
    return cost
