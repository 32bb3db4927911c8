"""The module tree of a checkpoint, as ``nn.Module`` registers it.

Module paths (``layer2.0.downsample.0``) nest: every prefix is a container, and the
children of a container come in the order their first module was registered (the order of
the layer groups).  The planner walks this tree; a container is the scope of its
children's branches (a shortcut reads the input of its block, an inception branch the
input of its module).

Pure: no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pthforensics.core import LayerGroup, LayerGuess

__all__ = ["Node", "build_tree", "numbered"]

#: A member of a list registered under a generated name (torchvision ``encoder_layer_3``).
_LIST_MEMBER = re.compile(r"_\d+$")


@dataclass
class Node:
    """One module path: its own tensors (if any), its guess and its children."""

    path: str
    group: LayerGroup | None = None
    guess: LayerGuess | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The last component of the path."""
        return self.path.rpartition(".")[2]

    @property
    def owns(self) -> bool:
        """It owns tensors itself."""
        return self.group is not None and bool(self.group.tensors)

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, in order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def leaves_owning(self) -> list[Node]:
        """Nodes below (and including) this one that own tensors, in order."""
        return [n for n in self.walk() if n.owns]


def build_tree(groups: Sequence[LayerGroup], guesses: dict[str, LayerGuess]) -> Node:
    """The tree of ``groups`` (in their order) under a root node ``""``."""
    root = Node("")
    nodes = {"": root}
    for group in groups:
        node = _node(nodes, group.name)
        node.group = group
        node.guess = guesses.get(group.name)
    return root


def _node(nodes: dict[str, Node], path: str) -> Node:
    node = nodes.get(path)
    if node is not None:
        return node
    parent_path = path.rpartition(".")[0] if "." in path else ""
    parent = _node(nodes, parent_path)
    node = Node(path)
    parent.children.append(node)
    nodes[path] = node
    return node


def numbered(path: str) -> bool:
    """Whether a path runs through a numbered member of a repeated list (``layers.3``,
    ``encoder_layer_3``, ``h.11``): how ``nn.Sequential``/``nn.ModuleList`` and their
    callers register repeated blocks."""
    return any(part.isdigit() or _LIST_MEMBER.search(part) for part in path.split("."))
