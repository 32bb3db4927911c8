"""``scan --sarif``: a SARIF 2.1.0 log that validates against the standard's structure
(``sarif-2.1.0-subset.schema.json``), one result per finding with its rule's help, the
file and the byte offset as location."""

from __future__ import annotations

import json
import pickletools
import re
import urllib.parse
from pathlib import Path

import jsonschema
import pytest

from pthforensics.cli import main
from pthforensics.report import RULE_HELP
from tests._helpers import CORPUS

SUBSET = json.loads((Path(__file__).parent / "sarif-2.1.0-subset.schema.json").read_text())


def _scan(tmp_path: Path, *paths: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    sarif, doc = tmp_path / "out.sarif", tmp_path / "out.json"
    main(["scan", "-j", "2", "--sarif", str(sarif), "-o", str(doc), *map(str, paths)])
    return json.loads(sarif.read_text()), json.loads(doc.read_text())


@pytest.fixture(scope="module")
def corpus_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:  # type: ignore[type-arg]
    folders = [CORPUS / name for name in ("benign", "malicious", "broken")]
    return _scan(tmp_path_factory.mktemp("sarif"), *folders)


def test_the_subset_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SUBSET)


def test_log_validates(corpus_logs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    sarif, _ = corpus_logs
    jsonschema.Draft202012Validator(SUBSET).validate(sarif)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1


def test_one_result_per_finding(corpus_logs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    sarif, doc = corpus_logs
    [run] = sarif["runs"]
    findings = [(r["path"], f) for r in doc["reports"] for f in r["findings"]]
    assert len(run["results"]) == len(findings)
    levels = {"malicious": "error", "suspicious": "warning", "info": "note"}
    rules = run["tool"]["driver"]["rules"]
    for result, (path, finding) in zip(run["results"], findings, strict=True):
        assert result["ruleId"] == finding["rule_id"]
        assert rules[result["ruleIndex"]]["id"] == finding["rule_id"]
        assert result["level"] == levels[finding["severity"]]
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert urllib.parse.unquote(location["uri"].removeprefix("file://")) == path
        assert run["artifacts"][location["index"]]["location"]["uri"] == location["uri"]
        assert finding["detail"] in result["message"]["text"]
    assert len({r["id"] for r in rules}) == len(rules)


def test_rules_carry_help(corpus_logs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    """Each rule the corpus triggers has its own entry in report/rules.py (not the
    generic fallback), and the log carries its description and help."""
    sarif, _ = corpus_logs
    for rule in sarif["runs"][0]["tool"]["driver"]["rules"]:
        assert rule["id"] in RULE_HELP, f"add {rule['id']!r} to pthforensics/report/rules.py"
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")


def test_byte_offsets_point_at_an_opcode(corpus_logs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    """Where a result gives ``region.byteOffset`` in the file (raw pickles, legacy
    streams), an opcode starts at that byte; inside an archive member, the related
    location gives the member as a nested artifact with the offset inside it."""
    sarif, _ = corpus_logs
    [run] = sarif["runs"]
    checked = nested = 0
    for result in run["results"]:
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        if "region" in physical:
            data = Path(urllib.parse.unquote(uri.removeprefix("file://"))).read_bytes()
            offset = physical["region"]["byteOffset"]
            # The stream holding the offset starts at or before it: one of the starts
            # decodes (up to where it breaks) to an opcode at exactly that byte.
            assert any(offset - start in _opcodes(data[start:]) for start in range(offset + 1))
            checked += 1
        for related in result.get("relatedLocations", []):
            index = related["physicalLocation"]["artifactLocation"]["index"]
            artifact = run["artifacts"][index]
            parent = run["artifacts"][artifact["parentIndex"]]
            assert parent["location"]["uri"] == uri
            assert result["properties"]["member"] == urllib.parse.unquote(
                artifact["location"]["uri"]
            )
            nested += 1
    assert checked > 10 and nested > 10


def _opcodes(data: bytes) -> set[int]:
    """Positions ``data`` decodes to as a pickle: each opcode, the first byte after STOP
    (bytes trailing the stream) and the byte where decoding breaks (a malformed one; the
    end of the data for a stream that runs out before STOP)."""
    found: set[int] = set()
    try:
        for op, _, pos in pickletools.genops(data):
            found.add(pos or 0)
            if op.name == "STOP":
                found.add((pos or 0) + 1)
    except Exception as exc:  # noqa: BLE001 - where it breaks ends the stream
        found.update(int(n) for n in re.findall(r"at position (\d+)", str(exc)))
        if "exhausted" in str(exc):
            found.add(len(data))
    return found


def test_files_without_verdict_are_notifications(corpus_logs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    sarif, doc = corpus_logs
    [invocation] = sarif["runs"][0]["invocations"]
    errors = [r for r in doc["reports"] if r["status"] == "error"]
    notes = invocation["toolExecutionNotifications"]
    assert len(notes) == len(errors) > 0
    assert all(n["level"] == "error" for n in notes)
    assert invocation["executionSuccessful"] is True
    assert invocation["exitCode"] == doc["summary"]["exit_code"] == 1


def test_a_clean_scan_has_no_results(tmp_path: Path) -> None:
    sarif, _ = _scan(tmp_path, CORPUS / "benign" / "state_dict.pt")
    jsonschema.Draft202012Validator(SUBSET).validate(sarif)
    [run] = sarif["runs"]
    assert run["results"] == [] and run["invocations"][0]["exitCode"] == 0
