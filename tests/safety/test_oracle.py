"""The differential oracle (issue 9): verdicts against what the real loader does.

A few hundred attack variants (``tests/safety/oracle``) are generated here, loaded with real
``torch.load(weights_only=False)`` in forked children of a subprocess (the one allowed
exception to the security rule: files this test just generated, canary payloads that only
create a file in a temporary folder), then scanned with ``pthforensics scan FILE`` and
``pthforensics scan DIR -j 2``.  The rules:

* every variant whose canary fires is ``malicious``, single file and folder;
* every other attack is at least ``suspicious`` (never clean, an error, or left out);
* no benign look-alike is ``malicious`` (a damaged one is ``suspicious``);
* a file gets the same verdict alone and in a folder.

Accepted misses are listed in ``oracle/known_misses.py`` with their reasons (none since
issue 9); the list is checked both ways, so a fix must remove its entries.
``-m oracle_long`` adds 1,000 random compositions (``ORACLE_COUNT``, ``ORACLE_SEED``),
``-m property`` draws random batches with Hypothesis; neither may find any miss.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.safety.oracle.known_misses import KNOWN_MISSES, REASONS
from tests.safety.oracle.measure import Result, evaluate, misses, summary_table
from tests.safety.oracle.variants import CLASSES, Variant, ci_variants, random_variants

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def ci_results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    results = evaluate(ci_variants(), tmp_path_factory.mktemp("oracle"))
    print("\n" + summary_table(results))
    return results


def _describe(r: Result) -> str:
    fired = ",".join(k for k, v in r.fired.items() if v) or "none"
    return (
        f"{r.name}: fired={fired} single={r.single.label} {list(r.single.rules)} "
        f"folder={r.folder.label} misses={misses(r)} {r.single.error[:80]}"
    )


def _unlisted(results: Sequence[Result], check: Callable[[Result], bool]) -> list[str]:
    return [_describe(r) for r in results if check(r) and r.name not in KNOWN_MISSES]


def test_firing_variants_are_malicious(ci_results: list[Result]) -> None:
    bad = _unlisted(
        ci_results,
        lambda r: r.fires and (r.single.label != "malicious" or r.folder.label != "malicious"),
    )
    assert not bad, "payloads that run are not called malicious:\n" + "\n".join(bad)


def test_unfired_attacks_are_at_least_suspicious(ci_results: list[Result]) -> None:
    flagged = ("suspicious", "malicious")
    bad = _unlisted(
        ci_results,
        lambda r: (
            r.malicious
            and not r.fires
            and (r.single.label not in flagged or r.folder.label not in flagged)
        ),
    )
    assert not bad, "attacks left clean, in error or out of the folder scan:\n" + "\n".join(bad)


def test_benign_lookalikes_are_not_malicious(ci_results: list[Result]) -> None:
    bad = _unlisted(ci_results, lambda r: not r.malicious and bool(misses(r)))
    assert not bad, "benign look-alikes misjudged:\n" + "\n".join(bad)


def test_same_verdict_alone_and_in_a_folder(ci_results: list[Result]) -> None:
    bad = _unlisted(ci_results, lambda r: r.single.label != r.folder.label)
    assert not bad, "a file judged differently alone and in a folder:\n" + "\n".join(bad)


def test_known_misses_are_exactly_todays(ci_results: list[Result]) -> None:
    """KNOWN_MISSES is checked both ways: a fixed miss must leave the list."""
    names = {r.name for r in ci_results}
    missing = {r.name for r in ci_results if misses(r)}
    stale = sorted(set(KNOWN_MISSES) - missing)
    assert not stale, (
        "fixed (or no longer generated): remove from tests/safety/oracle/known_misses.py:\n"
        + "\n".join(n if n in names else f"{n} (not generated)" for n in stale)
    )
    assert all(reason in REASONS.values() for reason in KNOWN_MISSES.values())


def test_the_oracle_sees_what_runs(ci_results: list[Result]) -> None:
    """The instrument itself: payloads of every attack class run under torch.load, plain
    ones always do, benign files never fire, and broken payloads do not fire."""
    by_name = {r.name: r for r in ci_results}
    for klass in CLASSES[:-1]:
        fired = sum(r.torch_fires for r in ci_results if r.klass == klass)
        assert fired >= 5, f"only {fired} variant(s) of {klass} run under torch.load"
    assert not [r.name for r in ci_results if not r.malicious and r.fires]
    for name in (
        "2-caller/os:system/stack/reduce/none/raw.pkl",
        "3-zip/plain/data.pkl",
        "4-sniff/os:system/stack/reduce/none/legacy-3.pt",
    ):
        assert by_name[name].torch_fires and by_name[name].single.label == "malicious", name
    for name in (
        "5-semantics/ext1/reduce.pkl",  # copyreg's extension registry is empty
        "1-walk/torch.nn.functional:np.savetxt/global/reduce/protocol-2/raw.pkl",
        "3-zip/plain/staged-archive_extra_notes.txt",  # no loader opens it...
    ):
        assert not by_name[name].torch_fires, name
    assert by_name["3-zip/plain/staged-archive_extra_notes.txt"].fired["members"]  # ...pickle does


def test_variants_are_small_and_named_once() -> None:
    variants = ci_variants()
    assert len(variants) >= 300
    assert len({v.name for v in variants}) == len(variants)
    assert max(len(v.data) for v in variants) < 1 << 20


# -- random compositions: no miss at all --------------------------------------------------


def _check_random(variants: list[Variant], workdir: Path) -> None:
    results = evaluate(variants, workdir)
    print("\n" + summary_table(results))
    missed = [_describe(r) for r in results if misses(r)]
    assert not missed, "misses on random compositions:\n" + "\n".join(missed)


def _chains() -> list[tuple[str, str, str]]:
    from tests.safety.oracle.chains import OBVIOUS, discover_chains

    chains = discover_chains(per_pair=2) + discover_chains(per_pair=2, avoid=OBVIOUS)
    return sorted({(c.module, c.name, c.target) for c in chains})


@pytest.mark.oracle_long
def test_random_compositions_long(tmp_path: Path) -> None:
    seed = int(os.environ.get("ORACLE_SEED", "0"))
    count = int(os.environ.get("ORACLE_COUNT", "1000"))
    _check_random(random_variants(count, seed, _chains()), tmp_path)


@pytest.mark.property
def test_random_compositions_property(tmp_path_factory: pytest.TempPathFactory) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    chains = _chains()

    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(seed=st.integers(0, 2**32 - 1))
    def run(seed: int) -> None:
        _check_random(random_variants(60, seed, chains), tmp_path_factory.mktemp("prop"))

    run()
