"""The structure stage: what the stub object tree holds, and how its tensors group.

Stage functions: :func:`extract_checkpoint` (stub tree -> :class:`~pthforensics.core.
Checkpoint`: state_dicts, tensors, metadata), :func:`check_integrity` (tensors against the
storage index), :func:`summarize` (the report's tensor counts), and :func:`group_layers`
(a state_dict -> :class:`~pthforensics.core.LayerGroup` per module, in registration
order).  :func:`unreferenced_storages` names storages no tensor uses (the pipeline has
them re-read for hidden pickles); :func:`module_and_leaf` splits a key as ``group_layers``
does.

Layout: :mod:`.tensors` (recorded rebuild calls -> tensor records), :mod:`.walk` (the
object-tree walk), :mod:`.checkpoint` (ranking and wrapper prefixes), :mod:`.integrity`,
:mod:`.summary`, :mod:`.layers` and :mod:`.order` (registration order of sorted keys).
Imports ``core`` and ``safety`` (the stub records) only; never reads the file.
"""

from __future__ import annotations

from .checkpoint import extract_checkpoint, strip_prefixes
from .integrity import check_integrity, unreferenced_storages
from .layers import group_layers, module_and_leaf
from .order import natural_module_key
from .summary import summarize

__all__ = [
    "check_integrity",
    "extract_checkpoint",
    "group_layers",
    "module_and_leaf",
    "natural_module_key",
    "strip_prefixes",
    "summarize",
    "unreferenced_storages",
]
