"""Shared by the benchmarks: time one whole process and its peak memory, side by side."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

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
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(elapsed, u.ru_maxrss, 'timeout' if killed else rc, u.ru_utime + u.ru_stime)\n"
)


class Run(NamedTuple):
    """One command's figures: medians over its runs, the peak over them."""

    seconds: float
    """Wall-clock seconds."""
    cpu: float
    """CPU seconds (user + system) of the process and the workers it waited for: less
    sensitive than wall time to other load on the machine."""
    peak_mb: float
    """Largest resident set of the process or any one of its children."""
    code: int | str
    """Exit code of the last run (``timeout`` when it was killed)."""


def _once(cmd: list[str], timeout: float, cwd: Path) -> Run:
    """Figures of one run of ``cmd`` in ``cwd``."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(timeout), *cmd],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    ).stdout.split()
    code = int(out[2]) if out[2].lstrip("-").isdigit() else out[2]
    return Run(float(out[0]), float(out[3]), int(out[1]) / 1024, code)


def measure(
    cmd: list[str], repeat: int, timeout: float = 600.0, cwd: Path = ROOT
) -> tuple[float, float, int | str]:
    """Median seconds, peak RSS in MB and the exit code of ``cmd`` over ``repeat`` runs;
    a run past ``timeout`` seconds is killed and its code reads ``timeout``.

    ``cwd`` defaults to the repository root, so ``python -m pthforensics`` runs this
    checkout (a baseline's folder runs that code instead)."""
    times, peaks = [], []
    code: int | str = 0
    for _ in range(repeat):
        run = _once(cmd, timeout, cwd)
        times.append(run.seconds)
        peaks.append(run.peak_mb)
        code = run.code
        if code == "timeout":
            break  # no point repeating a run that did not finish
    return statistics.median(times), max(peaks), code


def measure_side_by_side(
    runs: dict[str, tuple[list[str], Path]], repeat: int, timeout: float = 600.0
) -> dict[str, Run]:
    """Figures of several (command, folder) pairs, their runs interleaved (A B A B...) so
    that a machine that slows down or speeds up meanwhile weighs on all of them alike."""
    done: dict[str, list[Run]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (cmd, cwd) in runs.items():
            done[name].append(_once(cmd, timeout, cwd))
    return {
        name: Run(
            statistics.median(r.seconds for r in got),
            statistics.median(r.cpu for r in got),
            max(r.peak_mb for r in got),
            got[-1].code,
        )
        for name, got in done.items()
    }


def baseline_checkout(rev: str) -> Path:
    """The package as it was at git revision ``rev`` of this repository, extracted (once)
    under benchmarks/_work and byte-compiled, to run as ``python -m pthforensics`` from the
    returned folder."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    folder = ROOT / "benchmarks" / "_work" / f"baseline-{sha}"
    if not (folder / "pthforensics" / "__init__.py").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", sha, "pthforensics"],
            capture_output=True,
            check=True,
            cwd=ROOT,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    import compileall

    compileall.compile_dir(str(folder / "pthforensics"), quiet=1)
    return folder


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
