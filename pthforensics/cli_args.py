"""The command line's arguments: the ``pthforensics`` parser, its subcommands and options,
and the :class:`~pthforensics.core.Limits` they set.  Values are checked by argparse types
(:mod:`.cli_support`) with messages in the user's units: a bad one exits 2 before anything
is read."""

from __future__ import annotations

import argparse

from . import __version__
from .batch import parse_dask_address
from .cli_support import Parser, jobs, megabytes, memory_mb, seconds, shape
from .container import parse_storage_option
from .core import DEFAULT_LIMITS, Limits

__all__ = ["build_parser", "limits_of"]

_MiB = 1 << 20


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pthforensics`` (scan, inspect, schema), with its argument types."""
    parser = Parser(
        prog="pthforensics",
        description="Inspect PyTorch checkpoints without running them: safety verdict, "
        "layers, expected input.",
        epilog="exit codes: 0 clean, 1 findings at or above --fail-on, 2 error (no verdict, "
        "or a bad argument), 130 interrupted (Ctrl-C)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only on stderr")
    # -v/-q also after the subcommand (`pthforensics scan -v DIR`); SUPPRESS keeps the value
    # given before it when they are not repeated.
    common = Parser(add_help=False)
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
    scan.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="checkpoint files or folders, or URLs of objects or prefixes (s3://, https://...)",
    )
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
        "--sarif",
        metavar="FILE",
        help="write a SARIF 2.1.0 log (one result per finding) for code-scanning dashboards",
    )
    scan.add_argument(
        "--resume",
        metavar="FILE",
        help="skip files already in this earlier --jsonl output (same path, size "
        "and mtime); with --jsonl FILE the same file is rewritten to one line per path, "
        "then appended to",
    )
    scan.add_argument(
        "-j",
        "--jobs",
        type=jobs,
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
        type=seconds,
        metavar="S",
        help="kill a worker stuck on one file after S seconds (default: 1.5 x --max-seconds + 5)",
    )
    scan.add_argument(
        "--max-memory-mb",
        type=memory_mb,
        default=4096,
        metavar="MB",
        help="memory a worker may add while reading one file; 0 for no cap (default: %(default)s)",
    )
    scan.add_argument(
        "--dask",
        metavar="ADDRESS",
        type=_dask_address,
        help="run the batch on a Dask cluster: a scheduler (tcp://host:8786) or local:N "
        "(N local worker processes); needs pthforensics[dask]",
    )
    _remote_options(scan)
    _limit_options(scan)

    inspect = sub.add_parser(
        "inspect", parents=[common], help="layers, input guess, rebuilt model and trace"
    )
    inspect.add_argument("path", metavar="FILE", help="one checkpoint file (or its URL)")
    _output_options(inspect)
    inspect.add_argument("--no-trace", action="store_true", help="skip rebuild and trace")
    inspect.add_argument(
        "--wide",
        action="store_true",
        help="show every attribute in full (the table is otherwise fitted to the terminal)",
    )
    inspect.add_argument(
        "--code",
        action="store_true",
        help="print only the Python script that builds the named model and loads this file "
        "strictly (architecture.code; to -o FILE if given); no trace",
    )
    inspect.add_argument(
        "--input-shape",
        metavar="N,C,H,W",
        type=shape,
        help="try this input shape (batch first), e.g. 1,3,32,32",
    )
    inspect.add_argument(
        "--device",
        choices=["meta", "cpu"],
        default="meta",
        help="device of the rebuilt model (meta: no memory for weights)",
    )
    inspect.add_argument("--fail-on", choices=["suspicious", "malicious"], default="suspicious")
    _remote_options(inspect)
    _limit_options(inspect)

    schema = sub.add_parser(
        "schema", parents=[common], help="print the JSON Schema of the JSON outputs"
    )
    schema.add_argument("-o", "--output", metavar="FILE", help="write it to FILE")
    return parser


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("-o", "--output", metavar="FILE", help="write --json output to FILE")


def _remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-option",
        action="append",
        default=[],
        type=_storage_option,
        metavar="KEY=VALUE",
        help="an option of the URLs' file systems (fsspec), e.g. endpoint_url=http://host:9000 "
        "or s3.anon=true (repeatable; PROTOCOL.KEY scopes it; VALUE is JSON when it parses)",
    )


def _storage_option(text: str) -> str:
    try:
        parse_storage_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _dask_address(text: str) -> str:
    try:
        return parse_dask_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--max-pickle-mb",
        type=megabytes,
        metavar="MB",
        default=DEFAULT_LIMITS.max_pickle_bytes // _MiB,
        help="largest pickle stream read (default: %(default)s)",
    )
    group.add_argument(
        "--max-decompressed-mb",
        type=megabytes,
        metavar="MB",
        default=DEFAULT_LIMITS.max_decompressed_bytes // _MiB,
        help="largest gzip/bz2/xz output (default: %(default)s)",
    )
    group.add_argument(
        "--max-seconds",
        type=seconds,
        metavar="S",
        default=DEFAULT_LIMITS.max_seconds,
        help="time allowed per file (default: %(default)s)",
    )


def limits_of(args: argparse.Namespace) -> Limits:
    """The per-file limits the parsed options set (a bad combination exits 2)."""
    try:
        return Limits(
            max_pickle_bytes=args.max_pickle_mb * _MiB,
            max_decompressed_bytes=args.max_decompressed_mb * _MiB,
            max_seconds=args.max_seconds,
        )
    except ValueError as exc:
        raise SystemExit(f"pthforensics: error: {exc}") from exc
