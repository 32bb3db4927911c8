"""The shipped JSON Schema: a valid draft 2020-12 schema, in step with the records' enums,
printed by ``pthforensics schema``, and met by every output (``tests/conftest.py`` checks
each report and summary any test makes; here whole documents and JSONL lines)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pthforensics.cli import main
from pthforensics.core import Format, InputKind, InputStatus, TraceStatus, Verdict
from pthforensics.report import json_schema
from tests._helpers import CORPUS
from tests._schema import check, check_document


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_enums_follow_the_records() -> None:
    """A value added to an enum must be added to the schema (pthforensics/report/
    schema.json), or outputs carrying it would not validate."""
    defs = json_schema()["$defs"]
    props = defs["FileReport"]["properties"]
    assert props["format"]["enum"] == [f.value for f in Format]
    assert props["verdict"]["enum"] == [*(v.value for v in Verdict), None]
    assert defs["Input"]["properties"]["status"]["enum"] == [s.value for s in InputStatus]
    assert defs["Input"]["properties"]["kind"]["enum"] == [k.value for k in InputKind]
    assert defs["Trace"]["properties"]["status"]["enum"] == [s.value for s in TraceStatus]


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == json_schema()


def test_shipped_as_package_data() -> None:
    """The file sits in the package (pyproject's package-data ships it in the wheel)."""
    from importlib import resources

    text = resources.files("pthforensics.report").joinpath("schema.json").read_text()
    assert json.loads(text) == json_schema()


@pytest.mark.parametrize("folder", ["benign", "malicious", "broken", "models"])
def test_scan_documents_and_lines_validate(
    folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = tmp_path / "out.jsonl"
    main(["scan", "--json", "-j", "2", "--deep", "--jsonl", str(jsonl), str(CORPUS / folder)])
    doc = json.loads(capsys.readouterr().out)
    check_document(doc)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == len(doc["reports"])
    for line in lines:
        check(line, "FileReport")
        check(line)


@pytest.mark.parametrize(
    "sample",
    ["models/lenet_seq.pt", "benign/lightning.ckpt", "malicious/os_system.pkl", "broken/empty.pt"],
)
def test_inspect_documents_validate(sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["inspect", "--json", str(CORPUS / sample)])
    doc = json.loads(capsys.readouterr().out)
    check(doc)
    # The contract: inspect fills layers, input and trace, never null.
    assert isinstance(doc["layers"], list)
    assert doc["input"]["status"] and doc["trace"]["status"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "ok", "verdict": None}, "verdict"),
        ({"status": "error", "verdict": "clean"}, "verdict"),
        ({"format": None}, "format"),
        ({"tensors": None}, "tensors"),
        ({"schema_version": 2}, "schema_version"),
        ({"aliases": "one"}, "aliases"),
    ],
)
def test_the_schema_rejects_what_the_contract_forbids(
    change: dict[str, object], where: str
) -> None:
    from pthforensics import scan

    good = scan(CORPUS / "benign" / "state_dict.pt").to_dict()
    with pytest.raises(jsonschema.ValidationError) as exc:
        check({**good, **change}, "FileReport")
    assert exc.value.json_path == f"$.{where}"
