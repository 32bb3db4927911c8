"""The ``rebuild`` stage: the guessed model as ``torch.nn`` modules, and traces through it.

The pipeline calls one stage function::

    result = rebuild.trace_input(groups, guesses, input_guess, state)

which rebuilds the model under every surviving input hypothesis (``rebuild_model``) and
traces each (``trace_model``).  Inside: ``tree``/``values``/``context``/``specs`` (the
records and the model as the planner sees it), ``walk``/``wiring``/``accept``/``traverse``
(which value each module reads, pure), ``program`` (the whole model, or its largest
verifiable part, pure), ``modules``/``ops``/``build`` (torch.nn modules on the meta
device), ``trace``/``verdict`` (forward hooks, and what a run shows).  torch is imported
lazily inside the functions: importing this package does not import torch.  ``rebuild``
imports ``infer`` (through its ``__init__``), never the reverse.
"""

from __future__ import annotations

from .build import REBUILD_ATTR, rebuild_model
from .trace import trace_input, trace_model

__all__ = ["REBUILD_ATTR", "rebuild_model", "trace_input", "trace_model"]
