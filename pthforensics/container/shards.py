"""The index of a sharded checkpoint: which shard file holds which tensor.

``model.safetensors.index.json`` and ``pytorch_model.bin.index.json`` (written by
transformers' ``save_pretrained`` and huggingface_hub's ``split_torch_state_dict_into_
shards``) map each tensor name to a shard file in their ``weight_map``.
"""

from __future__ import annotations

import json

from pthforensics.core import ContainerError, LimitExceeded

from .remote import StorageOptions
from .source import open_source

__all__ = ["MAX_INDEX_BYTES", "read_shard_index"]

#: Largest index read (an index of 100 000 tensors is a few MiB).
MAX_INDEX_BYTES = 64 << 20


def read_shard_index(
    path: str, max_bytes: int = MAX_INDEX_BYTES, *, storage: StorageOptions = ()
) -> dict[str, str]:
    """The ``weight_map`` (tensor name -> shard file name) of a sharded-model index
    (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``); ``path`` may be
    a URL (``storage``: its options, see :mod:`.remote`)."""
    try:
        with open_source(path, storage=storage) as source:
            if source.size > max_bytes:
                raise LimitExceeded("index bytes", max_bytes, source.size, path=path)
            doc = json.loads(source.file.read(source.size).decode("utf-8"))
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
