"""Walking the module tree: containers as scopes, modules fed in order, bare tensors given
their role, scopes closed.

A container's bare tensors are class/position tokens (read by the patch tokenisation), a
per-channel layer scale (applied to what the container makes), index or mask buffers and
attention bias tables (read inside an attention: no size of their own), or of unknown role
(loaded, never called: the rebuild is then not the whole model's forward).

When a container closes: its waiting pools apply to the stream; a container that reduced
its input to one position per channel and gives its input's channels back is a gate
(squeeze-and-excitation, Hu et al. 2018: the input times the gate); what it made and
nobody read is left pending for the next module (a residual branch, a branch output).

Pure: no torch.
"""

from __future__ import annotations

from pthforensics.core import vocab
from pthforensics.infer import LayerFamily, layer_type

from .accept import paramless
from .accept_common import LINEAR_TYPES, to_channels_first
from .specs import SIZE_FAMILIES, buildable, layer_spec, paramless_spec
from .traverse_tokens import add_tokens, tokenise, tokens_due_before
from .tree import Node
from .values import Affine, Layout, ModuleSpec, OpKind, Value
from .walk import Scope, Walker

__all__ = ["walk_tree"]

#: Guessed classes whose own tensors are known not to change sizes (masks, index tables,
#: rotary frequencies): infer.knowledge's BARE_MODULES and CONTAINER_LAYOUTS.
_NEUTRAL_HOLDERS = frozenset(
    {
        "GPT2Attention",
        "BertEmbeddings",
        "RotaryEmbedding",
        "ShiftedWindowAttention",
        "WindowAttention",
        "ViTEmbeddings",
        "VisionTransformer",
        "Encoder",
        "VisionTransformerDistilled",
    }
)
_LEAF_WITH_CHILDREN = frozenset({"MultiheadAttention"})


def walk_tree(w: Walker, root: Node) -> None:
    """Walk every module under ``root`` (stops at :attr:`Walker.stop`).  A model ending
    on a map pooled to one position returns its vectors (``torch.flatten(x, 1)``)."""
    _container(w, root)
    if w.stop is None and w.stream is not None and w.between:
        w.stream = w.apply_deferred(w.stream)
    stream = w.stream
    if (
        w.stop is None
        and stream is not None
        and stream.layout is Layout.MAP
        and _one_position(stream)
    ):
        w.stream = w.flatten(stream, "<output", stream.features)


def _container(w: Walker, node: Node, fed: bool = False) -> None:
    """Walk a container (``fed``: its own tensors belong to a module already fed)."""
    scope = Scope(node, w.next_id)
    w.scopes.append(scope)
    scales: list[str] = []
    if node.owns and not fed:
        scales = _hold(w, node)
    squeeze = _is_squeeze(node)
    if w.ctx.restored:
        _children_reordered(w, node, squeeze)
    else:
        for child in node.children:
            if w.stop:
                break
            _child(w, child, squeeze)
    if not w.stop:
        _close(w, scope, scales)
    w.scopes.pop()


def _child(w: Walker, child: Node, squeeze: bool) -> None:
    if child.children and not (child.guess and child.guess.type in _LEAF_WITH_CHILDREN):
        fed = bool(child.owns and child.guess and buildable(child.guess.type))
        if fed:
            _leaf(w, child, squeeze)
        _container(w, child, fed)
    else:
        _leaf(w, child, squeeze)


def _children_reordered(w: Walker, node: Node, squeeze: bool) -> None:
    """Children in a restored order (the file's keys were sorted, so ``bn1`` may come
    before ``conv1``): at each step the first remaining child that reads the stream, its
    block's input or a concatenation runs; only when none does, the first one that reads
    any earlier value."""
    todo = list(node.children)
    while todo and not w.stop:
        for weak in (False, True):
            done = _first_that_runs(w, todo, squeeze, weak)
            if done is not None:
                todo.remove(done)
                break
        else:
            with w.trial(whole=True):
                _child(w, todo[0], squeeze)
                stop = w.stop
            w.stop = stop


def _first_that_runs(w: Walker, todo: list[Node], squeeze: bool, weak: bool) -> Node | None:
    for child in todo if not weak else todo[:1]:
        w.weak = weak
        with w.trial(whole=True) as ok:
            _child(w, child, squeeze)
            ok[0] = w.stop is None
        w.weak = True
        if ok[0]:
            return child
        w.stop = None
    return None


def _leaf(w: Walker, node: Node, squeeze: bool) -> None:
    if not node.owns:
        if not node.children:
            spec = paramless_spec(node, w.ctx)
            if not _between_projections(w, spec):
                w.add_paramless(spec)
            _after(w, node)
        w.prev = node
        return
    if node.guess is None or not buildable(node.guess.type):
        for key in _hold(w, node):
            _scale(w, key, node.path)
        w.prev = node
        return
    if tokens_due_before(w, node):
        add_tokens(w)
    spec = layer_spec(node, w.ctx)
    embedding = layer_type(spec.type).family is LayerFamily.EMBEDDING
    if embedding and _attention_table(w, spec):
        _hold(w, node, neutral=True)
        w.prev = node
        return
    if squeeze and w.scopes[-1].input is None and w.stream is not None:
        _squeeze(w, node.path)
    fed = w.feed(node, spec)
    if not fed and _attention_table(w, spec):
        w.stop = None
        _hold(w, node, neutral=True)
    elif fed:
        w.covered.update(n.path for n in node.walk())
        _after(w, node)
        tokens = w.ctx.tokens
        if tokens is not None and node.path == tokens.conv:
            tokenise(w)
    w.prev = node


_BETWEEN = frozenset(
    {"ReLU", "ReLU6", "GELU", "SiLU", "Tanh", "LeakyReLU", "ELU", "Mish", "Hardswish",
     "Softplus", "Sigmoid", "Hardsigmoid"}
)  # fmt: skip
"""Activations (not dropouts, not identities) that sit between two projections."""


def _between_projections(w: Walker, spec: ModuleSpec) -> bool:
    """The first activation (or untyped parameter-less module) of a container with named
    members, registered after a projection already read another module's output there,
    runs on that first edge: such containers register members in any order, and an MLP,
    a squeeze-excitation or a bottleneck applies it right after the first projection or
    norm (GPT-2's MLP registers c_fc, c_proj, act; torchvision's Bottleneck registers one
    relu after bn3 and calls it first after bn1).  Members of a numbered Sequential run
    in their order."""
    scope = w.scopes[-1]
    unknown = spec.type == "Identity" and spec.group is not None and spec.group.class_name is None
    if not (spec.type in _BETWEEN or unknown) or any(c.name.isdigit() for c in scope.node.children):
        return False
    prefix = scope.node.path + "." if scope.node.path else ""
    made_by: dict[int, ModuleSpec] = {}
    for i, op in enumerate(w.ops):
        s = w.specs.get(op.target) if op.kind is OpKind.CALL else None
        if s is None or not s.path.startswith(prefix):
            continue
        if s.group is None or not s.group.tensors:
            if made_by:
                return False  # a parameter-less module already runs after a projection
            continue
        before = made_by.get(op.inputs[0])
        if before is not None and (s.type in LINEAR_TYPES or layer_type(s.type).conv_dims):
            w.place_between(spec, i)
            return True
        made_by[op.output] = s
    return False


def _attention_table(w: Walker, spec: ModuleSpec) -> bool:
    """A bias-free table inside an attention (beside its q/k/v projections) that takes
    neither token ids nor the stream's width: position biases the attention adds to its
    scores (T5's relative_attention_bias, read as an Embedding or a Linear), which change
    no size."""
    stream = w.stream
    if stream is None or stream.layout is not Layout.SEQ or not w.scopes:
        return False
    family = layer_type(spec.type).family
    a = spec.attrs
    width = a.get("embedding_dim") if family is LayerFamily.EMBEDDING else a.get("in_features")
    table = family is LayerFamily.EMBEDDING or (spec.type in LINEAR_TYPES and not a.get("bias"))
    return table and width != stream.features and _neutral(w.scopes[-1].node)


def _after(w: Walker, node: Node) -> None:
    """Ops the hypothesis places after ``node`` without a module (a functional pool)."""
    for type_, attrs in w.ctx.after.get(node.path, ()):
        why = f"from {w.ctx.hypothesis}" if w.ctx.hypothesis else ""
        spec = ModuleSpec(f"{node.path}+{type_}", type_, dict(attrs), None, why, True)
        if layer_type(type_).family in SIZE_FAMILIES:
            w.between.append(spec)
        else:
            w.add_paramless(spec)


def _hold(w: Walker, node: Node, *, neutral: bool = False) -> list[str]:
    """Register a module's bare tensors; the keys that are per-channel scales
    (``neutral``: known to change no size)."""
    assert node.group is not None
    w.held.append(node.group)
    w.covered.add(node.path)
    tokens = w.ctx.tokens
    token_keys = set(tokens.cls_keys) | {tokens.pos_key} if tokens else set()
    scales: list[str] = []
    for t in node.group.tensors:
        leaf = t.key.rpartition(".")[2] if node.path else t.key
        if t.key in token_keys or not vocab.is_floating(t.dtype) or leaf in vocab.BUFFER_LEAVES:
            continue
        if _is_scale(t.shape) and not neutral:
            scales.append(t.key)
        elif not neutral and not _neutral(node):
            w.unused[t.key] = node.path
    return scales


def _is_scale(shape: tuple[int, ...]) -> bool:
    """A per-channel vector: ``(C,)`` or ``(C, 1, 1)``."""
    return len(shape) >= 1 and shape[0] > 1 and all(d == 1 for d in shape[1:])


def _neutral(node: Node) -> bool:
    """Bare tensors that cannot change sizes: those of a known mask/table holder, or
    tensors inside an attention (bias tables, q/v biases)."""
    if node.guess is not None and node.guess.type in _NEUTRAL_HOLDERS:
        return True
    linears = [n for n in node.walk() if n.guess and n.guess.type in LINEAR_TYPES]
    dims = [(n.guess.attrs.get("in_features"), n.guess.attrs.get("out_features"))
            for n in linears if n.guess]  # fmt: skip
    packed = any(o == 3 * i and (i, i) in dims for i, o in dims if i and o)
    return packed or (len(dims) >= 3 and len({i for i, _ in dims[:3]}) == 1)


def _scale(w: Walker, key: str, where: str) -> None:
    """Multiply the stream by a stored per-channel scale, when its width fits."""
    stream = w.stream
    size = next(t.shape[0] for g in w.held for t in g.tensors if t.key == key)
    if stream is None or stream.features != size:
        w.unused[key] = where
        return
    w.stream = w.emit(
        OpKind.SCALE, (stream,), w.derive(stream), key, (("layout", str(stream.layout)),)
    )


def _is_squeeze(node: Node) -> bool:
    """Two projections ``C -> r -> C`` (r < C) with biases and no norm, under one
    container: a squeeze-and-excitation gate, which reads its input pooled to one
    position per channel."""
    owners = node.leaves_owning()
    if len(owners) != 2 or not all(n.guess for n in owners):
        return False
    a, b = (n.guess for n in owners)
    assert a is not None and b is not None
    dims = []
    for g in (a, b):
        attrs = g.attrs
        lt = layer_type(g.type)
        if lt.conv_dims and not lt.is_transposed and set(attrs.get("kernel_size", ())) == {1}:
            dims.append((attrs.get("in_channels"), attrs.get("out_channels"), attrs.get("bias")))
        elif g.type in LINEAR_TYPES:
            dims.append((attrs.get("in_features"), attrs.get("out_features"), attrs.get("bias")))
        else:
            return False
    (c, r, b1), (r2, c2, b2) = dims
    return bool(c and r and c == c2 and r == r2 and r < c and b1 and b2)


def _squeeze(w: Walker, where: str) -> None:
    stream = w.stream
    scope = w.scopes[-1]
    assert stream is not None
    if stream.layout is not Layout.MAP or stream.pooled:
        return
    scope.input = stream
    if not any(layer_type(s.type).family is LayerFamily.ADAPTIVE_POOL for s in scope.deferred):
        w.stream = w.insert_pool(stream, where, 1, "squeeze-excitation reads its input pooled")


def _close(w: Walker, scope: Scope, scales: list[str]) -> None:
    if w.tokens_due is not None and w.tokens_due == scope.node.path and scope.node.path:
        add_tokens(w)
    if w.stream is not None:
        waiting, scope.deferred = scope.deferred, []
        for spec in waiting:
            w.stream = paramless(w, spec, w.stream)
        for key in scales:
            _scale(w, key, scope.node.path)
        _gate(w, scope)
    stream = w.stream
    consumed = w.consumed()
    made_by_ops = {op.output for op in w.ops}
    made = [
        v
        for i, v in w.values.items()
        if scope.start <= i < w.next_id
        and i in made_by_ops
        and i not in consumed
        and (stream is None or i != stream.id)
    ]
    w.pending.extend(v for v in made if v not in w.pending)
    if len(w.scopes) >= 2 and stream is not None and stream.id >= scope.start:
        w.scopes[-2].outputs.append(stream)
    w.last_closed = scope
    scope.result = stream if stream is not None and stream.id >= scope.start else None
    w.closed.append(scope)
    if scope.deferred and w.stream is None:
        w.scopes[-2 if len(w.scopes) >= 2 else -1].deferred.extend(scope.deferred)


def _one_position(v: Value) -> bool:
    """A vector, or a map of one position whatever the input size."""
    if v.layout is Layout.FLAT:
        return True
    return bool(v.extent) and all(isinstance(a, Affine) and a == Affine.fixed(1) for a in v.extent)


def _gate(w: Walker, scope: Scope) -> None:
    """A container that pooled its map to one position and gives its input's channels
    back multiplies its input by that (a squeeze-and-excitation gate)."""
    x, g = scope.input, w.stream
    if (
        x is None
        or g is None
        or x.id == g.id
        or x.layout is not Layout.MAP
        or x.pooled
        or g.features != x.features
        or not _one_position(g)
    ):
        return
    if g.layout is Layout.LAST:
        g = to_channels_first(w, g, f"{scope.node.path}<gate")
    w.stream = w.emit(OpKind.MUL, (x, g), w.derive(x, producer=f"{scope.node.path} gate"))
