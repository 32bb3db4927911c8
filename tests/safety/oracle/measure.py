"""Run the oracle and the scanner on the same variants and compare.

``evaluate`` writes the variants into a folder, asks the oracle which payloads run
(:mod:`.harness`), scans every file alone (``pthforensics scan FILE``, through
``pthforensics.cli.main``) and the whole folder at once (``scan DIR -j 2``), and returns
one :class:`Result` per variant.  :func:`misses` says what is wrong with a result:

* ``fires``: a loader ran the payload and the verdict is not ``malicious``;
* ``unflagged``: an attack that did not run is ``clean``, an error, or absent from the
  folder scan (issue 9: "every other malicious sample is at least suspicious");
* ``false-positive``: a benign look-alike is ``malicious``;
* ``not-<verdict>``: a benign variant with a required verdict (a damaged file must be
  ``suspicious``) got another one;
* ``disagree`` (under ``paths``): the single-file and the folder scan give the same file
  different verdicts (issue 9: "the same file gets the same verdict on every path").

As a script: ``python -m tests.safety.oracle.measure [--random N --seed S] [--json FILE]``
prints the table of the report (classes x outcomes, single file and folder).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .harness import Job, Oracle, Outcome
from .variants import CLASSES, Variant, write_variants

__all__ = ["Result", "Verdict", "evaluate", "misses", "summary_table"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One report of ``scan``: ``absent`` when a folder scan left the file out."""

    status: str
    verdict: str | None
    rules: tuple[str, ...] = ()
    error: str = ""

    @property
    def label(self) -> str:
        """``malicious``/``suspicious``/``clean``, or ``error``/``absent``."""
        return self.verdict if self.status == "ok" and self.verdict else self.status


@dataclass(frozen=True, slots=True)
class Result:
    """What the loader and the scanner did with one variant."""

    name: str
    klass: str
    malicious: bool
    fired: dict[str, bool]
    """Per oracle loader: whether the canary appeared."""
    outcomes: dict[str, str]
    """Per oracle loader: ``status: detail`` of the load."""
    single: Verdict
    folder: Verdict
    note: str = ""
    expect: str | None = None
    """A benign variant's required verdict (see :attr:`Variant.expect`)."""

    @property
    def fires(self) -> bool:
        """Whether any loader ran the payload."""
        return any(self.fired.values())

    @property
    def torch_fires(self) -> bool:
        """Whether ``torch.load(weights_only=False)`` ran it."""
        return self.fired.get("torch", False)


def misses(result: Result) -> dict[str, str]:
    """``{"single"|"folder"|"paths": kind}`` for each way the verdicts break issue 9."""
    out: dict[str, str] = {}
    for where, v in (("single", result.single), ("folder", result.folder)):
        if result.fires and v.label != "malicious":
            out[where] = "fires"
        elif result.malicious and not result.fires and v.label not in ("suspicious", "malicious"):
            out[where] = "unflagged"
        elif not result.malicious and v.label == "malicious":
            out[where] = "false-positive"
        elif not result.malicious and result.expect and v.label != result.expect:
            out[where] = f"not-{result.expect}"
    if result.single.label != result.folder.label:
        out["paths"] = "disagree"
    return out


def _scan_json(args: list[str]) -> dict[str, Any]:
    from pthforensics.cli import main

    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as out:
        target = out.name
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(["scan", "--json", "-o", target, "-q", *args])
        with open(target, encoding="utf-8") as f:
            text = f.read()
        return json.loads(text) if text else {"reports": []}
    finally:
        os.unlink(target)


def _verdict(report: dict[str, Any] | None) -> Verdict:
    if report is None:
        return Verdict("absent", None)
    findings = report.get("findings") or []
    rules = tuple(sorted({f["rule_id"] for f in findings if f.get("severity") != "info"}))
    error = report.get("error") or {}
    return Verdict(
        str(report.get("status")),
        report.get("verdict"),
        rules,
        str(error.get("message", "")) if isinstance(error, dict) else "",
    )


def scan_single(path: Path) -> Verdict:
    """``pthforensics scan FILE`` (in-process, as the CLI runs one file)."""
    reports = _scan_json([str(path)]).get("reports") or []
    return _verdict(reports[0] if reports else None)


def scan_folder(folder: Path, jobs: int = 2) -> dict[str, Verdict]:
    """``pthforensics scan DIR -j N``: path -> verdict."""
    doc = _scan_json(["-j", str(jobs), str(folder)])
    return {os.path.realpath(str(r["path"])): _verdict(r) for r in doc.get("reports") or []}


def evaluate(
    variants: Sequence[Variant], workdir: Path, *, oracle_workers: int = 2, scan_jobs: int = 2
) -> list[Result]:
    """Oracle, single-file scans and one folder scan of ``variants`` (written to
    ``workdir/files``; the oracle's working folders go to ``workdir/runs``)."""
    files = workdir / "files"
    paths = write_variants(variants, files)
    jobs = [
        Job(
            f"{v.name}|{loader}",
            str(paths[v.name]),
            loader,
            str(workdir / "runs" / f"{i}-{loader}"),
        )
        for i, v in enumerate(variants)
        for loader in v.loaders
    ]
    with Oracle(workers=oracle_workers) as oracle:
        outcomes: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in oracle.run(jobs):
            outcomes[outcome.key.split("|", 1)[0]].append(outcome)
    folder = scan_folder(files, scan_jobs)
    results = []
    for v in variants:
        path = paths[v.name]
        results.append(
            Result(
                v.name,
                v.klass,
                v.malicious,
                {o.loader: o.fired for o in outcomes[v.name]},
                {o.loader: f"{o.status}: {o.detail}" for o in outcomes[v.name]},
                scan_single(path),
                folder.get(os.path.realpath(path), Verdict("absent", None)),
                v.note,
                v.expect,
            )
        )
    return results


def summary_table(results: Sequence[Result]) -> str:
    """One row per class: generated, fired (torch / any), then the verdicts of the single
    file and folder scans, and the misses of each."""
    head = (
        "class",
        "n",
        "fire:torch",
        "fire:any",
        "single mal/sus/clean/err",
        "folder mal/sus/clean/err/absent",
        "miss single",
        "miss folder",
    )
    rows = [head]
    for klass in CLASSES:
        group = [r for r in results if r.klass == klass]
        if not group:
            continue
        single = Counter(r.single.label for r in group)
        folder = Counter(r.folder.label for r in group)
        rows.append(
            (
                klass,
                str(len(group)),
                str(sum(r.torch_fires for r in group)),
                str(sum(r.fires for r in group)),
                "/".join(str(single[k]) for k in ("malicious", "suspicious", "clean", "error")),
                "/".join(
                    str(folder[k]) for k in ("malicious", "suspicious", "clean", "error", "absent")
                ),
                str(sum("single" in misses(r) for r in group)),
                str(sum("folder" in misses(r) for r in group)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def _main(argv: Sequence[str]) -> int:
    import argparse

    from .variants import ci_variants, random_variants

    parser = argparse.ArgumentParser(description="oracle vs scanner on the attack variants")
    parser.add_argument("--random", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-random", action="store_true")
    parser.add_argument("--json", type=Path, help="write every result here (JSON lines)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    variants = [] if args.only_random else ci_variants()
    if args.random:
        from .chains import discover_chains

        chains = [(c.module, c.name, c.target) for c in discover_chains()]
        variants += random_variants(args.random, args.seed, chains)
    with contextlib.ExitStack() as stack:
        work = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        results = evaluate(variants, work)
    print(summary_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            for r in results:
                f.write(json.dumps(asdict(r) | {"misses": misses(r)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
