"""Callable names that run code, load files or pickles, or reach processes, files or the
network, wherever they live; and lower-case names that are classes.

* :data:`DANGEROUS_NAMES` is matched against every component of a global's *name*
  (``Profile.runctx`` matches ``runctx``), after the module deny-lists of
  :mod:`.denylist`: a user package's ``mypkg.tools.system`` is as dangerous as
  ``os.system`` once called;
* :data:`LOWERCASE_CLASSES` are data containers whose names read like functions: a call of
  one is a construction, not a function call.

The model is picklescan's ``_unsafe_globals`` (``src/picklescan/scanner.py``), whose
name-level entries (``builtins.eval``, ``operator.attrgetter``, ``cProfile.runctx``,
``torch._inductor.codecache.compile_file``...) are generalised here to the name wherever
it appears, since an attribute of that name anywhere can be the same function re-exported.
"""

from __future__ import annotations

from .policy import Table, entries

__all__ = ["DANGEROUS_NAMES", "LOWERCASE_CLASSES"]

_PICKLESCAN = "picklescan src/picklescan/scanner.py::_unsafe_globals"

#: Callables that execute code, load other pickles or files, spawn processes, write or
#: delete files, or reach the network; matched against every component of the name.
DANGEROUS_NAMES: Table = {
    **entries(
        "runs a shell command or another program",
        "CPython Lib/os.py (system, popen, spawn*, exec*, posix_spawn*, fork*, startfile), "
        "subprocess.py, asyncio/subprocess.py, multiprocessing (spawn_main), pydoc "
        f"(pipepager, tempfilepager), uuid (_get_command_stdout); {_PICKLESCAN}",
        "system popen popen2 popen3 popen4 Popen spawn spawnl spawnle spawnlp spawnv spawnve"
        " spawnvp posix_spawn posix_spawnp execl execle execlp execlpe execv execve execvp"
        " execvpe _execvpe startfile call check_call check_output getoutput getstatusoutput"
        " create_subprocess_exec create_subprocess_shell fork_exec spawn_main fork forkpty"
        " pipepager tempfilepager _get_command_stdout _read_output run_command exec_command"
        " shell check_returncode communicate pipe",
    ),
    **entries(
        "executes Python source or code objects",
        "CPython builtins (exec, eval, execfile, compile, input in Python 2, breakpoint), "
        "runpy (_run_code, run_path, run_module), cProfile/profile/bdb (run, runctx, "
        "runcall, runeval), code (interact), doctest (debug_script), pdb (set_trace), "
        "numpy.testing (runstring), sqlite3 (execute); sympy (sympify, parse_expr); "
        f"{_PICKLESCAN}",
        "exec eval execfile compile run run_path run_module runctx runcall runeval _run_code"
        " _run_module_code runstring interact debug_script set_trace breakpoint input"
        " literal_eval safe_eval sympify parse_expr execute executemany fromkeys_exec apply",
    ),
    **entries(
        "runs a program's entry point",
        "console-script conventions (main, cli, console_main); pkg_resources "
        "(load_entry_point); pip (main)",
        "main cli console_main load_entry_point",
    ),
    **entries(
        "imports a module or loads native code",
        "CPython builtins (__import__), importlib (import_module, reload), imp "
        "(load_module); numpy.ctypeslib (load_library); torch.utils.cpp_extension "
        "(load_inline)",
        "__import__ import_module load_module reload load_library load_inline",
    ),
    **entries(
        "loads a pickle, a file or a model with its own loader",
        "pickle/torch/numpy/joblib (load, loads), pandas (read_pickle), torch.storage "
        "(_load_from_bytes), PyYAML (unsafe_load, full_load), transformers/keras/datasets "
        "(from_pretrained, load_model, load_weights, load_dataset), torch.hub "
        "(load_state_dict_from_url, load_url), numpy (memmap, fromfile), pathlib "
        "(read_text, read_bytes)",
        "load loads read_pickle _load_from_bytes unsafe_load full_load load_dataset"
        " from_pretrained load_model load_weights load_state_dict_from_url load_url memmap"
        " fromfile from_file read_file read_text read_bytes",
    ),
    **entries(
        "downloads files or opens network connections",
        "urllib.request (urlopen, urlretrieve), torch.hub (download_url_to_file), "
        "huggingface_hub (hf_hub_download, snapshot_download), torchvision (download_url), "
        "socket (connect, create_connection, bind, listen, sendall)",
        "urlopen urlretrieve download_url_to_file hf_hub_download snapshot_download download"
        " download_url connect create_connection bind listen sendall",
    ),
    **entries(
        "opens, writes, moves or deletes files",
        "CPython builtins (open), os (remove, unlink, rmdir, removedirs, rename, replace, "
        "chmod, chown, mkdir, makedirs, symlink, link, truncate), shutil (rmtree), io "
        "(write, writelines), pathlib (write_text, write_bytes); numpy (tofile, save, "
        "savez); torch (save)",
        "open rmtree remove removedirs unlink rmdir rename replace chmod chown write writelines"
        " write_text write_bytes mkdir makedirs symlink link truncate tofile save savez",
    ),
    **entries(
        "kills or ends processes, or changes the environment",
        "CPython os (kill, killpg, _exit, abort, putenv)",
        "kill killpg _exit abort putenv",
    ),
    **entries(
        "reaches any attribute or calls what it is given: a gadget-chain primitive",
        "CPython builtins (getattr, setattr, delattr, globals, locals, vars), operator "
        f"(attrgetter, methodcaller, itemgetter), functools (reduce); {_PICKLESCAN}",
        "getattr setattr delattr getattribute globals locals vars attrgetter methodcaller"
        " itemgetter reduce",
    ),
    **entries(
        "a dunder on the path from an object to its class, module globals or builtins",
        "CPython data model (Objects/typeobject.c, funcobject.c)",
        "__getattribute__ __getattr__ __setattr__ __reduce__ __reduce_ex__ __subclasses__"
        " __globals__ __code__ __class__ __bases__ __mro__ __dict__ __init__ __call__"
        " __builtins__",
    ),
}

#: Lower-case names that are classes (data containers that checkpoints may hold).
LOWERCASE_CLASSES: Table = {
    **entries(
        "numpy array, dtype and scalar types",
        "numpy/__init__.py (ndarray, dtype, matrix, recarray, record, scalar types)",
        "ndarray dtype matrix recarray record memmap_ float16 float32 float64 int8 int16 int32"
        " int64 uint8 bool_ str_ bytes_ complex64 complex128",
    ),
    **entries(
        "scipy sparse matrix and array classes",
        "scipy/sparse/__init__.py",
        "csr_matrix csc_matrix coo_matrix lil_matrix dok_matrix bsr_matrix dia_matrix"
        " csr_array csc_array coo_array",
    ),
    **entries(
        "standard-library data types",
        "CPython Lib/collections/__init__.py, datetime.py",
        "defaultdict deque datetime date time timedelta timezone",
    ),
}
