"""The stub unpickler: structure without execution, and how far a broken stream got."""

from __future__ import annotations

import io
import pickle
import sys
import zipfile
from pathlib import Path

import pytest

from pthforensics.core import PickleDecodeError, PickleStream
from pthforensics.safety import (
    GlobalName,
    MappingStub,
    PersistentRef,
    Recorder,
    StorageRef,
    Stub,
    TensorCall,
    find_pickle_values,
    looks_like_nested,
    unpickle_stream,
)


def _tree(data: bytes):  # type: ignore[no-untyped-def]
    return unpickle_stream(PickleStream("s", data))


def test_nothing_named_is_imported_or_called(tmp_path: Path) -> None:
    """A payload that would create a file does not: os.system is a stub, its call recorded."""
    canary = tmp_path / "canary"
    module = "pf_test_module_that_does_not_exist"
    # MARK, os.system('touch ...'), module.Thing(), TUPLE, STOP (protocol 0)
    data = f"(cos\nsystem\n(S'touch {canary}'\ntRc{module}\nThing\n(tRt.".encode()
    tree = _tree(data)
    assert tree.error is None and tree.end == len(data)
    first, second = tree.root
    assert isinstance(first, Stub) and first.pf_global == GlobalName("os", "system")
    assert first.pf_args == (f"touch {canary}",)
    assert isinstance(second, Stub) and second.pf_global == GlobalName(module, "Thing")
    assert not canary.exists()
    assert module not in sys.modules
    assert [str(g) for g in tree.globals_seen] == ["os.system", f"{module}.Thing"]


def test_torch_checkpoint_becomes_records(state_dict_zip: Path) -> None:
    with zipfile.ZipFile(state_dict_zip) as z:
        name = next(n for n in z.namelist() if n.endswith("data.pkl"))
        data = z.read(name)
    tree = _tree(data)
    assert tree.end == len(data)
    assert isinstance(tree.root, MappingStub)
    assert list(tree.root)[:2] == ["0.weight", "0.bias"]
    weight = tree.root["0.weight"]
    assert type(weight) is TensorCall
    assert weight.fn == GlobalName("torch._utils", "_rebuild_tensor_v2")
    storage = weight.args[0]
    assert isinstance(storage, StorageRef)
    assert storage.storage_type == GlobalName("torch", "FloatStorage")
    assert storage.location == "cpu" and storage.numel == 4 * 3 * 3 * 3
    assert weight.args[2] == (4, 3, 3, 3)
    # BUILD on the OrderedDict keeps the state_dict's _metadata.
    assert "_metadata" in tree.root.pf_state


def test_stub_records_build_items_and_appends() -> None:
    data = pickle.dumps(0, protocol=2)[:2] + (
        b"cpkg\nBox\n)\x81"  # NEWOBJ of a class with no args
        b"}X\x01\x00\x00\x00aK\x01sb"  # BUILD with {'a': 1}
        b"X\x01\x00\x00\x00kK\x02s"  # SETITEM k=2
        b"K\x03a"  # APPEND 3
        b"."
    )
    box = _tree(data).root
    assert isinstance(box, Stub)
    assert box.pf_state == {"a": 1}
    assert box.pf_items == [("k", 2)]
    assert box.pf_list == [3]


def test_rebuild_functions_get_a_recorder() -> None:
    data = b"\x80\x02ctorch._utils\n_rebuild_parameter\nK\x01\x88\x86R."
    tree = _tree(data)
    assert isinstance(tree.root, TensorCall)
    assert tree.root.fn.name == "_rebuild_parameter" and tree.root.args == (1, True)
    reader = _tree(b"\x80\x02ctorch._utils\n_rebuild_tensor\n.").root
    assert isinstance(reader, Recorder)


def test_persistent_ids() -> None:
    def dump(pid: object) -> bytes:
        buf = io.BytesIO()
        pickler = pickle.Pickler(buf, protocol=2)
        marker = object()
        pickler.persistent_id = lambda o: pid if o is marker else None  # type: ignore[method-assign]
        pickler.dump([marker])
        return buf.getvalue()

    # torch.save's layout: ('storage', storage class, key, location, numel)
    data = dump(("storage", 1, "7", "cuda:0", 12))
    ref = _tree(data).root[0]
    assert isinstance(ref, StorageRef)
    assert (ref.storage_type, ref.key, ref.location, ref.numel) == (None, "7", "cuda:0", 12)
    other = _tree(dump(("module", "x"))).root[0]
    assert isinstance(other, PersistentRef) and other.pid == ("module", "x")


def test_stacked_pickles_end_at_the_first_stop() -> None:
    first = pickle.dumps({"a": 1}, protocol=2)
    tree = _tree(first + pickle.dumps("second", protocol=2))
    assert tree.root == {"a": 1} and tree.end == len(first)


@pytest.mark.parametrize("cut", [5, 20, 40])
def test_truncated_stream_is_an_error_value(cut: int) -> None:
    data = pickle.dumps({"weights": list(range(20)), "name": "x" * 30}, protocol=2)
    tree = _tree(data[:cut])
    assert tree.root is None and tree.end is None
    assert tree.error is not None


def test_globals_seen_before_a_break_are_kept() -> None:
    tree = _tree(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00hi\x85R\xff")
    assert tree.error is not None
    assert [str(g) for g in tree.globals_seen] == ["os.system"]


def test_not_a_single_opcode_raises() -> None:
    with pytest.raises(PickleDecodeError):
        _tree(b"")
    tree = _tree(b"\xff\xfe not opcodes")  # an opcode was read: an error value
    assert tree.root is None and tree.error is not None


def test_find_pickle_values_in_bytes_and_latin1_text() -> None:
    inner = pickle.dumps({"x": 1}, protocol=2)
    encoded = pickle.dumps({"y": 2}, protocol=2)
    text = encoded.decode("latin-1")
    root = {
        "plain": b"not a pickle at all",
        "nested": [1, ("deep", inner)],
        "encoded": _tree(
            b"\x80\x02c_codecs\nencode\nX"
            + len(text.encode()).to_bytes(4, "little")
            + text.encode()
            + b"X\x06\x00\x00\x00latin1\x86R."
        ).root,
    }
    found = find_pickle_values(root, looks_like_nested)
    assert found.count(inner) == 1 and found.count(encoded) == 1


def test_find_pickle_values_respects_depth() -> None:
    inner = pickle.dumps([1], protocol=2)
    deep: object = inner
    for _ in range(10):
        deep = [deep]
    assert find_pickle_values(deep, looks_like_nested, max_depth=20) == [inner]
    assert find_pickle_values(deep, looks_like_nested, max_depth=5) == []
