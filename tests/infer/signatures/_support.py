"""Helpers of the signature tests: files read the way the pipeline reads them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pthforensics.container.reader import read_container
from pthforensics.core import StateDict, TensorRecord
from pthforensics.core.architecture import Architecture
from pthforensics.infer.signatures import name_architecture
from pthforensics.pipeline import scan_container
from tests._helpers import CORPUS

LIBRARY = CORPUS / "models" / "library"


def name_file(path: Path) -> tuple[Architecture, StateDict]:
    """Read ``path`` as ``inspect`` does and name its main state_dict."""
    container = read_container(str(path))
    _, checkpoint = scan_container(container)
    assert checkpoint is not None and checkpoint.main is not None
    arch = name_architecture(
        checkpoint.main, path=str(path), container_format=container.format, kind=checkpoint.kind
    )
    return arch, checkpoint.main


def state_of(items: list[tuple[str, tuple[int, ...]]], dtype: str = "float32") -> StateDict:
    """A state_dict record of (key, shape) pairs."""
    return StateDict("", tuple(TensorRecord(k, s, dtype) for k, s in items))


def edited(
    state: StateDict, keep: object = None, shapes: dict[str, tuple[int, ...]] | None = None
) -> StateDict:
    """``state`` with keys dropped (``keep(key) -> bool``) or shapes replaced."""
    tensors = [t for t in state.tensors if keep is None or keep(t.key)]  # type: ignore[operator]
    if shapes:
        tensors = [t._replace(shape=shapes.get(t.key, t.shape)) for t in tensors]
    return replace(state, tensors=tuple(tensors))


def labels(arch: Architecture) -> set[str]:
    """``library:name`` of the answer and of every same-layout constructor."""
    out = {f"{arch.library}:{arch.name}"}
    out.update(label.split("(")[0] for label in arch.same_layout)
    return out
