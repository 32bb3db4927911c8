"""Validation of every JSON output against the shipped schema (``pthforensics schema``).

``tests/conftest.py`` wraps ``FileReport.to_dict`` and ``BatchReport.summary`` for every
test, so each report and summary any test produces is checked; :func:`check_document`
checks whole documents (``scan --json``) where a test reads one.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from pthforensics.report import json_schema


@cache
def validator(definition: str | None = None) -> Draft202012Validator:
    """A validator of the whole schema, or of one of its ``$defs``."""
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    if definition is not None:
        del schema["oneOf"]
        schema["$ref"] = f"#/$defs/{definition}"
    return Draft202012Validator(schema)


def check(value: Any, definition: str | None = None) -> None:
    """Raise ``jsonschema.ValidationError`` (the first error, with its path) if ``value``
    does not match."""
    error = next(iter(validator(definition).iter_errors(value)), None)
    if error is not None:
        raise error


def check_document(doc: Any) -> None:
    """A ``scan --json`` document."""
    check(doc, "ScanDocument")
    check(doc)
