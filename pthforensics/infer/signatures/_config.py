"""Recovered constructor arguments and the family's input convention.

torchvision/timm: the arguments the layout shows (``num_classes``, ``in_chans``) and the
variant's fixed ones (``aux_loss=True``).  transformers: every shape-bearing config value
(``hidden_size``, ``num_hidden_layers``, ``num_key_value_heads``, ``vocab_size``...), the
head's ``num_labels``, whether the output embedding is tied to the input one, and the
attention heads, which no weight shape shows on its own (``query`` is ``hidden x hidden``
for any head count): they keep the default head width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pthforensics.core import HEAD_REPLACED

from ._keys import split_key
from ._match import FileView, Match
from ._store import Entry

__all__ = ["Recovered", "input_convention", "recover_config"]

#: pretrained_cfg entries that describe the pretrained head, not the input.
_NOT_INPUT = frozenset({"num_classes", "classifier", "first_conv"})


@dataclass(frozen=True, slots=True)
class Recovered:
    """Constructor arguments, what the code must pass, and the notes behind them."""

    config: dict[str, Any]
    """What the report shows (``architecture.config``)."""
    kwargs: dict[str, Any]
    """What the generated code passes to the constructor or config class."""
    notes: tuple[str, ...]
    """Evidence sentences (assumptions, a replaced head, tied embeddings)."""


def recover_config(entry: Entry, info: dict[str, Any], match: Match, view: FileView) -> Recovered:
    """The arguments that rebuild the file's layout with ``entry``'s constructor."""
    if entry.library == "transformers":
        return _transformers(entry, info, match, view)
    return _vision(entry, info, match)


def _vision(entry: Entry, info: dict[str, Any], match: Match) -> Recovered:
    kwargs: dict[str, Any] = dict(entry.kwargs)  # weights=None, weights_backbone=None included
    notes: list[str] = []
    default = dict(zip(_param_names(match), entry.defaults, strict=False))
    for name, value in match.values.items():
        if name == "in_chans" and value == default.get(name):
            continue
        kwargs[name] = value
        if name == "num_classes" and value != default.get(name) and not match.head_removed:
            notes.append(f"num_classes={value}: {HEAD_REPLACED} (default {default[name]})")
    if match.head_removed:
        if entry.library == "timm":
            kwargs["num_classes"] = 0
        else:
            kwargs.pop("num_classes", None)
        modules = sorted({t.rsplit(".", 1)[0] for t in match.head_removed})
        notes.append(f"the classification head ({', '.join(modules)}) was removed")
    config = {k: v for k, v in kwargs.items() if k not in ("weights", "weights_backbone")}
    if match.head_removed and entry.library != "timm":
        config["head_removed"] = sorted({t.rsplit(".", 1)[0] for t in match.head_removed})
    return Recovered(config, kwargs, tuple(notes))


def _param_names(match: Match) -> list[str]:
    return list(match.values)


def _transformers(entry: Entry, info: dict[str, Any], match: Match, view: FileView) -> Recovered:
    kwargs = dict(match.values)
    notes: list[str] = []
    heads, hidden = info.get("heads"), info.get("hidden")
    if heads and heads not in kwargs and hidden in kwargs:
        chosen = _heads_for(kwargs[hidden], info.get("heads_default"), info.get("hidden_default"))
        if chosen is not None and chosen != info.get("heads_default"):
            kwargs[heads] = chosen
        if chosen is not None:
            notes.append(
                f"{heads}={chosen} assumed: attention heads do not show in the weight shapes "
                f"(head width {kwargs[hidden] // chosen}, as in the default config)"
            )
    notes.extend(
        f"{name}={kwargs.get(name)} assumed (no shape determines it alone)"
        for name in match.assumed
        if name != heads
    )
    tie = _tied(info, match, view)
    if tie is not None:
        kwargs["tie_word_embeddings"] = tie
        if tie != info.get("tie_default"):
            notes.append(f"tie_word_embeddings={tie} (the default is {info.get('tie_default')})")
    config = {"model_type": info.get("model_type"), **kwargs}
    return Recovered(config, kwargs, tuple(notes))


def _heads_for(hidden: int, heads0: int | None, hidden0: int | None) -> int | None:
    """Attention heads for a hidden width: the default head count when it divides it (BERT's
    12 for MiniLM's 384), else the default head width (64: BERT-tiny's 2 heads of 128), else
    their largest common divisor."""
    if not heads0 or not hidden0 or hidden0 % heads0:
        return None
    if hidden % heads0 == 0:
        return heads0
    width = hidden0 // heads0
    if hidden % width == 0:
        return hidden // width
    return math.gcd(hidden, heads0)


def _tied(info: dict[str, Any], match: Match, view: FileView) -> bool | None:
    pair = info.get("embeddings")
    if not pair:
        return None
    out_key, in_key = pair
    missing = {split_key(m)[0] for m, _ in match.tied_missing}
    if split_key(out_key)[0] in missing:
        return True
    out_storage = view.storages.get(out_key)
    in_storage = view.storages.get(in_key)
    if out_key in view.storages and in_key in view.storages:
        return out_storage is not None and out_storage == in_storage
    return None


def input_convention(entry: Entry, info: dict[str, Any], recovered: Recovered) -> dict[str, Any]:
    """The family's documented input, with the recovered sizes where they apply."""
    if entry.library == "transformers":
        return _hf_input(info, recovered.kwargs)
    doc = {k: v for k, v in (info.get("input") or {}).items() if k not in _NOT_INPUT}
    channels = recovered.kwargs.get("in_chans")
    if "input_size" in doc:  # timm
        size = list(doc["input_size"])
        if channels:
            size[0] = channels
        doc["shape"] = [1, *size]
        doc["kind"] = "image"
    elif doc.get("transform") == "ImageClassification" and doc.get("crop_size"):
        crop = doc["crop_size"]
        doc["shape"] = [1, 3, crop[0], crop[-1]]
        doc["kind"] = "image"
    elif doc.get("transform") in ("ObjectDetection",):
        doc["kind"] = "images"
        doc["note"] = "a list of 3xHxW float tensors in [0, 1], any size"
    elif doc.get("transform") == "VideoClassification":
        doc["kind"] = "video"
    elif doc.get("transform") == "SemanticSegmentation":
        doc["kind"] = "image"
    return doc


def _hf_input(info: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "main_input": info.get("main_input"),
        "inputs": info.get("inputs") or [],
        "source": f"transformers {info.get('config_class')} / forward signature",
    }
    main = info.get("main_input")
    if main == "pixel_values":
        size = kwargs.get("image_size", info.get("image_size"))
        channels = kwargs.get("num_channels", info.get("num_channels")) or 3
        if isinstance(size, int):
            doc["shape"] = [1, channels, size, size]
        elif isinstance(size, list) and len(size) == 2:
            doc["shape"] = [1, channels, *size]
        doc["kind"] = "image"
    elif main == "input_ids":
        doc["kind"] = "tokens"
        for name in ("max_position_embeddings", "n_positions", "max_positions"):
            if name in kwargs:
                doc["max_length"] = kwargs[name]
                break
        else:
            if info.get("max_positions"):
                doc["max_length"] = info["max_positions"]
        for name in ("vocab_size",):
            if name in kwargs:
                doc["vocab_size"] = kwargs[name]
    elif main in AUDIO_INPUTS:
        doc.update(_audio_input(info, kwargs))
    elif main:
        doc["kind"] = "unknown"
    return doc


#: Main inputs made from audio by a feature extractor (``input_values``: a waveform, or
#: AST's frames x mel bins; ``input_features``: Whisper's mel bins x frames, Speech2Text's
#: frames x filter banks).  Their kind is ``sequence`` (the contract has no audio kind);
#: ``signal`` says which.
AUDIO_INPUTS = ("input_values", "input_features")


def _audio_input(info: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The shape the family's feature extractor gives one second of silence (recorded at
    build time), with the sizes recovered from the file in place of the config defaults
    they replace; else, with no extractor recorded, AST's ``max_length`` frames of
    ``num_mel_bins`` bins, or one second of waveform at the config's ``sampling_rate``."""
    defaults: dict[str, Any] = info.get("input_config") or {}
    values = {**defaults, **{k: v for k, v in kwargs.items() if k in defaults}}
    extractor = info.get("extractor")
    doc: dict[str, Any] = {"kind": "sequence"}
    if extractor and extractor.get("shape"):
        batch, *sizes = extractor["shape"]
        shape = [batch, *(_recovered_dim(n, defaults, values) for n in sizes)]
        doc["source"] = f"transformers {extractor.get('class')} (defaults) on one second of silence"
        doc["signal"] = _signal(extractor)
        doc["sampling_rate"] = extractor.get("sampling_rate")
        for key in ("fixed_input_size", "fixed_input_size_source"):
            if key in info:
                doc[key] = info[key]
    elif info.get("main_input") == "input_values" and {"num_mel_bins", "max_length"} <= set(values):
        shape = [1, values["max_length"], values["num_mel_bins"]]
        doc["source"] = f"transformers {info.get('config_class')} max_length x num_mel_bins"
        doc["signal"] = "features"
    elif info.get("main_input") == "input_values" and values.get("sampling_rate"):
        shape = [1, values["sampling_rate"]]
        doc["source"] = f"transformers {info.get('config_class')} sampling_rate: one second"
        doc["signal"] = "waveform"
    else:
        return doc
    if all(isinstance(n, int) and n > 0 for n in shape):
        doc["shape"] = shape
    return doc


def _recovered_dim(size: int, defaults: dict[str, Any], values: dict[str, Any]) -> int:
    """``size`` of the extractor's output, or the file's value of the one config entry
    whose default it equals (``num_mel_bins`` 128 recovered as 80)."""
    names = [name for name, value in defaults.items() if value == size]
    chosen = {values[name] for name in names}
    return int(chosen.pop()) if len(chosen) == 1 else size


def _signal(extractor: dict[str, Any]) -> str:
    """``waveform`` when an axis grows by the sampling rate from one second of audio to
    two (the samples themselves), else ``features`` (frames of a spectrogram)."""
    one, two, rate = (
        extractor.get("shape"),
        extractor.get("shape_2s"),
        extractor.get("sampling_rate"),
    )
    if not (isinstance(one, list) and isinstance(two, list) and len(one) == len(two)):
        return "features"
    grows = any(b - a == rate for a, b in zip(one, two, strict=True))
    return "waveform" if grows else "features"
