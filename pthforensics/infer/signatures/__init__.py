"""Name the architecture of a state_dict from library signatures, torch-free.

``name_architecture(state, path=...)`` returns an
:class:`~pthforensics.core.architecture.Architecture`: the torchvision/timm/transformers
constructor whose layout explains every tensor (``named``), the closest one and why not
(``family``), or ``unknown``; with the recovered constructor arguments, the family's input
convention and a script that loads the file strictly.

The signatures (``signatures.zip``, built by ``tools/signatures/build.py`` from the
libraries' own definitions on the meta device) are read on first use, never on import and
never on the ``scan`` path.
"""

from __future__ import annotations

from ._name import name_architecture
from ._store import load_store

__all__ = ["load_store", "name_architecture"]
