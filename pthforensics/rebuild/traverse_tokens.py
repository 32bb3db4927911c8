"""The patch tokenisation of a vision transformer, as the walk meets it: the patch
embedding's map read as a sequence of tokens, then the class tokens prepended and the
position table added once the patch embedding is done (timm's PatchEmbed norms the patch
tokens first).

Pure: no torch.
"""

from __future__ import annotations

from .tree import Node
from .values import Layout, OpKind
from .walk import Walker

__all__ = ["add_tokens", "tokenise", "tokens_due_before"]


def tokenise(w: Walker) -> None:
    """Patch map -> patch tokens; the class tokens and the position table follow once the
    patch embedding is done (timm's PatchEmbed norms the patch tokens first)."""
    tokens = w.ctx.tokens
    stream = w.stream
    assert tokens is not None and stream is not None
    if stream.layout is not Layout.MAP:
        return
    n = stream.positions
    out = w.derive(
        stream,
        layout=Layout.SEQ,
        features=tokens.dim,
        extent=(("patches", stream.extent, 0),),
        sizes=(n,) if n is not None else None,
    )
    w.stream = w.insert(tokens.conv, "patches", "PatchTokens", {}, stream, out,
                        "the patch map read as a sequence of tokens", False)  # fmt: skip
    w.tokens_due = tokens.conv.rpartition(".")[0] if "." in tokens.conv else ""


def add_tokens(w: Walker) -> None:
    """Class tokens prepended, the position table added (the stored table's length must
    be the patch count plus the class tokens)."""
    tokens = w.ctx.tokens
    stream = w.stream
    w.tokens_due = None
    if tokens is None or stream is None or stream.layout is not Layout.SEQ:
        return
    n = stream.sizes[0] if stream.sizes else None
    patches = stream.extent[0][1] if stream.extent and isinstance(stream.extent[0], tuple) else ()
    out = w.derive(
        stream,
        extent=(("patches", patches, tokens.prefix),),
        sizes=(n + tokens.prefix,) if n is not None else None,
    )
    attrs = (("cls", tokens.cls_keys), ("pos", tokens.pos_key))
    w.stream = w.emit(OpKind.TOKENS, (stream,), out, f"{tokens.conv}<tokens", attrs)


def tokens_due_before(w: Walker, node: Node) -> bool:
    """The class tokens and position table come before a module owning tensors outside
    the patch embedding (any module, when the patch convolution sits on the root)."""
    due = w.tokens_due
    if due is None:
        return False
    return due == "" or not (node.path + ".").startswith(due + ".")
