"""Pass 3 of layer inference: norms read together, by what normalises what.

A norm with a 1-d ``weight`` and ``bias`` and no running statistics is a ``GroupNorm``
over a convolution's channels (``[N, C, *]``) or a ``LayerNorm`` over the last axis of a
channels-last stream (``[N, *, C]``); its tensors are the same either way (pytorch:
torch/nn/modules/normalization.py).  Pass 2 (:mod:`.norms`) decides each from its own
neighbours; some norms see nothing that decides and are read here from the norms that
share their tensor:

- **one stream**: two norms of the same width with no layer between them normalise the
  same tensor, laid out the same way (a Conformer's post-norm ``encoder_layers.i.norm``
  followed by the next block's pre-norm ``conformer.net.0``; Gulati et al., 2020); a
  ``LayerNorm`` among them makes the other one a ``LayerNorm`` too;
- **one class**: repeated blocks are built by one class, so norms at the same place of
  sibling blocks (``encoder_layers.*.norm``: the name with its indices wildcarded, and the
  same width) are of one type; a member decided by strong evidence (a Linear reading its
  output, its name) decides the others.

Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from pthforensics.core import LayerGuess

from .context import Context
from .views import TensorLayout

__all__ = ["harmonise_norms"]

_AMBIGUOUS = ("GroupNorm", "LayerNorm")
"""The pair of types a 1-d ``weight``/``bias`` norm can be told apart between here."""
_SHARED = 0.8
"""Confidence of a type read from the norm sharing the tensor, or from a sibling; a norm
typed with at least this confidence (by its own neighbours or name, or so) decides its
siblings (a LayerNorm read from a Linear after it is 0.95; one guessed only from nearby
convolutions is 0.6-0.7 and decides nothing)."""
_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)|^\d+(?=\.|$)")


def harmonise_norms(ctx: Context, guesses: Sequence[LayerGuess]) -> tuple[LayerGuess, ...]:
    """``guesses`` with the GroupNorm/LayerNorm choice of weakly decided norms taken from
    the norms that share their tensor or their place in a repeated block."""
    out = list(guesses)
    index = {g.name: k for k, g in enumerate(out)}
    norms = [
        k
        for k, g in enumerate(out)
        if g.type in _AMBIGUOUS
        and g.confidence < 1.0
        and (raw := ctx.by_name.get(g.name)) is not None
        and raw.kind is TensorLayout.NORM_WB
    ]
    if len(norms) < 2:
        return tuple(out)
    pairs = _adjacent_pairs(ctx, out, index, norms)
    families = _families(out, norms)
    for _ in range(len(norms)):
        changed = _share_pairs(out, pairs) | _share_families(out, families)
        if not changed:
            break
    return tuple(out)


def _width(g: LayerGuess) -> int | None:
    a = g.attrs
    if "num_channels" in a:
        return int(a["num_channels"])
    shape = a.get("normalized_shape")
    return int(shape[-1]) if isinstance(shape, tuple) and shape else None


def _adjacent_pairs(
    ctx: Context, out: list[LayerGuess], index: dict[str, int], norms: list[int]
) -> list[tuple[int, int]]:
    """Norms of one width whose nearest tensor-owning neighbour is the other."""
    pos = {r.group.name: i for i, r in enumerate(ctx.raws)}
    norm_set = set(norms)
    pairs = []
    for k in norms:
        i = pos.get(out[k].name)
        nxt = ctx.neighbour(i, 1) if i is not None else None
        j = index.get(nxt.group.name) if nxt is not None else None
        if j is not None and j in norm_set and _width(out[j]) == _width(out[k]):
            pairs.append((k, j))
    return pairs


def _families(out: list[LayerGuess], norms: list[int]) -> list[list[int]]:
    """Norms at the same place of sibling blocks (indices wildcarded, same width)."""
    by_key: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for k in norms:
        name = out[k].name
        pattern = _INDEX.sub("*", name)
        if pattern != name:
            by_key[(pattern, _width(out[k]))].append(k)
    return [ks for ks in by_key.values() if len(ks) > 1]


def _share_pairs(out: list[LayerGuess], pairs: list[tuple[int, int]]) -> bool:
    changed = False
    for a, b in pairs:
        ga, gb = out[a], out[b]
        if ga.type == gb.type:
            continue
        src, dst = (a, b) if ga.type == "LayerNorm" else (b, a)
        why = (
            f"no layer between it and {out[src].name}, a LayerNorm of the same width: "
            "both normalise one tensor, laid out channels-last"
        )
        out[dst] = _as_type(out[dst], "LayerNorm", why)
        changed = True
    return changed


def _share_families(out: list[LayerGuess], families: list[list[int]]) -> bool:
    changed = False
    for ks in families:
        best = max(ks, key=lambda k: out[k].confidence)
        top = out[best]
        rivals = [k for k in ks if out[k].type != top.type]
        if not rivals or top.confidence < _SHARED:
            continue
        if any(out[k].confidence >= top.confidence for k in rivals):
            continue
        why = f"the same place in a sibling block as {top.name}, a {top.type}: one class"
        for k in rivals:
            out[k] = _as_type(out[k], top.type, why)
        changed = True
    return changed


def _as_type(g: LayerGuess, type_: str, why: str) -> LayerGuess:
    n = _width(g) or 0
    attrs = {"num_channels": n} if type_ == "GroupNorm" else {"normalized_shape": (n,)}
    return replace(
        g,
        type=type_,
        attributes=tuple(attrs.items()),
        confidence=_SHARED,
        evidence=(*g.evidence, f"{why}: {type_}"),
    )
