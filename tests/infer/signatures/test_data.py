"""The shipped signature data: what it was built from, its size, lazy loading, and that
it names its own layouts (and not perturbed copies of them)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest

from pthforensics.core.architecture import ArchitectureStatus
from pthforensics.infer.signatures import load_store, name_architecture
from pthforensics.infer.signatures._expand import expand_layout
from pthforensics.infer.signatures._store import DATA_FILE, Entry, Store
from tests._helpers import ROOT

from ._support import labels, state_of

DATA = ROOT / "pthforensics" / "infer" / "signatures" / DATA_FILE
#: The wheel carries the data file as it is; the issue caps it at 15 MB.
MAX_BYTES = 15 * 1024 * 1024
#: Every n-th entry of the data is checked against itself (a few seconds in all).
STRIDE = 23


def _store() -> Store:
    store = load_store()
    assert store is not None, "signatures.zip is missing: run tools/signatures/build.py"
    return store


def test_built_from_the_pinned_versions() -> None:
    header = (ROOT / "tools" / "signatures" / "build.py").read_text()
    pinned = dict(re.findall(r'"(torch|torchvision|timm|transformers)==([^"]+)"', header))
    versions = _store().meta["versions"]
    assert set(pinned) == {"torch", "torchvision", "timm", "transformers"}
    for lib, version in pinned.items():
        assert versions[lib].split("+")[0] == version


def test_size_and_coverage() -> None:
    assert DATA.stat().st_size <= MAX_BYTES
    meta = _store().meta
    built = meta["constructors"]
    assert built["torchvision"] >= 100 and built["timm"] >= 1300 and built["transformers"] >= 1000
    counts = Counter(e.library for e in _store().entries)
    assert counts["transformers"] >= built["transformers"]  # module and checkpoint key forms


def test_import_does_not_read_the_data_and_inspect_names_without_torch() -> None:
    """``scan`` does not name (the data costs more than a small file's scan); ``inspect``
    without the trace names torch-free, and nothing reads the data on import."""
    sample = ROOT / "corpus" / "models" / "library" / "tv_resnet18_10cls.pt"
    code = (
        "import sys\n"
        "import pthforensics, pthforensics.infer.signatures as s\n"
        "from pthforensics.pipeline import analyze_file, inspect_file\n"
        "assert s.load_store.cache_info().currsize == 0, 'data loaded on import'\n"
        f"r = analyze_file({str(sample)!r})\n"
        "assert r.architecture is None, r.architecture\n"
        "assert s.load_store.cache_info().currsize == 0, 'data loaded by scan'\n"
        f"r = inspect_file({str(sample)!r}, trace=False)\n"
        "assert r.architecture.name == 'resnet18', r.architecture\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _sample() -> list[Entry]:
    return list(_store().entries[::STRIDE])


def _values(store: Store, entry: Entry) -> dict[str, int]:
    layout = store.layout(entry.layout)
    values = dict(zip(layout["params"], entry.defaults, strict=True))
    if "num_classes" in values:
        values["num_classes"] = 10  # a replaced head
    return values


@pytest.mark.parametrize("entry", _sample(), ids=lambda e: f"{e.label}/{e.form}")
def test_entry_names_its_own_layout(entry: Entry) -> None:
    store = _store()
    items = expand_layout(store.layout(entry.layout), _values(store, entry))
    arch = name_architecture(state_of(items), path="model.pt")
    assert arch.status is ArchitectureStatus.NAMED, arch.evidence
    assert f"{entry.library}:{entry.name}" in labels(arch)
    if "num_classes" in _values(store, entry):
        assert arch.config_dict().get("num_classes") == 10


@pytest.mark.parametrize("entry", _sample(), ids=lambda e: f"{e.label}/{e.form}")
def test_entry_with_a_block_removed_is_not_named(entry: Entry) -> None:
    store = _store()
    items = expand_layout(store.layout(entry.layout), _values(store, entry))
    lists: dict[str, set[str]] = {}
    for key, _ in items:
        parts = key.split(".")
        for i, part in enumerate(parts):
            if part.isdigit():
                lists.setdefault(".".join(parts[: i + 1][:-1]), set()).add(part)
    lists = {k: v for k, v in lists.items() if len(v) > 2}
    if not lists:
        pytest.skip("no repeated blocks")
    container, indices = max(lists.items(), key=lambda kv: (len(kv[1]), kv[0]))
    middle = sorted(indices, key=int)[len(indices) // 2]
    cut = [(k, s) for k, s in items if not k.startswith(f"{container}.{middle}.")]
    arch = name_architecture(state_of(cut), path="model.pt")
    assert arch.status is not ArchitectureStatus.NAMED, (container, middle, arch.name)
