"""What a checkpoint says about how it was made, beside the weights: where the state_dict
sat, the epoch and step, the training framework and its version, the optimizer state.

Read from the checkpoint's metadata (the scalar values outside the state_dicts, by key
path) and the paths of its tensors, never from the tensors' values.  The keys are those
the savers write:

* ``torch.optim.Optimizer.state_dict()`` is ``{"state": {i: {...}}, "param_groups":
  [{...}]}``; each optimizer's ``defaults`` name its hyper-parameters (``betas`` for the
  Adam family, ``momentum``/``nesterov`` for SGD...: ``torch/optim/*.py``).
* Lightning's ``dump_checkpoint`` writes ``epoch``, ``global_step`` and
  ``pytorch-lightning_version``; MMCV/MMEngine a ``meta`` dict with ``epoch``, ``iter``
  and ``mmcv_version``/``mmengine_version``; DeepSpeed ``ds_version``; timm's train.py
  ``arch`` with ``state_dict_ema``; Ultralytics ``train_args``; fairseq
  ``last_optimizer_state``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pthforensics.core import Checkpoint, CheckpointContext, OptimizerInfo

__all__ = ["checkpoint_context"]

#: Where a training loop's counters sit: the root, or MMCV/MMEngine's ``meta``.
_COUNTER_PREFIXES = ("", "meta.")
_EPOCH_KEYS = ("epoch", "current_epoch", "cur_epoch")
_STEP_KEYS = ("global_step", "step", "iteration", "iter", "num_updates", "updates")
#: Key (or key path) -> framework whose saver writes it.
_FRAMEWORK_KEYS = (
    ("pytorch-lightning_version", "pytorch-lightning"),
    ("lightning_version", "pytorch-lightning"),
    ("meta.mmengine_version", "mmengine"),
    ("meta.mmcv_version", "mmcv"),
    ("ds_version", "deepspeed"),
    ("last_optimizer_state", "fairseq"),
    ("train_args", "ultralytics"),
    ("state_dict_ema", "timm"),
)
#: Hyper-parameter names of an optimizer's param_groups -> its family (torch/optim).
_OPTIMIZER_FAMILIES = (
    (("betas",), "adam"),
    (("momentum", "nesterov"), "sgd"),
    (("alpha", "centered"), "rmsprop"),
    (("lr_decay",), "adagrad"),
    (("rho",), "adadelta"),
    (("etas", "step_sizes"), "rprop"),
    (("lambd", "t0"), "asgd"),
    (("history_size", "line_search_fn"), "lbfgs"),
)
_VERSION = re.compile(r"^v?\d+(\.\d+)*([.+-]?[0-9A-Za-z.+-]*)?$")
_INT = re.compile(r"^-?\d+(\.0+)?$")


def checkpoint_context(checkpoint: Checkpoint) -> CheckpointContext:
    """The context of ``checkpoint`` (see the module docstring for the keys read)."""
    metadata = dict(checkpoint.metadata)
    main = checkpoint.main
    evidence: list[str] = []
    epoch = _counter(metadata, _EPOCH_KEYS, "epoch", evidence)
    step = _counter(metadata, _STEP_KEYS, "step", evidence)
    others = tuple(s.path for s in checkpoint.state_dicts[1:])
    # On the scan's path: what follows reads the metadata and the state_dicts' paths, not
    # the (thousands of) tensor keys, unless an optimizer's param_groups were found.
    framework = _framework({*metadata, *(k.partition(".")[0] for k in metadata), *others})
    if framework is not None:
        evidence.append(f"framework from {framework[0]!r}")
    versions = tuple(
        (k, v) for k, v in metadata.items() if k.lower().endswith("version") and _VERSION.match(v)
    )
    optimizer = _optimizer(checkpoint, others, metadata, evidence)
    return CheckpointContext(
        kind=checkpoint.kind.value,
        wrapper=(main.path or None) if main is not None else None,
        epoch=epoch,
        step=step,
        framework=framework[1] if framework is not None else None,
        versions=versions,
        optimizer=optimizer,
        prefixes_stripped=main.stripped_prefixes if main is not None else (),
        others=tuple(p for p in others if optimizer is None or not _under(p, optimizer.path)),
        evidence=tuple(evidence),
    )


def _counter(
    metadata: dict[str, str], names: tuple[str, ...], what: str, evidence: list[str]
) -> int | None:
    for name in names:
        for prefix in _COUNTER_PREFIXES:
            value = metadata.get(prefix + name)
            if value is not None and _INT.match(value.strip()):
                evidence.append(f"{what} from {prefix + name!r}")
                return int(float(value))
    return None


def _framework(present: set[str]) -> tuple[str, str] | None:
    """The first ``(key, framework)`` of the table whose key is among the key paths and
    top-level names ``present``."""
    return next(((k, f) for k, f in _FRAMEWORK_KEYS if k in present), None)


def _optimizer(
    checkpoint: Checkpoint, others: Sequence[str], metadata: dict[str, str], evidence: list[str]
) -> OptimizerInfo | None:
    """The first ``torch.optim`` state found: a key path with a ``param_groups`` part (its
    hyper-parameters are scalars: metadata), and the per-parameter states under it."""
    path: str | None = None
    groups: set[str] = set()
    states: set[str] = set()
    names: set[str] = set()
    for key in metadata:
        if "param_groups" not in key:
            continue
        parts = key.split(".")
        if "param_groups" in parts:
            at = parts.index("param_groups")
            here = ".".join(parts[:at])
            if path is None:
                path = here
            if here == path and at + 1 < len(parts):
                groups.add(parts[at + 1])
                if at + 2 < len(parts):
                    names.add(parts[at + 2])
    if path is None:
        return None
    state = f"{path}.state." if path else "state."
    for key in (*metadata, *others, *(t.key for t in checkpoint.tensors)):
        if key.startswith(state):
            states.add(key[len(state) :].split(".", 1)[0])
    family = next((f for needs, f in _OPTIMIZER_FAMILIES if set(needs) <= names), None)
    evidence.append(f"optimizer state at {path or '<root>'!r} (param_groups)")
    return OptimizerInfo(path or "", family, len(groups), len(states))


def _under(key: str, path: str) -> bool:
    return not path or key == path or key.startswith(path + ".")
