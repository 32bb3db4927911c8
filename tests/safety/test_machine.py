"""The symbolic machine follows CPython's unpickler (``Modules/_pickle.c``): argument
parsing, marks, memo, where it stops, and what calls call (issue 9, classes 2, 5, 6)."""

from __future__ import annotations

import pickle
import random

import pytest

from pthforensics.core import PickleStream, Severity
from pthforensics.safety import evaluate_stream, scan_stream, simple_values


def _rules(data: bytes) -> dict[str, Severity]:
    return {
        f.rule_id: f.severity for f in evaluate_stream(PickleStream("p", data), scan_stream(data))
    }


def test_number_text_is_parsed_as_cpython_parses_it() -> None:
    """One INT/LONG/FLOAT opcode and STOP: a stream with nothing but a number, unpickled by
    CPython for reference (no global can occur in it)."""
    rng = random.Random(2)
    alphabet = b"0123456789xXoObBeE_.+- \t\x00Linfa"
    for _ in range(4000):
        text = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 7))).replace(b"\n", b"")
        for op in (b"I", b"L", b"F"):
            data = op + text + b"\n."
            try:
                expected: object = pickle.loads(data)
            except Exception:  # noqa: BLE001 - CPython refuses the text: so must we
                expected = "error"
            value, _pids, end = simple_values(data)
            got = value if end is not None else "error"
            if isinstance(expected, float) and expected != expected:
                assert isinstance(got, float) and got != got
            else:
                assert (type(got), got) == (type(expected), expected), data


def test_pop_on_a_mark_pops_the_mark_and_the_fence_holds() -> None:
    assert scan_stream(b"K\x01(0.").end == 5  # POP drops the mark, STOP returns 1
    scan = scan_stream(b"K\x01(\x85.")  # TUPLE1 cannot reach below the mark
    assert scan.error == "unpickling stack underflow"


def test_memoize_stores_at_the_count_of_entries() -> None:
    data = b"\x80\x04K\x01q\x05\x94K\x02h\x01\x86."
    assert simple_values(data)[0] == pickle.loads(data) == (2, 1)


def test_what_cpython_refuses_stops_the_stream_and_what_it_takes_goes_on() -> None:
    payload = b"cos\nsystem\nX\x01\x00\x00\x00x\x85R0"
    # set() then ADDITEMS: a real set takes them (a stub would not): the payload runs.
    taken = b"\x80\x02cbuiltins\nset\n)R(K\x01K\x02\x900" + payload + b"N."
    assert _rules(taken).get("dangerous-global") is Severity.MALICIOUS
    assert "malformed-pickle" not in _rules(taken)
    # OrderedDict() has no append: CPython stops before the payload (named, never called).
    refused = b"\x80\x02ccollections\nOrderedDict\n)RK\x01a" + payload + b"N."
    scan = scan_stream(refused)
    assert scan.error is not None and [g.module for g in scan.globals] == ["collections"]
    # A tensor is hashable (a dict key), an OrderedDict is not.
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n(X\x01\x00\x00\x00kQK\x00))\x89tR"
    assert scan_stream(b"\x80\x02}" + rebuild + b"K\x01s" + payload + b"N.").error is None
    unhashable = b"\x80\x02}ccollections\nOrderedDict\n)RK\x01s" + payload + b"N."
    assert "unhashable" in (scan_stream(unhashable).error or "")


def test_functions_that_call_their_arguments_call_them() -> None:
    """_rebuild_from_type_v2(func, ...) returns func(*args); a partial calls its function."""
    call = (
        b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(cnumpy\nsavetxt\n"
        b"ctorch\nTensor\nX\x01\x00\x00\x00x\x85}tR."
    )
    [_, helper, _] = scan_stream(call).globals
    assert helper.called and helper.how.startswith("via torch._tensor._rebuild_from_type_v2")
    assert _rules(call)["unknown-function-call"] is Severity.MALICIOUS
    partial = b"\x80\x02cfunctools\npartial\ncmypkg.tools\nhelper\n\x85R)R."
    assert scan_stream(partial).globals[1].called


def test_build_on_a_global_judges_what_it_sets_as_called() -> None:
    """BUILD on a class itself setattr()s its slot state (Namespace.__setstate__ = ...); the
    setting is suspicious on an allow-listed class, what it sets is judged as called."""
    computed = b"cbuiltins\nstr\nC\x02os\x85R\x8c\x06system\x93"  # str(b"os"): unknowable
    head = b"\x80\x04cargparse\nNamespace\nN}X\x0c\x00\x00\x00__setstate__"
    data = head + computed + b"s\x86b0N."
    assert _rules(data) == {
        "build-on-global": Severity.SUSPICIOUS,
        "unresolved-global": Severity.MALICIOUS,
        "benign-metadata-global": Severity.INFO,
    }
    constants = head + b"K\x01s\x86b0N."
    assert _rules(constants)["build-on-global"] is Severity.SUSPICIOUS
    on_module = b"\x80\x04cos\npath\nN}X\x01\x00\x00\x00xK\x01s\x86b0N."
    assert _rules(on_module)["build-on-global"] is Severity.MALICIOUS


def test_legacy_module_persistent_id_is_its_class() -> None:
    """torch.save(model) of the legacy format NEWOBJs ('module', cls, file, source)."""
    data = b"\x80\x02(X\x06\x00\x00\x00modulec__main__\nNet\nNNtQ)\x81."
    scan = scan_stream(data)
    assert scan.calls_non_global == () and scan.globals[0].called
    assert _rules(data) == {"unknown-global": Severity.SUSPICIOUS}


@pytest.mark.parametrize(
    ("builder", "severity"),
    [
        (b"C\x10" + pickle.dumps({}, 2) + b"\x00" * (16 - len(pickle.dumps({}, 2))), Severity.INFO),
        (b"cbuiltins\nbytes\n]K\x80aK\x02a\x85R", Severity.INFO),  # bytes([128, 2]): evaluated
        (b"cmypkg\nmake_bytes\n)R", Severity.MALICIOUS),  # computed at load time: unknown
        (b"c_codecs\nencode\nX\x02\x00\x00\x00abX\x06\x00\x00\x00cp1251\x86R", Severity.MALICIOUS),
    ],
)
def test_nested_loads_need_known_bytes(builder: bytes, severity: Severity) -> None:
    data = b"\x80\x02ctorch.storage\n_load_from_bytes\n" + builder + b"\x85R."
    rules = _rules(data)
    rule = "nested-load" if severity is Severity.INFO else "nested-load-unknown"
    assert rules[rule] is severity
