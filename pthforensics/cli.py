"""Command line: ``pthforensics scan PATH...`` and ``pthforensics inspect FILE``.

The only module that prints.  ``main`` parses argv, calls the library API
(:func:`pthforensics.scan_tree`, :func:`pthforensics.inspect`), renders with
:mod:`pthforensics.report` and returns an exit code (0 clean, 1 findings at or above
``--fail-on``, 2 error or bad arguments, 130 interrupted).  Every string that comes from
a file (its name, member and global names, metadata) is escaped before it reaches the
terminal; library warnings are shown only with ``-v``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any, NoReturn

from . import __version__, inspect, scan_tree
from .batch import TreeScan, compact_resume
from .cli_args import build_parser, limits_of
from .cli_support import (
    NoProgress,
    Parser,
    ends_with_newline,
    escaping_handler,
    library_warnings,
    open_output,
    progress_bar,
)
from .core import Candidate, FileReport, Severity
from .report import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    BatchReport,
    batch_json,
    csv_text,
    escape,
    model_entries,
    report_json,
    report_jsonl_line,
)

__all__ = ["main", "run"]

logger = logging.getLogger("pthforensics")


def _setup_logging(args: argparse.Namespace) -> logging.Handler:
    level = (
        logging.ERROR
        if args.quiet
        else (
            logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
        )
    )
    handler = escaping_handler(sys.stderr)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pthforensics`` console script."""
    args = build_parser().parse_args(argv)
    handler = _setup_logging(args)
    try:
        with library_warnings(args.verbose, handler):
            if args.command == "scan":
                return _scan(args)
            if args.command == "schema":
                return _schema(args)
            return _inspect(args)
    except KeyboardInterrupt:
        print("pthforensics: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"pthforensics: error: {escape(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


def run() -> NoReturn:
    """The ``pthforensics`` command (console script and ``python -m``): :func:`main`, then
    exit with its code.  Every object alive is frozen out of the garbage collector first:
    the interpreter's collections at exit would walk the whole package again (~10 ms, a
    twentieth of a batch of a few hundred small files) to free memory the OS takes back
    anyway.  Outputs are closed by then; standard streams are still flushed at exit."""
    code = main()
    gc.freeze()
    sys.exit(code)


def _schema(args: argparse.Namespace) -> int:
    """``schema``: the JSON Schema (draft 2020-12) of a FileReport and of the documents."""
    from .report import json_schema  # noqa: PLC0415 - imported on first use (report/__init__)

    with open_output(args.output) as out:
        out.write(json.dumps(json_schema(), indent=2) + "\n")
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, outputs that cannot be written: two documents on stdout,
    or a file in a folder that does not exist."""
    stdout = [
        name
        for name, value in (
            ("--json", "-" if args.json and not args.output else args.output),
            ("--jsonl", getattr(args, "jsonl", None)),
            ("--csv", getattr(args, "csv", None)),
            ("--sarif", getattr(args, "sarif", None)),
        )
        if value == "-"
    ]
    if len(stdout) > 1:
        _refuse(args, f"{' and '.join(stdout)} all write to stdout: send all but one to a file")
    for option in ("output", "jsonl", "csv", "sarif"):
        path = getattr(args, option, None)
        if path and path != "-":
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                name = "-o/--output" if option == "output" else f"--{option}"
                _refuse(args, f"{name}: folder {folder!r} does not exist")


def _refuse(args: argparse.Namespace, message: str) -> NoReturn:
    """A bad combination of arguments: one line, exit 2, as argparse answers."""
    Parser(prog=f"pthforensics {args.command}").error(message)


def _scan(args: argparse.Namespace) -> int:
    """``scan``: start the tree scan, stream its reports, then render and decide."""
    progress: Any = NoProgress()

    def on_start(candidate: Candidate) -> None:
        if isinstance(progress, NoProgress):
            return  # nothing drawn: no name to escape (once per file)
        progress.set_postfix_str(escape(os.path.basename(candidate.path))[-40:], refresh=False)

    _check_outputs(args)
    limits = limits_of(args)
    try:
        tree = scan_tree(
            args.paths,
            jobs=args.jobs,
            limits=limits,
            resume=args.resume,
            deep=args.deep,
            include_hidden=args.hidden,
            exclude=args.exclude,
            timeout=args.timeout,
            memory_mb=args.max_memory_mb or None,
            on_start=on_start,
            storage_options=args.storage_option,
            dask=args.dask,
        )
    except (ValueError, ImportError) as exc:
        print(f"pthforensics: error: {escape(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    if not tree.files:
        skipped = ", ".join(f"{n} {reason}" for reason, n in tree.skipped)
        print(
            f"pthforensics: error: no checkpoint found in {escape(' '.join(args.paths))}"
            + (f" (skipped: {skipped})" if skipped else ""),
            file=sys.stderr,
        )
        return EXIT_ERROR
    progress = progress_bar(len(tree.todo), enabled=sys.stderr.isatty() and not args.quiet)
    started = time.monotonic()
    reports, interrupted = _stream(tree, args, progress)
    elapsed = time.monotonic() - started
    order = {c.path: i for i, c in enumerate(tree.files)}
    reports.sort(key=lambda r: order.get(r.path, len(order)))
    done = {r.path for r in reports}
    batch = BatchReport(
        tuple(reports),
        Severity[args.fail_on.upper()],
        skipped=tree.skipped,
        interrupted=interrupted,
        not_scanned=tuple(c.path for c in tree.files if c.path not in done),
    )
    _render_scan(args, batch, model_entries(tree.models, reports), elapsed)
    if interrupted:
        print(
            f"pthforensics: interrupted after {len(reports)} of {len(tree.files)} file(s); "
            "the output written so far is complete for those files",
            file=sys.stderr,
        )
    return batch.exit_code()


def _stream(
    tree: TreeScan, args: argparse.Namespace, progress: Any
) -> tuple[list[FileReport], bool]:
    """Every report of ``tree``, each new one written to ``--jsonl`` as it comes (resumed
    ones are already there); whether Ctrl-C stopped the scan."""
    reports: list[FileReport] = []
    with _jsonl_output(args, tree.files) as jsonl:
        try:
            with tree:
                reports.extend(tree.resumed)
                for report in itertools.islice(tree, len(tree.resumed), None):
                    reports.append(report)
                    if jsonl is not None:
                        jsonl.write(report_jsonl_line(report) + "\n")
                        jsonl.flush()
                    _tell(report, args, progress)
                    progress.update()
        except KeyboardInterrupt:
            return reports, True
        finally:
            progress.close()
    return reports, False


def _tell(report: FileReport, args: argparse.Namespace, progress: Any) -> None:
    """A file's error on stderr as it comes (unless ``-q``); with ``-v``, what its worker
    printed too."""
    if report.error is not None and not args.quiet:
        progress.write(
            f"pthforensics: {escape(report.path)}: {escape(report.error.message)}",
            file=sys.stderr,
        )
    if report.stderr and args.verbose:
        logger.info("%s: the reader printed: %s", report.path, report.stderr)


@contextlib.contextmanager
def _jsonl_output(args: argparse.Namespace, files: Sequence[Candidate]) -> Iterator[IO[str] | None]:
    """The ``--jsonl`` output: none, stdout, or FILE, appended to when it is the
    ``--resume`` file, once that holds one line per path (stale lines of files found
    again, changed, are dropped: their new report is appended)."""
    if not args.jsonl or args.jsonl == "-":
        yield sys.stdout if args.jsonl else None
        return
    append = args.resume is not None and os.path.abspath(args.resume) == os.path.abspath(args.jsonl)
    if append:
        compact_resume(args.jsonl, files)
    with open(args.jsonl, "a" if append else "w", encoding="utf-8") as handle:
        if append and handle.tell() > 0 and not ends_with_newline(args.jsonl):
            handle.write("\n")
        yield handle


def _render_scan(
    args: argparse.Namespace, batch: BatchReport, models: list[dict[str, object]], elapsed: float
) -> None:
    """``--csv``, then the JSON document (``--json``/``-o``) or the human text on stdout
    (the table for one file, else the batch summary).  The renderings are imported where
    used (``pthforensics.report`` loads them on first use): a JSON run needs none."""
    reports = batch.reports
    if args.csv:
        with open_output(args.csv) as out:
            out.write(csv_text(reports))
    if args.sarif:
        from .report import sarif_json  # noqa: PLC0415

        with open_output(args.sarif) as out:
            out.write(sarif_json(batch, __version__) + "\n")
    if args.json or args.output:
        with open_output(args.output) as out:
            out.write(batch_json(batch, models) + "\n")
        if len(reports) > 1 and not args.quiet and sys.stderr.isatty():
            from .report import batch_summary  # noqa: PLC0415

            print(batch_summary(batch, models, elapsed), file=sys.stderr)
    elif "-" not in (args.jsonl, args.sarif, args.csv):
        from .report import batch_summary, scan_table  # noqa: PLC0415

        severity = Severity.INFO if args.verbose else Severity.SUSPICIOUS
        if len(reports) == 1 and not models and not batch.interrupted:
            print(scan_table(reports, severity, inputs=args.deep))
        elif args.deep:
            table = scan_table(reports, severity, inputs=True)
            print(table + "\n\n" + batch_summary(batch, models, elapsed))
        else:
            print(batch_summary(batch, models, elapsed))


#: Table width when stdout is no terminal and ``COLUMNS`` is not set.
_PIPE_COLUMNS = 120


def _columns() -> int:
    """The terminal's width when printing to one; ``COLUMNS`` or a fixed width otherwise
    (so that piped output does not depend on the terminal the command ran in)."""
    if sys.stdout.isatty():
        import shutil  # noqa: PLC0415 - ~2 ms (bz2, lzma) that only inspect on a terminal needs

        return shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() else _PIPE_COLUMNS


def _inspect(args: argparse.Namespace) -> int:
    """``inspect``: one report, as text or JSON; the exit code as ``scan`` decides it."""
    _check_outputs(args)
    if args.code and args.json:
        _refuse(args, "--code prints the loading script, --json the report: choose one")
    report = inspect(
        args.path,
        limits=limits_of(args),
        trace=not (args.no_trace or args.code),
        input_shape=args.input_shape,
        device=args.device,
        storage_options=args.storage_option,
    )
    if report.error is not None:
        print(
            f"pthforensics: {escape(report.path)}: {escape(report.error.message)}",
            file=sys.stderr,
        )
    if args.code:
        _write_code(report, args.output)
    elif args.json or args.output:
        with open_output(args.output) as out:
            out.write(report_json(report) + "\n")
    else:
        from .report import inspect_text  # noqa: PLC0415 - imported on first use

        print(inspect_text(report, width=_columns(), wide=args.wide))
    return BatchReport((report,), Severity[args.fail_on.upper()]).exit_code()


def _write_code(report: FileReport, output: str | None) -> None:
    """``inspect --code``: the loading script to stdout (or ``-o FILE``), or on stderr why
    there is none (the name, or its absence, and the last reason given)."""
    arch = report.architecture
    if arch is None or arch.code is None:
        why = ["no architecture: no state_dict was read"] if arch is None else [str(arch)]
        if arch is not None and arch.evidence and arch.evidence[-1] not in why[0]:
            why.append(arch.evidence[-1])
        message = f"{report.path}: no loading code: {'; '.join(why)}"
        print(f"pthforensics: {escape(message)}", file=sys.stderr)
        return
    with open_output(output) as out:
        out.write(arch.code)
