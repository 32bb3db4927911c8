"""The safety stage over a file's streams: stacked, nested and embedded pickles, the fast
path, budgets and limits (streams built here from opcodes, never loaded)."""

from __future__ import annotations

import pickle
import time

import pytest

from pthforensics.core import (
    Container,
    ContainerError,
    Format,
    Limits,
    PickleStream,
    Severity,
    StreamRole,
)
from pthforensics.safety import SafetyScan, ScanBudget, scan_streams

_PAYLOAD = b"\x80\x02cos\nsystem\nX\x07\x00\x00\x00echo hi\x85R."
_CLEAN = pickle.dumps({"epoch": 1, "names": ["a", "b"]}, protocol=2)


def _no_archive(data: bytes, name: str) -> Container:
    raise AssertionError(f"no archive expected, got {name}")


def _scan(*streams: PickleStream, **kwargs: object) -> SafetyScan:
    kwargs.setdefault("read_archive", _no_archive)
    return scan_streams(streams, **kwargs)  # type: ignore[arg-type]


def _rules(scan: SafetyScan) -> list[tuple[str, str | None]]:
    return [(f.rule_id, f.location.member) for f in scan.findings]


def test_clean_object_stream_gives_its_tree() -> None:
    scan = _scan(PickleStream("data.pkl", _CLEAN))
    assert scan.findings == ()
    assert scan.tree is not None and scan.tree.root == {"epoch": 1, "names": ["a", "b"]}


def test_object_tree_is_the_first_loaded_object_stream() -> None:
    other = pickle.dumps("member", protocol=2)
    scan = _scan(
        PickleStream("m", other, role=StreamRole.MEMBER, loaded=False),
        PickleStream("unloaded", other, loaded=False),
        PickleStream("data.pkl", _CLEAN),
    )
    assert scan.tree is not None and scan.tree.stream == "data.pkl"
    assert _scan(PickleStream("m", other, role=StreamRole.MEMBER)).tree is None


def test_a_pickle_after_stop_is_scanned_as_its_own_stream() -> None:
    scan = _scan(PickleStream("data.pkl", _CLEAN + _PAYLOAD))
    rules = _rules(scan)
    assert ("trailing-bytes", "data.pkl") in rules
    assert ("dangerous-global", f"data.pkl@{len(_CLEAN)}") in rules


def test_nested_pickle_in_a_bytes_value() -> None:
    outer = pickle.dumps({"blob": _PAYLOAD}, protocol=3)
    scan = _scan(PickleStream("data.pkl", outer))
    rules = _rules(scan)
    assert ("nested-pickle", "data.pkl") in rules
    assert any(r == "dangerous-global" and m and m.endswith("(bytes)") for r, m in rules)


@pytest.mark.parametrize("fast", [False, True])
def test_nested_budget_is_shared_across_calls(fast: bool) -> None:
    outer = pickle.dumps([pickle.dumps({"i": i}, protocol=2) for i in range(3)], protocol=3)
    limits = Limits(max_nested_pickles=4)
    first = _scan(PickleStream("a", outer), limits=limits, fast=fast)
    assert first.budget.nested_taken == 3
    assert [r for r, _ in _rules(first)].count("nested-pickle") == 3
    second = _scan(PickleStream("b", outer), limits=limits, fast=fast, budget=first.budget)
    assert [r for r, _ in _rules(second)].count("nested-pickle") == 1
    assert second.budget.nested_taken == 6  # attempts are counted, refused ones too


def test_embedded_archive_goes_through_the_callable() -> None:
    archive = b"PK\x03\x04 a torch zip carried as bytes"
    calls: list[tuple[bytes, str]] = []

    def read_archive(data: bytes, name: str) -> Container:
        calls.append((data, name))
        return Container(
            "f",
            Format.TORCH_ZIP,
            len(data),
            (PickleStream(f"{name}!a/data.pkl", _PAYLOAD),),
        )

    outer = pickle.dumps({"storage": archive}, protocol=3)
    scan = _scan(PickleStream("data.pkl", outer), read_archive=read_archive)
    [(data, name)] = calls
    assert data == archive and name.startswith("data.pkl@") and name.endswith("(bytes)")
    rules = _rules(scan)
    assert rules[0][0] == "nested-archive"
    assert ("dangerous-global", f"{name}!a/data.pkl") in rules


def test_unreadable_embedded_archive_is_suspicious() -> None:
    def read_archive(data: bytes, name: str) -> Container:
        raise ContainerError("truncated", path="f")

    outer = pickle.dumps({"storage": b"PK\x03\x04 broken"}, protocol=3)
    scan = _scan(PickleStream("data.pkl", outer), read_archive=read_archive)
    [unreadable] = [f for f in scan.findings if f.rule_id == "nested-archive-unreadable"]
    assert unreadable.severity is Severity.SUSPICIOUS


def test_fast_path_skips_only_harmless_streams() -> None:
    fast = _scan(PickleStream("data.pkl", _CLEAN), fast=True)
    slow = _scan(PickleStream("data.pkl", _CLEAN))
    assert fast.findings == slow.findings == ()
    # Anything not harmless falls back to the opcode pass, whose findings carry offsets.
    for data in (_PAYLOAD, _CLEAN + _PAYLOAD, _CLEAN[:-1]):
        fast, slow = (_scan(PickleStream("data.pkl", data), fast=f) for f in (True, False))
        assert fast.findings == slow.findings, data


def test_opcode_limit_refuses_the_stream_and_its_tree() -> None:
    data = pickle.dumps(list(range(500)), protocol=2)
    scan = _scan(PickleStream("data.pkl", data), limits=Limits(max_pickle_ops=100))
    assert [f.rule_id for f in scan.findings] == ["resource-limit"]
    assert scan.tree is None


def test_an_expired_budget_stops_long_walks() -> None:
    data = pickle.dumps(list(range(10_000)), protocol=2)
    expired = ScanBudget(deadline=time.monotonic() - 1)
    scan = _scan(PickleStream("data.pkl", data), budget=expired)
    assert [f.rule_id for f in scan.findings] == ["resource-limit"]


def test_object_tree_decode_does_not_judge_a_global_twice() -> None:
    """The stub decode of the object stream re-judges every global it meets (defence in
    depth) but adds nothing for one the opcode pass already reported on that stream."""
    scan = _scan(PickleStream("data.pkl", _PAYLOAD))
    assert scan.tree is not None and [str(g) for g in scan.tree.globals_seen] == ["os.system"]
    [finding] = [f for f in scan.findings if f.location.global_name == "os.system"]
    assert finding.rule_id == "dangerous-global" and "called by" in finding.detail
