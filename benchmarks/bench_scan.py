"""Whole-process `pthforensics scan` vs `torch.load(weights_only=True)` vs picklescan.

Generates torch zip checkpoints of a few sizes under benchmarks/_work (never committed),
runs each tool as a separate process on the same file, several times, and prints the
median wall time, the peak RSS of that process, and ratios against pthforensics.

    python benchmarks/bench_scan.py                 # 10, 100, 300 MB
    python benchmarks/bench_scan.py --sizes 100 --repeat 5
    python benchmarks/bench_scan.py --baseline 45816cf --repeat 9   # this code vs an older one

With ``--baseline REV`` the other tools are left out: this checkout and the package as it
was at git revision REV scan the same files, their runs interleaved.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _measure import (
    ROOT,
    baseline_checkout,
    compile_package,
    measure,
    measure_side_by_side,
    tool_path,
)

WORK = Path(__file__).resolve().parent / "_work"


def make_checkpoint(size_mb: int) -> Path:
    """A state_dict of float32 tensors totalling about ``size_mb`` MB (cached)."""
    path = WORK / f"model_{size_mb}mb.pth"
    if path.exists():
        return path
    import torch

    WORK.mkdir(parents=True, exist_ok=True)
    n_layers = 24
    per = size_mb * (1 << 20) // 4 // n_layers
    width = max(16, int(per**0.5))
    sd = {}
    for i in range(n_layers):
        sd[f"blocks.{i}.fc.weight"] = torch.zeros(width, width)
        sd[f"blocks.{i}.fc.bias"] = torch.zeros(width)
        sd[f"blocks.{i}.norm.weight"] = torch.ones(width)
    torch.save(sd, path)
    return path


def main() -> int:
    compile_package()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300], help="MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--baseline", metavar="REV", help="compare with the package at this git revision"
    )
    args = parser.parse_args()
    if args.baseline:
        return _against_baseline(args)
    tools: dict[str, list[str]] = {
        "pthforensics": [sys.executable, "-m", "pthforensics", "scan"],
        "torch.load(weights_only)": [
            sys.executable,
            "-c",
            "import sys, torch; torch.load(sys.argv[1], weights_only=True)",
        ],
    }
    picklescan = tool_path("picklescan")
    if picklescan:
        tools["picklescan"] = [picklescan, "-p"]
    else:
        print("picklescan not installed (pip install picklescan): column skipped", file=sys.stderr)
    rows = []
    for size in args.sizes:
        path = make_checkpoint(size)
        results = {name: measure([*cmd, str(path)], args.repeat) for name, cmd in tools.items()}
        ours = results["pthforensics"][0]
        for name, (seconds, peak, code) in results.items():
            rows.append(
                {
                    "size_mb": size,
                    "tool": name,
                    "seconds": round(seconds, 3),
                    "peak_mb": round(peak, 1),
                    "exit": code,
                    "x_slower_than_ours": round(seconds / ours, 1),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'size':>6}  {'tool':<26}{'seconds':>9}{'peak MB':>10}{'exit':>6}{'ratio':>8}")
    for r in rows:
        print(
            f"{r['size_mb']:>4}MB  {r['tool']:<26}{r['seconds']:>9.3f}{r['peak_mb']:>10.1f}"
            f"{r['exit']:>6}{r['x_slower_than_ours']:>7.1f}x"
        )
    return 0


def _against_baseline(args: argparse.Namespace) -> int:
    """This checkout vs the package at ``args.baseline``: ``scan`` of one file, side by side."""
    old = baseline_checkout(args.baseline)
    print(f"baseline: {args.baseline} extracted to {old}")
    print(f"{'size':>6}  {'code':<10}{'seconds':>9}{'cpu s':>8}{'peak MB':>10}{'exit':>6}")
    for size in args.sizes:
        cmd = [sys.executable, "-m", "pthforensics", "scan", str(make_checkpoint(size))]
        results = measure_side_by_side({"this": (cmd, ROOT), "baseline": (cmd, old)}, args.repeat)
        for name, run in results.items():
            print(
                f"{size:>4}MB  {name:<10}{run.seconds:>9.3f}{run.cpu:>8.3f}{run.peak_mb:>10.1f}"
                f"{run.code!s:>6}"
            )
        this, old_run = results["this"], results["baseline"]
        print(
            f"{'':<8}speed this / baseline: wall {old_run.seconds / this.seconds:.3f}x, "
            f"cpu {old_run.cpu / this.cpu:.3f}x"
        )
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"(benchmark took {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    sys.exit(code)
