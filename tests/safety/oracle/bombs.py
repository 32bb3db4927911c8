"""Files built to exhaust a scanner (issue 9, "resource limits under attack"), made at run
time and never committed: a safetensors header of 10^6 entries, a gzip bomb, a 24 M-opcode
pickle; and :func:`measure_scan`, which runs ``pthforensics scan`` on one in a fresh process
and reports wall time, peak RSS (largest process, workers included) and temporary-disk
high-water mark.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CASES", "Measured", "measure_scan"]

_TENSORS = 1_000_000
_BOMB_MEMBER = 64 << 20
_BOMB_MEMBERS = 64  # 4 GiB of zeros
_OPS = 24_000_000


def build_safetensors(path: Path) -> None:
    """10^6 float32 tensors of one element each, offsets contiguous."""
    entries = (
        f'"t{i}":{{"dtype":"F32","shape":[1],"data_offsets":[{4 * i},{4 * i + 4}]}}'
        for i in range(_TENSORS)
    )
    header = ("{" + ",".join(entries) + "}").encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(bytes(4 * _TENSORS))


def build_gzip_bomb(path: Path) -> None:
    """A multi-member gzip: one compressed block of zeros repeated (4 GiB inflated)."""
    member = gzip.compress(bytes(_BOMB_MEMBER), compresslevel=9)
    with open(path, "wb") as f:
        for _ in range(_BOMB_MEMBERS):
            f.write(member)


def build_gzip_bomb_headed(path: Path) -> None:
    """The same 4 GiB of zeros behind a pickle's first bytes: a payload that starts like a
    checkpoint is inflated up to the cap (its zeros kept as holes, not written)."""
    member = gzip.compress(bytes(_BOMB_MEMBER), compresslevel=9)
    with open(path, "wb") as f:
        f.write(gzip.compress(b"\x80\x02" + bytes(_BOMB_MEMBER - 2), compresslevel=9))
        for _ in range(_BOMB_MEMBERS - 1):
            f.write(member)


def build_opcodes(path: Path) -> None:
    """PROTO 2, 12 M x (NONE POP), EMPTY_DICT, STOP: 24 M opcodes, harmless."""
    with open(path, "wb") as f:
        f.write(b"\x80\x02")
        chunk = b"N0" * (1 << 20)
        for _ in range(_OPS // 2 // (1 << 20)):
            f.write(chunk)
        f.write(b"N0" * (_OPS // 2 % (1 << 20)))
        f.write(b"}.")


CASES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "safetensors-1e6-header": ("header.safetensors", build_safetensors),
    "gzip-bomb-4GiB": ("bomb.pt.gz", build_gzip_bomb),
    "gzip-bomb-headed-4GiB": ("headed.pt.gz", build_gzip_bomb_headed),
    "pickle-24M-opcodes": ("ops.pkl", build_opcodes),
}


class _DiskWatch:
    """High-water mark of used bytes on the temporary folder's file system."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.base = shutil.disk_usage(folder).used
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, shutil.disk_usage(self.folder).used - self.base)

    def __enter__(self) -> _DiskWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True, slots=True)
class Measured:
    """One ``scan`` run."""

    seconds: float
    cpu_seconds: float
    """User + system time of the scan and its workers (less sensitive to machine load)."""
    peak_mb: float
    disk_mb: float
    exit_code: int | str
    reports: list[dict[str, Any]]


_WRAPPER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, rc.returncode)\n"
)


def measure_scan(args: list[str], out: Path, timeout: float = 600) -> Measured:
    """``python -m pthforensics scan --json -o OUT *args`` in a fresh wrapper process (its
    children's ``ru_maxrss`` is the scan's largest process)."""
    cmd = [sys.executable, "-m", "pthforensics", "scan", "--json", "-o", str(out), *args]
    start = time.perf_counter()
    with _DiskWatch(tempfile.gettempdir()) as disk:
        proc = subprocess.run(
            [sys.executable, "-c", _WRAPPER, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    seconds = time.perf_counter() - start
    rss, cpu, code = proc.stdout.split()
    try:
        reports = json.loads(out.read_text()).get("reports", [])
    except (OSError, ValueError):
        reports = []
    return Measured(seconds, float(cpu), int(rss) / 1024, disk.peak / (1 << 20), int(code), reports)
