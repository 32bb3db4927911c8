"""The torch side of a program: the model that runs its ops, and the small modules the
rebuild inserts (permutes, token selection, patch merging, attention, tokenisation).

``GraphModel`` holds the checkpoint's modules at their paths (so ``load_state_dict``
checks every key) and runs the program's ops in order in ``forward``.  Attention is
computed with one head: the sizes it gives do not depend on the head count, which the
weights do not store.

torch is imported when the classes are first asked for (:func:`torch_classes`), not
when this module is imported.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from .values import Layout, Op, OpKind

__all__ = ["torch_classes"]

_CLASSES: dict[str, Any] = {}


def torch_classes() -> dict[str, Any]:
    """The classes below, by name (``GraphModel``, ``Container``, ``Attend``,
    ``Tokenize``) and the inserted modules by type name (``INSERTED``)."""
    if not _CLASSES:
        _CLASSES.update(_define())
    return _CLASSES


def _define() -> dict[str, Any]:  # the classes, defined once torch is imported
    import torch
    from torch import nn

    class Container(nn.Module):
        """A module path of the checkpoint that holds other modules (its forward is the
        program's)."""

    class Permute(nn.Module):
        """Between layouts: channels first/last, a map read as a sequence, and back."""

        def __init__(self, to: str, **attrs: Any) -> None:
            super().__init__()
            self.layout, self.src = to, attrs.get("from", "")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.layout == Layout.LAST:
                return x.movedim(1, -1)
            if self.layout == self.src == Layout.SEQ:
                return x.transpose(1, 2)
            if self.layout == Layout.MAP and self.src == Layout.FLAT:
                return x.unsqueeze(1)
            if self.layout == Layout.MAP and self.src == Layout.SEQ:
                return x.transpose(1, 2)
            if self.layout == Layout.MAP:
                return x.movedim(-1, 1)
            # map -> sequence: steps along the last axis, the other axes into features
            return x.movedim(-1, 1).flatten(2)

        def extra_repr(self) -> str:
            return f"{self.src} -> {self.layout}"

    class PatchTokens(nn.Module):
        """A patch map read as tokens: ``(N, C, *grid) -> (N, positions, C)``."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(2).transpose(1, 2)

    class Select(nn.Module):
        """The token a classifier head reads: ``first``, ``last``, or the ``mean``."""

        def __init__(self, how: str) -> None:
            super().__init__()
            self.how = how

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.how == "mean":
                return x.mean(1)
            return x[:, 0] if self.how == "first" else x[:, -1]

        def extra_repr(self) -> str:
            return self.how

    class PatchMerge(nn.Module):
        """2x2 neighbours into channels, channels last (Swin's patch merging)."""

        def __init__(self, dims: int = 2, **attrs: Any) -> None:
            super().__init__()
            self.dims, self.channels_first = dims, attrs.get("from") == Layout.MAP

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.channels_first:
                x = x.movedim(1, -1)
            d = self.dims
            halves = [s // 2 for s in x.shape[1 : 1 + d]]
            x = x[(slice(None), *(slice(0, 2 * h) for h in halves))]
            x = x.reshape(x.shape[0], *(v for h in halves for v in (h, 2)), x.shape[-1])
            order = [0, *(1 + 2 * i for i in range(d)), *(2 + 2 * i for i in range(d)), 1 + 2 * d]
            return x.permute(order).flatten(1 + d)

    class AddCoords(nn.Module):
        """Coordinate channels (one per spatial axis, from -1 to 1) appended to a map."""

        def __init__(self, channels: int) -> None:
            super().__init__()
            self.channels = channels

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            extra = []
            for axis in range(self.channels):
                n = x.shape[2 + axis]
                shape = [1] * (x.dim() - 2)
                shape[axis] = n
                ramp = torch.linspace(-1, 1, n, device=x.device, dtype=x.dtype).reshape(shape)
                extra.append(ramp.expand(x.shape[0], 1, *x.shape[2:]))
            joined: torch.Tensor = _cat([x, *extra], 1)
            return joined

    class Attend(nn.Module):
        """``softmax(q k^T / sqrt(d)) v`` over the token axis; q/k/v given, or packed in one
        value as three equal parts.  Keys and values with fewer features than the query are
        repeated (grouped-query attention)."""

        def forward(
            self, q: torch.Tensor, k: torch.Tensor | None = None, v: torch.Tensor | None = None
        ) -> torch.Tensor:
            if k is None or v is None:
                q, k, v = q.chunk(3, dim=-1)
            if k.shape[-1] < q.shape[-1]:
                rep = q.shape[-1] // k.shape[-1]
                k, v = k.repeat_interleave(rep, -1), v.repeat_interleave(rep, -1)
            scores = (q @ k.transpose(-2, -1)) / max(q.shape[-1], 1) ** 0.5
            out: torch.Tensor = scores.softmax(-1) @ v
            return out

    class Tokenize(nn.Module):
        """Patch map -> tokens: flatten, prepend the class tokens, add the position table
        (parameters of the model, looked up where the keys put them)."""

        def __init__(self, owner: nn.Module, cls: Sequence[str], pos: str) -> None:
            super().__init__()
            self._owner = weakref.ref(owner)  # not a submodule: the tables stay at their keys
            self.cls, self.pos = tuple(cls), pos

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            owner = self._owner()
            if owner is None:
                raise RuntimeError("the rebuilt model holding the position table is gone")
            if x.dim() > 3:  # a patch map not yet read as tokens
                x = x.flatten(2).transpose(1, 2)
            extra = []
            for key in self.cls:
                p = _tensor(owner, key)
                extra.append(p.reshape(1, -1, p.shape[-1]).expand(x.shape[0], -1, -1))
            x = _cat([*extra, x], 1)
            pos = _tensor(owner, self.pos)
            out: torch.Tensor = x + pos.reshape(1, -1, pos.shape[-1])
            return out

    def _tensor(owner: nn.Module, key: str) -> torch.Tensor:
        try:
            return owner.get_parameter(key)
        except AttributeError:
            return owner.get_buffer(key)

    #: Modules the rebuild inserts, by their type name in the program.
    inserted: dict[str, type[nn.Module]] = {
        "Permute": Permute,
        "PatchTokens": PatchTokens,
        "Select": Select,
        "PatchMerge": PatchMerge,
        "AddCoords": AddCoords,
    }

    class GraphModel(nn.Module):
        """The rebuilt model: the checkpoint's modules at their paths, run by the program."""

        def __init__(
            self,
            ops: Sequence[Op],
            inputs: Sequence[tuple[int, tuple[int, ...] | None]],
            output: int | None,
        ) -> None:
            super().__init__()
            self._ops = tuple(ops)
            self._inputs = tuple(inputs)
            self._output = output
            self._lookup: dict[str, nn.Module] = {}

        def forward(self, *xs: torch.Tensor) -> Any:
            env: dict[int, torch.Tensor] = {}
            for i, (vid, sizes) in enumerate(self._inputs):
                if i < len(xs):
                    env[vid] = xs[i]
                else:  # a further token input (a decoder's): zeros of its planned length
                    n = xs[0].shape[0]
                    env[vid] = torch.zeros(
                        (n, *(sizes or (1,))), dtype=torch.long, device=xs[0].device
                    )
            for op in self._ops:
                made = self._step(op, [env[i] for i in op.inputs])
                # contiguous: an elementwise op on a strided meta tensor takes a Python
                # path that imports torch._dynamo (2 s); on meta this copies nothing
                env[op.output] = made.contiguous() if hasattr(made, "contiguous") else made
            return env[self._output] if self._output is not None else None

        def _module(self, path: str) -> nn.Module:
            module = self._lookup.get(path)
            if module is None:
                module = self._lookup[path] = self.get_submodule(path)
            return module

        def _step(self, op: Op, args: list[torch.Tensor]) -> torch.Tensor:
            kind = op.kind
            if kind is OpKind.CALL:
                out: torch.Tensor = self._module(op.target)(args[0])
                return out
            if kind is OpKind.ADD:
                return args[0] + args[1]
            if kind is OpKind.MUL:
                x, g = args
                while g.dim() < x.dim():
                    g = g.unsqueeze(-1)
                return x * g
            if kind is OpKind.CAT:
                joined: torch.Tensor = _cat(args, op.attr.get("dim", 1))
                return joined
            if kind in (OpKind.ATTEND, OpKind.TOKENS):
                made: torch.Tensor = self._module(op.target)(*args)
                return made
            if kind is OpKind.MHA:
                return _mha(self._module(op.target), args[0])
            if kind is OpKind.EMBED_ADD:
                return _embed_add(
                    self._module(op.target), args[0], op.attr.get("ids") == "positions"
                )
            if kind is OpKind.APPEND:
                x = args[0]
                stored = _tensor(self, op.target)
                stored = stored.expand(x.shape[0], -1, *x.shape[2:])
                appended: torch.Tensor = _cat([x, stored], 1)
                return appended
            if kind is OpKind.SCALE:
                return _scale(_tensor(self, op.target), args[0], op.attr.get("layout"))
            raise RuntimeError(f"unknown op {kind}")

    def _mha(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        seq = x.reshape(shape[0], -1, shape[-1]) if x.dim() != 3 else x
        out: torch.Tensor = module(seq, seq, seq, need_weights=False)[0]
        return out.reshape(shape[:-1] + out.shape[-1:])

    def _embed_add(table: nn.Module, x: torch.Tensor, positions: bool) -> torch.Tensor:
        """``x + table(ids)``: ids are the token positions (a position table; more tokens
        than rows fail as the real lookup does) or zeros (a segment table)."""
        n, t = x.shape[0], x.shape[1]
        rows = getattr(table, "num_embeddings", None)
        if positions and rows is not None and t > rows:
            raise IndexError(f"index out of range in self: {t} positions, the table has {rows}")
        if positions:
            ids = torch.arange(t, device=x.device).expand(n, t)
        else:
            ids = torch.zeros(n, t, dtype=torch.long, device=x.device)
        out: torch.Tensor = x + table(ids)
        return out

    def _scale(p: torch.Tensor, x: torch.Tensor, layout: Any) -> torch.Tensor:
        flat = p.reshape(-1)
        if layout == Layout.MAP:
            return x * flat.reshape(1, -1, *([1] * (x.dim() - 2)))
        return x * flat

    return {
        "GraphModel": GraphModel,
        "Container": Container,
        "Attend": Attend,
        "Tokenize": Tokenize,
        "INSERTED": inserted,
    }


def _cat(parts: Sequence[Any], dim: int) -> Any:
    """``torch.cat(parts, dim)`` as a sum of zero-padded parts: the same shape and values,
    but ``torch.cat`` on the meta device imports torch._dynamo (2 s) and padding does
    not."""
    from torch.nn import functional

    ndim = parts[0].dim()
    axis = dim % ndim
    total = sum(p.shape[axis] for p in parts)
    out = None
    before = 0
    for p in parts:
        after = total - before - p.shape[axis]
        pad = [0, 0] * (ndim - 1 - axis) + [before, after]
        padded = functional.pad(p.contiguous(), pad)
        out = padded if out is None else out + padded
        before += p.shape[axis]
    return out
