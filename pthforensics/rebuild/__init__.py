"""The ``rebuild`` stage: the guessed model as ``torch.nn`` modules, and a trace through it.

The pipeline calls the two stage functions in this order::

    module, note = rebuild.rebuild_sequential(groups, guesses, input_guess, state)
    result = rebuild.trace_model(module, input_guess)

Inside: ``plan``/``steps``/``state`` (the chain walk, pure), ``parts`` (whole model, prefix
or head, pure), ``modules`` and ``build`` (torch.nn modules on the meta device), ``trace``
(forward hooks).  torch is imported lazily inside the functions: importing this package
does not import torch.  ``rebuild`` imports ``infer`` (through its ``__init__``), never
the reverse.
"""

from __future__ import annotations

from .build import REBUILD_ATTR, rebuild_sequential
from .trace import trace_model

__all__ = ["REBUILD_ATTR", "rebuild_sequential", "trace_model"]
