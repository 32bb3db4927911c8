"""The curated variants (what CI runs) and random compositions (what the property run adds).

Each class lists concrete choices an attacker who has read the scanner's source would make;
the comments say why each one is there.  The benign look-alikes live in :mod:`.benign`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from corpus._opcodes import Asm

from .archives import Member, legacy_parts, torch_zip
from .benign import benign_variants
from .compose import LOADERS_OF, compose, nested_stream, slug
from .harness import CANARY
from .pickles import CALLERS, RECIPES, REFS, TRICKS, Payload, constant_stream, payload_stream
from .variants import Variant

__all__ = ["WALKS", "curated", "random_composition"]

#: Dotted walks found by :func:`tests.safety.oracle.chains.discover_chains` in torch 2.13
#: (a fresh ``import torch`` process): (module, name, target).  Chosen as an attacker would:
#: roots a scanner trusts (``torch.nn*``, ``torch._utils``, numpy, typing_extensions) and
#: components that avoid the obvious words (``os``, ``builtins``, ``subprocess``, ``exec``).
WALKS: tuple[tuple[str, str, str], ...] = (
    ("torch.nn.functional", "np.savetxt", "numpy.savetxt"),
    ("torch.nn.functional", "np.lib._datasource._open", "builtins.open"),
    ("torch.nn.functional", "torch.threading._os.mknod", "os.mknod"),
    ("torch.nn.functional", "dataclasses.inspect.tokenize._builtin_open", "builtins.open"),
    (
        "torch.nn.functional",
        "torch.fx.graph_module._exec_with_source",
        "torch.fx.graph_module._exec_with_source",
    ),
    ("torch.nn.functional", "torch.serialization.tarfile.TarFile", "tarfile.TarFile"),
    ("torch.nn.functional", "torch.hub.zipfile.ZipFile", "zipfile.ZipFile"),
    ("torch.nn.parallel.parallel_apply", "threading._os.mknod", "os.mknod"),
    ("torch", "threading._os.mkfifo", "os.mkfifo"),
    ("torch.nn.modules.module", "inspect.tokenize._builtin_open", "builtins.open"),
    ("torch.nn.attention._registry", "logging.FileHandler", "logging.FileHandler"),
    ("torch.nn.modules.module", "inspect.dis.io.FileIO", "io.FileIO"),
    ("torch._utils", "logging.FileHandler", "logging.FileHandler"),
    ("torch._utils", "logging.io.FileIO", "io.FileIO"),
    ("typing_extensions", "io.FileIO", "io.FileIO"),
    ("numpy", "lib._npyio_impl.savetxt", "numpy.savetxt"),
    # controls: an obvious component on the way (should already be caught)
    ("torch.nn.functional", "torch.os.system", "os.system"),
    ("torch._tensor", "enum.bltns.exec", "builtins.exec"),
    ("numpy", "_pytesttester.os.system", "os.system"),
    ("torch.profiler", "profiler.gzip.GzipFile", "gzip.GzipFile"),
    ("torch.multiprocessing.spawn", "runpy._run_code", "runpy._run_code"),
    ("dataclasses", "inspect.tokenize._builtin_open", "builtins.open"),
    ("argparse", "_os.mknod", "os.mknod"),
)

#: Callables that do harm when called but that a scanner grading names may rate below
#: malicious when they are only *named* (passed to a function that calls them).
CALLEES: tuple[Payload, ...] = (
    Payload.direct("numpy.savetxt"),
    Payload.direct("typing_extensions.get_type_hints"),
    Payload.direct("networkx.write_adjlist"),
    Payload("numpy.lib._format_impl", "open_memmap", "numpy.lib._format_impl.open_memmap"),
    Payload("torch.nn.parallel.parallel_apply", "threading._os.mknod", "os.mknod"),
    Payload("torch._utils", "logging.FileHandler", "logging.FileHandler"),
    Payload.direct("os.system"),  # control: named by its own module
    Payload.direct("builtins.open"),  # control
    Payload.direct("subprocess.call"),  # control
)

_OS_SYSTEM = Payload.direct("os.system")


def _walks() -> Iterator[Variant | None]:
    for module, name, target in WALKS:
        p = Payload(module, name, target)
        yield compose("1-walk", p, ref="stack")
        yield compose("1-walk", p, ref="global")
        yield compose("1-walk", p, ref="memo")
        yield compose("1-walk", p, ref="stack", container="zip", ext=".pt")
        yield compose("1-walk", p, ref="global", trick="proto-switch")
    first = Payload(*WALKS[0])
    yield compose("1-walk", first, ref="binstring")
    yield compose("1-walk", first, ref="stack", container="legacy-3", ext=".pt")
    yield compose("1-walk", first, ref="stack", caller="obj")
    # A walk under protocol 2 rules: CPython resolves dotted names only from protocol 4 on.
    yield _no_proto4_walk(first)


def _no_proto4_walk(p: Payload) -> Variant:
    asm = Asm(2).global_(p.module, p.name)
    RECIPES[p.target](asm, CANARY)
    data = asm.reduce().pop().value({}).stop().data
    name = f"1-walk/{p.module}:{p.name}/global/reduce/protocol-2/raw.pkl"
    return Variant(
        name,
        "1-walk",
        slug(name, ".pkl"),
        data,
        LOADERS_OF["raw"],
        note="protocol 2: find_class does one getattr of the dotted name (fails)",
    )


def _callers() -> Iterator[Variant | None]:
    for p in CALLEES:
        for caller in CALLERS:
            yield compose("2-caller", p, caller=caller)
            if caller in ("rebuild_v2", "randomstate_ctor"):
                yield compose("2-caller", p, caller=caller, container="zip", ext=".pt")


def _sniff() -> Iterator[Variant | None]:
    leads = [t for t in TRICKS if t.startswith("lead-")]
    for trick in leads:
        for ext in (".pkl", ".pth", ""):
            yield compose("4-sniff", _OS_SYSTEM, trick=trick, ext=ext)
        yield compose("4-sniff", _OS_SYSTEM, trick=trick, container="legacy-1", ext=".pt")
    yield compose("4-sniff", _OS_SYSTEM, trick="lead-short-binbytes", ext=".txt")
    yield compose("4-sniff", _OS_SYSTEM, trick="lead-short-binbytes", ext=".json")
    # torch.load hands a ".safetensors" path to safetensors; pickle.load still runs it.
    yield compose("4-sniff", _OS_SYSTEM, ext=".safetensors")
    yield compose("4-sniff", _OS_SYSTEM, ext=".txt")
    for k in range(5):
        yield compose("4-sniff", _OS_SYSTEM, container=f"legacy-{k}", ext=".pt")
        if k != 1:  # (stream 1 with every lead is above)
            yield compose(
                "4-sniff", _OS_SYSTEM, trick="lead-binbytes", container=f"legacy-{k}", ext=".pt"
            )
    # torch.load tries tarfile first on any real file: the torch < 0.4 layout.
    for member in ("storages", "pickle", "sys_info"):
        yield compose("4-sniff", _OS_SYSTEM, container=f"tar-{member}", ext=".tar")
        yield compose("4-sniff", _OS_SYSTEM, container=f"tarv7-{member}", ext=".pt")
    yield compose("4-sniff", _OS_SYSTEM, trick="lead-long", container="tarv7-storages")
    yield _stacked_after_stop()


def _stacked_after_stop() -> Variant:
    """A benign pickle, then the payload: ``pickle.load`` stops at the first STOP; the
    legacy loader reads stacked pickles but compares the first with its magic number."""
    data = constant_stream({"a": 1}) + payload_stream(_OS_SYSTEM, CANARY)
    name = "4-sniff/os:system/stack/reduce/none/after-stop.pkl"
    return Variant(name, "4-sniff", slug(name, ".pkl"), data, ("torch", "pickle"))


def _semantics() -> Iterator[Variant | None]:
    mids = [t for t in TRICKS if t.startswith("mid-")]
    for trick in mids:
        for container, ext in (("raw", ".pkl"), ("zip", ".pt"), ("legacy-3", ".pt")):
            yield compose("5-semantics", _OS_SYSTEM, trick=trick, container=container, ext=ext)
        yield compose("5-semantics", Payload(*WALKS[2]), trick=trick)
    for trick in ("stub-break", "junk-run", "proto-switch", "build-slots", "persid-first"):
        for container, ext in (("raw", ".pkl"), ("zip", ".pt")):
            yield compose("5-semantics", _OS_SYSTEM, trick=trick, container=container, ext=ext)
    for ref in REFS:
        yield compose("5-semantics", _OS_SYSTEM, ref=ref, container="zip", ext=".pt")
    for caller in ("obj", "inst", "newobj"):
        yield compose("5-semantics", _OS_SYSTEM, ref="global", caller=caller)
    yield compose("5-semantics", Payload.direct("subprocess.Popen"), caller="newobj")
    yield compose("5-semantics", Payload.direct("subprocess.Popen"), caller="newobj_ex")
    yield _persid_after()
    yield _extension_code()
    yield _unhashable_key()


def _persid_after() -> Variant:
    """The payload, then a PERSID torch's persistent_load rejects (it asserts a tuple)."""
    data = torch_zip(payload_stream(_OS_SYSTEM, CANARY, result=b"Px\n"))
    name = "5-semantics/os:system/persid-after/zip.pt"
    return Variant(name, "5-semantics", slug(name, ".pt"), data, LOADERS_OF["zip"])


def _unhashable_key() -> Variant:
    """``{tensor: 1}`` then the payload, in a torch zip with one storage: a real tensor is
    hashable, the stub pass's record of the rebuild call (it holds a dict) is not."""
    asm = Asm(2).empty_dict()
    asm.global_("torch._utils", "_rebuild_tensor_v2").mark()
    asm.mark().value("storage").global_("torch", "FloatStorage").value("0").value("cpu")
    asm.value(1).tuple().raw(b"Q")
    asm.value(0).value((1,)).value((1,)).value(False)
    asm.global_("collections", "OrderedDict").empty_tuple().reduce().tuple().reduce()
    asm.value(1).setitem()
    asm.global_("os", "system").value(f"touch {CANARY}").tuple1().reduce().pop().stop()
    data = torch_zip(asm.data, extra=[Member("archive/data/0", bytes(4))])
    name = "5-semantics/unhashable-tensor-key/zip.pt"
    return Variant(name, "5-semantics", slug(name, ".pt"), data, LOADERS_OF["zip"])


def _extension_code() -> Variant:
    """EXT1: a global through copyreg's extension registry (empty in a fresh process)."""
    data = Asm(2).ext1(1).value("x").tuple1().reduce().pop().value({}).stop().data
    name = "5-semantics/ext1/reduce.pkl"
    return Variant(
        name, "5-semantics", slug(name, ".pkl"), data, LOADERS_OF["raw"], note="non-firing"
    )


def _nested() -> Iterator[Variant | None]:
    for style in ("binbytes", "latin1", "utf16", "list", "bytearray"):
        yield compose("6-nested", _OS_SYSTEM, container=f"nested-{style}")
        yield compose("6-nested", _OS_SYSTEM, container=f"nested-raw-{style}")
        yield compose(
            "6-nested", _OS_SYSTEM, trick="lead-short-binbytes", container=f"nested-raw-{style}"
        )
        yield compose("6-nested", _OS_SYSTEM, trick="mid-int-hex", container=f"nested-{style}")
    yield compose("6-nested", Payload(*WALKS[0]), container="nested-binbytes")
    yield _nested_legacy()
    yield _nested_twice()


def _nested_legacy() -> Variant:
    parts = legacy_parts()
    parts[3] = payload_stream(_OS_SYSTEM, CANARY, result={})
    data = nested_stream(b"".join(parts), "binbytes")
    name = "6-nested/legacy-3/binbytes.pkl"
    return Variant(name, "6-nested", slug(name, ".pkl"), data, LOADERS_OF["nested"])


def _nested_twice() -> Variant:
    inner = nested_stream(torch_zip(payload_stream(_OS_SYSTEM, CANARY)), "binbytes")
    data = nested_stream(torch_zip(inner), "latin1")
    name = "6-nested/zip(zip)/latin1+binbytes.pkl"
    return Variant(name, "6-nested", slug(name, ".pkl"), data, LOADERS_OF["nested"])


def curated() -> list[Variant]:
    """Every curated variant, class by class."""
    from .code import code_variants
    from .rereading import rereading_variants
    from .zips import zip_variants

    out: list[Variant] = []
    for group in (
        _walks(),
        _callers(),
        zip_variants(),
        _sniff(),
        _semantics(),
        _nested(),
        code_variants(),
        rereading_variants(),
        benign_variants(),
    ):
        out.extend(v for v in group if v is not None)
    return out


def random_composition(
    rng: random.Random, chains: Sequence[tuple[str, str, str]]
) -> Variant | None:
    """One random composition of target, reference, caller, trick and container."""
    if chains and rng.random() < 0.5:
        module, name, target = rng.choice(list(chains))
        if target not in RECIPES:
            return None
        payload = Payload(module, name, target)
        klass = "1-walk"
    else:
        payload = rng.choice(CALLEES)
        klass = "2-caller"
    container = rng.choice(
        ["raw", "raw", "zip", "legacy-3", "legacy-0", "nested-binbytes", "nested-latin1"]
    )
    ext = {"raw": rng.choice([".pkl", ".pth", ".bin", ""]), "zip": ".pt"}.get(container, ".pt")
    return compose(
        klass,
        payload,
        ref=rng.choice(list(REFS)),
        caller=rng.choice(list(CALLERS)),
        trick=rng.choice(list(TRICKS)),
        container=container,
        ext=ext,
        name=None,
    )
