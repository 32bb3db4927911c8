"""The name a loader really imports for a global the stream names.

``find_class`` maps Python 2 names to Python 3 ones (``_compat_pickle``) only while the
protocol in effect is below 3 (``Lib/pickle.py``, ``Modules/_pickle.c``
``_pickle_Unpickler_find_class_impl``: ``if (self->proto < 3 && self->fix_imports)``), and
torch's zip loader renames the module ``torch.tensor`` to ``torch._tensor``
(``torch/serialization.py::_load``, ``load_module_mapping``).  A dotted name is an
attribute walk from protocol 4 on, and a single ``getattr`` of the whole dotted text
(which cannot succeed) below it.
"""

from __future__ import annotations

import _compat_pickle

__all__ = ["TORCH_MODULE_MAPPING", "WALK_PROTOCOL", "loader_name"]

#: ``torch/serialization.py::_load``'s ``load_module_mapping``.
TORCH_MODULE_MAPPING = {"torch.tensor": "torch._tensor"}
#: From this protocol on, ``find_class`` walks a dotted name attribute by attribute.
WALK_PROTOCOL = 4
#: Below this protocol, ``find_class`` maps Python 2 names.
_COMPAT_BELOW = 3


def loader_name(module: str, name: str, proto: int = WALK_PROTOCOL) -> tuple[str, str]:
    """(module, name) as ``torch.load`` resolves them under protocol ``proto``."""
    if proto < _COMPAT_BELOW:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return TORCH_MODULE_MAPPING.get(module, module), name
