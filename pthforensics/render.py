"""Pure renderers: records in, text out (tables via tabulate, JSON per the contract)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .records import FileReport, InputGuess, LayerGuess, TensorSummary, TraceResult
from .report import BatchReport

__all__ = ["SCHEMA_VERSION", "batch_json", "report_dict", "report_jsonl_line", "scan_table",
           "inspect_text"]

SCHEMA_VERSION = 1


def _summary_dict(t: TensorSummary | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"count": t.count, "parameters": t.parameters, "bytes": t.bytes,
            "dtypes": dict(t.dtypes)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _layer_dict(g: LayerGuess) -> dict[str, Any]:
    return {"name": g.name, "type": g.type, "attributes": _jsonable(dict(g.attributes)),
            "confidence": round(g.confidence, 3), "evidence": list(g.evidence),
            "parameters": g.parameters, "tensors": list(g.tensor_keys)}


def _input_dict(i: InputGuess) -> dict[str, Any]:
    return {"status": i.status, "kind": i.kind,
            "shape": list(i.shape) if i.shape is not None else None,
            "valid_sizes": _jsonable(i.valid_sizes) if i.valid_sizes is not None else None,
            "dtype": i.dtype, "evidence": list(i.evidence)}


def _trace_dict(t: TraceResult) -> dict[str, Any]:
    return {"status": t.status,
            "output_shape": list(t.output_shape) if t.output_shape is not None else None,
            "input_shape": list(t.input_shape) if t.input_shape is not None else None,
            "detail": t.detail,
            "tried": [{"shape": list(s), "result": r} for s, r in t.tried],
            "layers": [{"name": l.name, "type": l.type,
                        "input_shape": list(l.input_shape) if l.input_shape else None,
                        "output_shape": list(l.output_shape) if l.output_shape else None}
                       for l in t.layers]}


def report_dict(r: FileReport) -> dict[str, Any]:
    """One ``FileReport`` as the JSON contract lays it out."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "path": r.path,
        "status": r.status.value,
        "format": r.format,
        "verdict": r.verdict.value if r.verdict else None,
        "findings": [{"rule_id": f.rule_id, "severity": f.severity.label,
                      "location": str(f.location), "detail": f.detail} for f in r.findings],
        "tensors": _summary_dict(r.tensors),
        "error": ({"stage": r.error.stage, "type": r.error.type, "message": r.error.message}
                  if r.error else None),
        "wrappers": list(r.wrappers),
        "size": r.size,
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


def batch_json(batch: BatchReport) -> str:
    """The ``scan --json`` document."""
    return json.dumps({"schema_version": SCHEMA_VERSION,
                       "reports": [report_dict(r) for r in batch.reports],
                       "summary": batch.summary()}, indent=2)


def _human_count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def scan_table(reports: Iterable[FileReport]) -> str:
    """The human table of ``scan``: one row per file, then each finding."""
    from tabulate import tabulate  # noqa: PLC0415 - 40 ms import, not needed for JSON

    rows = []
    details = []
    for r in reports:
        worst = max((f.severity for f in r.findings), default=None)
        rows.append([r.path, r.format or "-", (r.verdict.value if r.verdict else "ERROR"),
                     len([f for f in r.findings if worst and f.severity == worst]) if worst else 0,
                     r.tensors.count if r.tensors else "-",
                     _human_count(r.tensors.parameters) if r.tensors else "-"])
        if r.error:
            details.append(f"{r.path}: error in {r.error.stage}: {r.error.message}")
        for f in r.findings:
            details.append(f"{r.path}: {f}")
    table = tabulate(rows, headers=["file", "format", "verdict", "worst findings", "tensors",
                                    "params"], tablefmt="simple")
    return table + ("\n\n" + "\n".join(details) if details else "")


def inspect_text(r: FileReport) -> str:
    """The human report of ``inspect``: verdict, layer table, input verdict, trace."""
    from tabulate import tabulate  # noqa: PLC0415

    parts = [scan_table([r])]
    if r.layers:
        trace_out = {l.name: l.output_shape for l in (r.trace.layers if r.trace else ())}
        rows = [[g.name, g.type, _attr_text(g), _human_count(g.parameters),
                 "x".join(map(str, trace_out[g.name])) if trace_out.get(g.name) else "",
                 f"{g.confidence:.2f}"] for g in r.layers]
        parts.append(tabulate(rows, headers=["layer", "type", "attributes", "params",
                                             "output", "conf"], tablefmt="simple"))
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
