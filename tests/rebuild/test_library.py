"""trace_library: a named architecture is rebuilt with the library's own class when the
library is installed (the trace says ``confirmed against ...``), else the generic rebuild
stays.  The library tests skip where torchvision/timm/transformers are absent (CI); run
them in a Python that has them (``/work/sigvenv``)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from pthforensics.core import ArchitectureStatus, TraceStatus
from pthforensics.pipeline import inspect_file
from pthforensics.rebuild import trace_library
from tests._helpers import CORPUS

LIBRARY = CORPUS / "models" / "library"

#: Each library sample, the library it needs, the call the trace names and the output.
SAMPLES = [
    ("tv_resnet18_10cls.pt", "torchvision", "torchvision.models.resnet18(num_classes=10)", (1, 10)),
    (
        "timm_vit_tiny_lightning.ckpt",
        "timm",
        "timm.create_model('vit_tiny_patch16_224', num_classes=1000)",
        (1, 1000),
    ),
    ("hf_bert_small_dp.bin", "transformers", "transformers.BertModel(", (1, 32, 64)),
    ("hf_gpt2_small.safetensors", "transformers", "transformers.GPT2LMHeadModel(", (1, 32, 256)),
]


@pytest.mark.parametrize(("name", "library", "call", "output"), SAMPLES, ids=lambda v: str(v))
def test_the_real_class_confirms_the_file(
    name: str, library: str, call: str, output: tuple[int, ...]
) -> None:
    pytest.importorskip(library)
    report = inspect_file(str(LIBRARY / name))
    assert report.architecture is not None
    assert report.architecture.status is ArchitectureStatus.NAMED
    trace = report.trace
    assert trace is not None and trace.status is TraceStatus.CONFIRMED, trace
    assert trace.detail.startswith(f"confirmed against {call}"), trace.detail
    assert trace.output_shape == output
    assert trace.layers and all(layer.output_shape for layer in trace.layers[:3])


def test_a_user_shape_runs_through_the_real_class() -> None:
    pytest.importorskip("torchvision")
    report = inspect_file(str(LIBRARY / "tv_resnet18_10cls.pt"), input_shape=(2, 3, 96, 96))
    assert report.trace is not None and report.trace.status is TraceStatus.CONFIRMED
    assert report.trace.input_shape == (2, 3, 96, 96) and report.trace.output_shape == (2, 10)
    assert "the given shape [2, 3, 96, 96]" in report.trace.detail


def test_without_the_library_the_generic_rebuild_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchvision" else real(name, *a),
    )
    report = inspect_file(str(LIBRARY / "tv_resnet18_10cls.pt"))
    assert report.architecture is not None and report.architecture.name == "resnet18"
    assert report.trace is not None
    assert "confirmed against" not in report.trace.detail
    assert report.trace.status is not TraceStatus.SKIPPED


def test_only_a_named_architecture_is_rebuilt_from_a_library() -> None:
    report = inspect_file(str(CORPUS / "models" / "resnet_like.pt"), trace=False)
    assert report.architecture is not None
    assert report.architecture.status is ArchitectureStatus.FAMILY
    from pthforensics.container import read_container
    from pthforensics.pipeline import scan_container

    _, checkpoint = scan_container(read_container(str(CORPUS / "models" / "resnet_like.pt")))
    assert checkpoint is not None and checkpoint.main is not None
    out = trace_library(
        report.architecture,
        checkpoint.main,
        path=report.path,
        container_format="torch-zip",
        kind="state_dict",
    )
    assert out.result is None and out.note is None
    named = replace(report.architecture, status=ArchitectureStatus.NAMED)
    # Claimed but not explained by any signature: no recipe, so nothing is run.
    assert (
        trace_library(
            named,
            checkpoint.main,
            path=report.path,
            container_format="torch-zip",
            kind="state_dict",
        ).result
        is None
    )
