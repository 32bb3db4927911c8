"""A head reading as many features as the last convolution has channels: what reduced the
map to one position, and what that says of the input size.

Three ways of writing it reach the same weights:

(a) an adaptive/global pool module (``nn.AdaptiveAvgPool2d(1)``: torchvision's
    ``avgpool``, timm's ``global_pool``): the size is free;
(b) a global reduction in ``forward()`` (``F.adaptive_avg_pool2d(x, 1)``, ``x.mean([2, 3])``,
    ``F.avg_pool2d(x, x.shape[-1])``): free as well, and no module is registered;
(c) a fixed window (``F.avg_pool2d(x, k)``, ``nn.AvgPool2d(k)``): one position only when the
    final map is ``k..2k-1`` (floor mode, stride ``k``), so the input is fixed to the sizes
    the body maps there.

The file decides where it can: an adaptive pool module in the gap (named or typed so, or a
full-model pickle's stored class) is (a); a stored ``AvgPool*d`` window there is (c) with
that window.  A file that lists its modules (``_metadata``) with no pool in the gap is
evidence against (a), not proof: (b) remains, and is the reading kept unless a positive
reason points to (c): the model registers no activation or pool module at all (everything
in ``forward()``, as in kuangliu/pytorch-cifar), the head ends the convolutional part, and
a common input size gives a common hard-coded window (:data:`WINDOW_PRIORS`).  The reading
not chosen is listed in ``hypotheses`` with its sizes.

Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace

from pthforensics.core import InputGuess, InputHypothesis, InputKind, InputStatus
from pthforensics.infer.chain import ChainLink
from pthforensics.infer.knowledge import IDENTITY_BRANCH_NAME
from pthforensics.infer.layer_types import layer_type

from .context import Entry, InputContext
from .costs import NO_DOWNSAMPLING, Pool
from .fixed import fixed_guess, span, valid_of
from .free import free_input
from .hypotheses import hypotheses_of
from .op_options import downsamples
from .preimage import preimage
from .size_ranking import common_sizes
from .solver import solve
from .solver_records import Choice, OpKind, PoolHint, Solution, SolveContext, SpatialOp

__all__ = ["WINDOW_PRIORS", "head_pool_input"]

WINDOW_PRIORS: dict[int, tuple[float, str]] = {
    8: (
        0.0,
        "CIFAR ResNet-20..110 end on an 8x8 map at 32x32 (He et al., 2016, 4.2): "
        "bearpaw/pytorch-classification models/cifar/resnet.py nn.AvgPool2d(8); "
        "xternalz/WideResNet-pytorch wideresnet.py F.avg_pool2d(out, 8)",
    ),
    4: (
        0.0,
        "kuangliu/pytorch-cifar models/resnet.py, densenet.py, dla.py, mobilenetv2.py "
        "F.avg_pool2d(out, 4): a 4x4 map at 32x32",
    ),
    7: (
        0.0,
        "torchvision <= 0.2 models/resnet.py nn.AvgPool2d(7, stride=1) (224 / 32), the "
        "ImageNet ResNet's 7x7 pool5 (He et al., 2016)",
    ),
    2: (0.5, "kuangliu/pytorch-cifar models/mobilenet.py F.avg_pool2d(out, 2)"),
}
"""Windows hard-coded before a head, with a prior cost and where they are written."""
NOT_MAP_WINDOW = 0.3
"""A hard-coded window is the final map's size at the size the author trained on: a
window that is not the map at the chosen size is a little less likely."""
FREE_OVER_WINDOW = 0.5
"""Cost of the free reading when the evidence points to a fixed window (it is listed
after it); and of a window reading listed after the free one."""
_NO_POOL = (PoolHint.NONE, PoolHint.EMPTY)
_MAX_WINDOW_HYPOTHESES = 2
"""Fixed-window readings listed at most."""
_MAX_LISTED_COST = 3.0
"""A window reading listed after the free one costs at most this (the price of an input
size no prior lists): a dearer one needs departures nothing in the file suggests (a deep
body read as striding once, its map then windowed), and would only crowd the report."""
_COMMON_SIZES = 8
"""The input size of a window reading counts as common among the commonest this many."""


def head_pool_input(
    ctx: InputContext,
    entry: Entry,
    ops: list[SpatialOp],
    head: ChainLink,
    sctx: SolveContext,
    ev: list[str],
) -> InputGuess:
    """The input when ``head`` reads one feature per channel of the last convolution."""
    ops = _without_branches(ops)
    free = free_input(ctx, entry, ops, head, list(ev), sctx)
    last = ops[-1] if ops and ops[-1].kind is OpKind.GAP else None
    if last is None or free.status is not InputStatus.FREE:
        return free
    if last.pool_hint is PoolHint.ADAPTIVE:
        why = f"{last.pool_module} ({last.pool_type}) is an adaptive pool: the size is free"
        return replace(free, evidence=(*free.evidence, why))
    stored = last.known.pool if last.known is not None else None
    if stored is not None and last.pool_type.startswith("AvgPool"):
        why = (
            f"{last.pool_module} is a stored {last.pool_type}({stored.describe()}): a fixed "
            "window before the head, so the map it reads is fixed"
        )
        sols = solve(ops, [(tuple((1, 1) for _ in stored.kernel), 0.0)], sctx)
        if not sols:
            return free
        stored_hyps = hypotheses_of(sols, ops, entry, valid_of)
        return _fixed(entry, sols, stored_hyps, [*free.evidence[:1], _reduced(head), why], None)
    windows = _window_solutions(ops, sctx, entry.dims)
    if not windows:
        return free
    hyps = _window_hyps(entry, ops, [sol for sol, _ in windows])
    reason = _positive_reason(ctx, entry, last, head, windows[0])
    if reason:
        sols = [sol for sol, _ in windows]
        return _fixed(entry, sols, hyps, [*free.evidence[:1], _reduced(head), reason], free)
    return _free_with_windows(free, hyps, last, head, ctx.meta)


def _reduced(head: ChainLink) -> str:
    return (
        f"{head.name} takes {head.in_dim} = the channels of the last convolution: the map is "
        "reduced to one position before the head"
    )


def _without_branches(ops: list[SpatialOp]) -> list[SpatialOp]:
    """The last gap without identity-branch modules (a block's empty ``shortcut``
    registered after its convolutions is no pool before the head)."""
    if not ops or ops[-1].kind is not OpKind.GAP:
        return ops
    last = ops[-1]
    keep = tuple(m for m in last.modules if not _branch(m))
    return [*ops[:-1], replace(last, modules=keep)] if keep != last.modules else ops


def _branchless(ops: list[SpatialOp]) -> list[SpatialOp]:
    """Every gap without identity-branch modules; a convolution after a gap left empty is
    unpooled (as :func:`.maps.spatial_ops` marks one after a gap of no pool)."""
    out: list[SpatialOp] = []
    emptied = False
    for op in ops:
        if op.kind is OpKind.GAP:
            keep = tuple(m for m in op.modules if not _branch(m))
            emptied = bool(op.modules) and not keep and op.pool_hint in _NO_POOL
            out.append(replace(op, modules=keep))
        else:
            out.append(replace(op, unpooled=True) if emptied and op.kind is OpKind.CONV else op)
            emptied = False
    return out


def _branch(name: str) -> bool:
    return IDENTITY_BRANCH_NAME.matches(name.rsplit(".", 1)[-1].lower())


def _windowed(ops: list[SpatialOp], k: int, dims: int) -> list[SpatialOp]:
    """``ops`` with a functional ``AvgPool(k)`` (stride ``k``) in the last gap."""
    pool = Pool(tuple(k for _ in range(dims)), tuple(k for _ in range(dims)))
    gap = replace(ops[-1], known=Choice(pool=pool), pool_type=f"AvgPool{dims}d")
    return [*ops[:-1], gap]


def _window_solutions(
    ops: list[SpatialOp], sctx: SolveContext, dims: int
) -> list[tuple[Solution, bool]]:
    """Readings (c): for each window of :data:`WINDOW_PRIORS`, the best hypotheses reaching
    one position, charged the window prior (and :data:`NOT_MAP_WINDOW` when the window is
    not the map at the chosen size); with whether it is, cheapest first."""
    out: list[tuple[Solution, bool]] = []
    sctx = replace(sctx, stride_priors=True)
    ops = _branchless(ops)
    point = tuple((1, 1) for _ in range(dims))
    for k, (cost, _) in WINDOW_PRIORS.items():
        for sol in solve(_windowed(ops, k, dims), [(point, cost)], sctx, limit=2):
            pre = preimage(ops[:-1], sol.choices[:-1], [(k, k)] * dims)
            exact = pre is not None and all(
                lo <= s <= hi for s, (lo, hi) in zip(sol.sizes, pre, strict=True)
            )
            extra = 0.0 if exact else NOT_MAP_WINDOW
            if not downsamples(ops[:-1], sol.choices[:-1]):
                extra += NO_DOWNSAMPLING  # the window is no downsampling of the body
            out.append((replace(sol, cost=round(sol.cost + extra, 3)), exact))
    out.sort(key=lambda se: (se[0].cost, se[0].sizes))
    return out


def _window_hyps(entry: Entry, ops: list[SpatialOp], sols: list[Solution]) -> list[InputHypothesis]:
    """Hypotheses (c), one per distinct set of sizes (each solution carries its window)."""
    out: list[InputHypothesis] = []
    for sol in sols:
        pool = sol.choices[-1].pool
        if pool is None:
            continue
        windowed = _windowed(_branchless(ops), pool.kernel[0], entry.dims)
        hyp = hypotheses_of([sol], windowed, entry, valid_of)[0]
        if all(h.valid_sizes != hyp.valid_sizes for h in out):
            out.append(hyp)
        if len(out) >= _MAX_WINDOW_HYPOTHESES:
            break
    return out


def _positive_reason(
    ctx: InputContext,
    entry: Entry,
    last: SpatialOp,
    head: ChainLink,
    best: tuple[Solution, bool],
) -> str:
    """Why a fixed window is likelier than a global reduction in forward() (``''``: no
    reason, the free reading stays first)."""
    sol, exact = best
    if entry.kind != InputKind.IMAGE or entry.dims != 2 or not ctx.meta:
        return ""
    if last.modules or last.pool_module or _maps_after(ctx, head):
        return ""
    if any(
        g.name and not g.tensors and not g.has_children and not _branch(g.name) for g in ctx.groups
    ):
        return ""  # it registers activations or pools: a pool here would be a module too
    window = sol.choices[-1].pool
    if window is None or not exact or sol.sizes[0] not in _common(entry):
        return ""
    k = window.kernel[0]
    side = sol.sizes[0]
    return (
        "the file lists its modules and registers no activation or pool anywhere: its "
        f"forward() pools; a hard-coded window of {k} on the {k}x{k} map of a common "
        f"{side}x{side} input is ranked above a global mean, which the weights cannot tell "
        f"apart (windows written so: {WINDOW_PRIORS[k][1]})"
    )


def _common(entry: Entry) -> list[int]:
    return common_sizes(entry.kind, entry.channels)[:_COMMON_SIZES]


def _maps_after(ctx: InputContext, head: ChainLink) -> bool:
    """A convolution comes after ``head``: it reads positions of a map (attention over a
    map, a decoder), not the end of a global reduction."""
    i = ctx.links.index(head)
    return any(layer_type(lk.type).conv_dims for lk in ctx.links[i + 1 :])


def _fixed(
    entry: Entry,
    sols: list[Solution],
    hyps: list[InputHypothesis] | tuple[InputHypothesis, ...],
    ev: list[str],
    free: InputGuess | None,
) -> InputGuess:
    """Reading (c) first; the free reading after it unless the file decided (``free``
    ``None``)."""
    top, best = hyps[0], sols[0]
    ev.append(
        f"hypothesis: {top.name}; input sizes {span(best.intervals)} end on one position; "
        f"{'x'.join(map(str, best.sizes))} is the likeliest under the priors"
    )
    alts: tuple[InputHypothesis, ...] = ()
    if free is not None and free.hypotheses:
        alt = free.hypotheses[0]
        alts = (
            replace(
                alt,
                name="global reduction in forward() (F.adaptive_avg_pool2d / mean): " + alt.name,
                cost=round(top.cost + FREE_OVER_WINDOW, 3),
            ),
        )
        ev.append(
            "also possible: a global reduction in forward(), any size from "
            f"{free.min_size} (listed as a hypothesis)"
        )
    return fixed_guess(entry, hyps, best, ev, alts)


def _free_with_windows(
    free: InputGuess,
    hyps: list[InputHypothesis],
    last: SpatialOp,
    head: ChainLink,
    meta: bool,
) -> InputGuess:
    """The free reading first, the window readings after it, and why."""
    hyps = [h for h in hyps if h.cost <= _MAX_LISTED_COST]
    if not hyps:
        return free
    if last.pool_module:
        why = f"{last.pool_module} may be an adaptive pool or a fixed window (not stored)"
    elif last.modules:
        why = f"{', '.join(last.modules[:2])} before {head.name} may be an adaptive pool"
    elif meta:
        why = (
            f"the file lists its modules and none pools before {head.name}: evidence against "
            "an adaptive pool module, but a global reduction in forward() remains"
        )
    else:
        why = "the file does not list its modules"
    alt = hyps[0]
    sides = "x".join(map(str, alt.shape[2:])) if alt.shape else "?"
    why += (
        f"; the size is read as free, a fixed window would fix it ({sides} under "
        f"'{alt.name}', listed as a hypothesis)"
    )
    base = free.hypotheses[0].cost if free.hypotheses else 0.0
    listed = tuple(replace(h, cost=round(base + h.cost + FREE_OVER_WINDOW, 3)) for h in hyps)
    return replace(free, evidence=(*free.evidence, why), hypotheses=(*free.hypotheses, *listed))
