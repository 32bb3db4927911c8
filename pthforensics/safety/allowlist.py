"""Globals a checkpoint may name: the allow-list, known-benign metadata and gadgets.

* :data:`ALLOWED` (no finding): torch's own rebuild machinery and plain data types, modelled
  on ``torch/_weights_only_unpickler.py::_get_allowed_globals`` (what
  ``torch.load(weights_only=True)`` accepts), plus the protocol 0-2 spellings CPython's
  pickler uses for plain data (``copyreg``, ``builtins``).  dtype and storage names come from
  the one torch vocabulary, :mod:`pthforensics.core.vocab`.
* :data:`BENIGN_METADATA` (``info``): data-only types that training code saves next to the
  weights (numpy arrays, argparse namespaces, dates...).
* :data:`GADGETS` (``suspicious``): harmless to construct, but building blocks of call
  chains.

Every entry is a :class:`~.policy.PolicyEntry`; the reasons of the last two lists are the
``detail`` of their findings.
"""

from __future__ import annotations

from pthforensics.core import vocab

from .policy import Table, entries

__all__ = ["ALLOWED", "BENIGN_METADATA", "GADGETS"]

_TORCH_ALLOWED = "torch/_weights_only_unpickler.py::_get_allowed_globals"
_TORCH_1X = "torch/_utils.py of torch 1.x (rebuild helpers since folded into the others)"
_TORCH_SAVE = "torch/serialization.py::_save (storage types in persistent ids)"
_TORCH_ALIAS = "torch/__init__.py (dtype aliases: torch.float is torch.float32)"
_TORCH_TS = "torch/jit/_pickle.py (helpers TorchScript's pickler names)"
_TORCH_LAYOUT = "torch/serialization.py (copyreg.pickle(torch.layout, _get_layout))"
_TORCH_FORMAT = "torch/csrc/utils/tensor_layouts.cpp, tensor_memoryformats.cpp (constants)"
_CPYTHON_PICKLE = "CPython Lib/pickle.py, Lib/copyreg.py (protocol 0-2 reconstruction)"
_CPYTHON_COLLECTIONS = "CPython Lib/collections/__init__.py (__reduce__ of the type)"

_REBUILD = "torch tensor rebuild function (torch/_weights_only_unpickler.py allows it)"
_STORAGE = "legacy typed-storage class named by torch.save's persistent ids"
_DTYPE = "torch dtype constant"

#: Globals a torch checkpoint legitimately names; no finding.
ALLOWED: Table = {
    **entries(
        _REBUILD,
        _TORCH_ALLOWED + " (_tensor_rebuild_functions)",
        "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter"
        " _rebuild_parameter_with_state _rebuild_qtensor _rebuild_sparse_tensor"
        " _rebuild_nested_tensor _rebuild_device_tensor_from_cpu_tensor"
        " _rebuild_device_tensor_from_numpy _rebuild_meta_tensor_no_storage"
        " _rebuild_wrapper_subclass",
        prefix="torch._utils.",
    ),
    **entries(
        _REBUILD,
        _TORCH_1X,
        "_rebuild_xla_tensor _rebuild_mps_tensor _rebuild_sparse_csr_tensor",
        prefix="torch._utils.",
    ),
    **entries(
        "rebuilds tensor subclasses; the function it is given is a separate global, "
        "judged on its own",
        _TORCH_ALLOWED,
        ["torch._tensor._rebuild_from_type_v2"],
    ),
    **entries(
        "older form of _rebuild_from_type_v2",
        "torch/_tensor.py::_rebuild_from_type",
        ["torch._tensor._rebuild_from_type"],
    ),
    # Storage classes: every legacy typed storage of the vocabulary, and the two generic ones.
    **entries(
        _STORAGE,
        _TORCH_ALLOWED + " (torch._storage_classes)",
        [name for name in vocab.STORAGE_DTYPES if name != "UntypedStorage"],
        prefix="torch.",
    ),
    **entries(_STORAGE, _TORCH_SAVE, ["torch.UntypedStorage", "torch.TypedStorage"]),
    **entries(
        _STORAGE,
        _TORCH_ALLOWED,
        ["torch.storage.UntypedStorage", "torch.storage.TypedStorage"],
    ),
    **entries(
        _STORAGE,
        "torch/storage.py of torch 1.x (private names before TypedStorage)",
        ["torch.storage._TypedStorage", "torch.storage._UntypedStorage"],
    ),
    # dtypes: every canonical name of the vocabulary, and torch's aliases of them.
    **entries(_DTYPE, _TORCH_ALLOWED, vocab.ITEM_SIZES, prefix="torch."),
    **entries(_DTYPE, _TORCH_ALIAS, vocab.DTYPE_ALIASES, prefix="torch."),
    **entries(
        "quantization scheme constant",
        _TORCH_ALLOWED,
        "per_tensor_affine per_tensor_symmetric per_channel_affine per_channel_symmetric"
        " per_channel_affine_float_qparams",
        prefix="torch.",
    ),
    **entries(
        "legacy tensor type class",
        _TORCH_ALLOWED + " (torch._tensor_classes)",
        "Float Double Half BFloat16 Long Int Short Char Byte Bool",
        prefix="torch.",
        suffix="Tensor",
    ),
    **entries("shape tuple type", _TORCH_ALLOWED, ["torch.Size"]),
    **entries("tensor base class (subclass rebuilds name it)", _TORCH_ALLOWED, ["torch.Tensor"]),
    **entries("device descriptor ('cpu', 'cuda:0')", _TORCH_ALLOWED, ["torch.device"]),
    **entries("nn.Parameter wrapper", _TORCH_ALLOWED, ["torch.nn.parameter.Parameter"]),
    **entries(
        "returns a torch.layout by name (copyreg hook of torch)",
        _TORCH_ALLOWED,
        ["torch.serialization._get_layout"],
    ),
    **entries("layout constant", _TORCH_LAYOUT, "strided sparse_coo sparse_csr", prefix="torch."),
    **entries(
        "memory format constant",
        _TORCH_FORMAT,
        "contiguous_format channels_last preserve_format",
        prefix="torch.",
    ),
    **entries(
        "TorchScript pickler helper that returns its argument (torch/jit/_pickle.py)",
        _TORCH_TS,
        "build_intlist build_tensorlist build_doublelist build_boollist build_tensor_from_id"
        " restore_type_tag",
        prefix="torch.jit._pickle.",
    ),
    **entries("the type of every state_dict", _TORCH_ALLOWED, ["collections.OrderedDict"]),
    **entries("plain mapping type (torch allows it)", _TORCH_ALLOWED, ["collections.Counter"]),
    **entries(
        "plain mapping type; its default factory is a separate global",
        _CPYTHON_COLLECTIONS,
        ["collections.defaultdict"],
    ),
    **entries("plain sequence type", _CPYTHON_COLLECTIONS, ["collections.deque"]),
    **entries("set literal (protocol < 4)", _TORCH_ALLOWED, ["builtins.set"]),
    **entries("frozenset literal (protocol < 4)", _CPYTHON_PICKLE, ["builtins.frozenset"]),
    **entries("bytearray literal", _TORCH_ALLOWED, ["builtins.bytearray"]),
    **entries("complex number literal", _TORCH_ALLOWED, ["builtins.complex"]),
    **entries("slice literal", _CPYTHON_PICKLE, ["builtins.slice"]),
    **entries("range literal", _CPYTHON_PICKLE, ["builtins.range"]),
    **entries(
        "bytes literal (protocol < 3 pickles bytes through it)",
        _CPYTHON_PICKLE,
        ["builtins.bytes"],
    ),
    **entries("base passed to copyreg._reconstructor", _CPYTHON_PICKLE, ["builtins.object"]),
    **entries("the int type (plain data)", _CPYTHON_PICKLE, ["builtins.int"]),
    **entries("the float type (plain data)", _CPYTHON_PICKLE, ["builtins.float"]),
    **entries("the str type (plain data)", _CPYTHON_PICKLE, ["builtins.str"]),
    **entries("the bool type (plain data)", _CPYTHON_PICKLE, ["builtins.bool"]),
    **entries("the dict type (plain data)", _CPYTHON_PICKLE, ["builtins.dict"]),
    **entries("the list type (plain data)", _CPYTHON_PICKLE, ["builtins.list"]),
    **entries("the tuple type (plain data)", _CPYTHON_PICKLE, ["builtins.tuple"]),
    **entries("how protocol 2 pickles bytes (torch allows it)", _TORCH_ALLOWED, ["_codecs.encode"]),
    **entries("how protocol 2 pickles bytes", _CPYTHON_PICKLE, ["codecs.encode"]),
    **entries(
        "protocol 0/1 object reconstruction; the class is judged separately",
        _CPYTHON_PICKLE,
        ["copyreg._reconstructor"],
    ),
    **entries(
        "protocol 2 object creation; the class is judged separately",
        _CPYTHON_PICKLE,
        ["copyreg.__newobj__", "copyreg.__newobj_ex__"],
    ),
}

_NUMPY = "numpy array/scalar/dtype reconstruction (data only)"
_META = "training metadata type (data only)"
_NUMPY_SRC = "numpy/core/multiarray.py, numpy/core/numeric.py (__reduce__ of arrays)"
_NUMPY_RANDOM = "numpy/random/_pickle.py (__reduce__ of the RNG types)"
_STDLIB_DATA = "CPython Lib/ (__reduce__ of the data type: plain values in, a value out)"

#: Known-benign metadata types: an ``info`` finding (``torch.load(weights_only=True)`` may
#: still refuse them, which is why users reach for weights_only=False).
BENIGN_METADATA: Table = {
    **entries(
        _NUMPY,
        _NUMPY_SRC,
        [
            f"{module}.{name}"
            for module in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name in ("_reconstruct", "scalar")
        ],
    ),
    **entries(
        _NUMPY,
        _NUMPY_SRC,
        "numpy.ndarray numpy.dtype numpy.core.numeric._frombuffer"
        " numpy._core.numeric._frombuffer numpy.ma.core._mareconstruct",
    ),
    **entries(
        "numpy RandomState restore (RNG state)",
        _NUMPY_RANDOM,
        ["numpy.random._pickle.__randomstate_ctor"],
    ),
    **entries(
        "numpy BitGenerator restore (RNG state)",
        _NUMPY_RANDOM,
        ["numpy.random._pickle.__bit_generator_ctor"],
    ),
    **entries(
        "numpy Generator restore (RNG state)",
        _NUMPY_RANDOM,
        ["numpy.random._pickle.__generator_ctor"],
    ),
    **entries("numpy RNG state", _NUMPY_RANDOM, ["numpy.random.mtrand.RandomState"]),
    **entries("command-line hyper-parameters", "CPython Lib/argparse.py", ["argparse.Namespace"]),
    **entries(
        _META,
        _STDLIB_DATA,
        "types.SimpleNamespace datetime.datetime datetime.date datetime.time"
        " datetime.timedelta datetime.timezone decimal.Decimal fractions.Fraction uuid.UUID"
        " pathlib.Path pathlib.PosixPath pathlib.WindowsPath pathlib.PurePath"
        " pathlib.PurePosixPath pathlib.PureWindowsPath array.array array._array_reconstructor"
        " enum.Enum",
    ),
    **entries(
        "torch version string saved by Lightning",
        "torch/torch_version.py (a str subclass)",
        ["torch.torch_version.TorchVersion"],
    ),
    **entries(
        "a compiled regular expression (compiling runs no code)",
        "CPython Lib/re/__init__.py (copyreg.pickle(Pattern, _pickle))",
        ["re._compile"],
    ),
    **entries(
        _META,
        "torch/optim/lr_scheduler.py (a scheduler's state)",
        ["torch.optim.lr_scheduler.LambdaLR"],
    ),
    **entries(
        "the default fx tracer a pickled GraphModule records as _tracer_cls (re-tracing runs "
        "only the carried code, which is judged on its own)",
        "torch/fx/graph_module.py::_deserialize_graph_module, torch/fx/_symbolic_trace.py",
        ["torch.fx._symbolic_trace.Tracer"],
    ),
}

#: Harmless to construct, but the building blocks of call chains; only a call on what they
#: return would run code, and such calls are graded by the ``computed-callable`` rule.
GADGETS: Table = {
    **entries(
        "a partial application (Hydra/Lightning configs store optimizer "
        "partials); calling it is what would run code",
        "CPython Lib/functools.py; picklescan scanner.py::_unsafe_globals lists it",
        ["functools.partial"],
    ),
    **entries("a partial method object", "CPython Lib/functools.py", ["functools.partialmethod"]),
    **entries(
        "how plain pickle.dump() stores a torch storage: it "
        "runs torch.load(weights_only=False) on embedded bytes, "
        "which are scanned as a nested file",
        "torch/storage.py::_load_from_bytes",
        ["torch.storage._load_from_bytes"],
    ),
}
