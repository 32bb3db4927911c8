"""transformers: every model class of the Auto mappings, from its default config.

The shape-bearing arguments are the config's positive integers (nested sub-configs as
``text_config.hidden_size``), plus ``num_labels``; each is changed alone by setting it on a
copy of the default config, which keeps derived values such as ``head_dim`` as they were
(the generated code passes every one of them explicitly, so the two agree).
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any

import torch
from _collect import _NOT_SIZES, _SKIP_PARAMS, record
from _input_hf import config_value, input_facts


def transformers_classes() -> list[tuple[str, str]]:
    """(model_type, class name) of every class an Auto mapping lists, then of the other
    model classes the modeling modules export (``CLIPTextModelWithProjection``,
    ``GPT2DoubleHeadsModel``: built from their own ``config_class``)."""
    import importlib

    import transformers
    from transformers.models.auto import configuration_auto, modeling_auto

    pairs: set[tuple[str, str]] = set()
    for attr in dir(modeling_auto):
        if attr.startswith("MODEL_") and attr.endswith("_MAPPING_NAMES"):
            for model_type, names in getattr(modeling_auto, attr).items():
                for name in names if isinstance(names, list | tuple) else (names,):
                    pairs.add((model_type, name))
    listed = {name for _, name in pairs}
    extra: set[tuple[str, str]] = set()
    for model_type in configuration_auto.CONFIG_MAPPING_NAMES:
        module_name = configuration_auto.model_type_to_module_name(model_type)
        try:
            module = importlib.import_module(
                f"transformers.models.{module_name}.modeling_{module_name}"
            )
        except Exception:  # noqa: BLE001 - a model needing an absent backend: not collected
            continue
        for name in getattr(module, "__all__", ()):
            cls = getattr(module, name, None)
            if (
                isinstance(cls, type)
                and issubclass(cls, transformers.PreTrainedModel)
                and not name.endswith(("PreTrainedModel", "PretrainedModel"))
                and name not in listed
                and getattr(cls, "config_class", None) is not None
            ):
                extra.add((cls.config_class.model_type or model_type, name))
    return sorted(pairs) + sorted(extra)


#: Config entries that make a model slow to build and to revert to checkpoint form: mixtures
#: of experts (one key per expert once saved) and composite (multimodal) configs.
_HEAVY = re.compile(r"expert|_config$")


def heavy_first_last(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The classes with plain configs first, then mixtures of experts and composite
    models, so that an interrupted build has the common architectures."""
    from transformers import AutoConfig

    cost: dict[str, int] = {}
    for model_type in {t for t, _ in pairs}:
        try:
            names = AutoConfig.for_model(model_type).to_dict()
        except Exception:  # noqa: BLE001 - unknown to AutoConfig: order it last
            cost[model_type] = 2
            continue
        cost[model_type] = int(any(_HEAVY.search(k) and v for k, v in names.items()))
    return sorted(pairs, key=lambda p: (cost[p[0]], p[0], p[1] != base_class(p[0]), p[1]))


def _flat_ints(values: dict[str, Any], prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in values.items():
        if not isinstance(key, str) or key in _SKIP_PARAMS or key.endswith(_NOT_SIZES):
            continue
        if isinstance(value, dict):
            out.update(_flat_ints(value, f"{prefix}{key}."))
        elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[f"{prefix}{key}"] = value
    return out


def _set(config: Any, path: str, value: int) -> None:
    *parents, leaf = path.split(".")
    target = config
    for part in parents:
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    if isinstance(target, dict):
        target[leaf] = value
    else:
        setattr(target, leaf, value)


def _offline(config: Any) -> None:
    """Never fetch a pretrained backbone (DETR-style configs default to one)."""
    import transformers

    base = getattr(transformers, "PreTrainedConfig", None) or transformers.PretrainedConfig
    seen: set[int] = set()
    stack = [config]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if getattr(item, "use_pretrained_backbone", False):
            item.use_pretrained_backbone = False
        stack.extend(v for v in vars(item).values() if isinstance(v, base))


def _key_of(model: torch.nn.Module, module: Any) -> str | None:
    if module is None or getattr(module, "weight", None) is None:
        return None
    for name, sub in model.named_modules():
        if sub is module:
            return f"{name}.weight" if name else "weight"
    return None


def _canonical(config: Any, name: str) -> str | None:
    """The config attribute behind a standard name (``hidden_size`` -> ``n_embd``)."""
    target = getattr(config, "attribute_map", {}).get(name, name)
    return target if target in config.to_dict() else None


#: model_type -> the config values that shaped the classes built of it so far.  The other
#: classes of a model type share its base model, so only those values, and values whose
#: names say a head may use them, are changed again (the build time is halved).  Seeded
#: from the records already collected (``seed_shaping``); a record that changed fewer
#: values than its type's union is collected again (``stale_records``).
SHAPING: dict[str, set[str]] = {}
_HEAD_LIKE = re.compile(r"label|class|vocab|proj|quer|codevector|xvector|output")


def default_config(model_type: str, class_name: str) -> Any:
    """A class's own config class (a sub-model's: CLIPTextConfig) at its defaults, else the
    model type's default config."""
    import transformers
    from transformers import AutoConfig

    cls = getattr(transformers, class_name)
    own = getattr(cls, "config_class", None)
    config = (
        own()
        if own is not None and own.model_type == model_type
        else AutoConfig.for_model(model_type)
    )
    _offline(config)
    return config


def collect_transformers(model_type: str, class_name: str) -> dict[str, Any]:
    import transformers

    cls = getattr(transformers, class_name)
    config = default_config(model_type, class_name)
    params = _flat_ints(config.to_dict())
    params["num_labels"] = config.num_labels
    shaping = None if class_name == base_class(model_type) else SHAPING.get(model_type)
    if shaping is not None:
        params = {k: v for k, v in params.items() if k in shaping or _HEAD_LIKE.search(k)}

    def make(kw: dict[str, Any]) -> torch.nn.Module:
        cfg = copy.deepcopy(config)
        for path, value in kw.items():
            _set(cfg, path, value)
        return cls(cfg)

    def extra(model: torch.nn.Module) -> dict[str, Any]:
        try:
            out_key = _key_of(model, model.get_output_embeddings())
        except Exception:  # noqa: BLE001 - classes without embeddings raise NotImplementedError and others
            out_key = None
        try:
            in_key = _key_of(model, model.get_input_embeddings())
        except Exception:  # noqa: BLE001 - as for the output embeddings
            in_key = None
        try:
            inputs = [
                p
                for p in inspect.signature(model.forward).parameters
                if p
                not in (
                    "self",
                    "kwargs",
                    "return_dict",
                    "output_attentions",
                    "output_hidden_states",
                    "labels",
                    "use_cache",
                )
            ][:6]
        except (TypeError, ValueError):
            inputs = []
        return {
            "config_class": type(config).__name__,
            "model_type": model_type,
            "main_input": getattr(model, "main_input_name", None),
            "inputs": inputs,
            "embeddings": [out_key, in_key] if out_key and in_key else None,
            "tie_default": bool(getattr(config, "tie_word_embeddings", False)),
            "heads": _canonical(config, "num_attention_heads"),
            "heads_default": config_value(config, "num_attention_heads"),
            "hidden": _canonical(config, "hidden_size"),
            "hidden_default": config_value(config, "hidden_size"),
            "image_size": config_value(config, "image_size"),
            "num_channels": config_value(config, "num_channels"),
            "max_positions": config_value(config, "max_position_embeddings"),
            **input_facts(model_type, config, model),
        }

    from transformers.core_model_loading import revert_weight_conversion

    rec = record("transformers", class_name, make, params, {}, extra, revert_weight_conversion)
    rec["changed"] = sorted(params)
    rec["full"] = shaping is None
    SHAPING.setdefault(model_type, set()).update(shaping_of(rec))
    return rec


def base_class(model_type: str) -> str | None:
    """The type's base model class (``BartModel``), collected with every value changed."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    name = MODEL_MAPPING_NAMES.get(model_type)
    return name[0] if isinstance(name, list | tuple) else name


def shaping_of(rec: dict[str, Any]) -> set[str]:
    """The config values a record found to shape the layout (or to change its keys)."""
    used = set(rec["layout"]["params"]) | set(rec["dropped"])
    return used | set(rec.get("checkpoint_layout", {}).get("params", []))


def seed_shaping(records: list[dict[str, Any]]) -> None:
    """Fill :data:`SHAPING` from collected records (``job`` is ``model_type|class``)."""
    for rec in records:
        if "error" not in rec:
            SHAPING.setdefault(rec["job"].split("|")[0], set()).update(shaping_of(rec))


def _full(rec: dict[str, Any], most: dict[str, int]) -> bool:
    if "full" in rec:
        return bool(rec["full"])
    return len(rec.get("changed", ())) >= most[rec["job"].split("|")[0]]  # older records


def stale_records(records: list[dict[str, Any]]) -> set[str]:
    """Jobs to collect again: base classes not built with every value changed; and, in
    types whose base was, records that changed fewer values than the type's classes were
    found to need (run the build again after a pass that re-collected bases)."""
    done = [r for r in records if "error" not in r and "changed" in r]
    most: dict[str, int] = {}
    for rec in done:
        kind = rec["job"].split("|")[0]
        most[kind] = max(most.get(kind, 0), len(rec["changed"]))
    complete = {
        r["job"].split("|")[0]
        for r in done
        if _full(r, most) and r["job"].split("|")[1] == base_class(r["job"].split("|")[0])
    }
    seed_shaping([r for r in done if r["job"].split("|")[0] in complete])
    stale = set()
    for rec in done:
        kind, name = rec["job"].split("|")
        if kind not in complete:
            if name == base_class(kind):
                stale.add(rec["job"])
        elif SHAPING[kind] - set(rec["changed"]) - {"num_labels"}:
            stale.add(rec["job"])
    return stale
