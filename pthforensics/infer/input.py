"""The input a model expects: ``LayerGuess`` -> ``InputGuess``.

Built on the channel chain (:mod:`pthforensics.infer_chain`), whose breaks also go into
the evidence.  The input verdict:

- ``fixed`` when a flatten head stores the final feature-map size: we solve for the input
  size (``infer_spatial``), or when a position embedding fixes the token count of a patch
  convolution (ViT: ``kernel = stride = p``, ``(H/p)^2 (+ class tokens) = tokens``), or
  when the first layer is a Linear (a vector of ``in_features``);
- ``free`` when global/adaptive pooling or a fully convolutional body leaves the size to
  the caller (with a minimum size), or for token/sequence models (up to the position
  table);
- ``unknown`` with the reason otherwise.

Pure: no torch.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pthforensics.core import (
    InferenceError,
    InputGuess,
    InputKind,
    InputStatus,
    LayerGroup,
    LayerGuess,
)

from . import spatial as sp
from .chain import (
    LINEAR_LIKE,
    PASS_THROUGH,
    RNN_TYPES,
    ChainLink,
    chain_links,
    channel_chain,
    conv_d,
)

__all__ = ["infer_input"]

logger = logging.getLogger(__name__)

_MAX_LISTED = 64


# --- input verdict --------------------------------------------------------------------------


def infer_input(groups: Sequence[LayerGroup], guesses: Sequence[LayerGuess]) -> InputGuess:
    """Guess the input of the model: status (fixed/free/unknown), kind, one working shape,
    the sizes known to work, dtype, and the hypothesis (``plan``) behind it."""
    try:
        return _infer_input_checked(groups, guesses)
    except (ValueError, KeyError, IndexError, ZeroDivisionError, TypeError) as e:
        raise InferenceError(f"input inference failed: {type(e).__name__}: {e}") from e


def _infer_input_checked(groups: Sequence[LayerGroup], guesses: Sequence[LayerGuess]) -> InputGuess:
    links = chain_links(guesses)
    first = next((lk for lk in links if lk.relation == "start"), None)
    if first is None:
        return InputGuess(
            InputStatus.UNKNOWN, evidence=("no layer with weights to read an input from",)
        )
    first = _entry(links, first)
    guess = _infer_input(_Ctx(groups, guesses, links), first)
    chain = channel_chain(guesses)
    notes = tuple(s for s in chain[:-1] if not s.startswith(first.name + " ("))[:3]
    return replace(guess, evidence=(*guess.evidence, *notes, chain[-1]))


def _entry(links: Sequence[ChainLink], first: ChainLink) -> ChainLink:
    """The layer reading the input.  Normally the first; when the order was lost (sorted
    keys) and the first is no convolution/embedding, a convolution taking 1-4 channels that
    no layer feeds is the better bet (``conv_proj`` sorted after ``encoder``)."""
    if conv_d(first.type) or first.type.startswith("Embedding"):
        return first
    embedding = next((lk for lk in links if lk.type.startswith("Embedding")), None)
    if embedding is not None:
        return embedding
    outs = {lk.out_dim for lk in links}
    for lk in links:
        if conv_d(lk.type) and lk.in_dim is not None and lk.in_dim <= 4 and lk.in_dim not in outs:
            return lk
    return first


def _infer_input(ctx: _Ctx, first: ChainLink) -> InputGuess:
    t0 = first.type
    d = conv_d(t0)
    if t0.startswith("Embedding"):
        return _tokens(ctx, first)
    if t0.startswith("ConvTranspose"):
        return _latent_conv(ctx, first, d)
    if d:
        return _spatial(ctx, first, d)
    if t0 in RNN_TYPES or t0 == "MultiheadAttention":
        return _sequence(ctx, first)
    if t0 in LINEAR_LIKE or t0.startswith(PASS_THROUGH):
        return _vector(ctx, first)
    return InputGuess(
        InputStatus.UNKNOWN,
        evidence=(f"the first layer {first.name} is a {t0}: no rule for its input",),
    )


class _Ctx:
    def __init__(
        self,
        groups: Sequence[LayerGroup],
        guesses: Sequence[LayerGuess],
        links: Sequence[ChainLink],
    ) -> None:
        self.groups = list(groups)
        self.guesses = {g.name: g for g in guesses}
        self.links = list(links)
        self.link = {lk.name: lk for lk in links}
        self.position = {g.name: i for i, g in enumerate(groups)}
        # _metadata lists every module: with it, a gap without modules has no pool module.
        self.meta = any(
            g.source == "metadata" or g.class_name or g.version is not None for g in groups
        )
        self.index_gaps = any(g.source == "index-gap" for g in groups)

    def dtype(self, name: str) -> str:
        i = self.position.get(name)
        if i is not None:
            for t in self.groups[i].tensors:
                if t.dtype.startswith(("float", "bfloat")):
                    return t.dtype
        return "float32"

    def pos_embedding(self, dim: int) -> tuple[int, int, str] | None:
        """(positions, prefix tokens, name) of a position table of width ``dim``."""
        prefix = 0
        found = None
        for g in self.guesses.values():
            a = g.attrs
            prefix += a.get("prefix_tokens", 0)
            if found is None and a.get("token_dim") == dim and "num_positions" in a:
                found = (a["num_positions"], g.name)
            if found is None and a.get("role") == "position" and a.get("embedding_dim") == dim:
                found = (a["num_embeddings"], g.name)
        return (found[0], prefix, found[1]) if found else None


def _tokens(ctx: _Ctx, first: ChainLink) -> InputGuess:
    dim = first.out_dim or 0
    pos = ctx.pos_embedding(dim)
    ev = [f"{first.name} is an Embedding: the input is int64 token ids"]
    max_len = pos[0] - pos[1] if pos else None
    if pos:
        ev.append(f"{pos[2]} holds {pos[0]} positions: sequences up to {max_len} tokens")
    flat = _flattened_steps(ctx)
    if flat is not None:
        fixed, t = flat
        ev.append(
            f"{fixed.name} takes {fixed.in_dim} = {t} positions x {fixed.channels}: "
            f"a flattened sequence of exactly {t} tokens"
        )
        return InputGuess(
            InputStatus.FIXED, InputKind.TOKENS, (1, t), (t,), "int64", tuple(ev), min_size=t
        )
    length = min(32, max_len) if max_len else 32
    ev.append("sequence length is free" + (f" (1..{max_len})" if max_len else ""))
    sizes = (1, length) + ((max_len,) if max_len and max_len != length else ())
    return InputGuess(
        InputStatus.FREE, InputKind.TOKENS, (1, length), sizes, "int64", tuple(ev), min_size=1
    )


def _flattened_steps(ctx: _Ctx) -> tuple[ChainLink, int] | None:
    """A head reading a whole sequence flattened: ``in_features = T x features``."""
    for lk in ctx.links:
        if (
            lk.type in LINEAR_LIKE
            and lk.relation in ("break", "flatten")
            and lk.in_dim
            and lk.channels
            and lk.in_dim > lk.channels
            and lk.in_dim % lk.channels == 0
        ):
            return lk, lk.in_dim // lk.channels
    return None


def _sequence(ctx: _Ctx, first: ChainLink) -> InputGuess:
    n = first.in_dim or 1
    dtype = ctx.dtype(first.name)
    ev = [
        f"{first.name} ({first.type}) takes sequences of {n} features",
        "batch_first is not stored: shape given as (batch, length, features)",
    ]
    flat = _flattened_steps(ctx)
    if flat is not None:
        head, t = flat
        ev.append(
            f"{head.name} takes {head.in_dim} = {t} steps x {head.channels}: a flattened "
            f"sequence of exactly {t} steps"
        )
        return InputGuess(
            InputStatus.FIXED, InputKind.SEQUENCE, (1, t, n), (t,), dtype, tuple(ev), min_size=t
        )
    ev.append("length is free")
    return InputGuess(
        InputStatus.FREE, InputKind.SEQUENCE, (1, 32, n), (1, 32), dtype, tuple(ev), min_size=1
    )


def _vector(ctx: _Ctx, first: ChainLink) -> InputGuess:
    n = first.in_dim or 1
    types = {g.type for g in ctx.guesses.values()}
    names = " ".join(ctx.guesses)
    dtype = ctx.dtype(first.name)
    if "MultiheadAttention" in types or any(
        k in names for k in ("attn", "attention", "q_proj", "query")
    ):
        return InputGuess(
            InputStatus.FREE,
            InputKind.SEQUENCE,
            (1, 16, n),
            (1, 16),
            dtype,
            (
                f"{first.name} projects {n} features inside an attention model: "
                "a sequence of free length",
            ),
            min_size=1,
        )
    kind = (
        InputKind.LATENT if any(t.startswith("ConvTranspose") for t in types) else InputKind.VECTOR
    )
    ev = [f"{first.name} ({first.type}) takes {n} features: a vector of exactly {n}"]
    if kind == "latent":
        ev.append("transposed convolutions follow: a generator/decoder fed a latent vector")
    return InputGuess(InputStatus.FIXED, kind, (1, n), (n,), dtype, tuple(ev), min_size=n)


def _latent_conv(ctx: _Ctx, first: ChainLink, d: int) -> InputGuess:
    c = first.in_dim or 1
    k = ctx.guesses[first.name].attrs.get("kernel_size", (1,))
    side = 1 if max(k) >= 4 else 8
    plan: list[tuple[str, str, tuple[tuple[str, Any], ...]]] = []
    for lk in ctx.links:
        if lk.type.startswith("ConvTranspose"):
            # DCGAN convention: the first layer grows 1x1 to kxk (stride 1, padding 0),
            # the others double the size (stride 2, padding (k-1)//2: 1 for k=4).
            kk = max(ctx.guesses[lk.name].attrs.get("kernel_size", (1,)))
            stride, pad = (1, 0) if lk is first else (2, max(0, (kk - 1) // 2))
            plan.append((lk.name, lk.type, (("padding", pad), ("stride", stride))))
    ev = (
        f"{first.name} is a ConvTranspose{d}d taking {c} channels: a decoder/generator fed "
        "a latent map; its size is free (padding is not stored)",
    )
    return InputGuess(
        InputStatus.FREE,
        InputKind.LATENT,
        (1, c, *([side] * d)),
        (side,),
        ctx.dtype(first.name),
        ev,
        min_size=1,
        plan=tuple(plan),
    )


# --- convolutional inputs ------------------------------------------------------------------

_KINDS = {1: InputKind.SEQUENCE, 2: InputKind.IMAGE, 3: InputKind.VOLUME}


def _spatial(ctx: _Ctx, first: ChainLink, d: int) -> InputGuess:
    kind = _KINDS[d]
    c = first.in_dim or 1
    dtype = ctx.dtype(first.name)
    vit = _patch_tokens(ctx, first, d, kind, c, dtype)
    if vit is not None:
        return vit
    start = ctx.links.index(first)
    head = next(
        (
            lk
            for lk in ctx.links[start + 1 :]
            if lk.type in LINEAR_LIKE or lk.type in RNN_TYPES or lk.type == "MultiheadAttention"
        ),
        None,
    )
    ops = _ops(ctx, first, head)
    if head is None:
        return _free(
            ctx,
            first,
            d,
            kind,
            c,
            dtype,
            ops,
            None,
            [
                "no Linear after the convolutions: fully convolutional, any size "
                "above the minimum works"
            ],
        )
    if head.type in RNN_TYPES or head.type == "MultiheadAttention":
        return InputGuess(
            InputStatus.UNKNOWN,
            kind,
            None,
            None,
            dtype,
            (
                f"{head.name} ({head.type}) reads the convolutional features as a sequence "
                f"({head.in_dim} features): one spatial axis is fixed, the other free; the "
                "split is not determinable from the weights",
            ),
        )
    if head.relation == "pool" or (head.in_dim == head.channels):
        return _free(
            ctx,
            first,
            d,
            kind,
            c,
            dtype,
            ops,
            head,
            [
                f"{head.name} takes {head.in_dim} = the channels of the last "
                "convolution: global pooling before the head, so the size is free"
            ],
        )
    if head.relation == "flatten" and head.in_dim:
        return _fixed(ctx, first, d, kind, c, dtype, ops, head)
    return InputGuess(
        InputStatus.UNKNOWN,
        kind,
        None,
        None,
        dtype,
        (
            f"{head.name} takes {head.in_dim} features, which is no multiple of the "
            f"{head.channels} channels before it: the path to the head is not a chain",
        ),
    )


def _ops(ctx: _Ctx, first: ChainLink, head: ChainLink | None) -> list[sp.SpatialOp]:
    """Main-path convolutions and the gaps between them, in order."""
    lo = ctx.position.get(first.name, 0)
    hi = ctx.position.get(head.name, len(ctx.groups)) if head else len(ctx.groups)
    ops: list[sp.SpatialOp] = []
    gap: list[str] = []
    anchor = first.name
    prev_conv = None
    for group in ctx.groups[lo:hi]:
        link = ctx.link.get(group.name)
        if (
            link is not None
            and conv_d(link.type)
            and link.relation in ("start", "follows", "concat")
        ):
            if prev_conv is not None:
                ops.append(_gap(ctx, anchor, gap, prev_conv, group.name))
            g = ctx.guesses[group.name]
            kind = "convT" if link.type.startswith("ConvTranspose") else "conv"
            ops.append(
                sp.SpatialOp(kind, group.name, tuple(g.attrs["kernel_size"]), first=link is first)
            )
            prev_conv, gap = group.name, []
        elif not group.tensors:
            gap.append(group.name)
        anchor = group.name
    if prev_conv is not None:
        ops.append(_gap(ctx, anchor, gap, prev_conv, head.name if head else None))
    return ops


def _numbered_parent(name: str | None) -> str | None:
    if not name:
        return None
    parent, _, last = name.rpartition(".")
    return parent if last.isdigit() else None


# Parameter-less modules whose names say they are no pool (timm/torchvision naming).
_NOT_POOL = re.compile(
    r"act|relu|gelu|silu|swish|sigmoid|tanh|drop|identity|stochastic|"
    r"flatten|softmax|mish|elu|nonlin|gate|scale|permute|norm"
)


def _gap(
    ctx: _Ctx, anchor: str, members: list[str], before: str, after: str | None
) -> sp.SpatialOp:
    unknown: list[str] = []
    hint = ""
    pool_module = ""
    final = after is None or (after in ctx.link and ctx.link[after].type in LINEAR_LIKE)
    for name in members:
        g = ctx.guesses.get(name)
        if g is None:
            if not _NOT_POOL.search(name.rsplit(".", 1)[-1].lower()):
                unknown.append(name)
        elif "Adaptive" in g.type:
            if final:  # mid-body adaptive pools squeeze-and-excite and broadcast back
                hint, pool_module = "adaptive", name
        elif "Pool" in g.type and hint != "adaptive":
            hint, pool_module = "pool", name
    if not hint:
        known = ctx.meta or (
            ctx.index_gaps
            and _numbered_parent(before) is not None
            and _numbered_parent(before) == _numbered_parent(after)
        )
        if not known:
            hint = "unknown"
        elif members and not unknown:
            hint = "none"
    return sp.SpatialOp(
        "gap",
        anchor,
        modules=tuple(unknown),
        pool_hint=hint,
        pool_module=pool_module,
        members=tuple(members),
    )


def _plan(
    ops: Sequence[sp.SpatialOp],
    choices: Sequence[sp.Choice],
    d: int,
) -> list[tuple[str, str, tuple[tuple[str, Any], ...]]]:
    plan: list[tuple[str, str, tuple[tuple[str, Any], ...]]] = []
    for op, ch in zip(ops, choices, strict=True):
        if op.kind != "gap":
            pad = ch.padding if len(set(ch.padding)) > 1 else ch.padding[0]
            st = ch.stride if len(set(ch.stride)) > 1 else ch.stride[0]
            type_ = f"ConvTranspose{d}d" if op.kind == "convT" else f"Conv{d}d"
            plan.append((op.name, type_, (("padding", pad), ("stride", st))))
            continue
        pooled = max(ch.pool) > 1
        k = ch.pool if len(set(ch.pool)) > 1 else ch.pool[0]
        mods = list(op.modules)
        if pooled:
            target = op.pool_module or (mods.pop() if mods else "+" + op.name)
            plan.append((target, f"MaxPool{d}d", (("kernel_size", k),)))
        elif op.pool_module and op.pool_hint == "pool":
            plan.append((op.pool_module, "Identity", ()))
        for i, name in enumerate(mods):
            plan.append((name, "ReLU" if i == 0 else "Identity", ()))
    return plan


def _fixed(
    ctx: _Ctx,
    first: ChainLink,
    d: int,
    kind: InputKind,
    c: int,
    dtype: str,
    ops: list[sp.SpatialOp],
    head: ChainLink,
) -> InputGuess:
    assert head.in_dim is not None
    channels = head.in_dim // head.factor
    finals = _finals(head.factor, d)
    ev = [
        f"{first.name} takes {c} channels: {kind} input",
        f"{head.name} takes {head.in_dim} = {channels} channels x {head.factor} positions: "
        "a flatten head fixes the final feature map",
    ]
    if not finals:
        return InputGuess(
            InputStatus.UNKNOWN,
            kind,
            None,
            None,
            dtype,
            (*ev, (f"{head.factor} positions do not factor into a plausible {d}-d map")),
        )
    solutions = sp.solve(ops, finals, kind=kind, channels=c)
    if not solutions:
        return InputGuess(
            InputStatus.UNKNOWN,
            kind,
            None,
            None,
            dtype,
            (*ev, ("no padding/stride/pooling hypothesis reaches that map from a plausible size")),
        )
    best = solutions[0]
    final = next(f for f, _ in finals if preimage_ok(ops, best, f))
    plan = _plan(ops, best.choices, d)
    ev.append(
        f"final map {'x'.join(map(str, final))}; hypothesis ({best.style} padding): "
        + "; ".join(_describe(p) for p in plan if p[1] not in ("ReLU", "Identity"))
    )
    last_gap = ops[-1] if ops and ops[-1].kind == "gap" else None
    # torchvision's VGG/AlexNet end with AdaptiveAvgPool2d((7, 7) or (6, 6)) named avgpool;
    # without _metadata it is invisible, but the features/classifier naming is not.
    tv_style = first.name.startswith("features.") and head.name.startswith("classifier.")
    adaptive = last_gap is not None and (
        last_gap.pool_hint == "adaptive"
        or (
            last_gap.pool_hint in ("unknown", "")
            and kind == "image"
            and final[0] in (6, 7)
            and len(set(final)) == 1
            and (best.sizes[0] >= 200 or tv_style)
        )
    )
    if adaptive and last_gap is not None:
        pre = sp.preimage(ops[:-1], best.choices[:-1], [(1, 10**6)] * d)
        min_size = pre[0][0] if pre else None
        target = last_gap.pool_module or "+" + last_gap.name
        plan = [p for p in plan if p[0] not in (target, "+" + last_gap.name)]
        plan.append((target, f"AdaptiveAvgPool{d}d", (("output_size", final),)))
        ev.append(
            f"an adaptive average pool to {'x'.join(map(str, final))} sits before "
            f"{head.name} (torchvision avgpool convention): the size is free"
        )
        return _free_result(ctx, kind, c, dtype, ev, plan, min_size, None, None)
    valid = _valid(best.intervals)
    ev.append(
        f"input sizes {_span(best.intervals)} give that map; "
        f"{'x'.join(map(str, best.sizes))} is the commonest"
    )
    for alt in solutions[1:3]:
        if alt.sizes != best.sizes and alt.cost - best.cost < 1.0:
            ev.append(f"also possible under another hypothesis: {'x'.join(map(str, alt.sizes))}")
            break
    return InputGuess(
        InputStatus.FIXED,
        kind,
        (1, c, *best.sizes),
        valid,
        dtype,
        tuple(ev),
        min_size=best.intervals[0][0],
        plan=tuple(plan),
    )


def _describe(entry: tuple[str, str, tuple[tuple[str, Any], ...]]) -> str:
    name, type_, attrs = entry
    where = f"after {name[1:]}" if name.startswith("+") else name
    a = dict(attrs)
    if "Pool" in type_:
        at = where if name.startswith("+") else f"at {name}"
        return f"{type_}({a.get('kernel_size', a.get('output_size', ''))}) {at}"
    return f"{where}: padding={a.get('padding')} stride={a.get('stride')}"


def preimage_ok(ops: Sequence[sp.SpatialOp], sol: sp.Solution, final: tuple[int, ...]) -> bool:
    """Whether ``sol``'s sizes map onto ``final`` under its choices."""
    pre = sp.preimage(ops, sol.choices, [(f, f) for f in final])
    return pre is not None and all(
        lo <= s <= hi for s, (lo, hi) in zip(sol.sizes, pre, strict=True)
    )


def _finals(m: int, d: int) -> list[tuple[tuple[int, ...], float]]:
    if d == 1:
        return [((m,), 0.0)]
    if d == 2:
        r = math.isqrt(m)
        out: list[tuple[tuple[int, ...], float]] = [((r, r), 0.0)] if r * r == m else []
        pairs = [(h, m // h) for h in range(1, r + 1) if m % h == 0 and h != m // h]
        pairs = [p for p in pairs if p[1] <= 4 * p[0]][-2:]
        for h, w in reversed(pairs):
            out.extend([((h, w), 1.0), ((w, h), 1.0)])
        return out
    out = []
    for t in range(1, min(m, 64) + 1):
        if m % t == 0:
            r = math.isqrt(m // t)
            if r * r == m // t:
                out.append(((t, r, r), 0.2 * len(out)))
    return out[:4]


def _valid(intervals: tuple[tuple[int, int], ...]) -> tuple[Any, ...]:
    if len(set(intervals)) == 1:
        lo, hi = intervals[0]
        return tuple(range(lo, min(hi, lo + _MAX_LISTED - 1) + 1))
    corners = [tuple(iv[0] for iv in intervals), tuple(iv[1] for iv in intervals)]
    return tuple(dict.fromkeys(corners))


def _span(intervals: tuple[tuple[int, int], ...]) -> str:
    return " x ".join(f"{lo}" if lo == hi else f"{lo}..{hi}" for lo, hi in intervals)


def _free(
    ctx: _Ctx,
    first: ChainLink,
    d: int,
    kind: InputKind,
    c: int,
    dtype: str,
    ops: list[sp.SpatialOp],
    head: ChainLink | None,
    ev: list[str],
) -> InputGuess:
    choices = sp.cheapest_plan(ops, d)
    plan = _plan(ops, choices, d)
    if head is not None and ops and ops[-1].kind == "gap":
        gap = ops[-1]
        target = gap.pool_module or (gap.modules[-1] if gap.modules else "+" + gap.name)
        plan = [p for p in plan if p[0] not in (target, "+" + gap.name)]
        plan.append((target, f"AdaptiveAvgPool{d}d", (("output_size", 1),)))
    pre = sp.preimage(ops, choices, [(1, 10**6)] * d)
    min_size = pre[0][0] if pre else None
    downs = sum(
        1
        for op, ch in zip(ops, choices, strict=True)
        if (ch.pool and max(ch.pool) > 1) or (op.kind == "conv" and max(ch.stride) > 1)
    )
    # Each upsampling of a UNet decoder meets a skip of the matching encoder level: the
    # size must survive as many halvings as there are upsamplings.
    ups = sum(1 for lk in ctx.links if lk.type.startswith("ConvTranspose"))
    unet = any(
        lk.relation == "concat" and i and ctx.links[i - 1].type.startswith("ConvTranspose")
        for i, lk in enumerate(ctx.links)
    )
    pools = max(downs, ups)
    concat = unet
    multiple = 2**pools if concat and pools else None
    if multiple:
        ev.append(
            f"skip connections concatenate across {pools} downsampling(s): sizes must "
            f"be multiples of {multiple}"
        )
    ev.insert(0, f"{first.name} takes {c} channels: {kind} input")
    return _free_result(ctx, kind, c, dtype, ev, plan, min_size, multiple, None)


def _free_result(
    ctx: _Ctx,
    kind: InputKind,
    c: int,
    dtype: str,
    ev: list[str],
    plan: list[tuple[str, str, tuple[tuple[str, Any], ...]]],
    min_size: int | None,
    multiple: int | None,
    prefer: int | None,
) -> InputGuess:
    lo = max(min_size or 1, multiple or 1)
    axes = {"image": 2, "sequence": 1, "volume": 3}[kind]
    shape: tuple[int, ...]
    if kind == "volume":
        side = _pick(sp.common_sizes(kind, c, 1), lo, multiple, prefer)
        frames = _pick(sp.common_sizes(kind, c, 0), 1, None, None)
        shape = (1, c, frames, side, side)
    else:
        side = _pick(sp.common_sizes(kind, c), lo, multiple, prefer)
        shape = (1, c, *([side] * axes))
    sizes = tuple(
        sorted(
            {
                side,
                lo,
                *(s for s in (32, 64, 224) if s >= lo and (not multiple or s % multiple == 0)),
            }
        )
    )[:4]
    if min_size:
        ev.append(f"smallest size that runs under this hypothesis: {lo}")
    return InputGuess(
        InputStatus.FREE,
        kind,
        shape,
        sizes,
        dtype,
        tuple(ev),
        min_size=lo,
        multiple_of=multiple,
        plan=tuple(plan),
    )


def _pick(common: list[int], lo: int, multiple: int | None, prefer: int | None) -> int:
    if prefer and prefer >= lo:
        return prefer
    for s in common:
        if s >= lo and (not multiple or s % multiple == 0):
            return s
    return lo if not multiple else -(-lo // multiple) * multiple


def _patch_tokens(
    ctx: _Ctx, first: ChainLink, d: int, kind: InputKind, c: int, dtype: str
) -> InputGuess | None:
    """ViT: a patch convolution (kernel = stride = p) whose tokens fill a position table."""
    g = ctx.guesses[first.name]
    k = tuple(g.attrs.get("kernel_size", ()))
    if not k or min(k) < 2 or first.out_dim is None:
        return None
    pos = ctx.pos_embedding(first.out_dim)
    if pos is None:
        return None
    total, prefix, name = pos
    ev = [
        f"{first.name} ({g.type}) with kernel {'x'.join(map(str, k))} feeds tokens of "
        f"{first.out_dim}: a patch embedding (stride = kernel assumed)",
        f"{name or '(root module)'} holds {total} positions"
        + (f" ({prefix} class/extra token(s))" if prefix else ""),
    ]
    for pre in dict.fromkeys((prefix, 0)):
        n = total - pre
        if n <= 0:
            continue
        if d == 2:
            r = math.isqrt(n)
            if r * r != n:
                continue
            grid: tuple[int, ...] = (r, r)
        elif d == 1:
            grid = (n,)
        else:
            t = next(
                (t for t in (8, 16, 4, 2, 1) if n % t == 0 and math.isqrt(n // t) ** 2 == n // t),
                None,
            )
            if t is None:
                continue
            grid = (t, math.isqrt(n // t), math.isqrt(n // t))
        sizes = tuple(gd * kk for gd, kk in zip(grid, k, strict=True))
        ev.append(
            f"{n} patches = {'x'.join(map(str, grid))} grid -> input "
            f"{'x'.join(map(str, sizes))} (floors allow up to kernel-1 more)"
        )
        plan = ((first.name, g.type, (("padding", 0), ("stride", k if len(set(k)) > 1 else k[0]))),)
        valid = tuple(range(sizes[-1], sizes[-1] + k[-1]))
        return InputGuess(
            InputStatus.FIXED,
            kind,
            (1, c, *sizes),
            valid,
            dtype,
            tuple(ev),
            min_size=sizes[-1],
            multiple_of=None,
            plan=plan,
        )
    return InputGuess(
        InputStatus.UNKNOWN,
        kind,
        None,
        None,
        dtype,
        (
            *ev,
            f"{total} positions do not form a square grid with or without the {prefix} "
            "extra token(s)",
        ),
    )
