"""Shared fixtures: small checkpoints made here from trusted in-memory data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._golden import Golden
from tests._schema import check


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


@pytest.fixture(autouse=True)
def _every_json_output_matches_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report (``to_dict``) and batch summary a test produces is validated against
    the shipped JSON Schema (``pthforensics schema``) as it is made."""
    from pthforensics.core import FileReport
    from pthforensics.report import BatchReport

    to_dict, summary = FileReport.to_dict, BatchReport.summary

    def checked_to_dict(self: FileReport) -> dict[str, Any]:
        out = to_dict(self)
        check(out, "FileReport")
        return out

    def checked_summary(self: BatchReport) -> dict[str, object]:
        out = summary(self)
        check(out, "Summary")
        return out

    monkeypatch.setattr(FileReport, "to_dict", checked_to_dict)
    monkeypatch.setattr(BatchReport, "summary", checked_summary)


# --- remote zoo (tests/_remote_zoo.py, tests/_servers.py) ---------------------------------


@pytest.fixture(scope="session")
def remote_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mixed zoo of the remote tests, on local disk."""
    from tests._remote_zoo import build_zoo

    return build_zoo(tmp_path_factory.mktemp("zoo"))


@pytest.fixture(scope="session")
def zoo_local_reports(
    remote_zoo: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """Reports of the local zoo scanned by the local pool (what remote scans must equal)."""
    from tests._remote_zoo import scan_jsonl

    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    return scan_jsonl(out, [str(remote_zoo)], "-j", "2")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server, in a process of its own on 127.0.0.1."""
    from tests._servers import moto_s3

    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_zoo(s3_endpoint: str, remote_zoo: Path) -> tuple[str, list[str]]:
    """The zoo uploaded to bucket ``zoo``: its URL and the storage options to read it."""
    from tests._servers import s3_filesystem, s3_options

    fs = s3_filesystem(s3_endpoint)
    fs.mkdir("zoo")
    fs.put(f"{remote_zoo}/", "zoo/", recursive=True)
    return "s3://zoo/", s3_options(s3_endpoint)
