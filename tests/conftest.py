"""Shared fixtures: small checkpoints made here from trusted in-memory data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._golden import Golden


def op_pickle(*chunks: bytes) -> bytes:
    """Join raw opcode chunks into a protocol-2 pickle (never loaded, only scanned)."""
    return b"\x80\x02" + b"".join(chunks) + b"."


@pytest.fixture
def state_dict_zip(tmp_path: Path) -> Path:
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 2),
    )
    path = tmp_path / "model.pth"
    torch.save(model.state_dict(), path)
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/*.txt from the current output instead of comparing",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compare text with (or, under --update-golden, rewrite) ``tests/golden/<name>.txt``."""
    return Golden(update=bool(request.config.getoption("--update-golden")))
