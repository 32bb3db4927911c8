"""Pure renderers: records in, text out (tables via tabulate, JSON per the contract)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pthforensics.core import (
    FileReport,
    InputGuess,
    LayerGuess,
    Severity,
    TensorSummary,
    TraceResult,
)

from .assemble import BatchReport

__all__ = [
    "SCHEMA_VERSION",
    "batch_json",
    "batch_summary",
    "csv_text",
    "inspect_text",
    "report_dict",
    "report_from_dict",
    "report_jsonl_line",
    "scan_table",
]

SCHEMA_VERSION = 1


def _summary_dict(t: TensorSummary | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "count": t.count,
        "parameters": t.parameters,
        "bytes": t.bytes,
        "dtypes": dict(t.dtypes),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _layer_dict(g: LayerGuess) -> dict[str, Any]:
    return {
        "name": g.name,
        "type": g.type,
        "attributes": _jsonable(dict(g.attributes)),
        "confidence": round(g.confidence, 3),
        "evidence": list(g.evidence),
        "parameters": g.parameters,
        "tensors": list(g.tensor_keys),
    }


def _input_dict(i: InputGuess) -> dict[str, Any]:
    return {
        "status": i.status,
        "kind": i.kind,
        "shape": list(i.shape) if i.shape is not None else None,
        "valid_sizes": _jsonable(i.valid_sizes) if i.valid_sizes is not None else None,
        "dtype": i.dtype,
        "evidence": list(i.evidence),
    }


def _trace_dict(t: TraceResult) -> dict[str, Any]:
    return {
        "status": t.status,
        "output_shape": list(t.output_shape) if t.output_shape is not None else None,
        "input_shape": list(t.input_shape) if t.input_shape is not None else None,
        "detail": t.detail,
        "tried": [{"shape": list(s), "result": r} for s, r in t.tried],
        "layers": [
            {
                "name": l.name,
                "type": l.type,
                "input_shape": list(l.input_shape) if l.input_shape else None,
                "output_shape": list(l.output_shape) if l.output_shape else None,
            }
            for l in t.layers
        ],
    }


def report_dict(r: FileReport) -> dict[str, Any]:
    """One ``FileReport`` as the JSON contract lays it out."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "path": r.path,
        "status": r.status.value,
        "format": r.format,
        "verdict": r.verdict.value if r.verdict else None,
        "findings": [
            {
                "rule_id": f.rule_id,
                "severity": f.severity.label,
                "location": str(f.location),
                "detail": f.detail,
            }
            for f in r.findings
        ],
        "tensors": _summary_dict(r.tensors),
        "error": (
            {"stage": r.error.stage, "type": r.error.type, "message": r.error.message}
            if r.error
            else None
        ),
        "wrappers": list(r.wrappers),
        "size": r.size,
        "mtime": r.mtime,
        "seconds": round(r.seconds, 4) if r.seconds is not None else None,
    }
    if r.metadata:
        out["metadata"] = dict(r.metadata)
    if r.layers is not None:
        out["layers"] = [_layer_dict(g) for g in r.layers]
    if r.input is not None:
        out["input"] = _input_dict(r.input)
    if r.trace is not None:
        out["trace"] = _trace_dict(r.trace)
    for key, value in r.extra:
        out[key] = _jsonable(value)
    return out


def report_jsonl_line(r: FileReport) -> str:
    """One line of ``--jsonl`` output (no trailing newline)."""
    return json.dumps(report_dict(r), separators=(",", ":"))


def batch_json(batch: BatchReport, models: list[dict[str, Any]] | None = None) -> str:
    """The ``scan --json`` document (sharded models listed under ``summary.models``)."""
    summary = batch.summary()
    if models:
        summary["models"] = models
    # Compact: json's C encoder only runs without indent (a zoo's document is large).
    return json.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "reports": [report_dict(r) for r in batch.reports],
            "summary": summary,
        },
        separators=(",", ":"),
    )


def _human_count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def scan_table(reports: Iterable[FileReport], min_severity: Severity = Severity.INFO) -> str:
    """The human table of ``scan``: one row per file, then each finding at or above
    ``min_severity``."""
    from tabulate import tabulate  # noqa: PLC0415 - 40 ms import, not needed for JSON

    rows = []
    details = []
    for r in reports:
        worst = max((f.severity for f in r.findings), default=None)
        rows.append(
            [
                r.path,
                r.format or "-",
                (r.verdict.value if r.verdict else "ERROR"),
                len([f for f in r.findings if worst and f.severity == worst]) if worst else 0,
                r.tensors.count if r.tensors else "-",
                _human_count(r.tensors.parameters) if r.tensors else "-",
            ]
        )
        if r.error:
            details.append(f"{r.path}: error in {r.error.stage}: {r.error.message}")
        details.extend(f"{r.path}: {f}" for f in r.findings if f.severity >= min_severity)
    table = tabulate(
        rows,
        headers=["file", "format", "verdict", "worst findings", "tensors", "params"],
        tablefmt="simple",
    )
    return str(table) + ("\n\n" + "\n".join(details) if details else "")


def inspect_text(r: FileReport) -> str:
    """The human report of ``inspect``: verdict, layer table, input verdict, trace."""
    from tabulate import tabulate  # noqa: PLC0415

    parts = [scan_table([r])]
    if r.layers:
        trace_out = {l.name: l.output_shape for l in (r.trace.layers if r.trace else ())}
        rows = [
            [
                g.name,
                g.type,
                _attr_text(g),
                _human_count(g.parameters),
                "x".join(map(str, trace_out.get(g.name) or ())),
                f"{g.confidence:.2f}",
            ]
            for g in r.layers
        ]
        parts.append(
            tabulate(
                rows,
                headers=["layer", "type", "attributes", "params", "output", "conf"],
                tablefmt="simple",
            )
        )
    if r.input:
        i = r.input
        text = f"input: {i.status} {i.kind} dtype={i.dtype}"
        if i.shape:
            text += f" shape={list(i.shape)}"
        if i.valid_sizes:
            text += f" valid={_jsonable(i.valid_sizes)}"
        parts.append("\n".join([text, *(f"  - {e}" for e in i.evidence)]))
    if r.trace:
        t = r.trace
        text = f"trace: {t.status}"
        if t.input_shape:
            text += f" input={list(t.input_shape)}"
        if t.output_shape:
            text += f" output={list(t.output_shape)}"
        if t.detail:
            text += f" ({t.detail})"
        parts.append(text)
    return "\n\n".join(parts)


def _attr_text(g: LayerGuess) -> str:
    return ", ".join(f"{k}={v}" for k, v in g.attributes)[:80]


def csv_text(reports: Iterable[FileReport]) -> str:
    """A CSV summary: one row per file."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "path",
            "status",
            "format",
            "verdict",
            "findings",
            "worst_rule",
            "tensors",
            "parameters",
            "bytes",
            "seconds",
            "error",
        ]
    )
    for r in reports:
        worst = r.findings[0] if r.findings else None
        writer.writerow(
            [
                r.path,
                r.status.value,
                r.format or "",
                r.verdict.value if r.verdict else "",
                len(r.findings),
                worst.rule_id if worst else "",
                r.tensors.count if r.tensors else "",
                r.tensors.parameters if r.tensors else "",
                r.tensors.bytes if r.tensors else "",
                f"{r.seconds:.4f}" if r.seconds is not None else "",
                r.error.message if r.error else "",
            ]
        )
    return out.getvalue()


def batch_summary(
    batch: BatchReport,
    models: list[dict[str, Any]],
    seconds: float,
    *,
    slowest: int = 5,
    listed: int = 50,
) -> str:
    """The closing human summary of a batch: counts, files with findings, slowest files."""
    from tabulate import tabulate  # noqa: PLC0415

    summary = batch.summary()
    reports = batch.reports
    rate = len(reports) / seconds if seconds > 0 else 0.0
    parts = [
        f"{len(reports)} file(s) in {seconds:.1f} s ({rate:.1f} files/s); exit code "
        f"{summary['exit_code']}"
    ]
    counts = [[k, v] for k, v in summary["verdicts"].items()]  # type: ignore[attr-defined]
    formats = [[k, v] for k, v in summary["formats"].items()]  # type: ignore[attr-defined]
    parts.append(
        tabulate(counts, headers=["verdict", "files"])
        + "\n\n"
        + tabulate(formats, headers=["format", "files"])
    )
    flagged = [r for r in reports if r.findings and r.findings[0].severity >= batch.fail_on]
    if flagged:
        rows = [
            [
                r.path,
                r.verdict.value if r.verdict else "",
                r.findings[0].rule_id,
                str(r.findings[0].location)[:60],
            ]
            for r in flagged[:listed]
        ]
        more = f"\n(+{len(flagged) - listed} more)" if len(flagged) > listed else ""
        parts.append(
            tabulate(rows, headers=["file with findings", "verdict", "worst rule", "where"]) + more
        )
    errors = [r for r in reports if r.error]
    if errors:
        rows = [[r.path, r.error.stage, r.error.message[:90]] for r in errors[:listed] if r.error]
        parts.append(tabulate(rows, headers=["file with errors", "stage", "message"]))
    if models:
        rows = [
            [
                str(m["model"]),
                str(m["verdict"] or "-"),
                str(len(m["shards"])),
                str(m["shard_tensors"]),
                str(m["error"] or ""),
            ]
            for m in models
        ]
        parts.append(
            tabulate(rows, headers=["sharded model", "verdict", "shards", "tensors", "problem"])
        )
    timed = sorted(
        (r for r in reports if r.seconds is not None), key=lambda r: -(r.seconds or 0.0)
    )[:slowest]
    if timed:
        parts.append(
            tabulate(
                [[r.path, f"{r.seconds:.3f}"] for r in timed], headers=["slowest files", "seconds"]
            )
        )
    return "\n\n".join(parts)


def report_from_dict(d: dict[str, Any]) -> FileReport:
    """Read back a report this module wrote (``--resume``); layers/trace are kept as extra."""
    from pthforensics.core import ErrorInfo, Finding, Location, Severity, Status, Verdict  # noqa: PLC0415

    tensors = d.get("tensors")
    error = d.get("error")
    findings = tuple(
        Finding(
            f["rule_id"],
            Severity[f["severity"].upper()],
            Location(member=f.get("location")),
            f.get("detail", ""),
        )
        for f in d.get("findings") or ()
    )
    known = {
        "schema_version",
        "path",
        "status",
        "format",
        "verdict",
        "findings",
        "tensors",
        "error",
        "wrappers",
        "size",
        "mtime",
        "seconds",
        "metadata",
    }
    return FileReport(
        path=d["path"],
        status=Status(d["status"]),
        format=d.get("format"),
        verdict=Verdict(d["verdict"]) if d.get("verdict") else None,
        findings=findings,
        tensors=TensorSummary(
            tensors["count"],
            tensors["parameters"],
            tensors["bytes"],
            tuple(tensors.get("dtypes", {}).items()),
        )
        if tensors
        else None,
        error=ErrorInfo(error["stage"], error["type"], error["message"]) if error else None,
        wrappers=tuple(d.get("wrappers") or ()),
        size=d.get("size"),
        mtime=d.get("mtime"),
        seconds=d.get("seconds"),
        metadata=tuple((d.get("metadata") or {}).items()),
        extra=tuple((k, v) for k, v in d.items() if k not in known),
    )
