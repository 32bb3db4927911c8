"""Instantiate library constructors on the meta device and record their layouts.

One function per library returns, for one constructor, a record::

    {"lib", "name", "kwargs", "layout", "defaults", "dropped", "input", "extra", "seconds"}

or ``{"lib", "name", "error"}`` when the constructor cannot be instantiated.  Nothing is
downloaded: torchvision and timm get ``weights=None``/``pretrained=False``, transformers
models are built from their default configs with backbones not pretrained, and the build
runs with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import torch
from _layout import StateList, fit_layout

#: Argument names that never carry a size (token ids, generation settings, seeds).
_NOT_SIZES = ("_id", "_ids", "_index")
_SKIP_PARAMS = frozenset(
    {
        "transformers_version",
        "label2id",
        "id2label",
        "max_length",
        "min_length",
        "num_beams",
        "num_beam_groups",
        "top_k",
        "no_repeat_ngram_size",
        "num_return_sequences",
        "chunk_size_feed_forward",
        "seed",
        "sampling_rate",
        "rope_theta",
    }
)


def _state(model: torch.nn.Module) -> tuple[StateList, set[str], list[tuple[str, str]]]:
    """(key, shape) in state_dict order, the keys that are buffers, tied aliases."""
    sd = model.state_dict(keep_vars=True)
    buffer_names = {name for name, _ in model.named_buffers()}
    state = [(k, tuple(v.shape)) for k, v in sd.items()]
    first: dict[int, str] = {}
    tied: list[tuple[str, str]] = []
    for k, v in sd.items():
        source = first.setdefault(id(v), k)
        if source != k:
            tied.append((k, source))
    return state, {k for k in sd if k in buffer_names}, tied


#: Random in-place initialisers that the CPU fallback makes no-ops, so parameters stay
#: untouched ``torch.empty`` pages (no memory is written for a model built for its shapes).
_INITIALISERS = (
    "uniform_",
    "normal_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "cauchy_",
    "random_",
    "bernoulli_",
    "erfinv_",
)


def _build(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build on the meta device; constructors that compute sizes from tensor values (regnet's
    widths, ``.tolist()``) cannot run there and are built on the CPU with initialisation
    turned off."""
    try:
        with torch.device("meta"):
            return make()
    except NotImplementedError as exc:
        if "meta" not in str(exc):
            raise
    return _build_uninitialised(make)


def _build_uninitialised(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    saved = {name: getattr(torch.Tensor, name) for name in _INITIALISERS}
    init_saved = {
        name: getattr(torch.nn.init, name)
        for name in dir(torch.nn.init)
        if name.endswith("_") and not name.startswith("_")
    }

    def keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return tensor

    try:
        for name in init_saved:
            setattr(torch.nn.init, name, keep)
        with torch.no_grad():
            for name in _INITIALISERS:
                setattr(torch.Tensor, name, keep)
            return make()
    finally:
        for name, fn in saved.items():
            setattr(torch.Tensor, name, fn)
        for name, fn in init_saved.items():
            setattr(torch.nn.init, name, fn)


def _changes(
    make: Callable[[int, int], torch.nn.Module],
    names: list[str],
    defaults: list[int],
    forms: Callable[[torch.nn.Module], list[StateList]],
) -> tuple[list[list[tuple[int, int, StateList]]], dict[str, str]]:
    """Each argument changed alone (doubled, else halved, else plus one): per form of the
    state_dict, the (argument, value, state) triples."""
    out: list[list[tuple[int, int, StateList]]] = []
    failed: dict[str, str] = {}
    for i, value in enumerate(defaults):
        tries = [value * 2] + ([value // 2] if value % 2 == 0 and value >= 2 else []) + [value + 1]
        error = ""
        for new in tries:
            try:
                states = forms(_build(lambda i=i, new=new: make(i, new)))
            except Exception as exc:  # noqa: BLE001 - any failure of a foreign constructor: try the next value
                error = f"{type(exc).__name__}: {str(exc)[:120]}"
                continue
            out.append([(i, new, state) for state in states])
            break
        else:
            failed[names[i]] = f"cannot be changed ({error})"
    return out, failed


def record(
    lib: str,
    name: str,
    make: Callable[[dict[str, Any]], torch.nn.Module],
    params: dict[str, int],
    kwargs: dict[str, Any],
    extra: Callable[[torch.nn.Module], dict[str, Any]],
    revert: Callable[[torch.nn.Module, dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Instantiate ``make(kwargs)``, change each of ``params`` alone, fit the layout.

    ``revert(model, state_dict)`` gives the state_dict as the library saves it to a file
    (transformers' ``save_pretrained`` renames keys back to the checkpoint format); when
    its keys differ, the record has a second layout, ``checkpoint_layout``."""
    start = time.perf_counter()
    model = _build(lambda: make(dict(kwargs)))
    state, buffers, tied = _state(model)

    base_forms: list[StateList] = []

    def forms(m: torch.nn.Module) -> list[StateList]:
        sd = m.state_dict(keep_vars=True)
        out = [[(k, tuple(v.shape)) for k, v in sd.items()]]
        if revert is not None:
            if base_forms and out[0] == base_forms[0]:
                # the saved form follows the module's shapes: unchanged, so is it (and
                # reverting MoE experts to per-expert keys costs seconds)
                out.append(base_forms[1])
            else:
                out.append([(k, tuple(v.shape)) for k, v in revert(m, dict(sd)).items()])
        return out

    base_forms.extend(forms(model))
    names, defaults = list(params), list(params.values())

    def changed(i: int, value: int) -> torch.nn.Module:
        return make({**kwargs, names[i]: value})

    changes, failed = _changes(changed, names, defaults, forms)
    layout, kept, dropped = fit_layout(
        state, buffers, names, defaults, [c[0] for c in changes], tied
    )
    out = {
        "lib": lib,
        "name": name,
        "kwargs": kwargs,
        "layout": layout,
        "defaults": kept,
        "dropped": {**failed, **dropped},
        "extra": extra(model),
        "keys": len(state),
    }
    if revert is not None and [k for k, _ in base_forms[1]] != [k for k, _ in state]:
        saved = base_forms[1]
        renamed = {k for k, _ in saved} - {k for k, _ in state}
        layout2, kept2, dropped2 = fit_layout(
            saved,
            {k for k in buffers if k in dict(saved)},
            names,
            defaults,
            [c[1] for c in changes],
            [],
        )
        out["checkpoint_layout"] = layout2
        out["checkpoint_defaults"] = kept2
        out["checkpoint_dropped"] = dropped2
        out["renamed"] = len(renamed)
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


# --- torchvision -----------------------------------------------------------------------------


def torchvision_names() -> list[str]:
    """Every torchvision constructor except the quantized ones (``quantize=False`` gives
    the float layout of the same name)."""
    import torchvision

    quantized = set(torchvision.models.list_models(module=torchvision.models.quantization))
    return [n for n in torchvision.models.list_models() if n not in quantized]


def _torchvision_input(name: str) -> tuple[dict[str, Any], int | None]:
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        return {}, None
    transform = weights.transforms()
    info: dict[str, Any] = {
        "source": f"torchvision {type(weights).__name__}.{weights.name} transforms"
    }
    for attr in ("crop_size", "resize_size", "mean", "std"):
        value = getattr(transform, attr, None)
        if value is not None:
            info[attr] = list(value) if isinstance(value, list | tuple) else value
    interpolation = getattr(transform, "interpolation", None)
    if interpolation is not None:
        info["interpolation"] = getattr(interpolation, "value", str(interpolation))
    info["transform"] = type(transform).__name__
    for key in ("min_size", "min_temporal_size"):
        if key in weights.meta:
            value = weights.meta[key]
            info[key] = list(value) if isinstance(value, list | tuple) else value
    categories = weights.meta.get("categories")
    return info, len(categories) if categories else None


def torchvision_variants(name: str) -> list[dict[str, Any]]:
    """Keyword sets worth a layout of their own: auxiliary heads on and off."""
    import torchvision

    builder = torchvision.models.get_model_builder(name)
    signature = inspect.signature(builder).parameters
    base: dict[str, Any] = {"weights": None}
    if "weights_backbone" in signature:
        base["weights_backbone"] = None
    variants = [base]
    if "aux_loss" in signature:
        variants.append({**base, "aux_loss": True})
    if name in ("googlenet", "inception_v3"):  # aux_logits is a class argument, via **kwargs
        variants.append({**base, "aux_logits": False})
    return variants


#: Constructor arguments that build a model for one input size (MaxVit's ``input_size``,
#: VisionTransformer's ``image_size``), named in the probe's sentence when the class has one.
_SIZE_ARGUMENTS = ("input_size", "image_size", "img_size")
#: Transforms whose models take one image tensor (detection takes a list, video 5-D clips).
_PROBED_TRANSFORMS = ("ImageClassification",)
#: Sizes tried besides the documented crop: crop + 32 and twice the crop, rounded to 32
#: (a stride-32 network runs at both when its size is free).
_PROBE_STEP = 32


def _probe_sizes(crop: int) -> list[int]:
    double = round(2 * crop / _PROBE_STEP) * _PROBE_STEP
    return [crop + _PROBE_STEP, double]


def _run_at(model: torch.nn.Module, size: int) -> str | None:
    """None when ``model`` runs on a ``1 x 3 x size x size`` input, else why not."""
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device="meta"))
    except Exception as exc:  # noqa: BLE001 - any failure of the forward is the measurement
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first[:100]}"
    return None


def probe_fixed_size(model: torch.nn.Module, info: dict[str, Any]) -> dict[str, Any]:
    """Whether an image classifier's forward accepts only its documented crop, measured:
    the model (built at its defaults, on the meta device) is run at the crop and at
    :func:`_probe_sizes`; fixed when the crop runs and every other size raises.  Gives
    ``fixed_input_size`` and the sentence saying how it was found, or nothing when the
    transform is not a single-image one or the crop itself does not run."""
    crop = info.get("crop_size")
    if info.get("transform") not in _PROBED_TRANSFORMS or not crop:
        return {}
    side = int(crop[0])
    # shapes only: a model built on the CPU (regnet's widths) is moved to the meta device,
    # or a 128 GFLOP forward would run for real
    model = model.to("meta").eval()
    failure = _run_at(model, side)
    own = inspect.signature(type(model).__init__).parameters
    argument = next((a for a in _SIZE_ARGUMENTS if a in own), None)
    built = f" (its class takes {argument})" if argument else ""
    if failure is not None:
        return {
            "fixed_input_size_source": f"not measured: the default-built model does not run "
            f"at the documented crop {side}{built}: {failure}"
        }
    others = {size: _run_at(model, size) for size in _probe_sizes(side)}
    fixed = all(why is not None for why in others.values())
    tried = ", ".join(str(s) for s in others)
    if fixed:
        why = "; ".join(f"{s}: {w}" for s, w in others.items())
        sentence = (
            f"measured: forward runs at the documented {side} and raises at {tried}{built} ({why})"
        )
    else:
        runs = ", ".join(str(s) for s, w in others.items() if w is None)
        sentence = f"measured: forward runs at the documented {side} and at {runs}{built}"
    return {"fixed_input_size": fixed, "fixed_input_size_source": sentence}


def collect_torchvision(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    import torchvision

    info, categories = _torchvision_input(name)
    builder = torchvision.models.get_model_builder(name)

    def make(kw: dict[str, Any]) -> torch.nn.Module:
        return builder(**kw)

    params: dict[str, int] = {}
    declared = inspect.signature(builder).parameters.get("num_classes")
    default = declared.default if declared is not None else None
    if isinstance(default, int) or categories:
        params["num_classes"] = default if isinstance(default, int) else categories

    def extra(model: torch.nn.Module) -> dict[str, Any]:
        return {"input": {**info, **probe_fixed_size(model, info)}}

    return record("torchvision", name, make, params, kwargs, extra)


# --- timm ------------------------------------------------------------------------------------

#: Classes given to timm models that have no head by default, to record the head's layout.
HEAD_FOR_HEADLESS = 1000


def collect_timm(name: str) -> dict[str, Any]:
    import timm

    cfg = (
        timm.models.get_pretrained_cfg(name) if hasattr(timm.models, "get_pretrained_cfg") else None
    )

    def make(kw: dict[str, Any]) -> torch.nn.Module:
        return timm.create_model(name, pretrained=False, **kw)

    def extra(model: torch.nn.Module) -> dict[str, Any]:
        pc = dict(getattr(model, "pretrained_cfg", None) or (cfg.to_dict() if cfg else {}))
        keep = (
            "input_size",
            "test_input_size",
            "fixed_input_size",
            "interpolation",
            "crop_pct",
            "crop_mode",
            "mean",
            "std",
            "num_classes",
            "first_conv",
            "classifier",
        )
        info = {k: (list(v) if isinstance(v, tuple) else v) for k, v in pc.items() if k in keep}
        info["source"] = "timm pretrained_cfg" + (
            f" {pc['hf_hub_id']}" if pc.get("hf_hub_id") else ""
        )
        return {"input": info, "num_classes": getattr(model, "num_classes", None)}

    probe = _build(lambda: make({}))
    params: dict[str, int] = {}
    kwargs: dict[str, Any] = {}
    num_classes = getattr(probe, "num_classes", None)
    if num_classes == 0:
        # feature extractors by default (DINOv3, AIMv2, EVA-02 MIM...): recorded with a
        # head, which a fine-tuned file has; the headless layout is the same minus the head
        num_classes = kwargs["num_classes"] = HEAD_FOR_HEADLESS
    if isinstance(num_classes, int) and num_classes > 0:
        params["num_classes"] = num_classes
    in_chans = (getattr(probe, "pretrained_cfg", None) or {}).get("input_size", (3,))[0]
    params["in_chans"] = int(in_chans)
    del probe
    return record("timm", name, make, params, kwargs, extra)
