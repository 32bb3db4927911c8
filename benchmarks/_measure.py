"""Shared by the benchmarks: time one whole process and its peak memory, side by side."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A fresh wrapper process per measurement, so ru_maxrss of its children is that command's
# (the largest descendant's, for commands that fork workers).
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    ".returncode\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)\n"
)


def measure(cmd: list[str], repeat: int) -> tuple[float, float, int]:
    """Median seconds, peak RSS in MB and the exit code of ``cmd`` over ``repeat`` runs."""
    times, peaks, code = [], [], 0
    for _ in range(repeat):
        # From the repository root, so `python -m pthforensics` runs this checkout.
        out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True,
                             text=True, check=True, cwd=ROOT).stdout.split()
        times.append(float(out[0]))
        peaks.append(int(out[1]) / 1024)
        code = int(out[2])
    return statistics.median(times), max(peaks), code


def compile_package() -> None:
    """Byte-compile pthforensics once, as pip does for torch and picklescan at install time:
    with PYTHONDONTWRITEBYTECODE set (as on this machine) an editable install would
    otherwise recompile every module in every measured process."""
    import compileall

    compileall.compile_dir(str(ROOT / "pthforensics"), quiet=1)
