"""The index of a sharded checkpoint: which shard file holds which tensor.

``model.safetensors.index.json`` and ``pytorch_model.bin.index.json`` (written by
transformers' ``save_pretrained`` and huggingface_hub's ``split_torch_state_dict_into_
shards``) map each tensor name to a shard file in their ``weight_map``.
"""

from __future__ import annotations

import json
import os

from pthforensics.core import ContainerError, LimitExceeded

__all__ = ["MAX_INDEX_BYTES", "read_shard_index"]

#: Largest index read (an index of 100 000 tensors is a few MiB).
MAX_INDEX_BYTES = 64 << 20


def read_shard_index(path: str, max_bytes: int = MAX_INDEX_BYTES) -> dict[str, str]:
    """The ``weight_map`` (tensor name -> shard file name) of a sharded-model index
    (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``)."""
    try:
        if os.path.getsize(path) > max_bytes:
            raise LimitExceeded("index bytes", max_bytes, os.path.getsize(path), path=path)
        with open(path, "rb") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except OSError as exc:
        raise ContainerError(f"cannot read shard index ({exc.strerror or exc})", path=path) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContainerError(f"shard index is not valid JSON ({exc})", path=path) from exc
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise ContainerError("shard index has no weight_map of tensor name -> file", path=path)
    return weight_map
