"""The generated loading code runs and loads the corpus samples strictly.

torchvision, timm and transformers are not installed here, so the script runs against
stand-ins of them: each builds an ``nn.Module`` with exactly the keys and shapes that the
signature data (generated from the real libraries) gives the named constructor with the
arguments the script passes.  What is tested is the script's own part: reading the file
(torch zip, Lightning wrapper, safetensors), undoing prefixes, dropping or re-tying keys,
and a strict ``load_state_dict``.  ``tools/signatures/check_loading.py`` runs the same
scripts against the real libraries.
"""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from pthforensics.infer.signatures import load_store  # noqa: E402
from pthforensics.infer.signatures._expand import expand_layout  # noqa: E402

from ._support import LIBRARY, name_file  # noqa: E402

SAMPLES = sorted(
    p for p in LIBRARY.iterdir() if p.suffix in (".pt", ".ckpt", ".bin", ".safetensors")
)


def _module(items: list[tuple[str, tuple[int, ...]]], buffers: set[str]) -> Any:
    root = torch.nn.Module()
    for key, shape in items:
        *path, leaf = key.split(".")
        node = root
        for part in path:
            if part not in node._modules:
                node.add_module(part, torch.nn.Module())
            node = node._modules[part]
        tensor = torch.zeros(shape)
        if key in buffers:
            node.register_buffer(leaf, tensor)
        else:
            node.register_parameter(leaf, torch.nn.Parameter(tensor))
    return root


def _build(library: str, name: str, values: dict[str, Any], form: str = "module") -> Any:
    """The module the signature data says ``library``'s ``name`` builds with ``values``."""
    store = load_store()
    assert store is not None
    entry = next(e for e in store.entries if (e.library, e.name, e.form) == (library, name, form))
    layout = store.layout(entry.layout)
    args = dict(zip(layout["params"], entry.defaults, strict=True))
    args.update({k: v for k, v in values.items() if k in args})
    items = expand_layout(layout, args)
    buffers = {k for k, _ in items if any(k.endswith(b.split("#")[-1]) for b in layout["buffers"])}
    return _module(items, buffers)


class _Config(dict):  # type: ignore[type-arg]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs)


def _from_pretrained(name: str) -> Any:
    def load(
        _: None, *, config: dict[str, Any], state_dict: dict[str, Any], output_loading_info: bool
    ) -> Any:
        model = _build("transformers", name, config)
        expected = model.state_dict()
        state = dict(state_dict)
        for alias, source in _tied(name):  # transformers re-ties these itself
            if alias not in state and config.get("tie_word_embeddings") and source in state:
                state[alias] = state[source]
        missing = set(expected) - set(state)
        unexpected = set(state) - set(expected)
        mismatched = {k for k in set(expected) & set(state) if expected[k].shape != state[k].shape}
        if not (missing or unexpected or mismatched):
            model.load_state_dict(state, strict=True)
        info = {
            "missing_keys": missing,
            "unexpected_keys": unexpected,
            "mismatched_keys": mismatched,
        }
        return model, info

    return load


def _tied(name: str) -> list[tuple[str, str]]:
    store = load_store()
    assert store is not None
    entry = next(e for e in store.entries if (e.library, e.name) == ("transformers", name))
    pair = store.info[entry.info].get("embeddings")
    return [(pair[0], pair[1])] if pair else []


def _stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    tv = types.ModuleType("torchvision")
    tv.models = types.SimpleNamespace(  # type: ignore[attr-defined]
        get_model=lambda name, weights=None, **kw: _build("torchvision", name, kw)
    )
    timm = types.ModuleType("timm")
    timm.create_model = lambda name, pretrained=False, **kw: _build("timm", name, kw)  # type: ignore[attr-defined]
    hf = types.ModuleType("transformers")

    def attribute(attr: str) -> Any:
        if attr.endswith("Config"):
            return _Config
        return types.SimpleNamespace(from_pretrained=_from_pretrained(attr))

    hf.__getattr__ = attribute  # type: ignore[method-assign]
    for name, module in (("torchvision", tv), ("timm", timm), ("transformers", hf)):
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_generated_code_loads_strictly(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    arch, _ = name_file(path)
    assert arch.code is not None
    _stand_ins(monkeypatch)
    exec(compile(arch.code, f"<code for {path.name}>", "exec"), {"__name__": "__main__"})
    assert "strictly" in capsys.readouterr().out


def test_code_undoes_wrappers_and_prefixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same resnet18 layout under DataParallel inside a training checkpoint, with an
    extra buffer of an older torch and without the counters of an older one still."""
    source = LIBRARY / "tv_resnet18_10cls.pt"
    state = torch.load(source, weights_only=True)
    wrapped = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "epoch_3.pth"
    torch.save({"epoch": 3, "model": wrapped, "optimizer": {}}, path)
    arch, _ = name_file(path)
    assert arch.code is not None and arch.name == "resnet18"
    assert "removeprefix('module.')" in arch.code and "['model']" in arch.code
    _stand_ins(monkeypatch)
    exec(compile(arch.code, "<code>", "exec"), {"__name__": "__main__"})


def test_loading_code_for_each_way_of_reading() -> None:
    """Every kind of file gets its reader; every script compiles and names the path."""
    from pthforensics.infer.signatures._code import LoadPlan, loading_code

    base = LoadPlan(
        path="ckpt/it's.pth", safetensors=False, full_model=False, torchscript=False,
        tree_path=("state_dict",), strip=("module.", "model."), drop=("pos.position_ids",),
        fill_volatile=True, alias=(("fc.weight", "embed.weight"),), head_removed=("classifier.1",),
    )  # fmt: skip
    cases = {
        "torch": (base, 'torch.load(PATH, map_location="cpu", weights_only=True)'),
        "safetensors": (replace(base, safetensors=True, tree_path=()), "sd = load_file(PATH)"),
        "torchscript": (replace(base, torchscript=True), "torch.jit.load(PATH"),
        "full model": (replace(base, full_model=True), "weights_only=False"),
    }
    for what, (plan, reader) in cases.items():
        code = loading_code("torchvision", "mobilenet_v3_small", {"num_classes": 10}, {}, plan)
        compile(code, what, "exec")
        assert reader in code and repr(plan.path) in code, what
        assert "removeprefix('module.')" in code and "removeprefix('model.')" in code
        assert "setattr(model.get_submodule('classifier'), '1', torch.nn.Identity())" in code
        assert "sd['fc.weight'] = sd['embed.weight']" in code
    hf = loading_code(
        "transformers", "LlamaForCausalLM", {"vocab_size": 128, "text_config.hidden_size": 64},
        {"config_class": "LlamaConfig"}, base,
    )  # fmt: skip
    compile(hf, "hf", "exec")
    assert "text_config={'hidden_size': 64}" in hf and "output_loading_info=True" in hf
    assert "sd['fc.weight']" not in hf  # from_pretrained re-ties by itself
