"""The inspect layer table: the modules print(model) lists, in order, fitted to the
terminal, and torchinfo's totals."""

from __future__ import annotations

import contextlib
import io

import pytest

from pthforensics.cli import main
from pthforensics.core import LayerGuess, TensorSummary, TraceLayer, TraceResult, TraceStatus
from pthforensics.pipeline import inspect_file
from pthforensics.report.table import _elide, layer_table
from tests._helpers import CORPUS
from tests._models import build


def table_of(name: str, **kw: object) -> str:
    report = inspect_file(str(CORPUS / "models" / name))
    return layer_table(report.layers, report.trace, report.tensors, **kw)  # type: ignore[arg-type]


def test_parameterless_modules_the_rebuild_runs_get_their_rows_in_order() -> None:
    """Without _metadata the file does not list features.1 (a ReLU) or features.2 (a
    MaxPool2d); the rebuild runs them, so the table shows them where they run."""
    report = inspect_file(str(CORPUS / "models" / "lenet_seq.safetensors"))
    assert "features.1" not in {g.name for g in report.layers}
    table = layer_table(report.layers, report.trace, report.tensors)
    names = [line.split()[0] for line in table.splitlines()[2:] if line[:1].isalnum()]
    assert names.index("features.0") < names.index("features.1") < names.index("features.3")
    assert "classifier.1<flatten" in names and "(added)" in table


@pytest.mark.parametrize("width", [80, 100, 140])
def test_the_table_fits_the_terminal(width: int) -> None:
    table = table_of("resnet_like.pt", width=width)
    assert max(len(line) for line in table.splitlines()) <= width
    wide = table_of("resnet_like.pt", width=width, wide=True)
    assert "in_channels=3, out_channels=8, kernel_size=(7, 7)" in wide
    assert "…" not in wide


def test_narrow_attributes_are_abbreviated_then_wrapped() -> None:
    layers = (
        LayerGuess("conv", "Conv2d", (("in_channels", 3), ("out_channels", 64),
                                      ("kernel_size", (7, 7)), ("groups", 1), ("bias", False))),
    )  # fmt: skip
    table = layer_table(layers, None, None, width=60)
    cells = " ".join(line[17:].split("  ")[0] for line in table.splitlines()[2:])
    assert "in=3 out=64 k=7 bias=False" in " ".join(cells.split()) and "groups" not in table
    assert max(len(line) for line in table.splitlines()) <= 60


def test_assumed_sizes_are_starred() -> None:
    trace = TraceResult(
        TraceStatus.PARTIAL,
        layers=(TraceLayer("conv", "Conv2d", (1, 3, 8, 8), (1, 4, 4, 4), hypothetical=True),),
    )
    table = layer_table((LayerGuess("conv", "Conv2d"),), trace, None)
    assert "1x4x4x4*" in table and "* assumed" in table


def test_totals_are_the_real_models() -> None:
    """Total params as torchinfo counts them (buffers apart), the buffers, the bytes."""
    model, _ = build("resnet_like")
    table = table_of("resnet_like.pt")
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    assert f"Total params: {params:,}" in table
    assert f"Trainable params: {params:,} (requires_grad is not stored" in table
    assert f"Buffers: {buffers:,} " in table


def test_trainable_comes_from_a_full_model_pickle() -> None:
    summary = TensorSummary(3, 300, 1200, (("float32", 3),), buffers=5, trainable=200)
    table = layer_table((LayerGuess("fc", "Linear"),), None, summary)
    assert "Trainable params: 200\n" in table and "Non-trainable params: 100" in table


def test_cli_wide_shows_every_attribute() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["inspect", str(CORPUS / "models" / "resnet_like.pt"), "--wide"])
    assert "track_running_stats=True" in out.getvalue()


def test_long_module_names_lose_middle_parts_to_fit() -> None:
    """torchvision's ViT names (55 characters) leave no room for attributes in 100
    columns: names keep their last part and their block index, the rest becomes '…'."""
    prefix = "encoder.layers.encoder_layer_{}.self_attention.out_proj"
    layers = tuple(
        LayerGuess(prefix.format(i), "NonDynamicallyQuantizableLinear",
                   (("in_features", 768), ("out_features", 768), ("bias", True)), 590_592)
        for i in range(12)
    )  # fmt: skip
    table = layer_table(layers, None, None, width=100)
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 100
    names = [line.split()[0] for line in lines[2:] if "out_proj" in line]
    assert names == [f"…encoder_layer_{i}…out_proj" for i in range(12)]
    assert "in=768 out=768" in " ".join(table.split()) and "--wide shows them" in table
    wide = layer_table(layers, None, None, width=100, wide=True)
    assert prefix.format(11) in wide and "…" not in wide


@pytest.mark.parametrize(
    ("name", "budget", "short"),
    [
        ("encoder.layers.encoder_layer_0.self_attention.out_proj", 26, "…encoder_layer_0…out_proj"),
        ("encoder.layers.encoder_layer_0.ln_1", 24, "…encoder_layer_0.ln_1"),
        ("blocks.3.attn.qkv", 17, "blocks.3.attn.qkv"),
        ("blocks.3.attn.qkv", 14, "…3.attn.qkv"),
        ("a_very_long_leaf_name_without_parents_at_all", 24, "…_without_parents_at_all"),
    ],
)
def test_elided_names(name: str, budget: int, short: str) -> None:
    assert _elide(name, budget) == short and len(short) <= budget
