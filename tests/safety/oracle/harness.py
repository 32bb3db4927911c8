"""The differential oracle: does the real loader run a generated variant's payload?

**The one allowed exception to the security rule** (HELPERS.md, issue 9): files the caller
has *just generated* from opcodes, whose payloads only create a canary file in a temporary
folder, are loaded with real ``torch.load(path, weights_only=False)`` / ``pickle.load`` —
never in the test process, always in a child process, with a timeout.

A server process imports torch once (``python -m tests.safety.oracle.harness serve``); for
each job it forks a child (a fresh copy of that pristine process: nothing a payload changes
reaches the next job) that moves into its own session and working folder, loads the file
and exits.  The server waits for the child and everything it spawned (its process group),
kills what is left after the timeout, then reports whether the canary exists.

Loaders (``Job.loader``):

* ``torch``: ``torch.load(path, weights_only=False)``, what ``scan``'s "clean" promises about;
* ``pickle``: ``pickle.load`` of the file (the natural loader of a raw pickle);
* ``members``: ``pickle.loads`` of every member of a zip (as Python's ``zipfile`` and as
  torch's own reader list them) or tar: a staged payload another loader would run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CANARY", "LOADERS", "Job", "Oracle", "Outcome", "canary_fired"]

#: Every loader the oracle knows.
LOADERS = ("torch", "pickle", "members")
_DEFAULT_TIMEOUT = 60.0


#: The canary's name.  Payloads create it relative to the working folder, which the
#: oracle makes fresh for every job, so one file serves every loader.
CANARY = "oracle-canary"


@dataclass(frozen=True, slots=True)
class Job:
    """Load ``path`` with ``loader`` in the fresh folder ``cwd``; a payload that runs
    creates ``cwd/CANARY`` (or a file whose name starts with it)."""

    key: str
    path: str
    loader: str
    cwd: str

    @property
    def canary(self) -> str:
        """Where the payload's canary lands."""
        return os.path.join(self.cwd, CANARY)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one job."""

    key: str
    loader: str
    fired: bool
    """Whether the canary (or a file starting with its name) exists after the load."""
    status: str
    """``ok`` (the loader returned), ``error`` (it raised), ``timeout``, ``crash``."""
    detail: str = ""
    """The exception the loader raised (type: message), or how the child ended."""
    seconds: float = 0.0


def canary_fired(canary: str) -> bool:
    """The canary path exists, or a file named after it (writers that add a suffix)."""
    folder, stem = os.path.split(canary)
    if os.path.lexists(canary):
        return True
    try:
        return any(name.startswith(stem) for name in os.listdir(folder))
    except OSError:
        return False


# -- child side ---------------------------------------------------------------------------


def _load(job: Job) -> str:
    """Run the loader (in the forked child); return a one-line description of the result."""
    if job.loader == "torch":
        import torch

        value = torch.load(job.path, weights_only=False)
        return f"returned {type(value).__name__}"
    if job.loader == "pickle":
        import pickle

        with open(job.path, "rb") as f:
            value = pickle.load(f)
        return f"returned {type(value).__name__}"
    if job.loader == "members":
        return _load_members(job.path)
    raise ValueError(f"unknown loader {job.loader!r}")


def _load_members(path: str) -> str:
    import pickle
    import tarfile
    import zipfile

    blobs: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(path) as z:
            blobs += [(f"zipfile:{n}", z.read(n)) for n in z.namelist() if not n.endswith("/")]
    except Exception as exc:  # noqa: BLE001 - another reader may still list members
        blobs.append(("zipfile-error", repr(exc).encode()))
    try:
        import torch

        reader = torch._C.PyTorchFileReader(path)
        for name in reader.get_all_records():
            blobs.append((f"miniz:{name}", bytes(reader.get_record(name))))
    except Exception:  # noqa: BLE001 - not every variant is a torch zip
        pass
    try:
        with tarfile.open(path, "r:") as t:
            for member in t.getmembers():
                handle = t.extractfile(member)
                if handle is not None:
                    blobs.append((f"tar:{member.name}", handle.read()))
    except Exception:  # noqa: BLE001 - not every variant is a tar
        pass
    loaded = []
    for name, data in blobs:
        try:
            pickle.loads(data)
            loaded.append(name)
        except Exception:  # noqa: BLE001 - most members are not pickles
            continue
    return f"{len(blobs)} member(s), unpickled: {', '.join(loaded) or 'none'}"


def _child(job: Job, result_path: str) -> None:
    """Body of the forked child: never returns."""
    code = 0
    try:
        os.setsid()
        os.chdir(job.cwd)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            detail, status = _load(job), "ok"
        except BaseException as exc:  # noqa: BLE001 - every failure is an outcome
            detail, status = f"{type(exc).__name__}: {str(exc)[:300]}", "error"
        with open(result_path, "w", encoding="utf-8") as f:
            json.dump({"status": status, "detail": detail}, f)
    except BaseException:  # noqa: BLE001
        code = 3
    finally:
        # Run what a normal exit would (atexit callbacks and finalizers: payloads may defer
        # work there) without the half-second interpreter teardown of a torch process.
        try:
            import atexit
            import gc

            gc.collect()
            atexit._run_exitfuncs()
        finally:
            os._exit(code)


def _wait_group(pid: int, deadline: float) -> str:
    """Wait for the child ``pid`` and then for its process group to empty."""
    status = "crash"
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = "exited" if os.WIFEXITED(raw) and os.WEXITSTATUS(raw) in (0, 3) else "crash"
            break
        if time.monotonic() > deadline:
            _kill_group(pid)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.002)
    while time.monotonic() < deadline:  # grandchildren (a shell the payload started)
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return status
        time.sleep(0.005)
    _kill_group(pid)
    return status


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _run_job(job: Job, timeout: float) -> Outcome:
    os.makedirs(job.cwd, exist_ok=True)
    result_path = os.path.join(job.cwd, ".oracle-result.json")
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        _child(job, result_path)
    ended = _wait_group(pid, start + timeout)
    seconds = time.monotonic() - start
    fired = canary_fired(job.canary)
    try:
        with open(result_path, encoding="utf-8") as f:
            result = json.load(f)
        os.unlink(result_path)
    except (OSError, ValueError):
        result = {"status": "timeout" if ended == "timeout" else "crash", "detail": ended}
    if ended == "timeout":
        result["status"] = "timeout"
    return Outcome(job.key, job.loader, fired, result["status"], result["detail"], seconds)


def _warm_up(torch: object) -> None:
    """Load a benign checkpoint made here (zip and legacy formats), so that what
    ``torch.load`` imports lazily is imported once, before forking, and not per job.
    Nothing else is imported: a dotted walk may only rely on what a fresh process that
    ran ``torch.load`` has loaded."""
    import io

    for zip_format in (True, False):
        buf = io.BytesIO()
        torch.save({"w": torch.zeros(2)}, buf, _use_new_zipfile_serialization=zip_format)  # type: ignore[attr-defined]
        buf.seek(0)
        torch.load(buf, weights_only=False)  # type: ignore[attr-defined]


def serve(timeout: float) -> None:
    """Read jobs (JSON lines) on stdin, answer outcomes (JSON lines) on stdout."""
    import pickle  # noqa: F401 - imported before forking, as torch is
    import tarfile  # noqa: F401
    import zipfile  # noqa: F401

    import torch  # imported once, before any fork

    _warm_up(torch)
    import gc

    gc.freeze()  # children collect only what the load made (a full pass costs 0.1 s)
    import atexit

    # torch's own exit handlers cost 50 ms per child; a child runs only what its load
    # registered (a payload may defer work to exit).
    atexit._clear()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = Job(**json.loads(line))
        out.write(json.dumps(asdict(_run_job(job, timeout))) + "\n")
        out.flush()
    os._exit(0)  # no interpreter teardown (its exit handlers were cleared above)


# -- parent side --------------------------------------------------------------------------


class Oracle:
    """A running oracle server (a context manager); :meth:`run` answers jobs in order."""

    def __init__(
        self, python: str = sys.executable, *, timeout: float = _DEFAULT_TIMEOUT, workers: int = 2
    ) -> None:
        self.python = python
        self.timeout = timeout
        self.workers = max(1, workers)
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Oracle:
        root = Path(__file__).resolve().parents[3]
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        for _ in range(self.workers):
            proc = subprocess.Popen(
                [self.python, "-m", "tests.safety.oracle.harness", "serve", str(self.timeout)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=root,
            )
            self._procs.append(proc)
        for proc in self._procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("oracle server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Outcomes of ``jobs``, spread over the servers; in the order given."""
        pending = list(jobs)
        results: dict[int, Outcome] = {}
        busy: dict[int, int] = {}  # server index -> job index
        next_job = 0
        import selectors

        sel = selectors.DefaultSelector()
        for i, proc in enumerate(self._procs):
            assert proc.stdout is not None
            sel.register(proc.stdout, selectors.EVENT_READ, i)

        def feed(server: int) -> None:
            nonlocal next_job
            if next_job < len(pending):
                proc = self._procs[server]
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(asdict(pending[next_job])) + "\n")
                proc.stdin.flush()
                busy[server] = next_job
                next_job += 1

        for server in range(len(self._procs)):
            feed(server)
        while busy:
            for key, _ in sel.select():
                server = key.data
                line = key.fileobj.readline()  # type: ignore[union-attr]
                if not line:
                    raise RuntimeError("oracle server died")
                results[busy.pop(server)] = Outcome(**json.loads(line))
                feed(server)
        sel.close()
        return iter([results[i] for i in range(len(pending))])


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve(float(sys.argv[2]) if len(sys.argv) > 2 else _DEFAULT_TIMEOUT)
    else:
        sys.exit("usage: python -m tests.safety.oracle.harness serve [TIMEOUT]")
