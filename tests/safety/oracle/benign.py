"""Benign look-alikes: files that resemble attacks but run nothing a checkpoint should not.

Some are assembled from opcodes (user classes whose module path holds a word like
``code``/``sh``/``main``, ``torch._C._nn.gelu`` as ``F.gelu`` pickles, bit-flipped names
that exist in no module, dotted names that resolve to allow-listed objects); the others are
written by real torch from trusted in-memory objects (a state dict, a full model, a
pickled ``torch.fx.GraphModule``, a TorchScript archive, numpy arrays, a Hydra-style
``functools.partial``).  A damaged name is "corrupt", not an attack: loading it fails.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from corpus._opcodes import Asm

from .archives import Member, torch_zip, zip_bytes
from .compose import LOADERS_OF, slug
from .variants import Variant

__all__ = ["benign_variants"]


def _v(name: str, data: bytes, container: str, note: str = "") -> Variant:
    full = f"benign/{name}"
    ext = ".pkl" if container == "raw" else ".pt"
    return Variant(
        full,
        "benign",
        slug(full, ext),
        data,
        LOADERS_OF[container],
        malicious=False,
        note=note,
        expect="suspicious" if note == "corrupt" else None,
    )


def _object_of(module: str, name: str) -> bytes:
    """``{"model": <module.name instance>, "epoch": 3}`` (NEWOBJ + BUILD, as pickle does)."""
    asm = Asm(2).empty_dict().mark().value("model")
    asm.global_(module, name).empty_tuple().newobj().value({"hidden": 8}).build()
    asm.value("epoch").value(3).setitems()
    return asm.stop().data


def _named(module: str, name: str) -> bytes:
    """``{"activation": module.name}``: a function named in a config, never called."""
    return Asm(2).empty_dict().value("activation").global_(module, name).setitem().stop().data


def _called(module: str, name: str) -> bytes:
    """``module.name()`` (for damaged names of constructors)."""
    return Asm(2).global_(module, name).empty_tuple().reduce().stop().data


def _dotted(module: str, name: str) -> bytes:
    """A protocol-4 dotted name that resolves to an allow-listed object, named only."""
    raw_m, raw_n = module.encode(), name.encode()
    asm = Asm(4).empty_dict().raw(b"\x8c" + bytes([6]) + b"layout")
    asm.raw(b"\x8c" + bytes([len(raw_m)]) + raw_m + b"\x8c" + bytes([len(raw_n)]) + raw_n)
    return asm.stack_global().setitem().stop().data


def _opcode_samples() -> Iterator[Variant]:
    for module, name in (
        ("mypkg.code.model", "Net"),
        ("app.models.main", "Net"),
        ("tools.sh.layers", "Block"),
        ("research.shell.encoders", "Encoder"),
        ("proj.run.net", "Model"),
    ):
        yield _v(f"user-class-{module}.{name}", _object_of(module, name), "raw")
    for module, name in (
        ("torch._C._nn", "gelu"),
        ("torch.nn.functional", "gelu"),
        ("mypkg.cli", "main"),
        ("torch", "relu"),
    ):
        yield _v(f"named-{module}.{name}", _named(module, name), "raw")
    for module, name in (
        ("collections", "OrderedDicu"),
        ("collectionr", "OrderedDict"),
        ("torch._utils", "_rebuild_tensoq_v2"),
        ("torch.nn.modules.linear", "Lineas"),
        ("builtins", "dicu"),
    ):
        yield _v(f"bitflip-{module}.{name}", _called(module, name), "raw", "corrupt")
    for module, name in (
        ("torch", "nn.parameter.Parameter"),
        ("torch", "_utils._rebuild_tensor_v2"),
        ("collections", "OrderedDict"),
    ):
        yield _v(f"dotted-{module}.{name}", _dotted(module, name), "raw")
    # A storage type name that exists in no torch version (a flipped byte in data.pkl).
    flipped = Asm(2).empty_dict().value("w").global_("torch", "FloatStoragf").setitem().stop().data
    yield _v("bitflip-storage-type", torch_zip(flipped), "zip", "corrupt")
    # Allow-listed roots only: copyreg._reconstructor(Namespace, object, None).
    chain = (
        Asm(2)
        .global_("copyreg", "_reconstructor")
        .global_("argparse", "Namespace")
        .global_("builtins", "object")
        .none()
        .tuple3()
        .reduce()
        .value({"lr": 0.1})
        .build()
        .stop()
        .data
    )
    yield _v("reconstructor-namespace", chain, "raw")
    yield _v(
        "zip-with-readme",
        zip_bytes(
            [
                Member("archive/data.pkl", Asm(2).value({"a": 1}).stop().data),
                Member("archive/version", b"3\n"),
                Member("archive/extra/README.txt", b"trained on cats\n"),
            ]
        ),
        "zip",
    )


def _torch_samples() -> Iterator[Variant]:
    import collections
    import functools

    import numpy as np
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    makers: dict[str, Callable[[], object]] = {
        "state-dict": net.state_dict,
        "full-model": lambda: net,
        "optimizer-state": opt.state_dict,
        "numpy-values": lambda: {"w": net.state_dict(), "mean": np.arange(3.0)},
        "hydra-partial": lambda: {"optim": functools.partial(torch.optim.Adam, lr=1e-3)},
        "defaultdict": lambda: collections.defaultdict(list, {"a": [1]}),
        "graph-module": lambda: torch.fx.symbolic_trace(net),
    }
    for label, make in makers.items():
        for zip_format in (True, False):
            buf = io.BytesIO()
            torch.save(make(), buf, _use_new_zipfile_serialization=zip_format)
            container = "zip" if zip_format else "legacy"
            yield _v(f"torch-save-{label}-{container}", buf.getvalue(), container)
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        torch.jit.save(torch.jit.script(net), buf)
    yield _v("torchscript", buf.getvalue(), "zip")


def benign_variants() -> Iterator[Variant]:
    """Every benign look-alike."""
    yield from _opcode_samples()
    yield from _torch_samples()
