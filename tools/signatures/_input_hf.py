"""transformers: the facts about a model's input that no weight shape shows.

For every class, :func:`input_facts` records

* ``input_config``: the config's input-relevant defaults among :data:`INPUT_CONFIG`
  (``num_mel_bins``, ``max_length``, ``image_size``...), which the matcher replaces by the
  values it recovers from a file's shapes;
* for the classes whose main input is audio (:data:`AUDIO_INPUTS`), ``extractor``: what the
  model type's own feature extractor, at its defaults, gives that input for one and for two
  seconds of silence at its ``sampling_rate`` (``[1, 1024, 128]`` twice for AST: it pads
  to ``max_length`` frames; ``[1, 16000]`` then ``[1, 32000]`` for wav2vec2's waveform);
* ``fixed_input_size``, measured: the default model (meta device) is run on the extractor's
  shape and on that shape with each non-batch axis 32 longer; it is fixed when the shape
  runs and every changed one raises (AST's position table, Whisper's 3000 frames), with
  ``fixed_input_size_source`` saying so.

:func:`supplement` adds these facts to records collected before they existed, so a work
folder packs to the same data a fresh build gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

#: Config values that size an input: image side, channels and patch; clip frames and
#: tubelet; spectrogram mel bins and frames (``max_length``), AST's patch strides;
#: speech features (``feature_size``, Speech2Text's ``input_feat_per_channel`` x
#: ``input_channels``), encoder frames (Whisper's ``max_source_positions``), the sampling
#: rate.
INPUT_CONFIG = (
    "image_size",
    "num_channels",
    "patch_size",
    "num_frames",
    "tubelet_size",
    "num_mel_bins",
    "max_length",
    "frequency_stride",
    "time_stride",
    "feature_size",
    "input_feat_per_channel",
    "input_channels",
    "max_source_positions",
    "sampling_rate",
)
#: Main inputs that a feature extractor makes from audio.
AUDIO_INPUTS = ("input_values", "input_features")
#: Seconds of silence the extractor is run on (two lengths: which axis grows with the audio,
#: and whether the extractor pads every clip to one length).
_SECONDS = (1, 2)
#: How much longer each axis is made to see whether the model takes another length.
_STEP = 32


def config_value(config: Any, name: str) -> Any:
    """A config value if it is a plain int or a non-empty list of ints (image sizes), else
    None."""
    try:
        value = getattr(config, name, None)
    except Exception:  # noqa: BLE001 - properties of some configs raise when the value is unset
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) for v in value):
        return list(value)
    return None


def input_config(config: Any) -> dict[str, Any]:
    """The config's values among :data:`INPUT_CONFIG` (ints or lists of ints)."""
    out = {}
    for name in INPUT_CONFIG:
        value = config_value(config, name)
        if value is not None:
            out[name] = value
    return out


def extractor_shapes(model_type: str, main_input: str) -> dict[str, Any] | None:
    """The shapes the model type's feature extractor gives ``main_input`` for
    :data:`_SECONDS` of silence, or None (no extractor, or it needs an absent package)."""
    import numpy as np
    import transformers
    from transformers.models.auto.feature_extraction_auto import (
        FEATURE_EXTRACTOR_MAPPING_NAMES,
    )

    name = FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type)
    if not isinstance(name, str) or not hasattr(transformers, name):
        return None
    try:
        extractor = getattr(transformers, name)()
        rate = int(extractor.sampling_rate)
        shapes = []
        for seconds in _SECONDS:
            silence = np.zeros(rate * seconds, dtype=np.float32)
            out = extractor(silence, sampling_rate=rate, return_tensors="np")
            shapes.append(list(out[main_input].shape))
    except Exception:  # noqa: BLE001 - an extractor that needs a missing backend: no facts
        return None
    return {"class": name, "sampling_rate": rate, "shape": shapes[0], "shape_2s": shapes[1]}


def _runs(model: torch.nn.Module, main_input: str, shape: list[int]) -> str | None:
    """None when ``model`` runs on zeros of ``shape`` (meta device), else why not."""
    import inspect

    kwargs: dict[str, Any] = {main_input: torch.zeros(shape, device="meta")}
    if "decoder_input_ids" in inspect.signature(model.forward).parameters:
        kwargs["decoder_input_ids"] = torch.zeros((shape[0], 1), dtype=torch.int64, device="meta")
    try:
        with torch.no_grad():
            model(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure of the forward is the measurement
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first[:100]}"
    return None


def probe_fixed(model: torch.nn.Module, main_input: str, shape: list[int]) -> dict[str, Any]:
    """``fixed_input_size`` measured on the meta device (see the module docstring)."""
    model = model.to("meta").eval()
    failure = _runs(model, main_input, shape)
    if failure is not None:
        return {
            "fixed_input_size_source": f"not measured: the default model does not run on "
            f"the feature extractor's {shape}: {failure}"
        }
    changed = [
        [n + _STEP if i == axis else n for i, n in enumerate(shape)]
        for axis in range(1, len(shape))
    ]
    outcome = {json.dumps(c): _runs(model, main_input, c) for c in changed}
    tried = ", ".join(outcome)
    if all(why is not None for why in outcome.values()):
        why = "; ".join(f"{c}: {w}" for c, w in outcome.items())
        sentence = (
            f"measured: forward runs on the feature extractor's {shape} and raises on "
            f"{tried} ({why})"
        )
        return {"fixed_input_size": True, "fixed_input_size_source": sentence}
    runs = ", ".join(c for c, w in outcome.items() if w is None)
    sentence = f"measured: forward runs on the feature extractor's {shape} and on {runs}"
    return {"fixed_input_size": False, "fixed_input_size_source": sentence}


def input_facts(model_type: str, config: Any, model: torch.nn.Module) -> dict[str, Any]:
    """The facts the module docstring lists, for one default-built ``model``."""
    facts: dict[str, Any] = {"input_config": input_config(config)}
    main = getattr(model, "main_input_name", None)
    if main not in AUDIO_INPUTS:
        return facts
    extractor = extractor_shapes(model_type, main)
    if extractor is None:
        return facts
    facts["extractor"] = extractor
    facts.update(probe_fixed(model, main, extractor["shape"]))
    return facts


def _facts_of(rec: dict[str, Any]) -> dict[str, Any]:
    import transformers
    from _collect import _build
    from _collect_hf import default_config

    model_type, class_name = rec["job"].split("|")
    config = default_config(model_type, class_name)
    facts: dict[str, Any] = {"input_config": input_config(config)}
    if rec["extra"].get("main_input") not in AUDIO_INPUTS:
        return facts  # no model to build: its main input is not audio
    cls = getattr(transformers, class_name)
    return input_facts(model_type, config, _build(lambda: cls(config)))


def supplement(paths: list[Path]) -> int:
    """Add :func:`input_facts` to the transformers records of ``paths`` that lack them
    (collected before they were recorded); the files are rewritten.  Returns how many
    records were completed."""
    done = 0
    for path in paths:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        changed = False
        for rec in records:
            if "error" in rec or "input_config" in rec["extra"]:
                continue
            try:
                rec["extra"].update(_facts_of(rec))
            except Exception as exc:  # noqa: BLE001 - a class that no longer builds keeps its record
                rec["extra"]["input_config"] = {}
                rec["extra"]["input_facts_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            changed = True
            done += 1
        if changed:
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return done
