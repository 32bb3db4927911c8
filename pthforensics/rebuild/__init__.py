"""The ``rebuild`` stage: the guessed model as ``torch.nn`` modules, and a trace through it.

The pipeline calls the two stage functions in this order::

    module, note = rebuild.rebuild_sequential(groups, guesses, input_guess, state)
    result = rebuild.trace_model(module, input_guess)

Inside: ``plan``/``steps``/``state`` (the chain walk, pure), ``parts`` (whole model, prefix
or head, pure), ``modules`` and ``build`` (torch.nn modules on the meta device), ``trace``
(forward hooks), ``library`` (the named library class itself, when it is installed:
``trace_library`` before the generic rebuild).  torch is imported lazily inside the
functions: importing this package does not import torch.  ``rebuild`` imports ``infer``
(through its ``__init__``), never the reverse.
"""

from __future__ import annotations

from .build import REBUILD_ATTR, rebuild_sequential
from .library import LibraryTrace, trace_library
from .trace import trace_model

__all__ = ["REBUILD_ATTR", "LibraryTrace", "rebuild_sequential", "trace_library", "trace_model"]
