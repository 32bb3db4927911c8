"""The JSON shapes of the records a ``FileReport`` holds, both ways.

``*_to_json`` gives exactly the layout of the JSON contract (``../shared/DESIGN.md``, "JSON
report"), plus fields that make the round trip lossless; ``*_from_json`` reads it back into
the same records, enums as enums and tuples as tuples.  Readers accept documents written
before a field existed (``--resume`` reads earlier runs' output): a missing optional field
takes the record's default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .inference import (
    InputGuess,
    InputHypothesis,
    InputKind,
    InputStatus,
    LayerGuess,
    PlanStep,
    RebuildPart,
    TraceLayer,
    TraceResult,
    TraceStatus,
)
from .records import Finding, Location, Severity, TensorSummary

JSON = dict[str, Any]


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: tuples become lists, mapping keys strings; a value JSON cannot
    hold is written as its ``str``."""
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def tupled(value: Any) -> Any:
    """The inverse of :func:`jsonable` for records' values: lists become tuples again."""
    if isinstance(value, list):
        return tuple(tupled(v) for v in value)
    if isinstance(value, dict):
        return {k: tupled(v) for k, v in value.items()}
    return value


def _shape(shape: Sequence[int] | None) -> list[int] | None:
    return list(shape) if shape is not None else None


def _shape_back(shape: Sequence[int] | None) -> tuple[int, ...] | None:
    return tuple(shape) if shape is not None else None


def _pairs(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple((k, tupled(v)) for k, v in (mapping or {}).items())


def finding_to_json(f: Finding) -> JSON:
    """``{"rule_id", "severity", "location", "detail"}`` (contract) and ``"where"``: the
    location's parts, one key per field of ``Location`` (a test checks that none is
    missing)."""
    loc = f.location
    return {
        "rule_id": f.rule_id,
        "severity": f.severity.label,
        "location": str(loc),
        "detail": f.detail,
        "where": {
            "member": loc.member,
            "offset": loc.offset,
            "global_name": loc.global_name,
            "key": loc.key,
        },
    }


def finding_from_json(d: Mapping[str, Any]) -> Finding:
    """A finding; without ``"where"`` (written before it existed) the location string is
    kept whole as the member, so it still reads the same."""
    where = d.get("where")
    location = Location(**where) if where is not None else Location(member=d.get("location"))
    return Finding(d["rule_id"], Severity[d["severity"].upper()], location, d.get("detail", ""))


def summary_to_json(t: TensorSummary) -> JSON:
    """The contract's ``tensors``, with ``"status": "ok"`` (``"skipped"`` when nothing was
    counted, see ``FileReport.to_dict``), ``buffers`` and ``trainable`` (``null``: not
    stored)."""
    return {
        "status": "ok",
        "count": t.count,
        "parameters": t.parameters,
        "bytes": t.bytes,
        "dtypes": dict(t.dtypes),
        "buffers": t.buffers,
        "trainable": t.trainable,
    }


def summary_from_json(d: Mapping[str, Any]) -> TensorSummary:
    """The inverse of :func:`summary_to_json`."""
    return TensorSummary(
        d["count"],
        d["parameters"],
        d["bytes"],
        tuple(d.get("dtypes", {}).items()),
        d.get("buffers", 0),
        d.get("trainable"),
    )


def layer_to_json(g: LayerGuess) -> JSON:
    """One of the contract's ``layers``, with its ``parameters`` and ``tensors`` (keys)."""
    return {
        "name": g.name,
        "type": g.type,
        "attributes": jsonable(dict(g.attributes)),
        "confidence": g.confidence,
        "evidence": list(g.evidence),
        "parameters": g.parameters,
        "tensors": list(g.tensor_keys),
    }


def layer_from_json(d: Mapping[str, Any]) -> LayerGuess:
    """The inverse of :func:`layer_to_json`."""
    return LayerGuess(
        name=d["name"],
        type=d["type"],
        attributes=_pairs(d.get("attributes")),
        confidence=d.get("confidence", 0.0),
        evidence=tuple(d.get("evidence", ())),
        parameters=d.get("parameters", 0),
        tensor_keys=tuple(d.get("tensors", ())),
    )


def _plan_to_json(plan: Sequence[PlanStep]) -> list[JSON]:
    return [
        {"module": module, "type": kind, "attributes": jsonable(dict(attributes))}
        for module, kind, attributes in plan
    ]


def _plan_from_json(plan: Any) -> tuple[PlanStep, ...]:
    return tuple((p["module"], p["type"], _pairs(p.get("attributes"))) for p in plan or ())


def hypothesis_to_json(h: InputHypothesis) -> JSON:
    """One of ``input.hypotheses``: ``{"name", "shape", "valid_sizes", "cost", "evidence",
    "assumptions", "plan"}``."""
    return {
        "name": h.name,
        "shape": _shape(h.shape),
        "valid_sizes": jsonable(h.valid_sizes) if h.valid_sizes is not None else None,
        "cost": h.cost,
        "evidence": list(h.evidence),
        "assumptions": list(h.assumptions),
        "plan": _plan_to_json(h.plan),
    }


def hypothesis_from_json(d: Mapping[str, Any]) -> InputHypothesis:
    """The inverse of :func:`hypothesis_to_json`."""
    valid = d.get("valid_sizes")
    return InputHypothesis(
        name=d["name"],
        plan=_plan_from_json(d.get("plan")),
        shape=_shape_back(d.get("shape")),
        valid_sizes=tupled(valid) if valid is not None else None,
        cost=d.get("cost", 0.0),
        evidence=tuple(d.get("evidence", ())),
        assumptions=tuple(d.get("assumptions", ())),
    )


def input_to_json(i: InputGuess) -> JSON:
    """The contract's ``input``, with ``min_size``, ``multiple_of``, ``plan`` (the
    hypothesis the rebuild follows: one ``{"module", "type", "attributes"}`` per entry),
    ``hypotheses`` (every reading that fits, best first: :func:`hypothesis_to_json`) and
    ``others`` (further inputs, each an ``input`` of its own)."""
    return {
        "status": i.status.value,
        "kind": i.kind.value,
        "shape": _shape(i.shape),
        "valid_sizes": jsonable(i.valid_sizes) if i.valid_sizes is not None else None,
        "dtype": i.dtype,
        "evidence": list(i.evidence),
        "min_size": i.min_size,
        "multiple_of": i.multiple_of,
        "plan": _plan_to_json(i.plan),
        "hypotheses": [hypothesis_to_json(h) for h in i.hypotheses],
        "others": [input_to_json(o) for o in i.others],
    }


def input_from_json(d: Mapping[str, Any]) -> InputGuess:
    """The inverse of :func:`input_to_json`."""
    valid = d.get("valid_sizes")
    return InputGuess(
        status=InputStatus(d["status"]),
        kind=InputKind(d.get("kind", InputKind.UNKNOWN)),
        shape=_shape_back(d.get("shape")),
        valid_sizes=tupled(valid) if valid is not None else None,
        dtype=d.get("dtype", "float32"),
        evidence=tuple(d.get("evidence", ())),
        min_size=d.get("min_size"),
        multiple_of=d.get("multiple_of"),
        plan=_plan_from_json(d.get("plan")),
        hypotheses=tuple(hypothesis_from_json(h) for h in d.get("hypotheses", ())),
        others=tuple(input_from_json(o) for o in d.get("others", ())),
    )


def trace_to_json(t: TraceResult) -> JSON:
    """The contract's ``trace``, with ``input_shape``, ``detail``, ``tried``, the part of
    the model rebuilt, what the run rests on (``assumptions``), each input hypothesis
    traced, and per layer whether its sizes are ``hypothetical``."""
    return {
        "status": t.status.value,
        "part": t.part.value if t.part is not None else None,
        "output_shape": _shape(t.output_shape),
        "input_shape": _shape(t.input_shape),
        "detail": t.detail,
        "assumptions": list(t.assumptions),
        "hypotheses": [
            {"name": name, "status": status.value, "detail": detail}
            for name, status, detail in t.hypotheses
        ],
        "tried": [{"shape": list(shape), "result": result} for shape, result in t.tried],
        "layers": [
            {
                "name": l.name,
                "type": l.type,
                "input_shape": _shape(l.input_shape),
                "output_shape": _shape(l.output_shape),
                "hypothetical": l.hypothetical,
            }
            for l in t.layers
        ],
    }


def trace_from_json(d: Mapping[str, Any]) -> TraceResult:
    """The inverse of :func:`trace_to_json`."""
    return TraceResult(
        status=TraceStatus(d["status"]),
        output_shape=_shape_back(d.get("output_shape")),
        layers=tuple(
            TraceLayer(
                l["name"],
                l["type"],
                _shape_back(l.get("input_shape")),
                _shape_back(l.get("output_shape")),
                bool(l.get("hypothetical", False)),
            )
            for l in d.get("layers", ())
        ),
        input_shape=_shape_back(d.get("input_shape")),
        detail=d.get("detail", ""),
        tried=tuple((tuple(t["shape"]), t["result"]) for t in d.get("tried", ())),
        hypotheses=tuple(
            (h["name"], TraceStatus(h["status"]), h.get("detail", ""))
            for h in d.get("hypotheses", ())
        ),
        part=RebuildPart(d["part"]) if d.get("part") else None,
        assumptions=tuple(d.get("assumptions", ())),
    )
