"""The script that builds the named model and loads this file into it strictly.

It undoes what stands between the file and ``model.state_dict()``: the wrapper dict
(``ckpt["state_dict"]``), the prefixes of DataParallel (``module.``), Lightning
(``model.``) or ``torch.compile`` (``_orig_mod.``), the buffers another library version
keeps or drops, one of two tied tensors stored once, and a removed classification head.
transformers models are loaded through ``from_pretrained(None, state_dict=...)``, which
also renames checkpoint-format keys (``save_pretrained``'s) to the module's, and the script
then asserts that no key was missing, unexpected or of another shape: a strict load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._keys import VOLATILE_LEAVES

__all__ = ["LoadPlan", "loading_code", "meta_code"]


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What the script must do to go from the file to the model's keys."""

    path: str
    """The file, as given."""
    safetensors: bool
    """Read with ``safetensors.torch.load_file``."""
    full_model: bool
    """A pickled ``nn.Module`` (``torch.save(model)``): only unpickling reads it."""
    torchscript: bool
    """A TorchScript archive (``torch.jit.save``): read with ``torch.jit.load``."""
    tree_path: tuple[str, ...]
    """Where the state_dict sits in the object tree (``("state_dict",)``)."""
    strip: tuple[str, ...]
    """Prefixes to remove from every key, outermost first."""
    drop: tuple[str, ...]
    """Keys of buffers the model does not have."""
    fill_volatile: bool
    """Take the model's own value for volatile buffers the file lacks."""
    alias: tuple[tuple[str, str], ...]
    """(missing key, key it is tied to)."""
    head_removed: tuple[str, ...]
    """Modules to replace by ``nn.Identity`` (torchvision heads)."""


def loading_code(
    library: str, name: str, kwargs: dict[str, Any], info: dict[str, Any], plan: LoadPlan
) -> str:
    """A runnable Python script (a string) for ``library``'s ``name``."""
    lines = [
        f'"""Build {library} {name} and load {plan.path} into it strictly (pthforensics)."""',
        "import torch",
    ]
    if library == "transformers":
        lines.append("import transformers")
    else:
        lines.append(f"import {library}")
    if plan.safetensors:
        lines.append("from safetensors.torch import load_file")
    elif library != "transformers" and not plan.torchscript:
        lines.insert(1, "import collections")
    lines += ["", f"PATH = {plan.path!r}", ""]
    lines += _read_lines(plan)
    lines += _key_lines(plan, library)
    if library == "transformers":
        lines += _transformers_lines(name, kwargs, info)
    else:
        lines += _vision_lines(library, name, kwargs, plan)
    return "\n".join(lines) + "\n"


def meta_code(
    library: str, name: str, kwargs: dict[str, Any], info: dict[str, Any], plan: LoadPlan
) -> str:
    """The same model built on the meta device and ``sd`` (given: the file's keys with
    tensors of their shapes, on the meta device) loaded into it strictly: the script's key
    steps and constructor, without reading the file.  Leaves ``model`` and ``call`` (the
    constructor as the user would write it).  transformers' ``from_pretrained`` cannot
    take meta tensors: the model is built from its config and the file's keys are matched
    to the module's (the base model prefix added or removed, tied keys stored once)."""
    lines = ["import torch"]
    lines.append("import transformers" if library == "transformers" else f"import {library}")
    if library != "transformers":
        lines.insert(0, "import collections")
    lines += _key_lines(plan, library)
    if library == "transformers":
        lines += _transformers_lines(name, kwargs, info)[:-_TRANSFORMERS_LOAD_LINES]
        lines += [
            'with torch.device("meta"):',
            f"    model = transformers.{name}(config)",
            f"call = 'transformers.{name}(transformers.{info.get('config_class', 'AutoConfig')}"
            "(...))'",
        ]
        return "\n".join(lines) + "\n"
    vision = _vision_lines(library, name, kwargs, plan)[:-_VISION_LOAD_LINES]
    lines += [
        "try:",
        '    with torch.device("meta"):',
        *(f"        {line}" for line in vision),
        "except NotImplementedError:  # sizes computed from tensor values: build on the CPU",
        *(f"    {line}" for line in vision),
        "model.load_state_dict(sd, strict=True, assign=True)",
        f"call = {_constructor(library, name, kwargs)!r}",
    ]
    return "\n".join(lines) + "\n"


def _constructor(library: str, name: str, kwargs: dict[str, Any]) -> str:
    args = {k: v for k, v in kwargs.items() if k not in ("weights", "weights_backbone")}
    if library == "timm":
        return f"timm.create_model({name!r}{_tail(args)})"
    return f"torchvision.models.{name}({_call(args)})"


def _read_lines(plan: LoadPlan) -> list[str]:
    if plan.safetensors:
        return ["sd = load_file(PATH)"]
    if plan.torchscript:
        return [
            "# a TorchScript archive: torch.jit.load compiles its code (clean verdict first)",
            'sd = dict(torch.jit.load(PATH, map_location="cpu").state_dict())',
        ]
    if plan.full_model:
        lines = [
            "# The file is a pickled nn.Module: reading it runs its pickle, which imports the",
            "# classes it names. Do this only for a file whose scan verdict is clean.",
            'obj = torch.load(PATH, map_location="cpu", weights_only=False)',
        ]
    else:
        lines = ['obj = torch.load(PATH, map_location="cpu", weights_only=True)']
    if plan.tree_path:
        lines += [
            f"for part in {list(plan.tree_path)!r}:  # where the weights sit in the file",
            "    obj = obj[int(part)] if isinstance(obj, (list, tuple)) else obj[part]",
        ]
    lines += [
        "obj = obj.state_dict() if hasattr(obj, 'state_dict') else obj",
        "metadata = getattr(obj, '_metadata', None)  # module versions some classes read",
        "sd = dict(obj)",
    ]
    return lines


def _key_lines(plan: LoadPlan, library: str) -> list[str]:
    lines = [
        f"sd = {{k.removeprefix({prefix!r}): v for k, v in sd.items()}}" for prefix in plan.strip
    ]
    if plan.drop:
        lines.append(
            f"for key in {list(plan.drop)!r}:  # buffers this library version does not keep"
        )
        lines.append("    sd.pop(key)")
    if library != "transformers":  # from_pretrained re-ties on its own
        for missing, present in plan.alias:
            lines.append(f"sd[{missing!r}] = sd[{present!r}]  # tied: stored once in the file")
        if not plan.safetensors and not plan.torchscript:
            lines += _metadata_lines(plan.strip)
    return lines


def _metadata_lines(strip: tuple[str, ...]) -> list[str]:
    """``load_state_dict`` reads ``sd._metadata`` (each module's version: torchvision's
    MNASNet refuses a load without it); keep the file's, its keys stripped like the
    tensors' (``module.features`` -> ``features``, ``module`` -> the root)."""
    lines = ["if metadata is not None:"]
    lines += [
        f"    metadata = {{('' if k == {prefix[:-1]!r} else k.removeprefix({prefix!r})): v"
        " for k, v in metadata.items()}"
        for prefix in strip
    ]
    lines += [
        "    sd = collections.OrderedDict(sd)",
        "    sd._metadata = metadata",
    ]
    return lines


def _call(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _vision_lines(library: str, name: str, kwargs: dict[str, Any], plan: LoadPlan) -> list[str]:
    args = dict(kwargs)
    if library == "timm":
        lines = [f"model = timm.create_model({name!r}, pretrained=False{_tail(args)})"]
    else:
        args.setdefault("weights", None)
        lines = [f"model = torchvision.models.get_model({name!r}, {_call(args)})"]
    for module in plan.head_removed:
        parent, _, child = module.rpartition(".")
        target = f"model.get_submodule({parent!r})" if parent else "model"
        lines.append(f"setattr({target}, {child!r}, torch.nn.Identity())  # the file has no head")
    if plan.fill_volatile:
        lines += _fill_lines()
    lines += [
        "model.load_state_dict(sd, strict=True)",
        "model.eval()",
        f'print("loaded", PATH, "into {library} {name} strictly")',
    ]
    return lines


#: The last lines of :func:`_vision_lines` that load and report (the rest builds).
_VISION_LOAD_LINES = 3


def _fill_lines() -> list[str]:
    leaves = sorted(VOLATILE_LEAVES)
    return [
        "# buffers another library version saved differently: take the model's own",
        "for key, value in model.state_dict().items():",
        f"    if key not in sd and key.rsplit('.', 1)[-1] in {leaves!r}:",
        "        sd[key] = value",
    ]


def _tail(args: dict[str, Any]) -> str:
    return f", {_call(args)}" if args else ""


def _transformers_lines(name: str, kwargs: dict[str, Any], info: dict[str, Any]) -> list[str]:
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in kwargs.items():
        if "." in key:
            sub, _, leaf = key.partition(".")
            nested.setdefault(sub, {})[leaf] = value
        else:
            top[key] = value
    config_class = info.get("config_class", "AutoConfig")
    args = [f"    {k}={v!r}," for k, v in top.items()]
    args += [f"    {k}={_nest(v)!r}," for k, v in nested.items()]
    vocab = any(k.rsplit(".", 1)[-1] == "vocab_size" for k in kwargs)
    return [
        f"config = transformers.{config_class}(",
        *args,
        ")",
        *(_TOKEN_IDS if vocab else []),
        f"model, info = transformers.{name}.from_pretrained(",
        "    None, config=config, state_dict=sd, output_loading_info=True",
        ")",
        "problems = {k: v for k, v in info.items() if v}",
        'assert not problems, f"not a strict load: {problems}"',
        "model.eval()",
        f'print("loaded", PATH, "into transformers {name} strictly")',
    ]


#: The last lines of :func:`_transformers_lines` that load and report (the rest configures).
_TRANSFORMERS_LOAD_LINES = 7


#: A default config's special token ids can lie beyond the file's smaller vocabulary, which
#: the embedding refuses (``padding_idx``): those are unset.
_TOKEN_IDS = [
    "# special token ids of the default config beyond this vocabulary: unset them",
    "for part in [config, *(v for v in vars(config).values() if hasattr(v, 'vocab_size'))]:",
    "    for key in ('pad_token_id', 'bos_token_id', 'eos_token_id'):",
    "        value, size = getattr(part, key, None), getattr(part, 'vocab_size', None)",
    "        if isinstance(value, int) and isinstance(size, int) and value >= size:",
    "            setattr(part, key, None)",
]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return out
