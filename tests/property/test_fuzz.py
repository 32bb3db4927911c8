"""Property tests (opt-in: ``pytest -m property``): hostile bytes raise only our errors.

Random or truncated bytes into ``container`` and ``static_scan`` may produce findings or a
``PthForensicsError``, never any other exception (safetensors' fuzz idea).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pthforensics.container import read_container
from pthforensics.core import Limits, PthForensicsError
from pthforensics.pipeline import analyze_file
from pthforensics.safety import scan_stream

pytestmark = pytest.mark.property

_PREFIXES = [
    b"",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x80\x02",
    b"\x80\x04\x95",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"(",
    b"c",
    b"\x10\x00\x00\x00\x00\x00\x00\x00{",
]
_LIMITS = Limits(max_seconds=10, max_decompressed_bytes=1 << 20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_PREFIXES), st.binary(max_size=2048))
def test_container_raises_only_our_errors(prefix: bytes, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.bin"
        path.write_bytes(prefix + body)
        with contextlib.suppress(PthForensicsError):
            read_container(str(path), limits=_LIMITS)
        report = analyze_file(str(path), limits=_LIMITS, fast=True)
        assert report.error is None or report.error.stage != "internal", report.error


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=4096))
def test_static_scan_never_raises_foreign_errors(data: bytes) -> None:
    with contextlib.suppress(PthForensicsError):
        scan_stream(data, limits=_LIMITS)
