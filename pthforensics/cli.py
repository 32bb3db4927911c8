"""Command line: ``pthforensics scan PATH...`` and ``pthforensics inspect FILE``.

The only module that prints.  ``main`` parses, calls :mod:`pipeline`, renders and
returns an exit code (0 clean, 1 findings at or above ``--fail-on``, 2 error).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import IO, Any, TextIO

from . import __version__
from .batch.discover import discover
from .batch.workers import BatchOptions, analyze_candidate, run_batch
from .core import DEFAULT_LIMITS, Candidate, FileReport, Limits, Severity
from .pipeline import inspect_file
from .report.assemble import EXIT_ERROR, BatchReport, model_entries
from .report.render import (
    batch_json,
    batch_summary,
    csv_text,
    inspect_text,
    report_dict,
    report_from_dict,
    report_jsonl_line,
    scan_table,
)

__all__ = ["main"]

logger = logging.getLogger("pthforensics")

_MiB = 1 << 20


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pthforensics",
        description="Inspect PyTorch checkpoints without running them: safety verdict, "
        "layers, expected input.",
        epilog="exit codes: 0 clean, 1 findings at or above --fail-on, 2 error (no verdict)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    # -v/-q also after the subcommand (`pthforensics scan -v DIR`); SUPPRESS keeps the value
    # given before it when they are not repeated.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more logging (and info findings in tables)",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="errors only on stderr",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser(
        "scan", parents=[common], help="safety verdict and tensor summary (files and folders)"
    )
    scan.add_argument("paths", nargs="+", metavar="PATH", help="checkpoint files or folders")
    _output_options(scan)
    scan.add_argument(
        "--jsonl", metavar="FILE", help="stream one FileReport per line to FILE ('-' for stdout)"
    )
    scan.add_argument(
        "--fail-on",
        choices=["suspicious", "malicious"],
        default="suspicious",
        help="lowest severity that makes the exit code 1 (default: suspicious)",
    )
    scan.add_argument("--csv", metavar="FILE", help="write a CSV summary (one row per file)")
    scan.add_argument(
        "--resume",
        metavar="FILE",
        help="skip files already in this earlier --jsonl output (same path, size "
        "and mtime); with --jsonl FILE the same file is appended to",
    )
    scan.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: one per core this process may use; a "
        "single file is read in-process)",
    )
    scan.add_argument(
        "--deep",
        action="store_true",
        help="add layers and the input guess to each report (torch-free)",
    )
    scan.add_argument("--hidden", action="store_true", help="also walk hidden files/folders")
    scan.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files and folders matching GLOB (repeatable)",
    )
    scan.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="kill a worker stuck on one file after S seconds (default: 1.5 x --max-seconds + 5)",
    )
    scan.add_argument(
        "--max-memory-mb",
        type=int,
        default=4096,
        metavar="MB",
        help="memory a worker may add while reading one file; 0 for no cap (default: %(default)s)",
    )
    _limit_options(scan)

    inspect = sub.add_parser(
        "inspect", parents=[common], help="layers, input guess, rebuilt model and trace"
    )
    inspect.add_argument("path", metavar="FILE", help="one checkpoint file")
    _output_options(inspect)
    inspect.add_argument("--no-trace", action="store_true", help="skip rebuild and trace")
    inspect.add_argument(
        "--input-shape",
        metavar="N,C,H,W",
        type=_shape,
        help="try this input shape (batch first), e.g. 1,3,32,32",
    )
    inspect.add_argument(
        "--device",
        choices=["meta", "cpu"],
        default="meta",
        help="device of the rebuilt model (meta: no memory for weights)",
    )
    inspect.add_argument("--fail-on", choices=["suspicious", "malicious"], default="suspicious")
    _limit_options(inspect)
    return parser


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("-o", "--output", metavar="FILE", help="write --json output to FILE")


def _limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--max-pickle-mb",
        type=int,
        metavar="MB",
        default=DEFAULT_LIMITS.max_pickle_bytes // _MiB,
        help="largest pickle stream read (default: %(default)s)",
    )
    group.add_argument(
        "--max-decompressed-mb",
        type=int,
        metavar="MB",
        default=DEFAULT_LIMITS.max_decompressed_bytes // _MiB,
        help="largest gzip/bz2/xz output (default: %(default)s)",
    )
    group.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        default=DEFAULT_LIMITS.max_seconds,
        help="time allowed per file (default: %(default)s)",
    )


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a shape: {text!r} (use e.g. 1,3,32,32)") from exc
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"not a shape: {text!r} (positive integers)")
    return shape


def _limits(args: argparse.Namespace) -> Limits:
    try:
        return Limits(
            max_pickle_bytes=args.max_pickle_mb * _MiB,
            max_decompressed_bytes=args.max_decompressed_mb * _MiB,
            max_seconds=args.max_seconds,
        )
    except ValueError as exc:
        raise SystemExit(f"pthforensics: error: {exc}") from exc


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[TextIO]:
    """stdout, or FILE opened lazily (pip-audit ``_output_io``)."""
    if path in (None, "-"):
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as handle:
        yield handle


def _setup_logging(args: argparse.Namespace) -> None:
    level = (
        logging.ERROR
        if args.quiet
        else (
            logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
        )
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pthforensics: %(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pthforensics`` console script."""
    args = _parser().parse_args(argv)
    _setup_logging(args)
    try:
        if args.command == "scan":
            return _scan(args)
        return _inspect(args)
    except KeyboardInterrupt:
        print("pthforensics: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"pthforensics: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _scan(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    limits = _limits(args)
    try:
        options = BatchOptions(
            jobs=args.jobs if args.jobs is not None else 0,
            limits=limits,
            deep=args.deep,
            timeout=args.timeout,
            memory_mb=args.max_memory_mb or None,
        )
    except ValueError as exc:
        print(f"pthforensics: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    candidates, groups = discover(args.paths, include_hidden=args.hidden, exclude=args.exclude)
    if not candidates:
        print(
            f"pthforensics: error: no checkpoint found in {' '.join(args.paths)}", file=sys.stderr
        )
        return EXIT_ERROR
    previous = _read_resume(args.resume) if args.resume else {}
    reports: list[FileReport] = [
        previous[(c.path, c.size, c.mtime)]
        for c in candidates
        if (c.path, c.size, c.mtime) in previous
    ]
    todo = [c for c in candidates if (c.path, c.size, c.mtime) not in previous]
    # One file and no -j: read it in-process, nothing to fork.  There is no memory cap
    # in-process, so the scan takes the opcode walk before any C unpickling (fast=False).
    in_process = args.jobs is None and len(todo) == 1
    if previous:
        logger.info("resuming: %d file(s) already scanned, %d to go", len(reports), len(todo))
    progress = _progress(len(todo), enabled=sys.stderr.isatty() and not args.quiet)
    interrupted = False
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        jsonl: IO[str] | None = None
        if args.jsonl:
            append = args.resume is not None and os.path.abspath(args.resume) == os.path.abspath(
                args.jsonl
            )
            jsonl = (
                sys.stdout
                if args.jsonl == "-"
                else stack.enter_context(open(args.jsonl, "a" if append else "w", encoding="utf-8"))
            )
            if append and jsonl.tell() > 0 and not _ends_with_newline(args.jsonl):
                jsonl.write("\n")  # close a line an interrupted run left unfinished

        def on_start(candidate: Candidate) -> None:
            progress.set_postfix_str(os.path.basename(candidate.path)[-40:], refresh=False)

        def on_report(report: FileReport) -> None:
            reports.append(report)
            if jsonl is not None:
                jsonl.write(report_jsonl_line(report) + "\n")
                jsonl.flush()
            if report.error is not None and not args.quiet:
                progress.write(
                    f"pthforensics: {report.path}: {report.error.message}", file=sys.stderr
                )
            progress.update()

        try:
            if in_process:
                on_report(analyze_candidate(todo[0], replace(options, memory_mb=None)))
            else:
                run_batch(todo, options, on_start=on_start, on_report=on_report)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
    order = {c.path: i for i, c in enumerate(candidates)}
    reports.sort(key=lambda r: order.get(r.path, len(order)))
    batch = BatchReport(tuple(reports), Severity[args.fail_on.upper()])
    models = model_entries(groups, reports)
    elapsed = time.monotonic() - started
    if args.csv:
        with _open_output(args.csv) as out:
            out.write(csv_text(reports))
    if args.json or args.output:
        with _open_output(args.output) as out:
            out.write(batch_json(batch, models) + "\n")
        if len(reports) > 1 and not args.quiet and sys.stderr.isatty():
            print(batch_summary(batch, models, elapsed), file=sys.stderr)
    elif args.jsonl != "-":
        if len(reports) == 1 and not models:
            print(scan_table(reports, Severity.INFO if args.verbose else Severity.SUSPICIOUS))
        else:
            print(batch_summary(batch, models, elapsed))
    if interrupted:
        print(
            f"pthforensics: interrupted after {len(reports)} of {len(candidates)} file(s); "
            "the output written so far is complete for those files",
            file=sys.stderr,
        )
        return 130
    return batch.exit_code()


class _NoProgress:
    """Stands in for tqdm when stderr is not a terminal (tqdm costs ~15 ms to import)."""

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Nothing to draw."""

    def update(self, n: int = 1) -> None:
        """Nothing to draw."""

    def write(self, text: str, file: IO[str] | None = None) -> None:
        """Write ``text`` as a line, as tqdm does."""
        print(text, file=file or sys.stderr)

    def close(self) -> None:
        """Nothing to close."""


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def _read_resume(path: str) -> dict[tuple[str, int | None, float | None], FileReport]:
    """Reports of an earlier ``--jsonl`` run, keyed by path, size and mtime."""
    import json  # noqa: PLC0415

    done: dict[tuple[str, int | None, float | None], FileReport] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    report = report_from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    logger.warning(
                        "%s:%d: not a report line (an interrupted write?); ignored", path, number
                    )
                    continue
                done[(report.path, report.size, report.mtime)] = report
    except FileNotFoundError:
        logger.info("%s does not exist yet: nothing to resume", path)
    return done


def _log_error(report: FileReport) -> None:
    if report.error is not None:
        print(f"pthforensics: {report.path}: {report.error.message}", file=sys.stderr)


def _inspect(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415

    report = inspect_file(
        args.path,
        limits=_limits(args),
        trace=not args.no_trace,
        input_shape=args.input_shape,
        device=args.device,
    )
    _log_error(report)
    if args.json or args.output:
        with _open_output(args.output) as out:
            out.write(json.dumps(report_dict(report), indent=2) + "\n")
    else:
        print(inspect_text(report))
    return BatchReport((report,), Severity[args.fail_on.upper()]).exit_code()
