"""Resource limits under attack (issue 9): time, peak memory and verdict of ``scan`` on
files built to exhaust a scanner, alone and in a folder.

Built at run time in a temporary folder (never committed):

* ``header.safetensors``: a safetensors header of 10^6 one-element tensors (~60 MB of JSON);
* ``bomb.pt.gz``: gzip members of zeros that inflate to 4 GiB (the decompression cap is 2 GiB);
* ``ops.pkl``: a 24 M-opcode pickle (``NONE POP`` pairs, then an empty dict), above the
  20 M-opcode walk limit but within the C unpickler's reach.

Each file is scanned alone (``scan FILE``, in-process) and in a folder of its own
(``scan DIR -j 2``, workers under the default memory cap); the table gives the wall time,
the peak RSS of the largest process, the temporary-disk high-water mark (sampled every
20 ms; other processes on the machine add noise), the exit code and the verdict.

    python benchmarks/bench_attack_limits.py [--only NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _measure import compile_package, measure

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


def _verdicts(out: Path) -> str:
    try:
        doc = json.loads(out.read_text())
    except (OSError, ValueError):
        return "no output"
    parts = []
    for r in doc.get("reports", []):
        if r.get("status") == "ok":
            rules = sorted({f["rule_id"] for f in r["findings"] if f["severity"] != "info"})
            parts.append(f"{r['verdict']} {rules}")
        else:
            parts.append(f"error: {(r.get('error') or {}).get('message', '')[:90]}")
    return "; ".join(parts) or "no report"


def run(names: list[str], work: Path) -> list[tuple[str, ...]]:
    rows = []
    for name in names:
        filename, build = CASES[name]
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / filename
        if not path.exists():
            start = time.perf_counter()
            build(path)
            print(
                f"built {path} ({path.stat().st_size >> 20} MB) in "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
            )
        for mode, target in (
            ("scan FILE", [str(path)]),
            ("scan DIR -j 2", ["-j", "2", str(folder)]),
        ):
            out = work / f"{name}-{mode.split()[1].lower()}.json"
            cmd = [sys.executable, "-m", "pthforensics", "scan", "--json", "-o", str(out), *target]
            with _DiskWatch(tempfile.gettempdir()) as disk:
                seconds, peak_mb, code = measure(cmd, repeat=1, timeout=600)
            rows.append(
                (
                    name,
                    mode,
                    f"{seconds:.2f}",
                    f"{peak_mb:.0f}",
                    f"{disk.peak / (1 << 20):.0f}",
                    str(code),
                    _verdicts(out),
                )
            )
            print(" | ".join(rows[-1]), file=sys.stderr)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(CASES))
    parser.add_argument("--keep", type=Path, help="build the files here and keep them")
    args = parser.parse_args(argv)
    compile_package()
    names = args.only or list(CASES)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(names, args.keep or Path(tmp))
    head = ("case", "mode", "seconds", "peak MB", "tmp disk MB", "exit", "verdict")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
