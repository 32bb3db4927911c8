"""Judging what a pickle stream names and does: allow-list with reasons, then rules.

Every global is normalised the way the loader would (Python 2 names through
``_compat_pickle``, as ``pickle`` does for protocols < 3) and judged in this order:

1. names that cannot be known statically (computed ``STACK_GLOBAL``, ``EXT*``) -> malicious;
2. the allow-list (:data:`ALLOWED`): torch's own rebuild machinery -> no finding;
3. known-benign metadata (:data:`BENIGN_METADATA`) -> ``info``;
4. the hard block-list: dunder attribute paths, dangerous modules anywhere in the
   dotted path, callables that run code / touch files, processes or the network /
   import modules / load other files -> malicious (cannot be overridden);
5. any other standard-library global -> malicious: the standard library is full of
   gadgets (``timeit``, ``pdb``, ``cProfile``, ``uuid._get_command_stdout``...) and a
   model checkpoint needs none of them beyond the allow-listed data types;
6. ``torch`` names outside the allow-list: ``nn``/``optim`` classes (full-model
   pickles) -> info, dangerous sub-packages -> malicious, the rest -> suspicious;
7. everything else (third-party or user classes such as ``__main__.Net``) -> suspicious:
   ``torch.load`` would import that module and run its code.

Sources: ``torch/_weights_only_unpickler.py`` (``_get_allowed_globals``,
``_tensor_rebuild_functions``), fickling ``fickling/ml.py`` (allow-list with reasons),
picklescan ``scanner.py`` (dangerous globals), published scanner bypasses (see
``corpus/generate.py`` for one sample per technique with its advisory).
"""

from __future__ import annotations

import _compat_pickle
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from pthforensics.core import Finding, Location, PickleStream, Severity

from .static_scan import GlobalUse, StreamScan

__all__ = ["ALLOWED", "BENIGN_METADATA", "RULES", "Judgement", "evaluate_stream", "judge_global"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Judgement:
    """The grade of one global and why."""

    severity: Severity
    rule_id: str
    reason: str


_REBUILD = "torch tensor rebuild function (torch/_weights_only_unpickler.py allows it)"
_STORAGE = "legacy typed-storage class named by torch.save's persistent ids"
_DTYPE = "torch dtype constant"

#: Globals a torch checkpoint legitimately names; no finding.  Mirrors
#: torch/_weights_only_unpickler.py::_get_allowed_globals (torch 2.x).
ALLOWED: dict[str, str] = {
    **{
        f"torch._utils.{n}": _REBUILD
        for n in (
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_nested_tensor",
            "_rebuild_device_tensor_from_cpu_tensor",
            "_rebuild_device_tensor_from_numpy",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_wrapper_subclass",
            "_rebuild_xla_tensor",
            "_rebuild_mps_tensor",
            "_rebuild_sparse_csr_tensor",
        )
    },
    "torch._tensor._rebuild_from_type_v2": "rebuilds tensor subclasses; the function it is "
    "given is a separate global, judged on its own",
    "torch._tensor._rebuild_from_type": "older form of _rebuild_from_type_v2",
    **{
        f"torch.{n}Storage": _STORAGE
        for n in (
            "Float",
            "Double",
            "Half",
            "BFloat16",
            "Long",
            "Int",
            "Short",
            "Char",
            "Byte",
            "Bool",
            "ComplexFloat",
            "ComplexDouble",
            "QInt8",
            "QUInt8",
            "QInt32",
            "QUInt4x2",
            "QUInt2x4",
            "Untyped",
            "Typed",
        )
    },
    "torch.storage.UntypedStorage": _STORAGE,
    "torch.storage.TypedStorage": _STORAGE,
    "torch.storage._TypedStorage": _STORAGE,
    "torch.storage._UntypedStorage": _STORAGE,
    **{
        f"torch.{n}": _DTYPE
        for n in (
            "float32",
            "float",
            "float64",
            "double",
            "float16",
            "half",
            "bfloat16",
            "complex32",
            "complex64",
            "complex128",
            "cfloat",
            "cdouble",
            "uint8",
            "int8",
            "int16",
            "short",
            "int32",
            "int",
            "int64",
            "long",
            "bool",
            "qint8",
            "quint8",
            "qint32",
            "quint4x2",
            "quint2x4",
            "float8_e4m3fn",
            "float8_e5m2",
            "float8_e4m3fnuz",
            "float8_e5m2fnuz",
            "float8_e8m0fnu",
            "float4_e2m1fn_x2",
            "uint16",
            "uint32",
            "uint64",
            "bits8",
            "bits16",
            "bits1x8",
            "bits2x4",
            "bits4x2",
            *(f"uint{x}" for x in range(1, 8)),
            *(f"int{x}" for x in range(1, 8)),
        )
    },
    **{
        f"torch.{n}": "quantization scheme constant"
        for n in (
            "per_tensor_affine",
            "per_tensor_symmetric",
            "per_channel_affine",
            "per_channel_symmetric",
            "per_channel_affine_float_qparams",
        )
    },
    **{
        f"torch.{n}Tensor": "legacy tensor type class"
        for n in (
            "Float",
            "Double",
            "Half",
            "BFloat16",
            "Long",
            "Int",
            "Short",
            "Char",
            "Byte",
            "Bool",
        )
    },
    "torch.Size": "shape tuple type",
    "torch.Tensor": "tensor base class (subclass rebuilds name it)",
    "torch.device": "device descriptor ('cpu', 'cuda:0')",
    "torch.nn.parameter.Parameter": "nn.Parameter wrapper",
    "torch.serialization._get_layout": "returns a torch.layout by name (copyreg hook of torch)",
    "torch.strided": "layout constant",
    "torch.sparse_coo": "layout constant",
    "torch.sparse_csr": "layout constant",
    "torch.contiguous_format": "memory format constant",
    "torch.channels_last": "memory format constant",
    "torch.preserve_format": "memory format constant",
    **{
        f"torch.jit._pickle.{n}": "TorchScript pickler helper that returns its argument "
        "(torch/jit/_pickle.py)"
        for n in (
            "build_intlist",
            "build_tensorlist",
            "build_doublelist",
            "build_boollist",
            "build_tensor_from_id",
            "restore_type_tag",
        )
    },
    "collections.OrderedDict": "the type of every state_dict",
    "collections.Counter": "plain mapping type (torch allows it)",
    "collections.defaultdict": "plain mapping type; its default factory is a separate global",
    "collections.deque": "plain sequence type",
    "builtins.set": "set literal (protocol < 4)",
    "builtins.frozenset": "frozenset literal (protocol < 4)",
    "builtins.bytearray": "bytearray literal",
    "builtins.complex": "complex number literal",
    "builtins.slice": "slice literal",
    "builtins.range": "range literal",
    "builtins.bytes": "bytes literal (protocol < 3 pickles bytes through it)",
    "builtins.object": "base passed to copyreg._reconstructor",
    "builtins.int": "int type",
    "builtins.float": "float type",
    "builtins.str": "str type",
    "builtins.bool": "bool type",
    "builtins.dict": "dict type",
    "builtins.list": "list type",
    "builtins.tuple": "tuple type",
    "_codecs.encode": "how protocol 2 pickles bytes (torch allows it)",
    "codecs.encode": "how protocol 2 pickles bytes",
    "copyreg._reconstructor": "protocol 0/1 object reconstruction; the class is judged separately",
    "copyreg.__newobj__": "protocol 2 object creation; the class is judged separately",
    "copyreg.__newobj_ex__": "protocol 2 object creation; the class is judged separately",
}

_NUMPY = "numpy array/scalar/dtype reconstruction (data only)"
_META = "training metadata type (data only)"

#: Known-benign metadata types: an ``info`` finding (``torch.load(weights_only=True)`` may
#: still refuse them, which is why users reach for weights_only=False).
BENIGN_METADATA: dict[str, str] = {
    **{
        f"{m}.{n}": _NUMPY
        for m in ("numpy.core.multiarray", "numpy._core.multiarray")
        for n in ("_reconstruct", "scalar")
    },
    "numpy.ndarray": _NUMPY,
    "numpy.dtype": _NUMPY,
    "numpy.core.numeric._frombuffer": _NUMPY,
    "numpy._core.numeric._frombuffer": _NUMPY,
    "numpy.ma.core._mareconstruct": _NUMPY,
    "numpy.random._pickle.__randomstate_ctor": "numpy RandomState restore (RNG state)",
    "numpy.random._pickle.__bit_generator_ctor": "numpy BitGenerator restore (RNG state)",
    "numpy.random._pickle.__generator_ctor": "numpy Generator restore (RNG state)",
    "numpy.random.mtrand.RandomState": "numpy RNG state",
    "argparse.Namespace": "command-line hyper-parameters",
    "types.SimpleNamespace": _META,
    "datetime.datetime": _META,
    "datetime.date": _META,
    "datetime.time": _META,
    "datetime.timedelta": _META,
    "datetime.timezone": _META,
    "decimal.Decimal": _META,
    "fractions.Fraction": _META,
    "uuid.UUID": _META,
    "pathlib.Path": _META,
    "pathlib.PosixPath": _META,
    "pathlib.WindowsPath": _META,
    "pathlib.PurePath": _META,
    "pathlib.PurePosixPath": _META,
    "pathlib.PureWindowsPath": _META,
    "array.array": _META,
    "array._array_reconstructor": _META,
    "enum.Enum": _META,
    "torch.torch_version.TorchVersion": "torch version string saved by Lightning",
    "re._compile": "a compiled regular expression (compiling runs no code)",
    "torch.optim.lr_scheduler.LambdaLR": _META,
}

#: Modules that can run code, spawn processes, touch files or the network, or import
#: other modules.  Matched against every component of the dotted module + name path.
_DANGEROUS_COMPONENTS = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "builtins",
        "__builtin__",
        "__builtins__",
        "shutil",
        "socket",
        "pty",
        "runpy",
        "importlib",
        "ctypes",
        "_ctypes",
        "marshal",
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "cloudpickle",
        "webbrowser",
        "urllib",
        "urllib2",
        "urllib3",
        "requests",
        "httpx",
        "_posixsubprocess",
        "pip",
        "multiprocessing",
        "asyncio",
        "code",
        "codeop",
        "commands",
        "popen2",
        "_winapi",
        "msvcrt",
        "joblib",
        "shelve",
        "pexpect",
        "paramiko",
        "fabric",
        "sh",
        "plumbum",
    }
)

#: Module roots that are dangerous even when not listed above (matched on the root only).
_DANGEROUS_ROOTS = _DANGEROUS_COMPONENTS | frozenset(
    {
        "http",
        "httplib",
        "ftplib",
        "telnetlib",
        "smtplib",
        "poplib",
        "imaplib",
        "nntplib",
        "xmlrpc",
        "socketserver",
        "wsgiref",
        "ssl",
        "select",
        "selectors",
        "signal",
        "threading",
        "_thread",
        "gc",
        "inspect",
        "types",
        "operator",
        "_operator",
        "functools",
        "_functools",
        "itertools",
        "pdb",
        "bdb",
        "timeit",
        "trace",
        "cProfile",
        "profile",
        "pydoc",
        "doctest",
        "idlelib",
        "lib2to3",
        "venv",
        "ensurepip",
        "tempfile",
        "glob",
        "fileinput",
        "linecache",
        "mmap",
        "resource",
        "fcntl",
        "termios",
        "tty",
        "zipimport",
        "imp",
        "pkgutil",
        "setuptools",
        "distutils",
        "site",
        "sysconfig",
        "platform",
        "_osx_support",
        "_aix_support",
        "uuid",
        "tarfile",
        "zipfile",
        "gzip",
        "bz2",
        "lzma",
        "logging",
        "sqlite3",
        "dbm",
        "copy",
        "weakref",
        "atexit",
        "faulthandler",
        "tracemalloc",
        "yaml",
        "keras",
        "tensorflow",
        "jax",
        "numexpr",
        "IPython",
        "jupyter_client",
        "nbformat",
        "huggingface_hub",
        "fsspec",
        "boto3",
        "botocore",
        "s3fs",
        "gcsfs",
        "smart_open",
        "pexpect",
        "psutil",
        "docker",
        "kubernetes",
        "invoke",
        "git",
        "pygit2",
        "aiohttp",
        "httplib2",
        "pycurl",
        "websocket",
        "websockets",
        "jsonpickle",
        "pkg_resources",
        "pytest",
        "_pytest",
        "nose",
        "sympy",
        "test",
        "_pyrepl",
        "_testcapi",
        "_testinternalcapi",
        "_xxsubinterpreters",
        "_interpreters",
        "concurrent",
        "subprocess32",
    }
)

#: Third-party sub-packages that load files, compile or run code.
_THIRD_PARTY_DANGEROUS = (
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.ctypeslib",
    "numpy.lib.npyio",
    "numpy.lib.format",
    "numpy.lib.utils",
    "pandas.io",
    "scipy.io",
    "scipy.weave",
    "sklearn.externals",
    "transformers.utils.hub",
    "transformers.dynamic_module_utils",
    "datasets.load",
    "lightning.fabric.utilities.cloud_io",
    "pytorch_lightning.utilities.cloud_io",
    "torchvision.io",
    "torchvision.datasets",
)

#: Callables that execute code, load other pickles or files, spawn processes, write or
#: delete files, or reach the network; matched against every component of the name.
_DANGEROUS_NAMES = frozenset(
    {
        "system",
        "popen",
        "popen2",
        "popen3",
        "popen4",
        "Popen",
        "spawn",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnv",
        "spawnve",
        "spawnvp",
        "posix_spawn",
        "posix_spawnp",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execv",
        "execve",
        "execvp",
        "execvpe",
        "exec",
        "eval",
        "execfile",
        "compile",
        "__import__",
        "import_module",
        "load_module",
        "reload",
        "load",
        "loads",
        "load_library",
        "load_inline",
        "run",
        "run_path",
        "run_module",
        "runctx",
        "runcall",
        "runeval",
        "call",
        "check_call",
        "check_output",
        "getoutput",
        "getstatusoutput",
        "startfile",
        "open",
        "urlopen",
        "urlretrieve",
        "rmtree",
        "remove",
        "removedirs",
        "unlink",
        "rmdir",
        "rename",
        "replace",
        "chmod",
        "chown",
        "kill",
        "killpg",
        "fork",
        "forkpty",
        "write",
        "writelines",
        "write_text",
        "write_bytes",
        "mkdir",
        "makedirs",
        "symlink",
        "link",
        "truncate",
        "connect",
        "create_connection",
        "bind",
        "listen",
        "sendall",
        "read_pickle",
        "load_state_dict_from_url",
        "download_url_to_file",
        "setattr",
        "getattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "input",
        "apply",
        "pipepager",
        "tempfilepager",
        "interact",
        "debug_script",
        "set_trace",
        "_exit",
        "abort",
        "putenv",
        "memmap",
        "fromfile",
        "tofile",
        "from_file",
        "save",
        "savez",
        "_load_from_bytes",
        "_get_command_stdout",
        "_read_output",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "fork_exec",
        "attrgetter",
        "methodcaller",
        "itemgetter",
        "reduce",
        "literal_eval",
        "fromkeys_exec",
        "getattribute",
        "__getattribute__",
        "__getattr__",
        "__setattr__",
        "__reduce__",
        "__reduce_ex__",
        "__subclasses__",
        "__globals__",
        "__code__",
        "__class__",
        "__bases__",
        "__mro__",
        "__dict__",
        "__init__",
        "__call__",
        "__builtins__",
        "_run_code",
        "_run_module_code",
        "runstring",
        "run_command",
        "main",
        "cli",
        "console_main",
        "load_entry_point",
        "exec_command",
        "sympify",
        "parse_expr",
        "safe_eval",
        "unsafe_load",
        "full_load",
        "load_dataset",
        "hf_hub_download",
        "snapshot_download",
        "from_pretrained",
        "load_model",
        "load_weights",
        "execute",
        "executemany",
        "shell",
        "check_returncode",
        "communicate",
        "pipe",
        "_execvpe",
        "spawn_main",
        "load_url",
        "download",
        "download_url",
        "read_file",
        "read_text",
        "read_bytes",
    }
)

#: torch sub-packages whose functions load files, compile or run code, or spawn work.
_TORCH_DANGEROUS = (
    "torch.hub",
    "torch.jit",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch.utils.collect_env",
    "torch.utils.tensorboard",
    "torch.utils.data",
    "torch.utils.bottleneck",
    "torch.utils.benchmark",
    "torch._inductor",
    "torch._dynamo",
    "torch.distributed",
    "torch.fx",
    "torch.multiprocessing",
    "torch.serialization",
    "torch.storage",
    "torch.ops",
    "torch.classes",
    "torch._C",
    "torch.compiler",
    "torch.export",
    "torch.onnx",
    "torch.testing",
    "torch.profiler",
    "torch.autograd.profiler",
    "torch._ops",
    "torch.library",
    "torch._library",
    "torch.cuda.memory",
    "torch.backends",
    "torch._export",
    "torch._higher_order_ops",
    "torch.utils._config_module",
    "torch._functorch",
    "torch.func",
    "torch.overrides",
    "torch._lazy",
    "torch.mps",
    "torch.xpu",
    "torch.utils.model_zoo",
    "torch.utils.hipify",
    "torch.utils.jit",
    "torch.cuda.memory",
    "torch.cuda._utils",
    "torch._logging",
)

#: Harmless to construct, but the building blocks of call chains; only a call on what they
#: return would run code, and such calls are graded by the ``computed-callable`` rule.
_GADGETS: dict[str, str] = {
    "functools.partial": "a partial application (Hydra/Lightning configs store optimizer "
    "partials); calling it is what would run code",
    "functools.partialmethod": "a partial method object",
    "torch.storage._load_from_bytes": "how plain pickle.dump() stores a torch storage: it "
    "runs torch.load(weights_only=False) on embedded bytes, "
    "which are scanned as a nested file",
}

_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(_compat_pickle.IMPORT_MAPPING)


def normalize_global(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names to Python 3 ones exactly as ``pickle``'s loader does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _starts(dotted: str, prefixes: tuple[str, ...]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def judge_global(module: str | None, name: str | None) -> Judgement | None:
    """Grade one global; ``None`` means allow-listed (no finding)."""
    if module is None or name is None:
        return Judgement(
            Severity.MALICIOUS,
            "unresolved-global",
            "the global's module or name is computed at load time, so no scanner "
            "can tell what the loader will import; checkpoint writers never do this",
        )
    module, name = normalize_global(module, name)
    full = f"{module}.{name}"
    if full in ALLOWED:
        return None
    if full in BENIGN_METADATA:
        return Judgement(Severity.INFO, "benign-metadata-global", BENIGN_METADATA[full])
    components = [*module.split("."), *name.split(".")]
    if module == "__torch__" or module.startswith("__torch__."):
        return Judgement(
            Severity.INFO,
            "torchscript-class",
            "a TorchScript class compiled from the archive's own code/ (the archive "
            "itself is reported as code); Python's pickle cannot import it",
        )
    if module == "typing" and name.isidentifier() and name[:1].isupper():
        return Judgement(
            Severity.INFO,
            "benign-metadata-global",
            "a typing construct (omegaconf/Lightning configs record type hints)",
        )
    if full in _GADGETS:
        return Judgement(Severity.SUSPICIOUS, "gadget-global", _GADGETS[full])
    if any(
        c.startswith("__") and c.endswith("__") and c not in ("__main__",) for c in name.split(".")
    ):
        return Judgement(
            Severity.MALICIOUS,
            "dunder-attribute",
            f"'{full}' walks dunder attributes, the classic route from any "
            "object to builtins and arbitrary code",
        )
    root = components[0]
    bad = [c for c in components if c in _DANGEROUS_COMPONENTS]
    if root in _DANGEROUS_ROOTS or bad:
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' reaches module '{bad[0] if bad else root}', which can run "
            "code, spawn processes, import modules or touch files or the network",
        )
    bad_names = [c for c in name.split(".") if c in _DANGEROUS_NAMES]
    if bad_names:
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-callable",
            f"'{full}' is a callable ('{bad_names[0]}') that executes code, loads "
            "files or pickles, or reaches processes, files or the network",
        )
    if root == "torch":
        return _judge_torch(module, name, full)
    if _starts(module, _THIRD_PARTY_DANGEROUS) or _starts(full, _THIRD_PARTY_DANGEROUS):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-global",
            f"'{full}' lies in a package area that loads files or runs code",
        )
    if root in _STDLIB:
        return Judgement(
            Severity.MALICIOUS,
            "stdlib-global",
            f"'{full}' is a standard-library global outside the allow-list; "
            "checkpoints need none beyond plain data types, while the standard "
            "library offers many code-execution gadgets",
        )
    return Judgement(
        Severity.SUSPICIOUS,
        "unknown-global",
        f"'{full}' is not on the allow-list: loading imports '{module}' and runs "
        "its code; trust it only if you trust that package",
    )


def _judge_torch(module: str, name: str, full: str) -> Judgement:
    if _starts(module, _TORCH_DANGEROUS) or _starts(full, _TORCH_DANGEROUS):
        return Judgement(
            Severity.MALICIOUS,
            "dangerous-torch-global",
            f"'{full}' lies in a torch sub-package that loads files, compiles or "
            "runs code, or spawns work",
        )
    leaf = name.rsplit(".", 1)[-1]
    if _starts(module, ("torch.nn", "torch.optim", "torch.ao.nn", "torch.nn.quantized")) and (
        leaf[:1].isupper() or module.startswith("torch.nn.functional")
    ):
        return Judgement(
            Severity.INFO,
            "torch-module-class",
            f"'{full}' is a torch.nn/optim class or pure function (a full-model "
            "pickle; loading instantiates it without running user code)",
        )
    return Judgement(
        Severity.SUSPICIOUS,
        "unknown-torch-global",
        f"'{full}' is a torch global outside the allow-list; no checkpoint writer emits it",
    )


def _loc(stream: PickleStream, offset: int | None, global_name: str | None = None) -> Location:
    return Location(member=stream.name, offset=offset, global_name=global_name)


def rule_globals(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Grade every global the stream names (each distinct global once per stream)."""
    seen: set[tuple[str | None, str | None, bool]] = set()
    for use in scan.globals:
        if use.opcode.startswith("EXT"):
            yield Finding(
                "extension-global",
                Severity.MALICIOUS,
                _loc(stream, use.offset),
                f"{use.opcode} {use.ext_code} names a global through copyreg's "
                "extension registry, which the loading process controls and a "
                "scanner cannot see; checkpoint writers never emit it",
            )
            continue
        key = (use.module, use.name, use.called)
        if key in seen:
            continue
        seen.add(key)
        judgement = judge_global(use.module, use.name)
        if judgement is None:
            continue
        if use.called and judgement.rule_id in _UNKNOWN_RULES and _is_function_name(use.name):
            judgement = Judgement(
                Severity.MALICIOUS,
                "unknown-function-call",
                f"the stream calls '{use.qualname}', a function outside the "
                "allow-list (not a class): checkpoint writers only call "
                "class constructors and torch's rebuild helpers",
            )
        how = f"called by {_call_opcode(use)}" if use.called else f"named by {use.opcode}"
        yield Finding(
            judgement.rule_id,
            judgement.severity,
            _loc(stream, use.offset, use.qualname),
            f"{judgement.reason} ({how})",
        )


_UNKNOWN_RULES = frozenset({"unknown-global", "unknown-torch-global"})
#: Lower-case names that are classes (data containers that checkpoints may hold).
_LOWERCASE_CLASSES = frozenset(
    {
        "ndarray",
        "dtype",
        "matrix",
        "recarray",
        "record",
        "memmap_",
        "csr_matrix",
        "csc_matrix",
        "coo_matrix",
        "lil_matrix",
        "dok_matrix",
        "bsr_matrix",
        "dia_matrix",
        "csr_array",
        "csc_array",
        "coo_array",
        "defaultdict",
        "deque",
        "datetime",
        "date",
        "time",
        "timedelta",
        "timezone",
        "float16",
        "float32",
        "float64",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "bool_",
        "str_",
        "bytes_",
        "complex64",
        "complex128",
    }
)


def _is_function_name(name: str | None) -> bool:
    """Whether a global's last name component reads as a function rather than a class."""
    leaf = (name or "").rsplit(".", 1)[-1]
    core = leaf.lstrip("_")
    return bool(core) and core[:1].islower() and leaf not in _LOWERCASE_CLASSES


def _call_opcode(use: GlobalUse) -> str:
    if use.opcode in ("INST", "OBJ"):
        return use.opcode
    return f"the call at offset {use.call_offset}"


def rule_computed_calls(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A call whose callable is not a global: the result of an earlier call is called."""
    for offset in scan.calls_non_global[:1]:
        yield Finding(
            "computed-callable",
            Severity.MALICIOUS,
            _loc(stream, offset),
            f"{len(scan.calls_non_global)} call(s) apply a callable that an earlier "
            "call returned (a gadget chain); checkpoint writers never emit this",
        )


def rule_build_on_global(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """BUILD applied to a module or class itself rewrites its attributes."""
    for offset, qualname in scan.builds_on_globals[:1]:
        yield Finding(
            "build-on-global",
            Severity.MALICIOUS,
            _loc(stream, offset, qualname),
            "BUILD sets attributes on a global module/class itself (monkey-patching "
            "what later opcodes call)",
        )


def rule_malformed(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A stream that breaks: the loader runs everything before the break."""
    if scan.error is not None:
        yield Finding(
            "malformed-pickle",
            Severity.SUSPICIOUS,
            _loc(stream, scan.error_offset),
            f"the pickle breaks ({scan.error}); a loader executes every opcode "
            "before the break, so it is judged on that prefix",
        )


def rule_no_persistent_ids(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Persistent ids in a stream a loader reads without persistent_load are harmless; note
    streams that hold opcodes after STOP in the same bytes (a second pickle)."""
    if scan.end is not None and stream.role == "object" and scan.end < len(stream.data):
        yield Finding(
            "trailing-bytes",
            Severity.SUSPICIOUS,
            _loc(stream, scan.end),
            f"{len(stream.data) - scan.end} byte(s) follow STOP; pickle.load stops "
            "there, but a loader that reads again would run them",
        )


#: Stream-level rules, in the order their findings are reported.
RULES = (
    rule_globals,
    rule_computed_calls,
    rule_build_on_global,
    rule_malformed,
    rule_no_persistent_ids,
)


def evaluate_stream(stream: PickleStream, scan: StreamScan) -> tuple[Finding, ...]:
    """Run every rule of :data:`RULES` on one scanned stream."""
    return tuple(finding for rule in RULES for finding in rule(stream, scan))
