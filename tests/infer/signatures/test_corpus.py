"""Naming on the corpus: library layouts are named, hand-written models never are.

``corpus/models/library/`` holds real torchvision/timm/transformers layouts (stride-0 views
or small configs, see ``generate_library.py``) with their truth; every other model of the
corpus was written by hand with torch.nn, often in the zoos' naming style, and must not be
given a library's name.  Perturbed copies of the library layouts (a block removed, a width
changed) must not be named either.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from pthforensics.core import StateDict
from pthforensics.core.architecture import ArchitectureStatus
from pthforensics.infer.signatures import load_store, name_architecture
from pthforensics.infer.signatures._expand import expand_layout
from tests._helpers import CORPUS

from ._support import LIBRARY, edited, labels, name_file, state_of

SAMPLES = sorted(
    p for p in LIBRARY.iterdir() if p.suffix in (".pt", ".ckpt", ".bin", ".safetensors")
)
HAND_WRITTEN = sorted(
    p
    for folder in (CORPUS / "models", CORPUS / "benign")
    for p in folder.iterdir()
    if p.is_file() and not p.name.endswith((".json", ".py", ".md"))
)


def _truth(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.with_name(path.name + ".truth.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_library_sample_is_named(path: Path) -> None:
    truth = _truth(path)
    arch, _ = name_file(path)
    assert arch.status is ArchitectureStatus.NAMED, arch.evidence
    assert f"{truth['library']}:{truth['name']}" in labels(arch)
    config = arch.config_dict()
    for key, value in truth["config"].items():
        assert config.get(key) == value, (key, config)
    assert arch.code is not None and repr(str(path)) in arch.code
    compile(arch.code, str(path), "exec")
    assert arch.confidence >= 0.85


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_hand_written_model_is_never_named(path: Path) -> None:
    try:
        arch, _ = name_file(path)
    except AssertionError:
        pytest.skip("no state_dict in this file")  # tensors-only or empty samples
    assert arch.status is not ArchitectureStatus.NAMED, (arch.name, arch.evidence)
    assert arch.code is None


def _lists(keys: list[str]) -> dict[str, set[int]]:
    """Container path -> indices, for every index segment of the keys."""
    out: dict[str, set[int]] = {}
    for key in keys:
        parts = key.split(".")
        for i, part in enumerate(parts):
            if part.isdigit():
                out.setdefault(".".join(parts[:i]), set()).add(int(part))
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_block_removed_is_not_named(path: Path) -> None:
    _, state = name_file(path)
    keys = [t.key for t in state.tensors]
    lists = {p: ix for p, ix in _lists(keys).items() if len(ix) > 1}
    assert lists, "the sample has repeated blocks"
    for container, indices in sorted(lists.items()):
        # the first block: removing the last would leave a shallower model, which a
        # transformers config with fewer layers builds (and names rightly)
        first = min(indices)
        cut = edited(state, keep=lambda k, c=container, i=first: not k.startswith(f"{c}.{i}."))
        arch = name_architecture(cut, path=str(path))
        assert arch.status is not ArchitectureStatus.NAMED, (container, arch.name)


def _rescaled(state: StateDict, old: int, new: int) -> StateDict:
    """Every dimension of size ``old`` made ``new``: a consistently wider network."""
    return replace(
        state,
        tensors=tuple(
            t._replace(shape=tuple(new if d == old else d for d in t.shape)) for t in state.tensors
        ),
    )


VISION = [p for p in SAMPLES if _truth(p)["library"] != "transformers"]
TEXT = [p for p in SAMPLES if _truth(p)["library"] == "transformers"]


@pytest.mark.parametrize("path", VISION, ids=lambda p: p.name)
def test_width_changed_is_not_named(path: Path) -> None:
    """The library constructors have fixed widths: a network with one width changed
    throughout (the three most common sizes, one at a time) is none of them."""
    _, state = name_file(path)
    classes = _truth(path)["config"].get("num_classes")
    sizes = Counter(d for t in state.tensors for d in t.shape if d > 8 and d != classes)
    for size, _ in sizes.most_common(3):
        arch = name_architecture(_rescaled(state, size, size + 8), path=str(path))
        assert arch.status is not ArchitectureStatus.NAMED, (size, arch.name, arch.config)
        assert arch.status is ArchitectureStatus.FAMILY  # and it is recognised as related


@pytest.mark.parametrize("path", TEXT, ids=lambda p: p.name)
def test_width_changed_is_read_back(path: Path) -> None:
    """transformers models take their widths from the config: the layout of the named class
    with a wider hidden size (written out from the signature data) is named too, with that
    hidden size."""
    arch, _ = name_file(path)
    store = load_store()
    assert store is not None and arch.name is not None
    entry = next(e for e in store.entries if e.name == arch.name and e.form == "module")
    layout = store.layout(entry.layout)
    config = arch.config_dict()
    values = {p: config.get(p, d) for p, d in zip(layout["params"], entry.defaults, strict=True)}
    hidden = next(p for p in ("hidden_size", "n_embd") if p in values)
    values[hidden] += 8
    wider = name_architecture(state_of(expand_layout(layout, values)), path=str(path))
    assert wider.status is ArchitectureStatus.NAMED, wider.evidence
    assert f"transformers:{arch.name}" in labels(wider)
    assert wider.config_dict()[hidden] == values[hidden]


def test_saved_causal_lm_without_its_tied_head_keeps_its_model_prefix() -> None:
    """``save_pretrained`` of a tied LlamaForCausalLM leaves only ``model.*`` keys; the
    structure stage takes ``model.`` for Lightning's wrapper, but the file is the causal LM
    (LlamaModel with a ``model.`` wrapper would fit too, and is said in the evidence)."""
    _, state = name_file(LIBRARY / "hf_llama_gqa.safetensors")
    tied = [t for t in state.tensors if t.key != "lm_head.weight"]
    stripped = replace(
        state,
        tensors=tuple(t._replace(key=t.key.removeprefix("model.")) for t in tied),
        stripped_prefixes=("model.",),
    )
    arch = name_architecture(stripped, path="model.safetensors", container_format="safetensors")
    assert arch.status is ArchitectureStatus.NAMED
    assert "transformers:LlamaForCausalLM" in labels(arch)
    assert arch.config_dict()["tie_word_embeddings"] is True
    assert arch.code is not None and "removeprefix" not in arch.code
    assert any("also fit" in e for e in arch.evidence)
