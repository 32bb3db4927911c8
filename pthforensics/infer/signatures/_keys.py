"""State_dict keys as templates: the index-free skeleton a signature is looked up by.

A key's purely numeric segments are the indices of ``nn.Sequential``/``nn.ModuleList``
children (``torch/nn/modules/container.py`` names them ``str(i)``).  Replacing them by ``#``
gives the key's *template* (``layer1.0.conv1.weight`` -> ``layer1.#.conv1.weight``) and its
index tuple ``(0,)``.  The sorted set of templates is the *skeleton*: resnet50 and resnet101
share one (they differ in how many indices each template has), a replaced head does not
change it, and safetensors' sorted keys give the same skeleton as ``torch.save``'s
registration order.

This module is shared with the build script (``tools/signatures``), so the data it writes
and the matcher agree on every template: it imports only the torch vocabulary of ``core``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterable
from typing import Any

from pthforensics.core import vocab

__all__ = [
    "INDEX",
    "VOLATILE_LEAVES",
    "compact_index",
    "core_templates",
    "index_positions",
    "index_tuples",
    "is_volatile",
    "skeleton_hash",
    "split_key",
    "template_of",
]

#: What stands for an index segment in a template.
INDEX = "#"

#: Buffers that a library registers as persistent in one version and non-persistent (or not
#: at all) in another, so a file of another version has them or lacks them: BatchNorm's
#: counter (absent before torch 0.4.1), transformers' ``position_ids``/``token_type_ids``
#: (persistent=False since transformers 4.31), rotary ``inv_freq`` and caches, GPT-2's
#: ``masked_bias``, Swin's relative-position index and shifted-window mask (timm made them
#: non-persistent in 0.9).  Each is one of :data:`BUFFER_LEAVES`.
VOLATILE_LEAVES = frozenset(
    {
        "num_batches_tracked",
        "position_ids",
        "token_type_ids",
        "inv_freq",
        "masked_bias",
        "causal_mask",
        "cos_cached",
        "sin_cached",
        "relative_position_index",
        "relative_coords_table",
        "attn_mask",
        "_float_tensor",
    }
)
assert vocab.BUFFER_LEAVES.keys() >= VOLATILE_LEAVES

#: Bytes of the skeleton digest kept (hex: twice as many characters).
_DIGEST_BYTES = 8


#: A whole key segment made of ASCII digits.
_INDEX_SEGMENT = re.compile(r"(?<![^.])[0-9]+(?![^.])")


def split_key(key: str) -> tuple[str, tuple[int, ...]]:
    """``layer1.0.conv1.weight`` -> (``layer1.#.conv1.weight``, ``(0,)``)."""
    found = _INDEX_SEGMENT.findall(key)
    if not found:
        return key, ()
    return _INDEX_SEGMENT.sub(INDEX, key), tuple(map(int, found))


def compact_index(index: list[list[int]]) -> Any:
    """A template's index tuples, stored as the values of each position when they are
    every combination of them (``layers.#.experts.#``: 61 x 256 tuples become two ranges)::

        {"p": [position values, ...]}   each ``[start, stop]`` when contiguous, else a list

    and as the list of tuples otherwise."""
    tuples = {tuple(ix) for ix in index}
    if not index or len(index[0]) == 0 or len(tuples) != len(index):
        return index
    values = [sorted({ix[p] for ix in index}) for p in range(len(index[0]))]
    if math.prod(len(v) for v in values) != len(tuples):
        return index
    return {"p": [[v[0], v[-1] + 1] if v == list(range(v[0], v[-1] + 1)) else [v] for v in values]}


def index_positions(index: Any) -> list[list[int]]:
    """The values each index position takes (either stored form)."""
    if isinstance(index, dict):
        return [spec[0] if len(spec) == 1 else list(range(*spec)) for spec in index["p"]]
    if not index:
        return []
    return [sorted({ix[p] for ix in index}) for p in range(len(index[0]))]


def index_tuples(index: Any) -> list[tuple[int, ...]]:
    """Every index tuple (either stored form), in order."""
    if isinstance(index, dict):
        return list(itertools.product(*index_positions(index)))
    return [tuple(ix) for ix in index]


def template_of(key: str) -> str:
    """The key with its index segments replaced by ``#``."""
    return split_key(key)[0]


def skeleton_hash(templates: Iterable[str]) -> str:
    """Order-free digest of a set of templates (the signature index key)."""
    text = "\n".join(sorted(set(templates)))
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST_BYTES).hexdigest()


def is_volatile(template: str, templates: frozenset[str] | set[str]) -> bool:
    """Whether a file may have or lack this buffer depending on library versions.

    Besides :data:`VOLATILE_LEAVES`, a ``bias`` with no ``weight`` beside it directly in an
    attention module is the causal-mask buffer of GPT-2, GPT-J and GPT-Neo (``attn.bias``,
    persistent before transformers 4.31), not a layer's bias."""
    module, _, leaf = template.rpartition(".")
    if leaf in VOLATILE_LEAVES:
        return True
    return (
        leaf == "bias"
        and f"{module}.weight" not in templates
        and module.endswith(("attn", "attention"))
    )


def core_templates(templates: Iterable[str]) -> frozenset[str]:
    """The templates without the volatile buffers: what every version of a layout has."""
    full = frozenset(templates)
    return frozenset(t for t in full if not is_volatile(t, full))
