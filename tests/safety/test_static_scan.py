"""The opcode pass: globals resolved through every opcode, offsets, broken streams."""

from __future__ import annotations

import pickle

import pytest

from pthforensics.core import LimitExceeded, Limits
from pthforensics.safety import scan_stream


def _names(data: bytes) -> list[tuple[str | None, str | None, bool]]:
    return [(g.module, g.name, g.called) for g in scan_stream(data).globals]


def test_global_and_reduce_protocol0() -> None:
    data = b"cos\nsystem\n(S'echo x'\ntR."
    assert _names(data) == [("os", "system", True)]
    assert scan_stream(data).end == len(data)


def test_stack_global_through_memo() -> None:
    # module and name memoized, then fetched back with BINGET before STACK_GLOBAL
    data = b"\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94h\x00h\x01\x93\x94\x8c\x05print\x94\x85R."
    assert _names(data) == [("builtins", "exec", True)]


def test_computed_stack_global_is_unresolved() -> None:
    data = b"\x80\x04K\x01K\x02\x93)R."
    [use] = scan_stream(data).globals
    assert (use.module, use.name) == (None, None)


def test_inst_obj_and_newobj() -> None:
    inst = b"(S'x'\nisubprocess\nPopen\n."
    assert _names(inst) == [("subprocess", "Popen", True)]
    obj = b"\x80\x02(csubprocess\nPopen\nS'x'\no."
    assert _names(obj) == [("subprocess", "Popen", True)]
    newobj = b"\x80\x02csubprocess\nPopen\n)\x81."
    assert _names(newobj) == [("subprocess", "Popen", True)]


def test_ext_opcodes_are_reported() -> None:
    data = b"\x80\x02\x82\x07)R."
    [use] = scan_stream(data).globals
    assert use.opcode == "EXT1" and use.ext_code == 7


def test_truncated_stream_keeps_prefix() -> None:
    scan = scan_stream(b"cos\nsystem\n(S'echo x'\ntR")
    assert scan.end is None and scan.error
    assert [(g.module, g.called) for g in scan.globals] == [("os", True)]


def test_build_on_global_is_recorded() -> None:
    data = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}b."
    assert scan_stream(data).builds_on_globals


def test_nested_pickle_bytes_found() -> None:
    inner = pickle.dumps([1, 2, 3], protocol=4)
    outer = pickle.dumps({"blob": inner}, protocol=4)
    assert [b for _, b in scan_stream(outer).nested] == [inner]


def test_memo_index_bomb_hits_limit() -> None:
    data = b"\x80\x02Nr\xff\xff\xff\x7f."  # LONG_BINPUT 2**31-1
    with pytest.raises(LimitExceeded):
        scan_stream(data, limits=Limits(max_memo=1000))


def test_op_limit() -> None:
    data = pickle.dumps(list(range(1000)), protocol=0)
    with pytest.raises(LimitExceeded):
        scan_stream(data, limits=Limits(max_pickle_ops=50))
