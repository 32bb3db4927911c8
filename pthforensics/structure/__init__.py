"""The structure stage (tmp)."""

from __future__ import annotations

from .layers import group_layers, module_and_leaf
from .tensors import check_integrity, extract_checkpoint, summarize, unreferenced_storages

__all__ = [
    "check_integrity",
    "extract_checkpoint",
    "group_layers",
    "module_and_leaf",
    "summarize",
    "unreferenced_storages",
]
