"""The checkpoint in an object tree: its state_dicts (the model's first), tensors, metadata.

:func:`extract_checkpoint` walks the stub tree (:mod:`.walk`), ranks the state_dict
candidates (the root, then entries named like the model's weights: ``state_dict``,
``model``, Lightning and EMA layouts; optimizer state last) and strips the prefixes
wrappers add to every key (DataParallel/DDP ``module.``, ``torch.compile``'s
``_orig_mod.``, Lightning's ``model.``...).  A safetensors/legacy-tar header's tensors are
the state_dict themselves.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pthforensics.core import (
    DEFAULT_LIMITS,
    Checkpoint,
    CheckpointKind,
    Container,
    Finding,
    Limits,
    Location,
    Severity,
    StateDict,
)

from .tensors import rekey
from .walk import TreeWalk, mapping_items, module_versions, walk_tree

__all__ = ["extract_checkpoint", "strip_prefixes"]

_T = TypeVar("_T")

#: Names of checkpoint entries that hold the model's own weights, in order of preference.
_MAIN_NAMES = (
    "state_dict",
    "model_state_dict",
    "model_state",
    "model",
    "module",
    "net",
    "network",
    "weights",
    "params",
    "model_dict",
    "generator",
    "student",
)
_NOT_MODEL = (
    "optimizer",
    "optim",
    "scheduler",
    "lr_scheduler",
    "scaler",
    "amp",
    "optimizer_states",
    "lr_schedulers",
    "callbacks",
    "loops",
    "rng",
)
#: Prefixes added by wrappers: DataParallel/DDP, torch.compile, Lightning, EMA helpers.
_WRAPPER_PREFIXES = (
    "module.",
    "_orig_mod.",
    "model.",
    "ema_model.",
    "model_ema.",
    "ema.",
    "net.",
    "network.",
    "_forward_module.",
    "_model.",
)

#: Candidate tiers of :func:`_rank`, best first.
_TIER_ROOT = 0
_TIER_NAMED = 1
_TIER_OTHER = 2
_TIER_NOT_MODEL = 3
#: Dotted depth at which a :data:`_MAIN_NAMES` entry still counts (``model.state_dict``).
_MAX_MAIN_DEPTH = 2
#: Position of an entry not in :data:`_MAIN_NAMES` (after all of them).
_UNNAMED = 99


def extract_checkpoint(
    root: Any, container: Container, *, limits: Limits = DEFAULT_LIMITS
) -> tuple[Checkpoint, tuple[Finding, ...]]:
    """Tensors, state_dicts and metadata of the object tree ``root`` (or of a header)."""
    header = {t.key: t for t in container.header_tensors}
    if root is None and header:
        state = StateDict("", container.header_tensors)
        return Checkpoint(
            (strip_prefixes(state),),
            container.header_tensors,
            container.header_metadata,
            CheckpointKind.STATE_DICT,
        ), ()
    walk = TreeWalk(limits, header)
    walk_tree(root, walk)
    if not walk.candidates and mapping_items(root) == []:
        walk.candidates.append(StateDict("", (), (), module_versions(root)))
    candidates = sorted(walk.candidates, key=_rank)
    mains = tuple(strip_prefixes(c) for c in candidates)
    kind = CheckpointKind.OTHER
    if mains:
        kind = (
            CheckpointKind.FULL_MODEL
            if mains[0].class_names
            else (CheckpointKind.STATE_DICT if mains[0].path == "" else CheckpointKind.WRAPPED)
        )
    elif walk.tensors:
        kind = CheckpointKind.TENSOR
    findings: list[Finding] = []
    if walk.capped:
        findings.append(
            Finding(
                "nesting-depth-capped",
                Severity.INFO,
                Location(),
                f"the object tree nests deeper than {limits.max_depth} levels; "
                "deeper values were not examined",
            )
        )
    if len(walk.tensors) > limits.max_tensors:
        findings.append(
            Finding(
                "too-many-tensors",
                Severity.SUSPICIOUS,
                Location(),
                f"{len(walk.tensors)} tensors (limit {limits.max_tensors})",
            )
        )
    return Checkpoint(mains, tuple(walk.tensors), tuple(walk.metadata), kind), tuple(findings)


def strip_prefixes(state: StateDict) -> StateDict:
    """Remove wrapper prefixes shared by every key (``module.``, ``_orig_mod.``...)."""
    tensors = state.tensors
    stripped: list[str] = []
    versions = state.module_versions
    classes = state.class_names
    attributes = state.module_attributes
    changed = True
    while changed and tensors:
        changed = False
        for prefix in _WRAPPER_PREFIXES:
            if all(t.key.startswith(prefix) for t in tensors):
                tensors = tuple(rekey(t, t.key[len(prefix) :]) for t in tensors)
                stripped.append(prefix)
                if versions is not None:
                    versions = _strip_paths(versions, prefix)
                classes = _strip_paths(classes, prefix)
                attributes = _strip_paths(attributes, prefix)
                changed = True
                break
    return StateDict(
        state.path,
        tensors,
        (*state.stripped_prefixes, *stripped),
        versions,
        classes,
        attributes,
    )


def _strip_paths(entries: tuple[tuple[str, _T], ...], prefix: str) -> tuple[tuple[str, _T], ...]:
    """Per-module entries under ``prefix`` with it removed (the wrapper itself becomes the
    root ``''``); entries outside the wrapper are dropped."""
    base = prefix[:-1]
    return tuple(
        (p[len(prefix) :] if p.startswith(prefix) else "", v)
        for p, v in entries
        if p == base or p.startswith(prefix)
    )


def _rank(state: StateDict) -> tuple[int, int, int]:
    """Sort key of a state_dict candidate: the root first, then entries named like the
    model's weights (shallow, in :data:`_MAIN_NAMES` order, EMA copies after), then the
    rest, optimizer and scheduler state last; more tensors first within a tier."""
    segments = state.path.split(".") if state.path else []
    size = -len(state.tensors)
    if any(s in _NOT_MODEL or s.startswith("optimizer") for s in segments):
        return (_TIER_NOT_MODEL, 0, size)
    leaf = segments[-1] if segments else ""
    is_ema = "ema" in leaf.lower() or "average" in leaf.lower()
    if not segments:
        return (_TIER_ROOT, 0, size)
    if leaf in _MAIN_NAMES and len(segments) <= _MAX_MAIN_DEPTH:
        return (_TIER_OTHER if is_ema else _TIER_NAMED, _MAIN_NAMES.index(leaf), size)
    return (_TIER_OTHER, _UNNAMED + (1 if is_ema else 0), size)
