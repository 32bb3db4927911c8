"""Resource limits under attack (issue 9): time, peak memory and verdict of ``scan`` on
files built to exhaust a scanner, alone and in a folder.

The files (``tests/safety/oracle/bombs.py``) are built at run time in a temporary folder
and never committed: a safetensors header of 10^6 entries, gzip members of zeros that
inflate to 4 GiB (the decompression cap is 2 GiB), a 24 M-opcode pickle (above the 20 M
opcode-walk limit).  Each is scanned alone (``scan FILE``, in-process) and in a folder of
its own (``scan DIR -j 2``, workers under the default memory cap).  The table gives the wall
time, the CPU time (user + system, workers included: steadier than wall time on a loaded
machine), the peak RSS of the largest process, the temporary-disk high-water mark (sampled every
20 ms: other processes on the machine add noise), the exit code and the verdict.

    python benchmarks/bench_attack_limits.py [--only NAME] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _measure import ROOT, compile_package

sys.path.insert(0, str(ROOT))

from tests.safety.oracle.bombs import CASES, Measured, measure_scan


def _verdicts(m: Measured) -> str:
    parts = []
    for r in m.reports:
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
        for mode, args in (("scan FILE", [str(path)]), ("scan DIR -j 2", ["-j", "2", str(folder)])):
            m = measure_scan(args, work / f"{name}-{len(rows)}.json")
            row = (name, mode, f"{m.seconds:.2f}", f"{m.cpu_seconds:.2f}", f"{m.peak_mb:.0f}")
            row = (*row, f"{m.disk_mb:.0f}")
            rows.append((*row, str(m.exit_code), _verdicts(m)))
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
    head = ("case", "mode", "wall s", "cpu s", "peak MB", "tmp disk MB", "exit", "verdict")
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for row in (head, *rows):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
