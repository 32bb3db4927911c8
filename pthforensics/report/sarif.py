"""A scan as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange Format), for
code-scanning dashboards.  Pure: reports in, a JSON document out.

* One run; ``tool.driver.rules`` holds every rule the findings use, with its description
  and help (:mod:`.rules`) and its default level.
* One result per finding: ``level`` ``error`` (malicious), ``warning`` (suspicious) or
  ``note`` (info); the message is the finding's detail and location; its location is the
  file, with ``region.byteOffset`` when the finding's offset is an offset in the file
  itself (a raw pickle's or a legacy stream's bytes).  A finding inside an archive member
  also names the member as a logical location, and as a related location whose artifact
  is nested in the file (``artifacts[].parentIndex``) with the offset inside the member.
* A file that could not be read is a tool execution notification (level ``error``) in
  ``invocations[0]``, not a result: there is no finding to show.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pthforensics.core import FileReport, Finding, Format, Severity

from .assemble import BatchReport
from .rules import rule_help

__all__ = ["sarif_json", "sarif_log"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_LEVELS = {Severity.MALICIOUS: "error", Severity.SUSPICIOUS: "warning", Severity.INFO: "note"}
#: GitHub code scanning ranks security results by this property (0-10).
_SECURITY_SEVERITY = {Severity.MALICIOUS: "9.0", Severity.SUSPICIOUS: "5.0", Severity.INFO: "1.0"}
#: ``member@N@M``: a stream starting N bytes into ``member``, and so on.
_OFFSETS = re.compile(r"^(?P<base>[^@!]*)(?P<offsets>(@\d+)*)$")
#: Streams that are the file's own bytes: a raw pickle ("pickle"), a legacy stream's
#: pickles ("<role>@<position in the file>").
_FILE_STREAMS = {
    Format.PICKLE: frozenset({"pickle"}),
    Format.TORCH_LEGACY: frozenset({"magic", "protocol", "sys_info", "pickle", "storage_keys"}),
}


def file_offset(report: FileReport, finding: Finding) -> int | None:
    """The finding's offset counted from the start of the file, when its stream is the
    file's own bytes (no wrapper, no archive member); else ``None``."""
    where = finding.location
    if where.offset is None or where.member is None or report.wrappers:
        return None
    match = _OFFSETS.match(where.member)
    if match is None or report.format not in _FILE_STREAMS:
        return None
    if match["base"] not in _FILE_STREAMS[report.format]:
        return None
    starts = [int(n) for n in match["offsets"].split("@")[1:]]
    return sum(starts) + where.offset


def _uri(path: str) -> str:
    """A URI reference for ``path``: relative paths stay relative (dashboards resolve them
    against the repository), absolute ones become ``file://`` URIs; bytes that are not
    UTF-8 are percent-encoded as they are."""
    import urllib.parse  # noqa: PLC0415 - only SARIF output needs it

    raw = os.fsencode(path).replace(os.sep.encode(), b"/")
    quoted = urllib.parse.quote(raw, safe="/")
    return "file://" + quoted if os.path.isabs(path) else quoted


def _member_uri(member: str) -> str:
    """A URI reference for an archive member, relative to the archive (a leading ``/`` of
    a hostile member name is encoded, not taken as the root)."""
    import urllib.parse  # noqa: PLC0415

    raw = member.encode("utf-8", "surrogateescape")
    return (
        urllib.parse.quote(raw.lstrip(b"/"), safe="/")
        if not raw.startswith(b"/")
        else (urllib.parse.quote(raw, safe=""))
    )


def _rule(rule_id: str, severity: Severity, example: str) -> dict[str, Any]:
    text = rule_help(rule_id)
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": text.short},
        "fullDescription": {"text": f"{text.short}. {text.help}"},
        "help": {"text": text.help, "markdown": f"**{text.short}.** {text.help}"},
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {
            "tags": ["security", "pytorch", "pickle"],
            "security-severity": _SECURITY_SEVERITY[severity],
            "example": example,
        },
    }


class _Log:
    """The parts of the run, filled report by report."""

    def __init__(self) -> None:
        self.rules: dict[str, int] = {}
        self.rule_list: list[dict[str, Any]] = []
        self.artifacts: list[dict[str, Any]] = []
        self.artifact_index: dict[tuple[int | None, str], int] = {}
        self.results: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []

    def artifact(self, uri: str, parent: int | None = None, length: int | None = None) -> int:
        key = (parent, uri)
        if key not in self.artifact_index:
            entry: dict[str, Any] = {"location": {"uri": uri}}
            if parent is None:
                entry["roles"] = ["analysisTarget"]
            else:
                entry["parentIndex"] = parent
            if length is not None:
                entry["length"] = length
            self.artifact_index[key] = len(self.artifacts)
            self.artifacts.append(entry)
        return self.artifact_index[key]

    def rule_index(self, finding: Finding) -> int:
        if finding.rule_id not in self.rules:
            self.rules[finding.rule_id] = len(self.rule_list)
            self.rule_list.append(_rule(finding.rule_id, finding.severity, finding.detail))
        return self.rules[finding.rule_id]

    def add(self, report: FileReport) -> None:
        uri = _uri(report.path)
        top = self.artifact(uri, length=report.size)
        if report.error is not None:
            self.notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{report.path}: {report.error.message}"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                    "descriptor": {"id": f"{report.error.stage}-error"},
                    "properties": {"type": report.error.type},
                }
            )
        for finding in report.findings:
            self.results.append(self.result(report, finding, uri, top))

    def result(self, report: FileReport, f: Finding, uri: str, top: int) -> dict[str, Any]:
        where = f.location
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "index": top}}
        offset = file_offset(report, f)
        if offset is not None:
            physical["region"] = {"byteOffset": offset}
        location: dict[str, Any] = {"physicalLocation": physical}
        related: list[dict[str, Any]] = []
        if where.member is not None:
            name = where.member if where.offset is None else f"{where.member}@{where.offset}"
            location["logicalLocations"] = [
                {"name": where.member, "fullyQualifiedName": name, "kind": "resource"}
            ]
            if offset is None:
                member = self.artifact(_member_uri(where.member), top)
                inner: dict[str, Any] = {"artifactLocation": {"index": member}}
                if where.offset is not None:
                    inner["region"] = {"byteOffset": where.offset}
                related.append(
                    {
                        "id": 1,
                        "physicalLocation": inner,
                        "message": {"text": f"member {where.member} of {report.path}"},
                    }
                )
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": self.rule_index(f),
            "level": _LEVELS[f.severity],
            "message": {"text": f"{f.detail} (at {where})"},
            "locations": [location],
            "partialFingerprints": {"pthforensics/v1": _fingerprint(report, f)},
            "properties": {
                "severity": f.severity.label,
                "verdict": report.verdict.value if report.verdict else None,
                "member": where.member,
                "offset": where.offset,
                "global": where.global_name,
                "key": where.key,
            },
        }
        if related:
            result["relatedLocations"] = related
        return result


def _fingerprint(report: FileReport, f: Finding) -> str:
    """Stable across runs for the same finding in the same file (dashboards match alerts
    by it): the path, rule and location, hashed."""
    import hashlib  # noqa: PLC0415 - loads OpenSSL (MBs): only SARIF output needs it

    text = "\0".join((report.path, f.rule_id, str(f.location)))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def sarif_log(batch: BatchReport, version: str) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a scan (``version``: pthforensics' own)."""
    log = _Log()
    for report in batch.reports:
        log.add(report)
    invocation: dict[str, Any] = {
        "executionSuccessful": not batch.interrupted,
        "exitCode": batch.exit_code(),
        "toolExecutionNotifications": log.notifications,
    }
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "pthforensics",
                "version": version,
                "semanticVersion": version,
                "rules": log.rule_list,
            }
        },
        "invocations": [invocation],
        "artifacts": log.artifacts,
        "results": log.results,
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def sarif_json(batch: BatchReport, version: str) -> str:
    """:func:`sarif_log` as text (no trailing newline)."""
    return json.dumps(sarif_log(batch, version), indent=1)
