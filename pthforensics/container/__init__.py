"""The container stage (tmp)."""

from __future__ import annotations

from .reader import read_container, read_embedded, read_hidden_pickles, read_shard_index, sniff_file

__all__ = [
    "read_container",
    "read_embedded",
    "read_hidden_pickles",
    "read_shard_index",
    "sniff_file",
]
