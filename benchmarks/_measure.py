"""Shared by the benchmarks: time one whole process and its peak memory, side by side."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A fresh wrapper process per measurement, so ru_maxrss of its children is that command's
# (the largest descendant's, for commands that fork workers).
_MEASURE = (
    "import resource, subprocess, sys, threading, time\n"
    "killed = []\n"
    "t = time.perf_counter()\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    # A watchdog thread, not subprocess's wait(timeout): that one polls with sleeps of up to
    # 50 ms and would add up to 50 ms to every measurement.
    "timer = threading.Timer(float(sys.argv[1]), lambda: (killed.append(1), p.kill()))\n"
    "timer.start()\n"
    "rc = p.wait()\n"
    "elapsed = time.perf_counter() - t\n"
    "timer.cancel()\n"
    "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
    " 'timeout' if killed else rc)\n"
)


def measure(cmd: list[str], repeat: int, timeout: float = 600.0) -> tuple[float, float, int | str]:
    """Median seconds, peak RSS in MB and the exit code of ``cmd`` over ``repeat`` runs;
    a run past ``timeout`` seconds is killed and its code reads ``timeout``."""
    times, peaks = [], []
    code: int | str = 0
    for _ in range(repeat):
        # From the repository root, so `python -m pthforensics` runs this checkout.
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(timeout), *cmd],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        times.append(float(out[0]))
        peaks.append(int(out[1]) / 1024)
        code = int(out[2]) if out[2].lstrip("-").isdigit() else out[2]
        if code == "timeout":
            break  # no point repeating a run that did not finish
    return statistics.median(times), max(peaks), code


def compile_package() -> None:
    """Byte-compile pthforensics once, as pip does for torch and picklescan at install time:
    with PYTHONDONTWRITEBYTECODE set (as on this machine) an editable install would
    otherwise recompile every module in every measured process."""
    import compileall

    compileall.compile_dir(str(ROOT / "pthforensics"), quiet=1)


def tool_path(name: str) -> str | None:
    """The console script ``name`` installed beside this interpreter (as ours runs), not a
    version manager's shim on PATH: pyenv's costs ~40 ms of shell per call, which would be
    counted against the rival."""
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
