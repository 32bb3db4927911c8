"""The ``inspect`` layer table: the modules ``print(model)`` would list, in order, with
their traced output shapes, and a totals footer as torchinfo prints it.

Rows are the layers of the report in registration order; the modules the rebuild called
that the report has no row for are placed after the module the trace called before them:
parameter-less modules of the file the rebuild typed (an index gap it ran as a ReLU or a
MaxPool) and steps it added where a forward() works without a module (a flatten before
the head; type marked ``(added)``).  An output shape resting on sizes the file does not
store (assumed stride, padding, pooling) ends with ``*``.

The table fits ``width`` columns: attributes are first abbreviated (short names, defaults
left out, ``3x3`` for ``(3, 3)``), then wrapped (three lines at most, then cut with
``…``); the confidence column goes next, then long module names lose their middle parts
(the last part and the indexed ones stay); ``wide`` shows them all in full.  Pure:
records in, text out (tabulate is imported lazily).

TylerYep/torchinfo: torchinfo/model_statistics.py (the footer's lines).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pthforensics.core import LayerGuess, TensorSummary, TraceLayer, TraceResult

__all__ = ["layer_table"]

_HEADERS = ["layer", "type", "attributes", "params", "output", "conf"]
_DROPPED = "conf"
"""The column left out when the others do not fit the terminal."""
_GAP = 2
"""Spaces between columns (tabulate's ``simple`` format)."""
_MIN_ATTRIBUTES = 12
"""Narrowest attributes column; a terminal narrower than the rest overflows."""
_ELLIPSIS = "…"
_MIN_NAME = 24
"""Shortest a long module name is cut to when the table does not fit otherwise."""
_MAX_LINES = 3
"""Lines an attribute cell wraps onto at most (then it is cut)."""
#: Short names of attributes in a narrow table.
_SHORT = {
    "in_channels": "in",
    "out_channels": "out",
    "in_features": "in",
    "out_features": "out",
    "kernel_size": "k",
    "stride": "s",
    "padding": "p",
    "dilation": "d",
    "groups": "g",
    "num_features": "C",
    "num_channels": "C",
    "normalized_shape": "shape",
    "num_embeddings": "n",
    "embedding_dim": "dim",
    "input_size": "in",
    "hidden_size": "hidden",
    "num_layers": "layers",
    "bidirectional": "bi",
    "embed_dim": "dim",
    "output_size": "out",
}
#: Attribute values torch.nn takes by default: left out of a narrow table.
_DEFAULTS = {
    ("groups", 1),
    ("bias", True),
    ("affine", True),
    ("track_running_stats", True),
    ("dilation", 1),
    ("num_layers", 1),
    ("bidirectional", False),
}
_ADDED = "(added)"
_ROOT = "(root)"
"""How the model's own module (tensors directly on it) is named in the table."""
_ASSUMED = "*"


@dataclass
class _Row:
    name: str
    type: str
    attrs: tuple[tuple[str, Any], ...]
    params: int | None
    output: str
    conf: str


def layer_table(
    layers: Sequence[LayerGuess],
    trace: TraceResult | None,
    tensors: TensorSummary | None,
    *,
    width: int | None = None,
    wide: bool = False,
) -> str:
    """The table of ``layers`` (with the modules ``trace`` ran), fitted to ``width``
    columns unless ``wide``, and the totals of ``tensors`` under it."""
    from tabulate import tabulate  # noqa: PLC0415 - 40 ms import, not needed for JSON

    rows = _rows(layers, trace.layers if trace else ())
    headers = list(_HEADERS)
    room = None if wide or width is None else _attribute_room(rows, width, headers)
    if room is not None and width is not None and room < _MIN_ATTRIBUTES:
        headers.remove(_DROPPED)  # confidence is in the JSON and in --wide
        room = _attribute_room(rows, width, headers)
    elided = False
    if room is not None and width is not None and room < _MIN_ATTRIBUTES:
        elided = _elide_names(rows, max(len(r.name) for r in rows) - (_MIN_ATTRIBUTES - room))
        room = _attribute_room(rows, width, headers)
    if room is not None:
        room = max(room, _MIN_ATTRIBUTES)
    # one style for the whole column: abbreviated as soon as one row would not fit
    short = room is not None and any(
        len(", ".join(f"{k}={v}" for k, v in r.attrs)) > room for r in rows
    )
    body = [
        [
            cell
            for header, cell in zip(
                _HEADERS, _cells(r, _attributes(r.attrs, room, short)), strict=True
            )
            if header in headers
        ]
        for r in rows
    ]
    table = str(tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True))
    notes = []
    if any(r.output.endswith(_ASSUMED) for r in rows):
        notes.append(
            f"{_ASSUMED} assumed, not read from the file: its stride/padding/pooling or its type"
        )
    if any(r.type.endswith(_ADDED) for r in rows):
        notes.append(f"{_ADDED} a step forward() takes without a module, placed by the rebuild")
    if elided:
        notes.append(f"{_ELLIPSIS} parts of a module's name left out (--wide shows them)")
    rule = "=" * min(max(len(line) for line in table.splitlines()), width or 10**6)
    parts = [table, *notes]
    if tensors is not None:
        parts.extend([rule, *_totals(tensors), rule])
    return "\n".join(parts)


def _rows(layers: Sequence[LayerGuess], traced: Sequence[TraceLayer]) -> list[_Row]:
    """The report's layers, and the traced modules it has no row for, in order."""
    by_name = {t.name: t for t in traced}
    rows = [
        _Row(
            g.name,
            g.type,
            g.attributes,
            g.parameters,
            _shape(by_name.get(g.name)),
            f"{g.confidence:.2f}",
        )
        for g in layers
    ]
    where = {r.name: i for i, r in enumerate(rows)}
    after = -1
    for t in traced:
        if t.name in where:
            after = where[t.name]
            continue
        added = "<" in t.name or "+" in t.name
        row = _Row(t.name, f"{t.type} {_ADDED}" if added else t.type, (), None, _shape(t), "")
        rows.insert(after + 1, row)
        after += 1
        where = {r.name: i for i, r in enumerate(rows)}
    return rows


def _elide_names(rows: Sequence[_Row], budget: int) -> bool:
    """Shorten the names longer than ``budget`` (at least :data:`_MIN_NAME`) in place;
    whether any was."""
    budget = max(budget, _MIN_NAME)
    elided = False
    for r in rows:
        if len(r.name) > budget:
            r.name, elided = _elide(r.name, budget), True
    return elided


def _elide(name: str, budget: int) -> str:
    """``name`` in at most ``budget`` characters: its last part, then the parts with an
    index in them (which block, which layer of it), then the others from the right, each
    kept while it fits (the first that does not ends it); left-out parts are shown as ``…``
    (``encoder.layers.encoder_layer_0.self_attention.out_proj`` ->
    ``…encoder_layer_0…out_proj``)."""
    parts = name.split(".")
    last = len(parts) - 1
    indexed = [i for i in range(last - 1, -1, -1) if any(c.isdigit() for c in parts[i])]
    others = [i for i in range(last - 1, -1, -1) if i not in indexed]
    keep = {last}
    for i in (*indexed, *others):
        if len(_joined(parts, keep | {i})) > budget:
            break
        keep.add(i)
    text = _joined(parts, keep)
    return text if len(text) <= budget else _ELLIPSIS + name[len(name) - budget + 1 :]


def _joined(parts: Sequence[str], keep: set[int]) -> str:
    """The kept ``parts`` joined by dots, each run of left-out ones shown as ``…``."""
    out = ""
    for i, part in enumerate(parts):
        if i in keep:
            out += part if not out or out.endswith(_ELLIPSIS) else "." + part
        elif not out.endswith(_ELLIPSIS):
            out += _ELLIPSIS
    return out


def _shape(t: TraceLayer | None) -> str:
    if t is None or t.output_shape is None:
        return ""
    return "x".join(map(str, t.output_shape)) + (_ASSUMED if t.hypothetical else "")


def _count(n: int | None) -> str:
    if n is None:
        return ""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(n)


def _cells(r: _Row, attributes: str) -> list[str]:
    """One row's cells, in the order of :data:`_HEADERS`."""
    return [r.name or _ROOT, r.type, attributes, _count(r.params), r.output, r.conf]


def _attribute_room(rows: Sequence[_Row], width: int, headers: Sequence[str]) -> int:
    """Columns left for the attributes once the other columns of ``headers`` have theirs."""
    others = 0
    for i, header in enumerate(_HEADERS):
        if header == "attributes" or header not in headers:
            continue
        cells = [header] + [_cells(r, "")[i] for r in rows]
        # tabulate pads a column to its widest cell, or its header and two spaces
        others += max(max(map(len, cells)), len(header) + _GAP) + _GAP
    return width - others - _GAP


def _attributes(attrs: tuple[tuple[str, Any], ...], room: int | None, short: bool) -> str:
    """The attributes in full, or (``short``) abbreviated and wrapped to ``room``."""
    if not short or room is None:
        return ", ".join(f"{k}={v}" for k, v in attrs)
    text = " ".join(f"{_SHORT.get(k, k)}={_value(v)}" for k, v in attrs if (k, v) not in _DEFAULTS)
    if len(text) <= room:
        return text
    lines = textwrap.wrap(text, room, break_long_words=True)
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], lines[_MAX_LINES - 1][: room - 1] + _ELLIPSIS]
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, tuple) and v and all(isinstance(x, int) for x in v):
        return "x".join(map(str, v)) if len(set(v)) > 1 else str(v[0])
    return str(v)


def _totals(t: TensorSummary) -> list[str]:
    """The footer: parameters (trainable or not), buffers, bytes."""
    trainable = t.parameters if t.trainable is None else t.trainable
    said = "" if t.trainable is not None else " (requires_grad is not stored: all counted)"
    return [
        f"Total params: {t.parameters:,}",
        f"Trainable params: {trainable:,}{said}",
        f"Non-trainable params: {t.parameters - trainable:,}",
        f"Buffers: {t.buffers:,} (running statistics, counters, index tables, masks)",
        f"Size: {_size(t.bytes)} ({t.count} tensors; "
        + ", ".join(f"{d} {n}" for d, n in t.dtypes)
        + ")",
    ]


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"
