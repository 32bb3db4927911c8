"""Vision transformers: a patch convolution whose tokens fill a position table.

A convolution with kernel ``p`` (stride ``p`` assumed) turns an ``H x W`` image into
``(H/p) x (W/p)`` tokens; with ``k`` class/extra tokens, a position table of ``n`` rows
fixes ``(H/p)(W/p) + k = n`` (timm: models/vision_transformer.py; torchvision:
models/vision_transformer.py).  Floors allow up to ``p - 1`` more pixels per side.

Nothing here imports torch.
"""

from __future__ import annotations

import math
import re

from pthforensics.core import InputGuess, InputStatus
from pthforensics.infer.chain import ChainLink
from pthforensics.infer.defaults import PATCH_GRID_FRAMES

from .context import Entry, InputContext

__all__ = ["attention_grid", "axis_tables", "patch_input", "window_mask_grid"]


def patch_input(ctx: InputContext, entry: Entry) -> InputGuess | None:
    """The input of a patch embedding feeding a position table; ``None`` when the entry is
    no patch convolution or no table has its width."""
    first, d, kind, c, dtype = entry.link, entry.dims, entry.kind, entry.channels, entry.dtype
    g = ctx.guesses[first.name]
    k = tuple(g.attrs.get("kernel_size", ()))
    if not k or min(k) < 2 or first.out_dim is None:
        return None
    pos = ctx.pos_embedding(first.out_dim)
    if pos is not None:
        total, prefix, name = pos
        holds = f"{name or '(root module)'} holds {total} positions" + (
            f" ({prefix} class/extra token(s))" if prefix else ""
        )
    else:
        counted = token_count(ctx, first.out_dim)
        if counted is None:
            return None
        total, prefix, holds = counted
    ev = [
        f"{first.name} ({g.type}) with kernel {'x'.join(map(str, k))} feeds tokens of "
        f"{first.out_dim}: a patch embedding (stride = kernel assumed)",
        holds,
    ]
    for pre in dict.fromkeys((prefix, 0)):
        grid = _grid(total - pre, d)
        if grid is None:
            continue
        sizes = tuple(gd * kk for gd, kk in zip(grid, k, strict=True))
        ev.append(
            f"{total - pre} patches = {'x'.join(map(str, grid))} grid -> input "
            f"{'x'.join(map(str, sizes))} (floors allow up to kernel-1 more)"
        )
        plan = ((first.name, g.type, (("padding", 0), ("stride", k if len(set(k)) > 1 else k[0]))),)
        return InputGuess(
            InputStatus.FIXED,
            kind,
            (1, c, *sizes),
            tuple(range(sizes[-1], sizes[-1] + k[-1])),
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


_BEIT_CLASS_ENTRIES = 3
"""BEiT's relative position table has ``(2h-1)(2w-1) + 3`` rows: the class token to
tokens, tokens to the class token, and the class token to itself (Bao et al., 2022; timm
models/beit.py ``gen_relative_position_index``)."""
_TOKEN_MIXING = re.compile(r"mlp_tokens|token_mixing|tokens_mlp")
"""MLP-Mixer's token-mixing MLP (timm models/mlp_mixer.py ``mlp_tokens``; the paper's
"token-mixing MLP"); MetaFormer's generic ``token_mixer`` is an attention or a pool."""


def token_count(ctx: InputContext, dim: int) -> tuple[int, int, str] | None:
    """(tokens, prefix tokens, why) from what else fixes the token count: a relative
    position table or index over the whole grid (BEiT), or a token-mixing MLP whose width
    is the patch count (MLP-Mixer's ``mlp_tokens``: Tolstikhin et al., 2021)."""
    for group in ctx.groups:
        for t in group.tensors:
            leaf = t.key.rsplit(".", 1)[-1]
            if leaf == "relative_position_bias_table" and len(t.shape) == 2:
                side = math.isqrt(t.shape[0] - _BEIT_CLASS_ENTRIES)
                if side % 2 and side * side == t.shape[0] - _BEIT_CLASS_ENTRIES:
                    g = (side + 1) // 2
                    why = (
                        f"{t.key} has {t.shape[0]} = (2x{g}-1)^2 + 3 rows: relative "
                        f"positions over a {g}x{g} grid and a class token (BEiT)"
                    )
                    return g * g + 1, 1, why
            if leaf == "relative_position_index" and len(t.shape) == 2:
                n = t.shape[0] - 1
                if n > 0 and math.isqrt(n) ** 2 == n and t.shape[0] == t.shape[1]:
                    why = f"{t.key} relates {t.shape[0]} tokens: a grid of {n} and a class token"
                    return n + 1, 1, why
    for name, guess in ctx.guesses.items():
        width = guess.attrs.get("in_features")
        if (
            guess.type == "Linear"
            and isinstance(width, int)
            and (n := width) != dim
            and math.isqrt(n) ** 2 == n
            and _TOKEN_MIXING.search(name.lower())
        ):
            why = f"{name} mixes across {n} tokens (in_features = the patch count)"
            return n, 0, why
    return None


_OFFSET_BIASES = "attention_biases"
_OFFSET_INDEX = "attention_bias_idxs"
"""LeViT's attention bias (Graham et al., 2021; timm models/levit.py, reused by
EfficientFormer, models/efficientformer.py): one learned bias per head and per absolute
offset ``(|dx|, |dy|)`` between two points of the ``R x R`` map the attention reads whole,
so ``attention_biases`` is ``(heads, R^2)`` and ``attention_bias_idxs`` ``(R^2, R^2)``.  A
window attention's table (Swin's ``relative_position_bias_table``, ``((2w-1)^2, heads)``)
spans a window, not the map, and fixes nothing."""


def attention_grid(ctx: InputContext, head: ChainLink) -> tuple[int, str] | None:
    """(R, why): the side of the map an attention enclosing ``head`` reads whole, from its
    offset-bias table; ``None`` when no enclosing module holds one."""
    for group in ctx.groups:
        if not group.name or not head.name.startswith(group.name + "."):
            continue
        for t in group.tensors:
            leaf = t.key.rsplit(".", 1)[-1]
            n = t.shape[-1] if len(t.shape) == 2 else 0
            if n < 2 or math.isqrt(n) ** 2 != n:
                continue
            if leaf == _OFFSET_BIASES or (leaf == _OFFSET_INDEX and t.shape[0] == n):
                r = math.isqrt(n)
                why = (
                    f"{t.key} {tuple(t.shape)}: one bias per offset over the {r}x{r} map "
                    f"{group.name} attends to whole (LeViT-style), so the map there is {r}x{r}"
                )
                return r, why
    return None


_WINDOW_MASK = re.compile(r"(^|_)mask$")
"""A shifted-window attention mask (Liu et al., 2021; microsoft/Swin-Transformer
models/swin_transformer.py ``SwinTransformerBlock.attn_mask``, a persistent buffer, so the
official checkpoints store it; timm's ``checkpoint_filter_fn`` drops it on import): one
``(w^2, w^2)`` mask per window of the ``R x R`` map its block reads, ``(nW, w^2, w^2)`` with
``nW = (R/w)^2``.  It is computed once for that map and the block asserts ``L == H * W``,
so the map is ``w * sqrt(nW)`` on a side there.  A map of one window is not shifted and
stores no mask, so ``nW >= 4``: a ``(1, T, T)`` causal mask is no window mask.  Read only
in a hierarchical model (the width grows after the block, patch merging): a constant-width
restoration network (SwinIR, Liang et al., 2021) recomputes its mask for any size."""


def window_mask_grid(ctx: InputContext, head: ChainLink) -> tuple[int, str] | None:
    """(R, why): the map side a stored shifted-window mask fixes in the stage ``head``
    reads (a block of the same width, the width growing later); ``None`` otherwise."""
    width = head.in_dim
    if not width:
        return None
    for group in ctx.groups:
        prefix = group.name + "."
        for t in group.tensors:
            if len(t.shape) != 3 or not _WINDOW_MASK.search(t.key.rsplit(".", 1)[-1]):
                continue
            n_win, n, n2 = t.shape
            w, k = math.isqrt(n), math.isqrt(n_win)
            if n != n2 or n < 4 or w * w != n or k < 2 or k * k != n_win:
                continue
            inside = [lk for lk in ctx.links if lk.name.startswith(prefix)]
            after = ctx.links[ctx.links.index(inside[-1]) + 1 :] if inside else []
            if not any(lk.in_dim == width for lk in inside) or not any(
                (lk.in_dim or 0) > width for lk in after
            ):
                return None
            r = w * k
            why = (
                f"{t.key} {tuple(t.shape)}: a shifted-window mask for {n_win} windows of "
                f"{w}x{w} over the map {group.name} reads (Swin), so the map there is {r}x{r}"
            )
            return r, why
    return None


_AXIS_TABLES = ("rel_pos_t", "rel_pos_h", "rel_pos_w")
"""Decomposed relative positions (MViTv2: Li et al., 2022; torchvision
models/video/mvit.py, timm mvitv2.py): one table per axis of ``2 * max(q, k) - 1`` rows,
``q`` the query's size along that axis.  The first attention reads the whole map the patch
embedding gives (keys and values may be pooled, queries are not), so its tables fix that
map's size on every axis."""


def axis_tables(ctx: InputContext, first: ChainLink, d: int) -> tuple[tuple[int, ...], str] | None:
    """(sizes, why): the map the first attention after ``first`` reads, from its per-axis
    relative position tables (time, height, width for 3-d; height, width for 2-d);
    ``None`` when it has none."""
    wanted = _AXIS_TABLES[-d:] if d in (2, 3) else ()
    start = ctx.position.get(first.name, 0)
    for group in ctx.groups[start + 1 :]:
        rows = {t.key.rsplit(".", 1)[-1]: t.shape[0] for t in group.tensors if len(t.shape) == 2}
        if not wanted or not all(w in rows for w in wanted):
            continue
        if any(rows[w] % 2 == 0 for w in wanted):
            return None
        sizes = tuple((rows[w] + 1) // 2 for w in wanted)
        tables = ", ".join(f"{w} ({rows[w]} rows)" for w in wanted)
        why = (
            f"{group.name} holds {tables}: 2 x size - 1 rows per axis over the map its "
            f"queries cover whole (MViTv2-style), so the map there is {'x'.join(map(str, sizes))}"
        )
        return sizes, why
    return None


def _grid(n: int, d: int) -> tuple[int, ...] | None:
    """``n`` patches as a square (2-d), a line (1-d) or frames x square (3-d) grid."""
    if n <= 0:
        return None
    if d == 2:
        r = math.isqrt(n)
        return (r, r) if r * r == n else None
    if d == 1:
        return (n,)
    t = next(
        (t for t in PATCH_GRID_FRAMES if n % t == 0 and math.isqrt(n // t) ** 2 == n // t),
        None,
    )
    if t is None:
        return None
    return (t, math.isqrt(n // t), math.isqrt(n // t))
