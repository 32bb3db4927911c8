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
        ("builtins", "getattr"),
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
        ("torch.fx.graph_module", "reduce_graph_module"),
        ("requests", "get"),
        ("urllib.request", "urlopen"),
        ("socket", "create_connection"),
        ("joblib", "load"),
        ("dill", "loads"),
        ("yaml", "load"),
        ("tempfile", "mktemp"),
        ("some_pkg.io", "load"),
        (None, "system"),
        ("os", None),
    ],
)
def test_dangerous_is_malicious(module: str | None, name: str | None) -> None:
    judgement = judge_global(module, name)
    assert judgement is not None and judgement.severity is Severity.MALICIOUS, judgement


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


def test_python2_names_are_normalised() -> None:
    assert judge_global("__builtin__", "set") is None
    assert judge_global("copy_reg", "_reconstructor") is None


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

    # A third-party *function* called at load time: malicious.
    assert ("unknown-function-call", Severity.MALICIOUS) in grade(
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
