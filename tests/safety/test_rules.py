"""The allow-list and the grading of globals."""

from __future__ import annotations

import pytest

from pthforensics.core import Severity
from pthforensics.safety import ALLOWED, BENIGN_METADATA, judge_global


@pytest.mark.parametrize("qualname", sorted(ALLOWED))
def test_allowed_have_reasons_and_pass(qualname: str) -> None:
    module, name = qualname.rsplit(".", 1)
    assert ALLOWED[qualname]
    assert judge_global(module, name) is None


@pytest.mark.parametrize("qualname", sorted(BENIGN_METADATA))
def test_metadata_is_info(qualname: str) -> None:
    module, name = qualname.rsplit(".", 1)
    judgement = judge_global(module, name)
    assert judgement is not None and judgement.severity is Severity.INFO


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "Popen"),
        ("builtins", "eval"),
        ("__builtin__", "exec"),
        ("builtins", "__import__"),
        ("torch.serialization", "os.system"),
        ("collections", "OrderedDict.__init__.__globals__"),
        ("runpy", "_run_code"),
        ("timeit", "timeit"),
        ("pdb", "run"),
        ("cProfile", "run"),
        ("pip", "main"),
        ("torch.hub", "load"),
        ("torch", "load"),
        ("torch.utils.collect_env", "run"),
        ("numpy", "load"),
        ("numpy.testing._private.utils", "runstring"),
        ("operator", "attrgetter"),
        ("functools", "reduce"),
        ("typing", "get_type_hints"),
        ("pytest", "main"),
        ("pkg_resources", "load_entry_point"),
        ("sympy", "sympify"),
        ("importlib", "import_module"),
        ("pkgutil", "resolve_name"),
        ("test.support", "script_helper"),
        ("_pyrepl.pager", "pipe_pager"),
        ("uuid", "_get_command_stdout"),
        ("pydoc", "pipepager"),
        ("ctypes", "CDLL"),
        ("asyncio.subprocess", "create_subprocess_shell"),
        ("webbrowser", "open"),
        ("shutil", "rmtree"),
        ("pickle", "loads"),
        ("_pickle", "loads"),
        ("marshal", "loads"),
        ("types", "FunctionType"),
        ("code", "InteractiveInterpreter"),
        ("bdb", "Bdb"),
        ("idlelib.pyshell", "ModifiedInterpreter"),
        ("doctest", "debug_script"),
        ("torch._inductor.codecache", "compile_file"),
        ("requests", "get"),
        ("urllib.request", "urlopen"),
        ("socket", "create_connection"),
        ("joblib", "load"),
        ("dill", "loads"),
        ("yaml", "load"),
        ("tempfile", "mktemp"),
    ],
)
def test_dangerous_is_malicious(module: str, name: str) -> None:
    judgement = judge_global(module, name)
    assert judgement is not None and judgement.severity is Severity.MALICIOUS, judgement


@pytest.mark.parametrize(("module", "name"), [(None, "system"), ("os", None)])
def test_computed_global_is_malicious_when_called(module: str | None, name: str | None) -> None:
    """A computed import: malicious when the loader calls it, suspicious when only named
    (the import happens, but what it names runs nowhere; damaged streams do this)."""
    called = judge_global(module, name, called=True)
    named = judge_global(module, name)
    assert called is not None and called.severity is Severity.MALICIOUS, called
    assert named is not None and named.severity is Severity.SUSPICIOUS, named


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("__main__", "Net"),
        ("mypackage.models", "ResNet"),
        ("omegaconf.dictconfig", "DictConfig"),
        ("torch", "manual_seed"),
        ("functools", "partial"),
        ("torch.storage", "_load_from_bytes"),
    ],
)
def test_unknown_is_suspicious(module: str, name: str) -> None:
    judgement = judge_global(module, name)
    assert judgement is not None and judgement.severity is Severity.SUSPICIOUS


def test_python2_names_are_normalised_below_protocol_3() -> None:
    """find_class maps Python 2 names only while the protocol is below 3."""
    assert judge_global("__builtin__", "set", proto=2) is None
    assert judge_global("copy_reg", "_reconstructor", proto=0) is None
    judgement = judge_global("__builtin__", "set", proto=4)
    assert judgement is not None and judgement.severity > Severity.INFO


def test_getattr_is_judged_by_its_walks() -> None:
    """Protocol 2 writes builtins.getattr for torch.relu: named only, it is suspicious;
    called on a global with a constant name, the walk decides (tests/safety/test_machine)."""
    named = judge_global("builtins", "getattr")
    assert named is not None and named.severity is Severity.SUSPICIOUS
    called = judge_global("builtins", "getattr", called=True)
    assert called is not None and called.severity is Severity.MALICIOUS


def test_user_function_names_need_a_call_to_be_malicious() -> None:
    """A user module's function named like a dangerous callable (mypkg.cli.main, a config
    entry point) is what importing runs (suspicious); calling it is a claim of capability."""
    named = judge_global("some_pkg.io", "load")
    assert named is not None and named.severity is Severity.SUSPICIOUS
    called = judge_global("some_pkg.io", "load", called=True)
    assert called is not None and called.severity is Severity.MALICIOUS


@pytest.mark.parametrize(
    ("module", "name"),
    [("mypkg.code.model", "Net"), ("tools.sh.layers", "Block"), ("app.models.main", "Net")],
)
def test_user_module_paths_are_judged_by_their_root(module: str, name: str) -> None:
    judgement = judge_global(module, name, called=True)
    assert judgement is not None and judgement.severity is Severity.SUSPICIOUS


@pytest.mark.parametrize(
    ("module", "name", "proto"),
    [
        ("torch.nn.functional", "np.savetxt", 4),
        ("torch._utils", "logging.FileHandler", 4),
        ("typing_extensions", "io.FileIO", 4),
        ("torch.nn.functional", "torch.fx.graph_module._exec_with_source", 4),
    ],
)
def test_protocol4_dotted_names_are_walks(module: str, name: str, proto: int) -> None:
    judgement = judge_global(module, name, proto=proto)
    assert judgement is not None and judgement.rule_id == "attribute-walk"
    below = judge_global(module, name, proto=2)
    assert below is not None and below.rule_id == "corrupt-global"


def test_walks_that_spell_an_allowed_global_are_that_global() -> None:
    assert judge_global("torch", "nn.parameter.Parameter") is None
    assert judge_global("torch", "_utils._rebuild_tensor_v2") is None


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("collections", "OrderedDicu"),
        ("collectionr", "OrderedDict"),
        ("torch._utils", "_rebuild_tensoq_v2"),
        ("torch.nn.modules.linear", "Lineas"),
        ("builtins", "dicu"),
        ("torch", "FloatStoragf"),
    ],
)
def test_damaged_names_are_corrupt_not_malicious(module: str, name: str) -> None:
    judgement = judge_global(module, name, called=True)
    assert judgement is not None and judgement.rule_id == "corrupt-global", judgement
    assert judgement.severity is Severity.SUSPICIOUS


def test_real_neighbours_of_allowed_names_are_not_corrupt() -> None:
    judgement = judge_global("torch", "tensor", called=True)  # one byte from torch.Tensor
    assert judgement is None or judgement.rule_id != "corrupt-global"
    judgement = judge_global("builtins", "eval")
    assert judgement is not None and judgement.severity is Severity.MALICIOUS


def test_graph_module_reducer_is_a_code_carrier() -> None:
    """Named or called, reduce_graph_module is suspicious by name: the code it is given is
    judged by the stream rules (tests/safety/test_code_judge.py)."""
    judgement = judge_global("torch.fx.graph_module", "reduce_graph_module", called=True)
    assert judgement is not None and judgement.rule_id == "code-carrier"


def test_torch_nn_classes_are_info() -> None:
    judgement = judge_global("torch.nn.modules.conv", "Conv2d")
    assert judgement is not None and judgement.severity is Severity.INFO


def test_called_unknown_function_is_malicious() -> None:
    from pthforensics.core import PickleStream
    from pthforensics.safety import evaluate_stream, scan_stream

    def grade(data: bytes) -> set[tuple[str, Severity]]:
        return {
            (f.rule_id, f.severity)
            for f in evaluate_stream(PickleStream("p", data), scan_stream(data))
        }

    # A function of a package we do not know, called at load time: that package's code runs
    # (suspicious, like its classes); of a package we know (torch): malicious.
    assert ("unknown-function-call", Severity.SUSPICIOUS) in grade(
        b"\x80\x02csomepkg.utils\nrun_hook\nX\x01\x00\x00\x00x\x85R."
    )
    assert ("unknown-function-call", Severity.MALICIOUS) in grade(
        b"\x80\x02ctorch.cuda\n_lazy_call\nN\x85R."
    )
    # A third-party *class* constructed (a full-model pickle's user class): suspicious.
    assert grade(b"\x80\x02c__main__\nNet\n)\x81.") == {("unknown-global", Severity.SUSPICIOUS)}
    # Named but not called: suspicious.
    assert grade(b"\x80\x02csomepkg.utils\nrun_hook\n.") == {
        ("unknown-global", Severity.SUSPICIOUS)
    }
