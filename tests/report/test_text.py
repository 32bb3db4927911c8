"""Golden files for every text rendering (scan table, inspect text, batch summary), each
checked against invariants of the report it renders."""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from dataclasses import replace

import pytest

from pthforensics.batch import discover
from pthforensics.cli import _PIPE_COLUMNS, main
from pthforensics.core import FileReport, ModelGroup, Severity, Status
from pthforensics.pipeline import analyze_file, inspect_file
from pthforensics.report import BatchReport, batch_summary, inspect_text, model_entries, scan_table
from tests._golden import Golden, mask_slowest, normalise
from tests._helpers import CORPUS, ROOT

# --- invariants -------------------------------------------------------------------------


def _table_rows(text: str) -> list[str]:
    """The data rows of the first tabulate table in ``text`` (below its dashed rule)."""
    lines = text.split("\n\n", 1)[0].splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and line)
    return lines[rule + 1 :]


def check_scan_table(text: str, reports: list[FileReport], min_severity: Severity) -> None:
    """One row per report, in order, with its verdict and tensor count; a line per finding
    at or above ``min_severity`` and per error."""
    rows = _table_rows(text)
    assert len(rows) == len(reports)
    for row, r in zip(rows, reports, strict=True):
        cells = row.split()
        assert cells[0] == r.path
        assert (r.verdict.value if r.verdict else "ERROR") in cells
        assert cells[-2] == (str(r.tensors.count) if r.tensors else "-")
    details = text.split("\n\n", 1)[1].splitlines() if "\n\n" in text else []
    expected = [
        line
        for r in reports
        for line in (
            ([f"{r.path}: error in {r.error.stage}: {r.error.message}"] if r.error else [])
            + [f"{r.path}: {f}" for f in r.findings if f.severity >= min_severity]
        )
    ]
    assert details == expected


def _shares_storage(path: str) -> bool:
    """Whether two tensors of the main state_dict share a storage (tied weights)."""
    from pthforensics.container.reader import read_container
    from pthforensics.pipeline import scan_container

    _, checkpoint = scan_container(read_container(path))
    main = checkpoint.main if checkpoint else None
    keys = [t.storage_key for t in main.tensors if t.storage_key] if main else []
    return len(keys) != len(set(keys))


def check_inspect(text: str, r: FileReport) -> None:
    """The scan table heads the text; layer groups partition the state_dict's keys, and the
    per-layer parameters sum to the report's total (tied weights count once in the total,
    once per layer in the table); the input and trace lines say what the report says."""
    head = scan_table([r], Severity.SUSPICIOUS)
    assert text.startswith(head)
    check_scan_table(head, [r], Severity.SUSPICIOUS)
    if r.layers:
        assert r.tensors is not None
        keys = [k for g in r.layers for k in g.tensor_keys]
        assert len(keys) == len(set(keys)) == r.tensors.count
        per_layer = sum(g.parameters for g in r.layers)
        if _shares_storage(r.path):
            assert per_layer >= r.tensors.parameters
        else:
            assert per_layer == r.tensors.parameters
        blocks = text[len(head) :].split("\n\n")[1:]
        if r.checkpoint is not None:
            blocks.pop(0)  # the checkpoint line, checked below
        check_layer_table(blocks[0], r)
    if r.checkpoint is not None:
        line = next(x for x in text.splitlines() if x.startswith("checkpoint: "))
        c = r.checkpoint
        assert f"({c.kind})" in line
        assert (repr(c.wrapper) in line) if c.wrapper else "the state_dict itself" in line
        for key, value in (("epoch", c.epoch), ("step", c.step), ("framework", c.framework)):
            assert (f"{key} {value}" in line) == (value is not None)
    else:
        assert "\ncheckpoint:" not in text
    if r.input is not None:
        assert f"\ninput: {r.input.status} {r.input.kind} dtype={r.input.dtype}" in text
    if r.trace is not None:
        assert f"\ntrace: {r.trace.status}" in text
    else:
        assert "\ntrace:" not in text


def check_layer_table(table: str, r: FileReport) -> None:
    """Every layer of the report is a row, in order, with its traced output shape; the
    other rows are modules the trace ran; the footer's totals are the report's."""
    assert r.tensors is not None
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["layer", "type"]
    notes = (" ", "=", "* assumed", "(added) a step")
    rows = [line for line in lines[2:] if line and not line.startswith(notes)]
    rows = [
        row
        for row in rows
        if not row.startswith(("Total ", "Trainable ", "Non-", "Buffers", "Size"))
    ]
    names = ["" if row.startswith("(root)") else row.split()[0] for row in rows]
    layer_names = [g.name for g in r.layers]
    traced = {t.name: t for t in (r.trace.layers if r.trace else ())}
    assert [n for n in names if n in set(layer_names)] == layer_names
    assert set(names) - set(layer_names) <= set(traced)
    for row, name in zip(rows, names, strict=True):
        shape = traced[name].output_shape if name in traced else None
        if shape:
            assert "x".join(map(str, shape)) in row.replace("*", "").split()
    assert f"Total params: {r.tensors.parameters:,}" in lines
    assert f"Buffers: {r.tensors.buffers:,} " in table


def check_batch_summary(
    text: str, batch: BatchReport, models: list[dict[str, object]], listed: int = 50
) -> None:
    """Verdict and format counts add up to the files; every flagged and failed file is
    listed (up to the limit); one row per sharded model."""
    blocks = text.split("\n\n")
    assert blocks[0].startswith(f"{len(batch.reports)} file(s) in ")
    assert blocks[0].endswith(f"exit code {batch.exit_code()}")
    summary = batch.summary()
    if not blocks[1].startswith("verdict"):
        coverage = blocks.pop(1)  # what else the run found, before the counts
        for reason, n in summary["skipped"].items():  # type: ignore[attr-defined]
            assert f"{reason} {n}" in coverage
    counts = {line.split()[0]: int(line.split()[1]) for line in blocks[1].splitlines()[2:]}
    verdicts = Counter(r.verdict.value if r.verdict else "error" for r in batch.reports)
    assert counts == dict(verdicts) and sum(counts.values()) == len(batch.reports)
    formats = {line.split()[0]: int(line.split()[1]) for line in blocks[2].splitlines()[2:]}
    assert sum(formats.values()) == len(batch.reports)
    flagged = [r for r in batch.reports if r.findings and r.findings[0].severity >= batch.fail_on]
    for r in flagged[:listed]:
        assert f"\n{r.path} " in text
    for r in batch.reports:
        if r.error is not None:
            assert re.search(rf"\n{re.escape(r.path)} +{r.error.stage} ", text)
    if models:
        model_block = next(b for b in blocks if b.startswith("sharded model"))
        assert len(model_block.splitlines()) == 2 + len(models)


# --- goldens --------------------------------------------------------------------------


def _cli(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(argv)
    return out.getvalue()


SCANNED = [
    "corpus/benign/state_dict.pt",
    "corpus/benign/numpy_metadata.pt",
    "corpus/malicious/os_system.pkl",
    "corpus/malicious/zip_extra_member.pt",
    "corpus/broken/truncated_zip.pt",
    "corpus/benign/torchscript.pt",
]


@pytest.mark.parametrize("severity", [Severity.SUSPICIOUS, Severity.INFO], ids=str)
def test_scan_table(severity: Severity, golden: Golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    reports = [analyze_file(p) for p in SCANNED]
    text = scan_table(reports, severity)
    check_scan_table(text, reports, severity)
    golden.check(f"scan_table_{severity.label}", normalise(text))


@pytest.mark.parametrize("sample", SCANNED, ids=lambda p: p.removeprefix("corpus/"))
def test_scan_one_file_through_the_cli(
    sample: str, golden: Golden, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    text = _cli(["scan", "-v", sample])
    check_scan_table(text.rstrip("\n"), [analyze_file(sample)], Severity.INFO)
    name = sample.removeprefix("corpus/").replace("/", "_").replace(".", "_")
    golden.check(f"cli_scan_{name}", normalise(text))


INSPECTED = [
    ["corpus/models/lenet_seq.pt"],
    ["corpus/models/resnet_like.safetensors"],
    ["corpus/models/text_lstm.pt"],
    ["corpus/models/tiny_gpt.pt"],
    ["corpus/models/unet_tiny.pt"],
    ["corpus/models/cifar_net.pt", "--input-shape", "1,3,64,64"],
    ["corpus/models/mlp.pt", "--no-trace"],
    ["corpus/models/vgg_like.pt", "--wide"],
    ["corpus/benign/tied_weights.pt"],
    ["corpus/malicious/os_system.pkl"],
    ["corpus/broken/empty.pt"],
]


def _inspect_name(argv: list[str]) -> str:
    text = "_".join(a.removeprefix("corpus/").removeprefix("--") for a in argv)
    return "inspect_" + re.sub(r"[^A-Za-z0-9]+", "_", text)


@pytest.mark.parametrize("argv", INSPECTED, ids=lambda a: " ".join(a))
def test_inspect_text(argv: list[str], golden: Golden, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    shape = argv[argv.index("--input-shape") + 1] if "--input-shape" in argv else None
    report = inspect_file(
        argv[0],
        trace="--no-trace" not in argv,
        input_shape=tuple(int(d) for d in shape.split(",")) if shape else None,
    )
    monkeypatch.delenv("COLUMNS", raising=False)
    text = inspect_text(report, width=_PIPE_COLUMNS, wide="--wide" in argv)
    check_inspect(text, report)
    assert _cli(["inspect", *argv]) == text + "\n"  # the CLI prints exactly this
    golden.check(_inspect_name(argv), normalise(text))


def test_batch_summary(golden: Golden, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports of real files with deterministic timings, a sharded model with a missing
    shard, and more flagged files than listed."""
    monkeypatch.chdir(ROOT)
    samples = sorted(
        str(p.relative_to(ROOT))
        for folder in ("malicious", "broken")
        for p in (CORPUS / folder).iterdir()
        if not p.name.endswith(".json")
    )
    shards = ["corpus/models/lenet_seq.safetensors", "corpus/models/resnet_like.safetensors"]
    paths = [*samples[::6], *shards]
    reports = tuple(
        replace(analyze_file(p), seconds=(i * 37 % 11) / 1000) for i, p in enumerate(paths)
    )
    group = ModelGroup(
        "acme/tiny",
        "corpus/models/model.safetensors.index.json",
        (*shards, "corpus/models/missing.safetensors"),
        ("corpus/models/missing.safetensors",),
        95,
    )
    batch = BatchReport(reports, Severity.SUSPICIOUS)
    models = model_entries([group], list(reports))
    text = batch_summary(batch, models, 2.0, listed=8)
    check_batch_summary(text, batch, models, listed=8)
    assert "(+" in text and any(r.status is Status.ERROR for r in reports)
    golden.check("batch_summary", normalise(text))


@pytest.mark.parametrize("folder", ["corpus/broken", "corpus/models"])
def test_batch_summary_through_the_cli(
    folder: str, golden: Golden, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder scanned by the CLI's worker pool; which files were slowest is masked."""
    monkeypatch.chdir(ROOT)
    text, slowest = mask_slowest(normalise(_cli(["scan", "-j", "2", folder])))
    paths = [c.path for c in discover([folder])[0]]
    reports = tuple(analyze_file(p) for p in paths)
    batch = BatchReport(reports, Severity.SUSPICIOUS)
    check_batch_summary(text, batch, [])
    assert len(slowest) == min(5, len(paths)) and all(row.split()[0] in paths for row in slowest)
    golden.check("cli_summary_" + folder.replace("/", "_"), text)
