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
    """STACK_GLOBAL of text a call returns (``builtins.str(...)``): unknowable."""
    data = b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R\x8c\x06system\x93)R."
    uses = scan_stream(data).globals
    assert [(u.module, u.name) for u in uses] == [("builtins", "str"), (None, "system")]


def test_stack_global_of_non_text_stops_like_cpython() -> None:
    scan = scan_stream(b"\x80\x04K\x01K\x02\x93)R.")
    assert scan.globals == () and scan.error == "STACK_GLOBAL requires str"


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


# -- one test per opcode family of the walk -------------------------------------------------


def test_protocol_ops_and_persistent_ids() -> None:
    data = b"\x80\x04(X\x01\x00\x00\x00aQPpid\n" + b"l."
    scan = scan_stream(data)
    assert (scan.protocol, scan.persistent_ids, scan.end, scan.error) == (4, 2, len(data), None)


def test_pop_past_the_mark_pops_the_mark() -> None:
    """POP on an empty stack after MARK drops the mark: the global before it is then what
    REDUCE calls (CPython's load_pop does the same)."""
    data = b"\x80\x02cos\nsystem\n(0X\x01\x00\x00\x00x\x85R."
    assert _names(data) == [("os", "system", True)]


def test_pop_mark_and_dup() -> None:
    # DUP of a global, POP_MARK of a marked run: the global stays callable.
    data = b"\x80\x02cos\nsystem\n2(K\x01K\x021X\x01\x00\x00\x00x\x85R."
    scan = scan_stream(data)
    assert [(g.qualname, g.called) for g in scan.globals] == [("os.system", True)]
    assert scan.calls_non_global == ()


def test_calling_a_container_stops_like_cpython() -> None:
    """A global packed into a tuple/list/dict/frozenset is data: calling the container
    raises TypeError in CPython, so nothing after it runs and the global is not called."""
    for build in (b"\x85", b"\x86", b"\x87", b"t", b"l", b"d", b"\x91"):
        if build in (b"\x86",):
            body = b"cos\nsystem\nN" + build
        elif build in (b"\x87",):
            body = b"cos\nsystem\nNN" + build
        elif build in (b"t", b"l", b"\x91"):
            body = b"(cos\nsystem\n" + build
        elif build == b"d":
            body = b"(cos\nsystem\nN" + build
        else:
            body = b"cos\nsystem\n" + build
        data = b"\x80\x04" + body + b")R."
        scan = scan_stream(data)
        assert [(g.qualname, g.called) for g in scan.globals] == [("os.system", False)], build
        assert scan.error is not None and "not callable" in scan.error, build
        assert scan.error_offset == len(data) - 2, build


def test_appends_setitems_additems_consume_their_marks() -> None:
    data = (
        b"\x80\x04cos\nsystem\n"  # the callable first
        b"](K\x01K\x02eK\x03a"  # EMPTY_LIST, APPENDS, APPEND
        b"}(K\x01K\x02uK\x04K\x05s"  # EMPTY_DICT, SETITEMS, SETITEM
        b"\x8f(K\x01\x90"  # EMPTY_SET, ADDITEMS
        b"\x87R."  # TUPLE3 of the three containers: os.system's arguments
    )
    scan = scan_stream(data)
    assert scan.error is None and scan.end == len(data)
    assert [(g.qualname, g.called) for g in scan.globals] == [("os.system", True)]


def test_newobj_ex_calls_the_class() -> None:
    data = b"\x80\x04cpkg\nKlass\n)}\x92."
    [use] = scan_stream(data).globals
    assert (use.qualname, use.called, use.call_offset) == ("pkg.Klass", True, len(data) - 2)


def test_call_of_a_call_result_is_computed() -> None:
    data = b"\x80\x02coperator\nattrgetter\nX\x04\x00\x00\x00evil\x85R)R."
    scan = scan_stream(data)
    assert [(g.qualname, g.called) for g in scan.globals] == [("operator.attrgetter", True)]
    assert scan.calls_non_global == ((len(data) - 2, "operator.attrgetter"),)


def test_getattr_of_a_global_is_a_walk() -> None:
    """Protocol 2 pickles torch.relu as getattr(torch._C._VariableFunctionsClass, "relu"):
    the walk is a global of its own, getattr itself is not called."""
    data = b"\x80\x02cbuiltins\ngetattr\ncos\nsystem\nX\x04\x00\x00\x00evil\x86R)R."
    scan = scan_stream(data)
    assert [(g.qualname, g.called, g.walks) for g in scan.globals] == [
        ("builtins.getattr", False, True),
        ("os.system", False, False),
        ("os.system.evil", True, False),
    ]
    assert scan.calls_non_global == ()


def test_memoize_and_get_keep_globals_resolvable() -> None:
    data = b"\x80\x04cos\nsystem\n\x940h\x00X\x01\x00\x00\x00x\x85R."
    assert _names(data) == [("os", "system", True)]


def test_memoize_bomb_hits_limit() -> None:
    data = b"\x80\x04" + b"N\x94" * 20 + b"."
    with pytest.raises(LimitExceeded):
        scan_stream(data, limits=Limits(max_memo=10))
    assert scan_stream(data, limits=Limits(max_memo=100)).end == len(data)


def test_latin1_text_encoded_to_a_pickle_is_nested() -> None:
    """Protocol 2 pickles bytes as _codecs.encode(text, "latin1"): evaluated with the codec."""
    inner = pickle.dumps(["payload", 1, 2], protocol=2)
    for codec in ("latin1", "utf-16-le"):
        text = (
            inner.decode("latin-1")
            if codec == "latin1"
            else inner.decode("utf-16-le", "surrogatepass")
        )
        raw = text.encode("utf-8", "surrogatepass")
        arg = codec.encode()
        data = (
            b"\x80\x02c_codecs\nencode\nX"
            + len(raw).to_bytes(4, "little")
            + raw
            + b"X"
            + len(arg).to_bytes(4, "little")
            + arg
            + b"\x86R."
        )
        [(_offset, found)] = scan_stream(data).nested
        assert found == inner, codec
    plain = inner.decode("latin-1").encode("utf-8")  # text that is never made bytes
    data = b"\x80\x02X" + len(plain).to_bytes(4, "little") + plain + b"."
    assert scan_stream(data).nested == ()


def test_bytearray8_and_buffers() -> None:
    """A bytearray value is found; NEXT_BUFFER without buffers stops CPython."""
    inner = pickle.dumps([1, 2, 3], protocol=5)
    data = b"\x80\x05\x96" + len(inner).to_bytes(8, "little") + inner + b"\x97\x98\x86."
    scan = scan_stream(data)
    assert [b for _, b in scan.nested] == [inner]
    assert scan.error is not None and "out-of-band" in scan.error


def test_offsets_are_absolute_with_start() -> None:
    payload = b"cos\nsystem\n(S'echo x'\ntR."
    data = b"JUNK" + payload
    scan = scan_stream(data, start=4)
    [use] = scan.globals
    assert (use.offset, use.call_offset, scan.end) == (4, len(data) - 2, len(data))


def test_deadline_in_the_past_stops_the_walk() -> None:
    data = pickle.dumps(list(range(3000)), protocol=0)
    with pytest.raises(LimitExceeded):
        scan_stream(data, deadline=0.0)
    assert scan_stream(pickle.dumps([1], protocol=0), deadline=0.0).end is not None


def test_broken_stream_reports_where() -> None:
    data = b"\x80\x02K\x01\xff."
    scan = scan_stream(data)
    assert scan.end is None and scan.error is not None
    assert scan.error_offset == 4
