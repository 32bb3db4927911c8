"""Modules and package areas a checkpoint never needs, each with why it is dangerous.

* :data:`DANGEROUS_COMPONENTS`: modules that run code, spawn processes, touch files or the
  network, import modules or unpickle; matched against *every* component of a global's
  dotted ``module.name`` path (``torch.serialization.os.system`` reaches ``os``);
* :data:`DANGEROUS_ROOTS`: further modules matched on the path's root only (the components
  above are roots too);
* :data:`THIRD_PARTY_DANGEROUS` and :data:`TORCH_DANGEROUS`: package areas (prefixes of the
  module or the full name) whose functions load files, compile or run code;
* :data:`KNOWN_PACKAGES`: third-party packages whose layout is known (attribute paths from
  them are judged component by component, like the standard library's and torch's).

The model is picklescan's ``_unsafe_globals`` (``src/picklescan/scanner.py``), which gives
each module a comment; torch's own block-list (``torch/_weights_only_unpickler.py::
_blocklisted_modules``: ``sys``, ``os``, ``posix``, ``nt``) is the hard core.  The callables
matched by name are in :mod:`.denynames`.
"""

from __future__ import annotations

from .policy import Table, entries

__all__ = [
    "DANGEROUS_COMPONENTS",
    "DANGEROUS_ROOTS",
    "THIRD_PARTY_DANGEROUS",
    "KNOWN_PACKAGES",
    "TORCH_DANGEROUS",
]

_PICKLESCAN = "picklescan src/picklescan/scanner.py::_unsafe_globals"
_TORCH_BLOCKED = "torch/_weights_only_unpickler.py::_blocklisted_modules"

#: Matched against every component of the dotted module + name path.
DANGEROUS_COMPONENTS: Table = {
    **entries(
        "the operating system interface: os.system, exec*, spawn*, file and process calls",
        f"CPython Lib/os.py (posix/nt are its C halves); {_TORCH_BLOCKED}; {_PICKLESCAN}",
        "os posix nt",
    ),
    **entries(
        "the interpreter itself (sys.modules, settrace, path hooks); torch blocks it",
        f"CPython Python/sysmodule.c; {_TORCH_BLOCKED}; {_PICKLESCAN}",
        "sys",
    ),
    **entries(
        "spawns processes or runs shell commands",
        "CPython Lib/subprocess.py, pty.py, multiprocessing/, asyncio/subprocess.py; "
        "Python 2 commands/popen2; Windows _winapi/msvcrt (CreateProcess, spawn)",
        "subprocess _posixsubprocess pty commands popen2 _winapi msvcrt multiprocessing asyncio",
    ),
    **entries(
        "third-party wrappers that run shell commands or remote commands (SSH)",
        "pexpect, sh, plumbum, paramiko, fabric documentation",
        "pexpect sh plumbum paramiko fabric",
    ),
    **entries(
        "eval, exec, compile, __import__, getattr, open: code execution and file access",
        f"CPython Python/bltinmodule.c (Python 2: __builtin__); {_PICKLESCAN}",
        "builtins __builtin__ __builtins__",
    ),
    **entries(
        "imports modules, runs modules or source text, or loads code objects",
        "CPython Lib/runpy.py, importlib/, code.py, codeop.py, marshal (code objects)",
        "runpy importlib code codeop marshal",
    ),
    **entries(
        "calls arbitrary C functions and writes raw memory",
        f"CPython Lib/ctypes/; {_PICKLESCAN}",
        "ctypes _ctypes",
    ),
    **entries(
        "a nested unpickler: it runs whatever the bytes it is given name",
        "CPython Lib/pickle.py, shelve.py; dill, cloudpickle, joblib documentation",
        "pickle _pickle cPickle dill cloudpickle joblib shelve",
    ),
    **entries(
        "opens URLs, sockets or a browser (downloads, exfiltration)",
        "CPython Lib/socket.py, urllib/, webbrowser.py; urllib2 (Python 2); "
        "urllib3, requests, httpx documentation",
        "socket urllib urllib2 urllib3 requests httpx webbrowser",
    ),
    **entries(
        "copies, moves and deletes files and whole trees (rmtree)",
        f"CPython Lib/shutil.py; {_PICKLESCAN}",
        "shutil",
    ),
    **entries(
        "installs and imports packages (pip.main runs an installer)",
        f"pip documentation; {_PICKLESCAN}",
        "pip",
    ),
}

#: Module roots that are dangerous even when not listed above (matched on the root only).
DANGEROUS_ROOTS: Table = {
    **DANGEROUS_COMPONENTS,
    **entries(
        "network clients and servers (connections, downloads, exfiltration)",
        "CPython Lib/http/, ftplib, telnetlib, smtplib, poplib, imaplib, nntplib, xmlrpc/, "
        "socketserver, wsgiref/, ssl, select, selectors; httplib (Python 2)",
        "http httplib ftplib telnetlib smtplib poplib imaplib nntplib xmlrpc socketserver"
        " wsgiref ssl select selectors",
    ),
    **entries(
        "third-party network clients",
        "aiohttp, httplib2, pycurl, websocket-client, websockets documentation",
        "aiohttp httplib2 pycurl websocket websockets",
    ),
    **entries(
        "remote storage, hub and repository clients (download or upload files)",
        "huggingface_hub, fsspec, boto3/botocore, s3fs, gcsfs, smart_open, GitPython, pygit2 "
        "documentation",
        "huggingface_hub fsspec boto3 botocore s3fs gcsfs smart_open git pygit2",
    ),
    **entries(
        "controls the interpreter, its threads, signals, memory or C internals",
        "CPython Lib/signal, threading, _thread, gc, resource, fcntl, termios, tty, atexit, "
        "faulthandler, tracemalloc, weakref, concurrent/; _testcapi/_testinternalcapi and "
        "(sub)interpreter modules",
        "signal threading _thread gc resource fcntl termios tty atexit faulthandler tracemalloc"
        " weakref concurrent _testcapi _testinternalcapi _xxsubinterpreters _interpreters",
    ),
    **entries(
        "reflection and call plumbing: the building blocks of gadget chains "
        "(attrgetter, methodcaller, reduce, FunctionType, copy's __reduce_ex__ calls)",
        "CPython Lib/inspect.py, types.py, operator.py, functools.py, itertools, copy.py; "
        f"{_PICKLESCAN} (operator, functools)",
        "inspect types operator _operator functools _functools itertools copy",
    ),
    **entries(
        "debuggers, profilers, REPLs, doc and test tools: each runs code given as text",
        "CPython Lib/pdb, bdb, timeit, trace, cProfile, profile, pydoc, doctest, idlelib/, "
        f"lib2to3/, _pyrepl/, test/; IPython, jupyter, pytest, nose; {_PICKLESCAN}",
        "pdb bdb timeit trace cProfile profile pydoc doctest idlelib lib2to3 _pyrepl test"
        " IPython jupyter_client nbformat pytest _pytest nose",
    ),
    **entries(
        "evaluates expressions given as text",
        "sympy (sympify/parse_expr), numexpr (evaluate) documentation",
        "sympy numexpr",
    ),
    **entries(
        "builds, installs or imports packages and environments",
        "CPython Lib/venv/, ensurepip/, zipimport, imp, pkgutil, site, sysconfig; "
        f"setuptools, distutils, pkg_resources; {_PICKLESCAN} (venv, ensurepip, distutils)",
        "venv ensurepip zipimport imp pkgutil setuptools distutils site sysconfig pkg_resources",
    ),
    **entries(
        "reads, writes or deletes files and archives",
        "CPython Lib/tempfile, glob, fileinput, linecache, mmap, tarfile, zipfile, gzip, bz2, "
        "lzma, logging (file handlers), sqlite3, dbm",
        "tempfile glob fileinput linecache mmap tarfile zipfile gzip bz2 lzma logging sqlite3 dbm",
    ),
    **entries(
        "runs external programs to query the platform (uname, ifconfig, xcrun)",
        "CPython Lib/platform.py, uuid.py (_get_command_stdout), _osx_support, _aix_support",
        "platform _osx_support _aix_support uuid",
    ),
    **entries(
        "process and container managers, task runners",
        "psutil (Popen), docker, kubernetes, invoke, subprocess32 documentation",
        "psutil docker kubernetes invoke subprocess32",
    ),
    **entries(
        "loaders of other serialised formats and models with code paths of their own "
        "(yaml.unsafe_load, Keras Lambda layers, jsonpickle decode)",
        "PyYAML, Keras, TensorFlow, JAX, jsonpickle documentation",
        "yaml keras tensorflow jax jsonpickle",
    ),
}

#: Third-party package areas that load files, compile or run code (prefixes of the module
#: or of ``module.name``).
THIRD_PARTY_DANGEROUS: Table = {
    **entries(
        "numpy areas that run code or load files (f2py compiles, runstring is exec, "
        "npyio/format load pickles, ctypeslib loads libraries)",
        f"numpy source tree; {_PICKLESCAN} (numpy.f2py, numpy.testing._private.utils)",
        "numpy.testing numpy.f2py numpy.distutils numpy.ctypeslib numpy.lib.npyio"
        " numpy.lib.format numpy.lib.utils",
    ),
    **entries(
        "readers that unpickle or load files",
        "pandas.io (read_pickle), scipy.io (loadmat), scipy.weave (compiles C) documentation",
        "pandas.io scipy.io scipy.weave",
    ),
    **entries(
        "vendored joblib/pickle loaders",
        "scikit-learn sklearn/externals",
        "sklearn.externals",
    ),
    **entries(
        "downloads files or imports code shipped with a model",
        "transformers/utils/hub.py, transformers/dynamic_module_utils.py, datasets/load.py",
        "transformers.utils.hub transformers.dynamic_module_utils datasets.load",
    ),
    **entries(
        "opens local or remote files (fsspec)",
        "lightning/fabric/utilities/cloud_io.py (and its pytorch_lightning twin)",
        "lightning.fabric.utilities.cloud_io pytorch_lightning.utilities.cloud_io",
    ),
    **entries(
        "reads and decodes files",
        "torchvision/io/, torchvision/datasets/",
        "torchvision.io torchvision.datasets",
    ),
}

#: torch areas whose functions load files, compile or run code, or spawn work (prefixes of
#: the module or of ``module.name``).
TORCH_DANGEROUS: Table = {
    **entries(
        "loads other files or pickles (torch.load, hub.load, _load_from_bytes, model_zoo)",
        f"torch/serialization.py, hub.py, storage.py, utils/model_zoo.py; {_PICKLESCAN}",
        "torch.hub torch.serialization torch.storage torch.utils.model_zoo",
    ),
    **entries(
        "compiles or runs code: TorchScript, FX (exec of generated source), Dynamo, "
        "Inductor (compile_file), export, custom-op libraries",
        f"torch/jit/, fx/, _dynamo/, _inductor/, export/, library.py; {_PICKLESCAN}",
        "torch.jit torch.package torch.fx torch._dynamo torch._inductor torch.compiler"
        " torch.export torch._export torch._higher_order_ops torch._functorch torch.func"
        " torch.library torch._library torch._ops torch.ops torch.classes torch._C"
        " torch.overrides torch._lazy torch.utils.jit",
    ),
    **entries(
        "builds and loads C++/CUDA extensions or rewrites sources",
        "torch/utils/cpp_extension.py (load_inline), torch/utils/hipify/",
        "torch.utils.cpp_extension torch.utils.hipify",
    ),
    **entries(
        "runs commands, profilers or benchmarks given code as text",
        f"torch/utils/collect_env.py (run), bottleneck/, benchmark/ (Timer), profiler; "
        f"{_PICKLESCAN}",
        "torch.utils.collect_env torch.utils.bottleneck torch.utils.benchmark torch.profiler"
        " torch.autograd.profiler",
    ),
    **entries(
        "starts processes, threads or network communication",
        "torch/distributed/, multiprocessing/, utils/data/ (DataLoader workers, decoders "
        "that unpickle), utils/tensorboard/ (writes files)",
        "torch.distributed torch.multiprocessing torch.utils.data torch.utils.tensorboard",
    ),
    **entries(
        "writes files or loads configuration that may hold pickles",
        f"torch/onnx/, testing/, _logging/, utils/_config_module.py; {_PICKLESCAN}",
        "torch.onnx torch.testing torch._logging torch.utils._config_module",
    ),
    **entries(
        "device and backend control (allocator settings, lazy CUDA calls)",
        "torch/cuda/memory.py, cuda/_utils.py, backends/, mps/, xpu/",
        "torch.cuda.memory torch.cuda._utils torch.backends torch.mps torch.xpu",
    ),
}

#: Installed third-party packages an attacker can start an attribute walk from, whose
#: module attributes reach other modules: a dotted name from them is a walk, and a module
#: path through them that names a dangerous component is judged as that component.
KNOWN_PACKAGES: Table = {
    **entries(
        "scientific Python packages checkpoints store data of (arrays, sparse matrices, "
        "frames); they import os, subprocess and io helpers",
        "numpy, scipy, pandas, scikit-learn source trees",
        "numpy scipy pandas sklearn",
    ),
    **entries(
        "installed with torch (its dependencies): present wherever torch is",
        "torch's install requirements (pyproject.toml / setup.py: typing-extensions, sympy, "
        "networkx, jinja2, fsspec, filelock, mpmath, markupsafe)",
        "typing_extensions sympy networkx jinja2 fsspec filelock mpmath markupsafe",
    ),
    **entries(
        "model and training libraries whose classes checkpoints name",
        "transformers, diffusers, timm, torchvision, torchaudio, lightning, "
        "pytorch_lightning, accelerate, omegaconf, hydra, safetensors documentation",
        "transformers diffusers timm torchvision torchaudio lightning pytorch_lightning"
        " accelerate omegaconf hydra safetensors huggingface_hub",
    ),
    **entries(
        "Python 2/3 compatibility layers whose module paths alias standard modules "
        "(six.moves.builtins is builtins)",
        "six (six.moves meta path importer), future (future.moves, past.builtins) docs",
        "six future past",
    ),
}
