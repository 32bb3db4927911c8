"""What allow-listed and benign functions do with their arguments, as data.

The loader does not only call what an opcode calls: some functions a checkpoint may name
call, construct or unpickle what they are given.  The symbolic machine applies these
tables at every call of such a function, so that the argument is judged as called:

* :data:`ARGUMENT_CALLS`: functions that call or construct an argument
  (``_rebuild_from_type_v2(func, type, args, state)`` returns ``func(*args)``);
* :data:`RESULT_KINDS`: what a constructor returns (a dict, a tensor, a partial...), so
  the machine knows when CPython would fail on it (calling a tensor, appending to a dict);
* :data:`NESTED_LOADERS`: functions that unpickle bytes they are given, scanned in turn;
* :data:`CODE_CARRIERS`: functions that ``exec`` source text they are given;
* :data:`BYTES_BUILDERS`: constructors whose result the machine computes (with the real
  codec) so that bytes handed to a nested loader are known.

Every entry carries its reason and the source it was read from.
"""

from __future__ import annotations

from typing import NamedTuple

from .policy import PolicyEntry
from .values import (
    KIND_BYTES,
    KIND_DICT,
    KIND_IMMUTABLE,
    KIND_LIST,
    KIND_PARTIAL,
    KIND_SET,
    KIND_TENSOR,
    KIND_TUPLE,
)

__all__ = [
    "ARGUMENT_CALLS",
    "BYTES_BUILDERS",
    "CODE_CARRIERS",
    "NESTED_LOADERS",
    "RESULT_KINDS",
    "ArgumentCall",
    "CodeCarrier",
    "NestedLoader",
]

#: ``mode`` of :class:`ArgumentCall`.
CALL = "call"
CONSTRUCT = "construct"


class ArgumentCall(NamedTuple):
    """One argument a function calls or constructs."""

    position: int
    """Which positional argument is called."""
    mode: str
    """``call`` (``arg(...)``) or ``construct`` (``arg.__new__``/``__init__``: a class)."""
    star_args: int | None
    """Position of the argument holding the tuple it is called with (``func(*args)``),
    ``None`` when it is called with values the file does not choose."""
    entry: PolicyEntry


_TORCH_TENSOR = "torch/_tensor.py"
_NUMPY_RANDOM = "numpy/random/_pickle.py"
_COPYREG = "CPython Lib/copyreg.py"

#: (module, name) -> the arguments the function calls or constructs.
ARGUMENT_CALLS: dict[tuple[str, str], tuple[ArgumentCall, ...]] = {
    ("torch._tensor", "_rebuild_from_type_v2"): (
        ArgumentCall(0, CALL, 2, PolicyEntry("returns func(*args)", _TORCH_TENSOR)),
        ArgumentCall(
            1,
            CONSTRUCT,
            None,
            PolicyEntry("as_subclass(new_type), then new_type.__setstate__(state)", _TORCH_TENSOR),
        ),
    ),
    ("torch._tensor", "_rebuild_from_type"): (
        ArgumentCall(0, CALL, 2, PolicyEntry("returns func(*args)", _TORCH_TENSOR)),
        ArgumentCall(1, CONSTRUCT, None, PolicyEntry("as_subclass(type)", _TORCH_TENSOR)),
    ),
    ("torch._utils", "_rebuild_wrapper_subclass"): (
        ArgumentCall(
            0,
            CONSTRUCT,
            None,
            PolicyEntry("Tensor._make_wrapper_subclass(cls, ...)", "torch/_utils.py"),
        ),
    ),
    **{
        ("numpy.random._pickle", ctor): (
            ArgumentCall(
                1,
                CALL,
                None,
                PolicyEntry(
                    "returns RandomState/Generator(bit_generator_ctor(name))", _NUMPY_RANDOM
                ),
            ),
            ArgumentCall(
                0,
                CONSTRUCT,
                None,
                PolicyEntry("the default ctor instantiates a class given as name", _NUMPY_RANDOM),
            ),
        )
        for ctor in ("__randomstate_ctor", "__generator_ctor")
    },
    ("numpy.random._pickle", "__bit_generator_ctor"): (
        ArgumentCall(
            0,
            CONSTRUCT,
            None,
            PolicyEntry("a class given as bit_generator is called", _NUMPY_RANDOM),
        ),
    ),
    ("copyreg", "_reconstructor"): (
        ArgumentCall(
            0, CONSTRUCT, None, PolicyEntry("object.__new__(cls) / base.__new__(cls)", _COPYREG)
        ),
        ArgumentCall(
            1, CALL, None, PolicyEntry("base.__new__ and base.__init__(obj, state)", _COPYREG)
        ),
    ),
    ("copyreg", "__newobj__"): (
        ArgumentCall(0, CONSTRUCT, None, PolicyEntry("cls.__new__(cls, *args)", _COPYREG)),
    ),
    ("copyreg", "__newobj_ex__"): (
        ArgumentCall(
            0, CONSTRUCT, None, PolicyEntry("cls.__new__(cls, *args, **kwargs)", _COPYREG)
        ),
    ),
    ("torch.optim.lr_scheduler", "LambdaLR"): (
        ArgumentCall(
            1,
            CALL,
            None,
            PolicyEntry(
                "__init__ steps the scheduler, which calls lr_lambda(epoch)",
                "torch/optim/lr_scheduler.py",
            ),
        ),
    ),
    ("functools", "reduce"): (
        ArgumentCall(
            0,
            CALL,
            None,
            PolicyEntry(
                "calls function(a, b) over the items", "CPython Modules/_functoolsmodule.c"
            ),
        ),
    ),
    **{
        (module, "_reconstruct"): (
            ArgumentCall(
                0,
                CONSTRUCT,
                None,
                PolicyEntry(
                    "ndarray.__new__(subtype, ...) runs subtype.__array_finalize__",
                    "numpy/_core/multiarray.py",
                ),
            ),
        )
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    },
    ("numpy.ma.core", "_mareconstruct"): (
        ArgumentCall(
            0, CONSTRUCT, None, PolicyEntry("subtype.__new__(subtype, ...)", "numpy/ma/core.py")
        ),
        ArgumentCall(
            1, CONSTRUCT, None, PolicyEntry("ndarray.__new__(baseclass, ...)", "numpy/ma/core.py")
        ),
    ),
    ("array", "_array_reconstructor"): (
        ArgumentCall(
            0,
            CONSTRUCT,
            None,
            PolicyEntry("arraytype(typecode, items)", "CPython Modules/arraymodule.c"),
        ),
    ),
}

_TORCH_UTILS = "torch/_utils.py"

#: (module, name) -> what calling it returns (allow-listed and benign constructors only).
RESULT_KINDS: dict[tuple[str, str], str] = {
    **dict.fromkeys(
        [
            ("collections", "OrderedDict"),
            ("collections", "Counter"),
            ("collections", "defaultdict"),
            ("builtins", "dict"),
        ],
        KIND_DICT,
    ),
    **dict.fromkeys([("builtins", "list"), ("collections", "deque")], KIND_LIST),
    ("builtins", "set"): KIND_SET,
    **dict.fromkeys([("builtins", "tuple"), ("torch", "Size")], KIND_TUPLE),
    **dict.fromkeys(
        [
            ("builtins", name)
            for name in ("frozenset", "str", "int", "float", "bool", "complex", "range", "slice")
        ]
        + [("torch", "device")],
        KIND_IMMUTABLE,
    ),
    **dict.fromkeys(
        [("builtins", "bytes"), ("_codecs", "encode"), ("codecs", "encode")], KIND_BYTES
    ),
    ("functools", "partial"): KIND_PARTIAL,
    **dict.fromkeys(
        [
            ("torch._utils", name)
            for name in (
                "_rebuild_tensor",
                "_rebuild_tensor_v2",
                "_rebuild_tensor_v3",
                "_rebuild_parameter",
                "_rebuild_parameter_with_state",
                "_rebuild_qtensor",
                "_rebuild_sparse_tensor",
                "_rebuild_nested_tensor",
                "_rebuild_meta_tensor_no_storage",
            )
        ]
        + [("torch.nn.parameter", "Parameter")],
        KIND_TENSOR,
    ),
}


class NestedLoader(NamedTuple):
    """A function that unpickles bytes it is given."""

    position: int
    """The argument holding the bytes."""
    loader: str
    """``torch`` (``torch.load(io.BytesIO(b), weights_only=False)``: a zip, or stacked
    legacy pickles) or ``pickle`` (``pickle.loads(b)``: the first pickle)."""
    entry: PolicyEntry


NESTED_LOADERS: dict[tuple[str, str], NestedLoader] = {
    ("torch.storage", "_load_from_bytes"): NestedLoader(
        0,
        "torch",
        PolicyEntry(
            "torch.load(io.BytesIO(b), weights_only=False): how pickle.dump() stores a storage",
            "torch/storage.py::_load_from_bytes",
        ),
    ),
    **{
        (module, "loads"): NestedLoader(
            0, "pickle", PolicyEntry("unpickles the bytes it is given", "CPython Lib/pickle.py")
        )
        for module in ("pickle", "_pickle")
    },
}


class CodeCarrier(NamedTuple):
    """A function that executes Python source carried in its arguments."""

    body: int
    """The argument holding a dict whose ``_code`` (or ``code``) is the source."""
    prefix: int
    """The argument holding text prepended to it (the import block)."""
    entry: PolicyEntry


CODE_CARRIERS: dict[tuple[str, str], CodeCarrier] = {
    ("torch.fx.graph_module", "reduce_graph_module"): CodeCarrier(
        0,
        1,
        PolicyEntry(
            "a pickled torch.fx.GraphModule: exec(import_block + body['_code']) on load, then "
            "re-traces forward (running its calls)",
            "torch/fx/graph_module.py::reduce_graph_module, GraphModule.__reduce__",
        ),
    ),
}

#: Constructors whose bytes result the machine computes (see :mod:`.evaluate`).
BYTES_BUILDERS = frozenset(
    {("_codecs", "encode"), ("codecs", "encode"), ("builtins", "bytes"), ("builtins", "bytearray")}
)
