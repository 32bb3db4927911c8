"""The planner's walk over the module tree: which value each module reads.

Modules run in registration order (how a straight forward() calls them).  Each module
with tensors reads, in this order of preference (:mod:`.wiring`): the stream (the last
value made) after folding in pending residual branches; the input of the projections it
runs beside (q/k/v); the input of its block (a shortcut, an inception branch); a
concatenation of the stream with earlier values of equal size (dense blocks, U-Net skips,
inception outputs); any earlier value of its width (an auxiliary head).  A container is
a scope: when it closes, what it made and nobody read becomes *pending* -- a residual
branch the next module adds back, or a branch output a concatenation takes.  Parameter-less
modules that change sizes (pools) apply to the value the next module reads; the others
to the stream at once.  The first module nothing can feed ends the walk, with the reason.

Pure: no torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from pthforensics.core import LayerGroup
from pthforensics.infer import LayerFamily, layer_type

from .accept import accept, paramless
from .context import Context
from .tree import Node
from .values import Layout, ModuleSpec, Op, OpKind, Value
from .walk_state import restore, save

__all__ = ["Scope", "Walker"]

#: Families of parameter-less modules that change sizes: they go with the value the next
#: module reads, not with the stream at the place they are registered.
_SIZE_FAMILIES = (
    LayerFamily.POOL,
    LayerFamily.ADAPTIVE_POOL,
    LayerFamily.UPSAMPLE,
    LayerFamily.FLATTEN,
)


@dataclass
class Scope:
    """A container being walked."""

    node: Node
    start: int
    """First value id made inside it."""
    input: Value | None = None
    """What its first module read."""
    outputs: list[Value] = field(default_factory=list)
    """Outputs of its direct children, in order."""
    deferred: list[ModuleSpec] = field(default_factory=list)
    """Size-changing parameter-less modules waiting for the next module's input."""
    result: Value | None = None
    """What it gave (set when it closes)."""


class Walker:
    """Planning state: values, ops, modules, scopes (scratch; see :mod:`.program`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ops: list[Op] = []
        self.specs: dict[str, ModuleSpec] = {}
        self.values: dict[int, Value] = {}
        self.next_id = 0
        self.stream: Value | None = None
        self.scopes: list[Scope] = []
        self.pending: list[Value] = []
        self.inputs: list[Value] = []
        self.stop: tuple[str, str] | None = None
        self.held: list[LayerGroup] = []
        """Groups whose tensors are registered as bare parameters/buffers."""
        self.unused: dict[str, str] = {}
        """Modules loaded but never called, their role unknown."""
        self.between: list[ModuleSpec] = []
        """Ops the input hypothesis places after a module without one (a functional pool):
        they go with the next module's input, not with the container they follow."""
        self.last_closed: Scope | None = None
        self.closed: list[Scope] = []
        """Every container closed so far, in order."""
        self.prev: Node | None = None
        """The module visited last (parameter-less ones included)."""
        self.parallel: list[tuple[ModuleSpec, Value, Value]] = []
        """Sibling projections reading one input (spec, input, output)."""
        self.tensor_modules = 0
        self.weak = True
        """Modules may read any earlier value of their width (off while trying the
        children of a container whose order was restored)."""
        self.tokens_due: str | None = None
        """The container after which class tokens and the position table are added."""
        self.last_type = ""
        """Type of the last module owning tensors that was fed."""
        self.covered: set[str] = set()
        """Module paths whose tensors the program loads."""

    # --- values and ops -------------------------------------------------------------------

    def derive(self, v: Value, **changes: Any) -> Value:
        """A new value like ``v`` with ``changes``."""
        out = replace(v, id=self.next_id, **changes)
        self.next_id += 1
        return out

    def fresh(
        self,
        layout: Layout,
        features: int | None,
        extent: tuple[Any, ...],
        sizes: tuple[int, ...] | None,
        producer: str,
    ) -> Value:
        """A new value (a model input)."""
        v = Value(self.next_id, layout, features, extent, sizes, producer=producer)
        self.next_id += 1
        self.values[v.id] = v
        return v

    def emit(
        self,
        kind: OpKind,
        inputs: tuple[Value, ...],
        out: Value,
        target: str = "",
        attrs: tuple[tuple[str, Any], ...] = (),
    ) -> Value:
        """Append an op making ``out`` from ``inputs``."""
        self.ops.append(Op(kind, tuple(v.id for v in inputs), out.id, target, attrs))
        self.values[out.id] = out
        return out

    def call(self, spec: ModuleSpec, v: Value, out: Value) -> Value:
        """Call the module of ``spec`` on ``v``."""
        self.specs.setdefault(spec.path, spec)
        return self.emit(OpKind.CALL, (v,), out, spec.path)

    def insert(
        self,
        where: str,
        what: str,
        type_: str,
        attrs: dict[str, Any],
        v: Value,
        out: Value,
        assumed: str,
        shapes: bool,
    ) -> Value:
        """Call a module the rebuild adds (named ``<where><<what>``) on ``v``."""
        path = self._unique(f"{where}<{what}")
        spec = ModuleSpec(path, type_, attrs, None, assumed, shapes)
        return self.call(spec, v, out)

    def _unique(self, path: str) -> str:
        n, candidate = 1, path
        while candidate in self.specs:
            n += 1
            candidate = f"{path}{n}"
        return candidate

    def permute(self, v: Value, layout: Layout, where: str, why: str) -> Value:
        """Change layout (channels first/last, map to sequence)."""
        if layout is Layout.MAP and v.layout is Layout.FLAT:
            from .values import Affine

            n = v.features or 0
            out = self.derive(
                v, layout=Layout.MAP, features=1, extent=(Affine.fixed(n),), sizes=(n,)
            )
        elif layout is Layout.SEQ and v.layout is Layout.MAP:
            rest = 1
            for s in (v.sizes or ())[:-1]:
                rest *= s
            feats = (v.features or 0) * (rest if v.sizes else 1)
            out = self.derive(
                v,
                layout=Layout.SEQ,
                features=feats,
                extent=v.extent[-1:],
                sizes=v.sizes[-1:] if v.sizes else None,
            )
        elif layout is Layout.MAP and v.layout is Layout.SEQ:
            # the steps become the convolution's axis: a size of the input, or fixed
            from .values import Affine

            step = v.extent[0] if v.extent and isinstance(v.extent[0], Affine) else None
            if step is None:
                step = Affine.fixed(v.sizes[0]) if v.sizes else Affine.input()
            out = self.derive(v, layout=layout, extent=(step,))
        else:
            out = self.derive(v, layout=layout)
        return self.insert(
            where,
            "permute",
            "Permute",
            {"to": str(layout), "from": str(v.layout)},
            v,
            out,
            why,
            False,
        )

    def swap_axes(self, v: Value, where: str) -> Value:
        """A sequence read along its tokens (``x.transpose(1, 2)``), and back."""
        key = v.extent[0] if v.extent else None
        if isinstance(key, tuple) and key[:1] == ("tokens-mixed",):
            _, features, extent, sizes = key
            out = self.derive(v, features=features, extent=extent, sizes=sizes)
        else:
            length = v.sizes[0] if v.sizes else None
            mixed = (("tokens-mixed", v.features, v.extent, v.sizes),)
            sizes = (v.features,) if v.features else None
            out = self.derive(v, features=length, sizes=sizes, extent=mixed)
        why = "the sequence read along its tokens (token mixing)"
        return self.insert(where, "swap", "Permute", {"to": "seq", "from": "seq"}, v, out, why,
                           False)  # fmt: skip

    def flatten(self, v: Value, where: str, features: int | None) -> Value:
        """``torch.flatten(x, 1)`` before a head."""
        out = self.derive(v, layout=Layout.FLAT, features=features, extent=(), sizes=())
        return self.insert(
            where,
            "flatten",
            "Flatten",
            {},
            v,
            out,
            "a flatten before the head (forward() does it)",
            False,
        )

    def insert_pool(self, v: Value, where: str, size: int, why: str) -> Value:
        """An adaptive average pool to ``size`` per axis."""
        from .values import Affine

        d = v.dims
        out = self.derive(v, extent=(Affine.fixed(size),) * d, sizes=(size,) * d, pooled=size == 1)
        return self.insert(
            where, "pool", f"AdaptiveAvgPool{d}d", {"output_size": size}, v, out, why, True
        )

    def select(self, v: Value, how: str, where: str) -> Value:
        """One token (``first``/``last``) or the mean of a sequence."""
        out = self.derive(v, layout=Layout.FLAT, extent=(), sizes=())
        return self.insert(
            where,
            "select",
            "Select",
            {"how": how},
            v,
            out,
            f"the head reads the {how} token"
            if how != "mean"
            else "the head reads the mean of the tokens",
            False,
        )

    def merge(self, v: Value, where: str) -> Value:
        """Space-to-depth: 2x2 neighbours into channels."""
        from fractions import Fraction

        ext = tuple(a.times(Fraction(1, 2)) for a in v.extent)
        sizes = tuple(s // 2 for s in v.sizes) if v.sizes else None
        out = self.derive(
            v, layout=Layout.LAST, features=(v.features or 0) * 2**v.dims, extent=ext, sizes=sizes
        )
        return self.insert(
            where,
            "merge",
            "PatchMerge",
            {"dims": v.dims, "from": str(v.layout)},
            v,
            out,
            "2x2 neighbours merged into channels (patch merging)",
            True,
        )

    def embed_add(self, spec: ModuleSpec, v: Value) -> Value:
        """A position/segment table added to the stream at the token positions."""
        self.specs.setdefault(spec.path, spec)
        role = "positions" if spec.attrs.get("role") == "position" else "zeros"
        return self.emit(OpKind.EMBED_ADD, (v,), self.derive(v), spec.path, (("ids", role),))

    def attend_module(self, spec: ModuleSpec, v: Value, out: Value) -> Value:
        """``nn.MultiheadAttention`` on ``v`` (query = key = value)."""
        self.specs.setdefault(spec.path, spec)
        return self.emit(OpKind.MHA, (v,), out, spec.path)

    # --- transactions ----------------------------------------------------------------------

    @contextmanager
    def trial(self, whole: bool = False) -> Iterator[list[bool]]:
        """Undo everything done inside unless the caller sets ``ok[0]`` (``whole``: also
        the stream, the modules visited and what was held: a container walked on trial)."""
        ok = [False]
        saved = save(self, whole=whole)
        try:
            yield ok
        finally:
            if not ok[0]:
                restore(self, saved)

    # --- the walk --------------------------------------------------------------------------

    def feed(self, node: Node, spec: ModuleSpec) -> bool:
        """Find the value ``spec`` reads and call it; ``False`` (and :attr:`stop`) when
        nothing can feed it."""
        from .wiring import candidates, shortcut_stride

        reasons: list[str] = []
        for relaxed in (False, True):
            for source, make in candidates(self, node, spec, relaxed=relaxed):
                type_, attrs, assumed = spec.type, dict(spec.attrs), spec.assumed
                with self.trial() as ok:
                    v = make()
                    if v is None:
                        continue
                    v = self.apply_deferred(v)
                    if source in ("branch", "earlier"):
                        shortcut_stride(self, spec, v)
                    out = accept(self, spec, v, relaxed=relaxed)
                    if isinstance(out, Value):
                        ok[0] = True
                        self._took(node, spec, v, out, source)
                        return True
                    reasons.append(out)
                spec.type, spec.attrs, spec.assumed = type_, attrs, assumed
        self.stop = (node.path, reasons[0] if reasons else "no value before it fits")
        return False

    def _took(self, node: Node, spec: ModuleSpec, v: Value, out: Value, source: str) -> None:
        scope = self.scopes[-1]
        if scope.input is None:
            for s in self.scopes:
                if s.input is None:
                    s.input = v
        self.stream = out
        scope.outputs.extend(x for x in (v, out) if x not in scope.outputs)
        self.tensor_modules += 1
        self.last_type = spec.type
        if source == "parallel" and self.parallel:
            self.parallel.append((spec, v, out))
        else:
            self.parallel = [(spec, v, out)]

    def apply_deferred(self, v: Value) -> Value:
        """Apply the waiting size-changing modules of every open scope, then the ops the
        hypothesis places between two modules, to ``v``."""
        for scope in self.scopes:
            waiting, scope.deferred = scope.deferred, []
            for spec in waiting:
                v = paramless(self, spec, v)
        waiting, self.between = self.between, []
        for spec in waiting:
            v = paramless(self, spec, v)
        return v

    def add_paramless(self, spec: ModuleSpec) -> None:
        """A parameter-less module: on the stream now, or with the next module's input."""
        if layer_type(spec.type).family in _SIZE_FAMILIES or self.stream is None:
            self.scopes[-1].deferred.append(spec)
            return
        self.stream = paramless(self, spec, self.stream)
        self.scopes[-1].outputs.append(self.stream)

    def place_between(self, spec: ModuleSpec, index: int) -> None:
        """Call the shape-keeping module ``spec`` on the input of op ``index`` and feed
        that op its output instead."""
        op = self.ops[index]
        source = self.values[op.inputs[0]]
        out = self.derive(source, producer=spec.path)
        self.specs.setdefault(spec.path, spec)
        self.values[out.id] = out
        self.ops.insert(index, Op(OpKind.CALL, (source.id,), out.id, spec.path))
        self.ops[index + 1] = replace(op, inputs=(out.id, *op.inputs[1:]))

    def consumed(self) -> set[int]:
        """Ids of the values some op reads."""
        return {i for op in self.ops for i in op.inputs}
