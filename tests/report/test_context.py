"""The checkpoint's context (wrapper, epoch, step, framework, versions, optimizer,
prefixes stripped) from files saved the way training loops save them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pthforensics import inspect, scan
from pthforensics.report import inspect_text


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


@pytest.mark.parametrize(
    ("optimizer", "family"),
    [
        (lambda p: torch.optim.Adam(p), "adam"),
        (lambda p: torch.optim.AdamW(p), "adam"),
        (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "sgd"),
        (lambda p: torch.optim.RMSprop(p), "rmsprop"),
        (lambda p: torch.optim.Adagrad(p), "adagrad"),
    ],
    ids=["adam", "adamw", "sgd", "rmsprop", "adagrad"],
)
def test_a_training_loop_checkpoint(optimizer, family: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``{"model_state_dict", "optimizer_state_dict", "epoch", "global_step"}`` after one
    optimizer step: the model is found under its key, the optimizer's family follows from
    its hyper-parameter names, its per-parameter state is counted."""
    model = _model()
    opt = optimizer(model.parameters())
    model(torch.zeros(1, 4)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": opt.state_dict(),
            "epoch": 7,
            "global_step": 1234,
        },
        path,
    )
    c = scan(path).checkpoint
    assert c is not None
    assert (c.kind, c.wrapper, c.epoch, c.step) == ("wrapped", "model_state_dict", 7, 1234)
    assert c.optimizer is not None and c.optimizer.path == "optimizer_state_dict"
    assert c.optimizer.family == family and c.optimizer.param_groups == 1
    if family != "sgd":  # SGD without momentum buffers keeps none; with momentum, one each
        assert c.optimizer.states == 4
    assert c.others == () and c.framework is None


def test_a_bare_state_dict_with_a_wrapper_prefix(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    c = scan(path).checkpoint
    assert c is not None
    assert (c.kind, c.wrapper, c.optimizer, c.epoch) == ("state_dict", None, None, None)
    assert c.prefixes_stripped == ("module.",)


def test_mmcv_meta_and_versions(tmp_path: Path) -> None:
    path = tmp_path / "mm.pth"
    torch.save(
        {
            "meta": {"epoch": 12, "iter": 3000, "mmcv_version": "1.7.1", "config": "x"},
            "state_dict": _model().state_dict(),
        },
        path,
    )
    c = scan(path).checkpoint
    assert c is not None
    assert (c.epoch, c.step, c.framework) == (12, 3000, "mmcv")
    assert dict(c.versions) == {"meta.mmcv_version": "1.7.1"}


def test_configured_epochs_are_not_the_epoch(tmp_path: Path) -> None:
    """``args.epochs`` (how long training was to run) is not the epoch reached."""
    import argparse

    path = tmp_path / "args.pt"
    torch.save({"state_dict": _model().state_dict(), "args": argparse.Namespace(epochs=90)}, path)
    c = scan(path).checkpoint
    assert c is not None and c.epoch is None


def test_inspect_text_and_json_show_it() -> None:
    from tests._helpers import CORPUS

    report = inspect(CORPUS / "benign" / "lightning.ckpt", trace=False)
    line = next(x for x in inspect_text(report).splitlines() if x.startswith("checkpoint:"))
    assert "state_dict under 'state_dict' (wrapped)" in line
    assert "framework pytorch-lightning" in line and "epoch 3" in line and "step 1200" in line
    assert "optimizer adam at 'optimizer_states.0'" in line and "prefixes stripped: model." in line
    doc = report.to_dict()["checkpoint"]
    assert doc["versions"] == {"pytorch-lightning_version": "2.4.0"}
    assert doc["optimizer"]["present"] and doc["optimizer"]["states"] == 6
