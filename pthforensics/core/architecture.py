"""The architecture a checkpoint's layout names (contract: JSON ``architecture``).

``Architecture`` says which library constructor built the state_dict (``named``), which
one it resembles and why it is not that one (``family``), or that nothing resembles it
(``unknown``), with the recovered constructor arguments, the family's documented input and
a script that loads the file.  Free-form mappings (``config``, ``input_convention``) are
stored as ``(key, value)`` pairs, sub-configurations under dotted keys
(``text_config.hidden_size``), so the record is deeply immutable; :meth:`to_dict` nests
them back.  Imports nothing from the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum, unique
from typing import Any

__all__ = ["HEAD_REPLACED", "Architecture", "ArchitectureStatus", "freeze", "thaw"]


@unique
class ArchitectureStatus(StrEnum):
    """How sure the name is (contract: JSON ``architecture.status``)."""

    NAMED = "named"
    """One constructor (or one set of identical layouts) explains every tensor."""
    FAMILY = "family"
    """The layout resembles a library constructor but is not one of them."""
    UNKNOWN = "unknown"
    """Nothing in the signatures resembles the layout."""


Pairs = tuple[tuple[str, Any], ...]

#: The evidence sentence of a replaced head: ``num_classes=10: {HEAD_REPLACED} (default
#: 1000)``; the one-line summary marks that argument ``(head replaced)``.
HEAD_REPLACED = "the head was replaced"

#: How the one-line summary writes a shape: 3, 224, 224 joined by the multiplication sign.
TIMES = "\N{MULTIPLICATION SIGN}"

#: Normalisations known by name: (mean, std) -> name (torchvision/timm constants
#: ``IMAGENET_DEFAULT_MEAN``/``STD``, ``OPENAI_CLIP_MEAN``/``STD``, ``IMAGENET_INCEPTION_*``).
NORMALISATIONS = {
    ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)): "ImageNet mean/std",
    ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)): "CLIP mean/std",
    ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)): "mean/std 0.5",
}


def freeze(mapping: Mapping[str, Any], prefix: str = "") -> Pairs:
    """A (nested) mapping as ``(dotted key, value)`` pairs; lists (at any depth) become
    tuples."""
    out: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out.extend(freeze(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", _frozen(value)))
    return tuple(out)


def _frozen(value: Any) -> Any:
    """``value`` with every list (at any depth) a tuple."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    """``value`` with every tuple (at any depth) a list, as JSON reads it back."""
    if isinstance(value, list | tuple):
        return [_thawed(v) for v in value]
    return value


def thaw(pairs: Pairs) -> dict[str, Any]:
    """The nested dict of :func:`freeze`'s pairs (tuples, at any depth, become lists)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        *parents, leaf = key.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = _thawed(value)
    return out


@dataclass(frozen=True, slots=True)
class Architecture:
    """What built the state_dict, with the arguments and the code to load it."""

    status: ArchitectureStatus
    """``named``, ``family`` or ``unknown``."""
    library: str | None = None
    """``torchvision``, ``timm``, ``transformers``... (for ``family``: of the closest)."""
    name: str | None = None
    """The library's constructor (``resnet50``, ``LlamaForCausalLM``); for ``family`` the
    closest one."""
    same_layout: tuple[str, ...] = ()
    """Other constructors whose layout explains the file equally (``library:name``)."""
    config: Pairs = ()
    """Recovered constructor arguments (``num_classes``, ``hidden_size``...)."""
    input_convention: Pairs | None = None
    """The family's documented input (size, mean/std, input names), when known."""
    confidence: float = 0.0
    """0..1."""
    evidence: tuple[str, ...] = ()
    """Why: the layout matched, what was tolerated, why it is not a library model."""
    code: str | None = None
    """A runnable script that builds the model and loads this file strictly."""

    def config_dict(self) -> dict[str, Any]:
        """``config`` as a nested dict."""
        return thaw(self.config)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (contract: ``architecture``)."""
        return {
            "status": str(self.status),
            "library": self.library,
            "name": self.name,
            "same_layout": list(self.same_layout),
            "config": thaw(self.config),
            "input_convention": (
                None if self.input_convention is None else thaw(self.input_convention)
            ),
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "code": self.code,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """The record back from :meth:`to_dict`'s form."""
        convention = data.get("input_convention")
        return cls(
            status=ArchitectureStatus(data["status"]),
            library=data.get("library"),
            name=data.get("name"),
            same_layout=tuple(data.get("same_layout") or ()),
            config=freeze(data.get("config") or {}),
            input_convention=None if convention is None else freeze(convention),
            confidence=float(data.get("confidence", 0.0)),
            evidence=tuple(data.get("evidence") or ()),
            code=data.get("code"),
        )

    def __str__(self) -> str:
        """One line for the text report: ``torchvision resnet50 · num_classes=10 (head
        replaced) · input 3x224x224, ImageNet mean/std`` (with multiplication signs); for a
        family the closest constructor and the first reason it is not that one."""
        if self.status is ArchitectureStatus.UNKNOWN or self.name is None:
            return "architecture unknown"
        head = f"{self.library} {self.name}"
        if self.status is ArchitectureStatus.FAMILY:
            return " · ".join([f"{head}-like (not named)", *self.evidence[:1]])
        parts = [head]
        shown = [self._argument(k, v) for k, v in self.config if not isinstance(v, tuple)][:4]
        if shown:
            parts.append(", ".join(shown))
        convention = dict(self.input_convention or ())
        if "shape" in convention:
            shape = TIMES.join(str(d) for d in convention["shape"][1:])
            text = f"input {shape}"
            if "mean" in convention:
                pair = (tuple(convention["mean"]), tuple(convention.get("std", ())))
                known = NORMALISATIONS.get(pair)
                text += f", {known}" if known else f", mean {list(pair[0])} std {list(pair[1])}"
            parts.append(text)
        elif "main_input" in convention:
            parts.append(f"input {convention['main_input']}")
        return " · ".join(parts)

    def _argument(self, key: str, value: Any) -> str:
        """``key=value``, marked ``(head replaced)`` when the evidence says so."""
        text = f"{key}={value}"
        replaced = any(e.startswith(f"{text}: {HEAD_REPLACED}") for e in self.evidence)
        return f"{text} (head replaced)" if replaced else text
