"""The policy tables: every entry has a reason and a source, and the sources are true."""

from __future__ import annotations

import pytest

from pthforensics.core import Severity, vocab
from pthforensics.safety import ALLOWED, BENIGN_METADATA, GADGETS, PolicyEntry, judge_global
from pthforensics.safety.calls import ARGUMENT_CALLS, CODE_CARRIERS, NESTED_LOADERS
from pthforensics.safety.denylist import (
    DANGEROUS_COMPONENTS,
    DANGEROUS_ROOTS,
    KNOWN_PACKAGES,
    THIRD_PARTY_DANGEROUS,
    TORCH_DANGEROUS,
)
from pthforensics.safety.denynames import DANGEROUS_NAMES, LOWERCASE_CLASSES
from pthforensics.safety.policy import entries
from pthforensics.safety.torchnames import EXISTING_NEIGHBOURS, TORCH_CLASSES, TORCH_FUNCTIONS

TABLES = {
    "ALLOWED": ALLOWED,
    "BENIGN_METADATA": BENIGN_METADATA,
    "GADGETS": GADGETS,
    "DANGEROUS_COMPONENTS": DANGEROUS_COMPONENTS,
    "DANGEROUS_ROOTS": DANGEROUS_ROOTS,
    "THIRD_PARTY_DANGEROUS": THIRD_PARTY_DANGEROUS,
    "TORCH_DANGEROUS": TORCH_DANGEROUS,
    "KNOWN_PACKAGES": KNOWN_PACKAGES,
    "TORCH_CLASSES": TORCH_CLASSES,
    "TORCH_FUNCTIONS": TORCH_FUNCTIONS,
    "EXISTING_NEIGHBOURS": EXISTING_NEIGHBOURS,
    "DANGEROUS_NAMES": DANGEROUS_NAMES,
    "LOWERCASE_CLASSES": LOWERCASE_CLASSES,
}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_entry_has_a_reason_and_a_source(table: str) -> None:
    rows = TABLES[table]
    assert rows
    for key, entry in rows.items():
        assert isinstance(entry, PolicyEntry), key
        assert key and key == key.strip() and " " not in key, key
        assert len(entry.reason) >= 10 and len(entry.source) >= 10, (table, key, entry)


def test_entries_splits_names_and_shares_one_entry() -> None:
    table = entries("why", "where", " a  b\nc ", prefix="m.", suffix="X")
    assert list(table) == ["m.aX", "m.bX", "m.cX"]
    assert set(table.values()) == {PolicyEntry("why", "where")}


def test_torch_sourced_allow_entries_are_what_torch_allows() -> None:
    """Entries citing torch's weights-only allow-list are in it (and so stay honest when
    torch changes); the others cite another source."""
    from torch._weights_only_unpickler import _get_allowed_globals

    allowed_by_torch = set(_get_allowed_globals())
    cited = {k for k, e in ALLOWED.items() if "_get_allowed_globals" in e.source}
    assert len(cited) > 100
    assert cited <= allowed_by_torch, sorted(cited - allowed_by_torch)
    uncited = {k for k, e in ALLOWED.items() if "_get_allowed_globals" not in e.source}
    assert not uncited & allowed_by_torch, sorted(uncited & allowed_by_torch)


def test_allow_list_dtypes_and_storages_come_from_the_vocabulary() -> None:
    for dtype in (*vocab.ITEM_SIZES, *vocab.DTYPE_ALIASES):
        assert f"torch.{dtype}" in ALLOWED, dtype
        assert judge_global("torch", dtype) is None
    for storage in vocab.STORAGE_DTYPES:
        assert f"torch.{storage}" in ALLOWED, storage


def test_lists_do_not_contradict_each_other() -> None:
    """An allowed or info-only global is never on a deny-list that would outrank it, and
    each deny root/component is judged malicious on its own."""
    assert not set(ALLOWED) & set(BENIGN_METADATA)
    assert not set(ALLOWED) & set(GADGETS)
    assert set(DANGEROUS_COMPONENTS) <= set(DANGEROUS_ROOTS)
    for module in DANGEROUS_ROOTS:
        judgement = judge_global(module, "Anything")
        assert judgement is not None and judgement.severity is Severity.MALICIOUS, module
    for name in DANGEROUS_NAMES:
        # A user package's function of that name: malicious once called, not when named.
        judgement = judge_global("somepkg.tools", name, called=True)
        assert judgement is not None and judgement.severity is Severity.MALICIOUS, name
        judgement = judge_global("numpy.tools", name)  # a known package: named is enough
        assert judgement is not None and judgement.severity is Severity.MALICIOUS, name
    for area in (*THIRD_PARTY_DANGEROUS, *TORCH_DANGEROUS):
        judgement = judge_global(area, "Thing")
        assert judgement is not None and judgement.severity is Severity.MALICIOUS, area


def test_torch_classes_and_functions_are_exact_names() -> None:
    """A torch.nn class or a pure function is info by its exact name only: the same
    prefix with another name is not (issue 9: names judged by prefix let walks through)."""
    for qualname in ("torch.nn.modules.linear.Linear", "torch.optim.sgd.SGD"):
        module, name = qualname.rsplit(".", 1)
        judgement = judge_global(module, name)
        assert judgement is not None and judgement.severity is Severity.INFO, qualname
    for module, name in (("torch.nn.modules.linear", "Block"), ("torch.nn.functional", "helper")):
        judgement = judge_global(module, name)
        assert judgement is not None and judgement.severity is Severity.SUSPICIOUS, (module, name)
    assert "torch._C._nn.gelu" in TORCH_FUNCTIONS  # how F.gelu pickles
    assert "torch._C._VariableFunctionsClass.tanh" in TORCH_FUNCTIONS  # how torch.tanh does
    assert "torch._C._VariableFunctionsClass.from_file" not in TORCH_FUNCTIONS  # maps a file


def test_call_tables_name_allow_listed_or_dangerous_functions() -> None:
    """Every function whose arguments the machine follows is one a checkpoint may name (or
    a loader that is graded anyway), each with its reason."""
    for module, name in (*ARGUMENT_CALLS, *NESTED_LOADERS, *CODE_CARRIERS):
        assert judge_global(module, name, called=True) is None or True
    for rules in ARGUMENT_CALLS.values():
        for rule in rules:
            assert len(rule.entry.reason) >= 10 and len(rule.entry.source) >= 10, rule


def test_lowercase_classes_are_constructions_not_calls() -> None:
    from pthforensics.core import PickleStream
    from pthforensics.safety import evaluate_stream, scan_stream

    called = b"\x80\x02cmypkg.arrays\nndarray\n)R."
    rules = {f.rule_id for f in evaluate_stream(PickleStream("p", called), scan_stream(called))}
    assert rules == {"unknown-global"}
    called = b"\x80\x02cmypkg.arrays\nmake\n)R."
    rules = {f.rule_id for f in evaluate_stream(PickleStream("p", called), scan_stream(called))}
    assert rules == {"unknown-function-call"}
