"""The bytes values an unpickled object holds, as the loaded object would hold them.

A bytes value inside a checkpoint can be a pickle or a torch zip that some code later
unpickles (a staged payload).  Both passes look for them the same way, so that they find
the same ones: the opcode pass walks the value ``STOP`` returns (:func:`reachable_bytes`,
over the machine's values), the fast path walks the stub tree
(:func:`.unpickle.find_pickle_values`).  Tensor rebuild calls are skipped (their arguments
are shapes and storage ids); the results of the bytes constructors of
:data:`.calls.BYTES_BUILDERS` count as the bytes they compute.
"""

from __future__ import annotations

from typing import Any

from .values import GlobalRef, Persistent, Result, SymDict, SymList, SymSet

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "is_tensor_rebuild", "reachable_bytes"]

#: Values visited, and nesting followed, when looking for bytes.
MAX_ITEMS = 1_000_000
MAX_DEPTH = 200
_LEAVES = (str, int, float, bool, type(None), complex, GlobalRef, Persistent)


def is_tensor_rebuild(module: str, name: str) -> bool:
    """torch's tensor rebuild functions (their calls are tensors, not containers)."""
    return module == "torch._utils" and name.startswith("_rebuild_")


def reachable_bytes(root: Any, uses: list[Any], *, max_depth: int = MAX_DEPTH) -> list[bytes]:
    """Every bytes value reachable from ``root`` (each once, in the order found)."""
    found: dict[bytes, None] = {}
    stack: list[tuple[Any, int]] = [(root, 0)]
    seen = 0
    visited: set[int] = set()
    while stack and seen < MAX_ITEMS:
        obj, depth = stack.pop()
        seen += 1
        t = type(obj)
        if t in (bytes, bytearray):
            found.setdefault(bytes(obj), None)
            continue
        if depth >= max_depth or t in _LEAVES or id(obj) in visited:
            continue
        visited.add(id(obj))
        depth += 1
        if t is tuple or t is SymList or t is SymSet:
            stack.extend((v, depth) for v in obj)
        elif t is SymDict:
            stack.extend((v, depth) for pair in obj for v in pair)
        elif t is Result:
            site = obj.site
            if type(site.value) is bytes:
                found.setdefault(site.value, None)
                continue
            key = uses[site.use].key if site.use is not None else None
            if key is not None and is_tensor_rebuild(*key):
                continue
            stack.append((site.args, depth))
            stack.extend((v, depth) for v in site.held or ())
    return list(found)
