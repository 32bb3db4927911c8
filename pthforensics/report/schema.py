"""The JSON Schema (draft 2020-12) of the JSON outputs: a ``FileReport`` (``inspect
--json``, each ``--jsonl`` line) and the ``scan --json`` document.

Shipped as package data (``schema.json``) and printed by ``pthforensics schema``; the test
suite validates every JSON output against it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

__all__ = ["json_schema"]


@cache
def _text() -> str:
    from importlib import resources  # noqa: PLC0415 - only `schema` and the tests need it

    return (
        resources.files(__package__ or "pthforensics.report")
        .joinpath("schema.json")
        .read_text(encoding="utf-8")
    )


def json_schema() -> dict[str, Any]:
    """The schema, as a fresh dict (``#/$defs/FileReport``, ``#/$defs/ScanDocument``...)."""
    schema: dict[str, Any] = json.loads(_text())
    return schema
