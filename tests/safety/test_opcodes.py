"""Sniffing pickles and evaluating the constant part of small ones (never unpickling)."""

from __future__ import annotations

import io
import pickle

import pytest

from pthforensics.safety import (
    GlobalConst,
    looks_like_nested,
    looks_like_pickle,
    simple_values,
)


def _with_pids(obj: object, pids: dict[int, tuple[object, ...]], protocol: int = 2) -> bytes:
    """``obj`` pickled with the objects whose ``id`` is in ``pids`` as persistent ids (the
    way torch.save writes storages); trusted data made here."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=protocol)
    pickler.persistent_id = lambda o: pids.get(id(o))  # type: ignore[method-assign]
    pickler.dump(obj)
    return buf.getvalue()


@pytest.mark.parametrize("protocol", range(6))
def test_every_protocol_is_a_pickle(protocol: int) -> None:
    data = pickle.dumps({"epoch": 3, "lr": 0.1, "names": ["a", "b"]}, protocol=protocol)
    assert looks_like_pickle(data)
    assert looks_like_nested(data)


@pytest.mark.parametrize(
    "text",
    [
        b"import os\nimport sys\nprint('hello')\n",
        b"cat notes.txt\nls -la\n",
        b"# README\n\nSome text about the model.\n",
        b'{"weight_map": {"a": "model-00001.safetensors"}}',
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"",
    ],
)
def test_text_and_other_files_are_not_pickles(text: bytes) -> None:
    assert not looks_like_pickle(text)


def test_protocol_header_decides_for_protocols_2_to_5_only() -> None:
    assert looks_like_pickle(b"\x80\x05anything")
    assert looks_like_pickle(b"\x80\x02")
    # Past protocol 5 the header proves nothing: the opcodes decide (here they break).
    assert not looks_like_pickle(b"\x80\x06\xff\xff")


def test_protocol0_payload_without_stop_still_counts() -> None:
    """A global resolved before the stream breaks: CPython imported it, so a pickle."""
    assert looks_like_pickle(b"cos\nsystem\n(S'echo hi'\ntR\xff\xff garbage")
    assert looks_like_pickle(b"cos\nsystem\n\xff\xff garbage")


def test_any_first_opcode_counts() -> None:
    """CPython starts a pickle with whatever opcode comes first (issue 9, class 4)."""
    payload = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x01x\x85R."
    for lead in (
        b"C\x00",
        b"B\x00\x00\x00\x00",
        b"T\x00\x00\x00\x00",
        b"\x8f",
        b"L1L\n",
        b"I0x0\n",
    ):
        assert looks_like_pickle(lead + b"0" + payload), lead
    assert looks_like_pickle(b"N0" * 3000 + payload)  # a valid run past the window


def test_globals_that_cannot_be_imported_mark_text() -> None:
    assert not looks_like_pickle(b"cnot a module\nname\n)R.")
    assert looks_like_pickle(b"cpkg.mod\nName\n)R.")


def test_looks_like_nested_takes_torch_zips() -> None:
    assert looks_like_nested(b"PK\x03\x04rest of an archive")
    assert not looks_like_nested(b"PK\x05\x06 only an end record")


@pytest.mark.parametrize("protocol", range(6))
def test_simple_values_reads_constants(protocol: int) -> None:
    value = (1, -2, 3.5, "text", None, True, [4, 5], ("x", ("y",)), [])
    result, pids, end = simple_values(pickle.dumps(value, protocol=protocol))
    assert result == value
    assert pids == []
    assert end == len(pickle.dumps(value, protocol=protocol))


def test_simple_values_follows_the_memo() -> None:
    shared = ["k1", "k2"]
    data = pickle.dumps((shared, shared), protocol=2)
    assert b"h" in data or b"j" in data  # the second reference is a memo GET
    result, _pids, _end = simple_values(data)
    assert result == (["k1", "k2"], ["k1", "k2"])


def test_simple_values_collects_persistent_ids_in_order() -> None:
    a, b = object(), object()
    pids = {id(a): ("storage", "torch.FloatStorage", "0", "cpu", 6), id(b): ("storage", "x", "1")}
    data = _with_pids({"w": a, "b": b, "w2": a}, pids)
    _result, found, end = simple_values(data)
    assert found == [pids[id(a)], pids[id(b)], pids[id(a)]]
    assert end == len(data)


def test_simple_values_names_globals_without_importing() -> None:
    result, _pids, _end = simple_values(b"\x80\x02cpf_never_imported.sub\nThing\n\x85.")
    assert result == (GlobalConst("pf_never_imported.sub.Thing"),)
    assert isinstance(result[0], GlobalConst)  # type: ignore[index]
    result, _pids, _end = simple_values(b"\x80\x04\x8c\x03pkg\x8c\x04Name\x93.")
    assert result == "pkg.Name"


def test_simple_values_stops_at_the_first_stop() -> None:
    first = pickle.dumps(7, protocol=2)
    data = first + pickle.dumps(8, protocol=2)
    result, _pids, end = simple_values(data)
    assert (result, end) == (7, len(first))


@pytest.mark.parametrize("cut", [3, 10, -1])
def test_simple_values_on_a_cut_stream_keeps_what_was_read(cut: int) -> None:
    a = object()
    pid = ("storage", "torch.FloatStorage", "0", "cpu", 6)
    data = _with_pids([a, "tail" * 20], {id(a): pid})
    result, pids, end = simple_values(data[:cut])
    assert end is None and result is None
    if cut == -1:
        assert pids == [pid]  # read before the cut


def test_simple_values_caps_opcodes() -> None:
    data = pickle.dumps(list(range(100)), protocol=0)
    assert simple_values(data)[2] == len(data)
    assert simple_values(data, max_ops=10) == (None, [], None)


@pytest.mark.parametrize(
    ("text", "value"),
    [(b"I0x10\n.", 16), (b"I010\n.", 8), (b"I0o7\n.", 7), (b"L0x1fL\n.", 31), (b"I01\n.", True)],
)
def test_simple_values_parse_numbers_as_cpython(text: bytes, value: object) -> None:
    """_pickle.c parses INT with strtol(s, 0) and LONG with PyLong_FromString(s, 0)."""
    assert simple_values(text)[0] == value == pickle.loads(text)
