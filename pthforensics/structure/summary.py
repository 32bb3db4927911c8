"""Counts of a state_dict for the report (contract: JSON ``tensors``).

Tensors that share a storage view (tied weights saved twice) count once in elements and
bytes; parameters are the learnable tensors as :func:`pthforensics.core.vocab.learnable_keys`
answers it (buffers excluded, as torchinfo counts "Total params").
"""

from __future__ import annotations

import math
import operator
from collections import Counter

from pthforensics.core import TensorRecord, TensorSummary, vocab

__all__ = ["summarize"]

_SHAPE = operator.attrgetter("shape")
_DTYPE = operator.attrgetter("dtype")
_ITEMSIZE_OF = operator.attrgetter("itemsize")


def summarize(tensors: tuple[TensorRecord, ...]) -> TensorSummary:
    """Counts of one state_dict for the report; shared storages are counted once.

    Column-wise (``map`` over the records' fields runs at C speed): this runs once per file
    over every tensor, thousands per file in a batch.
    """
    dtypes = Counter(map(_DTYPE, tensors))
    views = [
        (t.storage_key, t.storage_offset, t.shape) for t in tensors if t.storage_key is not None
    ]
    if len(set(views)) != len(views):  # the same view saved twice (tied weights)
        seen: set[tuple[str | None, int, tuple[int, ...]]] = set()
        unique = []
        for t in tensors:
            view = (t.storage_key, t.storage_offset, t.shape)
            if t.storage_key is None or view not in seen:
                seen.add(view)
                unique.append(t)
        tensors = tuple(unique)
    numels = list(map(math.prod, map(_SHAPE, tensors)))
    total_bytes = sum(map(operator.mul, numels, map(_ITEMSIZE_OF, tensors)))
    learnable = vocab.learnable_keys(tensors)
    params = sum(n for n, t in zip(numels, tensors, strict=True) if t.key in learnable)
    trainable = None
    if any(t.is_parameter for t in tensors):
        trainable = sum(
            n
            for n, t in zip(numels, tensors, strict=True)
            if t.key in learnable and t.requires_grad
        )
    return TensorSummary(
        sum(dtypes.values()),
        params,
        total_bytes,
        tuple(sorted(dtypes.items())),
        buffers=sum(numels) - params,
        trainable=trainable,
    )
