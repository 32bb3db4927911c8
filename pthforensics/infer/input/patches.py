"""Vision transformers: a patch convolution whose tokens fill a position table.

A convolution with kernel ``p`` (stride ``p`` assumed) turns an ``H x W`` image into
``(H/p) x (W/p)`` tokens; with ``k`` class/extra tokens, a position table of ``n`` rows
fixes ``(H/p)(W/p) + k = n`` (timm: models/vision_transformer.py; torchvision:
models/vision_transformer.py).  Floors allow up to ``p - 1`` more pixels per side.

Nothing here imports torch.
"""

from __future__ import annotations

import math

from pthforensics.core import InputGuess, InputStatus
from pthforensics.infer.priors import PATCH_GRID_FRAMES

from .context import Entry, InputContext

__all__ = ["patch_input"]


def patch_input(ctx: InputContext, entry: Entry) -> InputGuess | None:
    """The input of a patch embedding feeding a position table; ``None`` when the entry is
    no patch convolution or no table has its width."""
    first, d, kind, c, dtype = entry.link, entry.dims, entry.kind, entry.channels, entry.dtype
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
