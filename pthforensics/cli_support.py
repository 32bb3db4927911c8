"""What the command line needs besides parsing and deciding: argument types that check a
value and say what is wrong in the user's units (argparse turns their message into one
line and exit 2), the log handler that escapes file names, the filter that keeps
library warnings off the terminal unless ``-v`` asks for them, output files and the
progress bar."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import warnings
from collections.abc import Iterator
from typing import IO, Any, NoReturn, TextIO

from .report import EXIT_ERROR, escape

__all__ = [
    "MIN_MEMORY_MB",
    "NoProgress",
    "Parser",
    "ends_with_newline",
    "escaping_handler",
    "jobs",
    "library_warnings",
    "megabytes",
    "memory_mb",
    "open_output",
    "progress_bar",
    "seconds",
    "shape",
]

#: The smallest per-worker memory cap (``BatchOptions``): below it the interpreter alone
#: does not fit.
MIN_MEMORY_MB = 64


class Parser(argparse.ArgumentParser):
    """argparse, with a bad argument answered in one line (exit 2), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {escape(message)} (see --help)\n")


def _whole(text: str, unit: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of {unit}: {text!r}") from None


def megabytes(text: str) -> int:
    """A limit in MB: a whole number, at least 1."""
    value = _whole(text, "MB")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 MB, got {text.strip()} MB")
    return value


def memory_mb(text: str) -> int:
    """The per-worker memory cap in MB: 0 (no cap) or at least ``MIN_MEMORY_MB``."""
    value = _whole(text, "MB")
    if value != 0 and value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(
            f"must be 0 (no cap) or at least {MIN_MEMORY_MB} MB, got {text.strip()} MB"
        )
    return value


def seconds(text: str) -> float:
    """A time limit in seconds: a positive, finite number."""
    try:
        value = float(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text.strip()} s")
    return value


def jobs(text: str) -> int:
    """Worker processes: a whole number, 0 meaning one per core."""
    value = _whole(text, "worker processes")
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be 0 (one per core) or more worker processes, got {text.strip()}"
        )
    return value


def shape(text: str) -> tuple[int, ...]:
    """An input shape, batch first: positive whole numbers separated by ``,`` (or ``x``)."""
    parts = text.strip().split("," if "," in text else "x")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a shape: {text!r} (whole numbers separated by commas, e.g. 1,3,32,32)"
        ) from None
    if any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError(f"not a shape: {text!r} (every size must be 1 or more)")
    return shape


class _EscapingFormatter(logging.Formatter):
    """Log lines with control characters of the message (file names...) escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape(record.message)
        return super().formatMessage(record)


def escaping_handler(stream: TextIO) -> logging.Handler:
    """A handler writing ``pthforensics: LEVEL: message`` lines to ``stream``, with the
    control characters of each message escaped."""
    handler: logging.Handler = logging.StreamHandler(stream)
    handler.setFormatter(_EscapingFormatter("pthforensics: %(levelname)s: %(message)s"))
    return handler


@contextlib.contextmanager
def library_warnings(verbose: int, handler: logging.Handler) -> Iterator[None]:
    """Warnings of the libraries we call (torch's "Failed to initialize NumPy"...) are
    not ours to show: hidden, unless ``-v`` asks, then logged.  Worker processes inherit
    the filter; what they print anyway goes into the file's report."""
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore")
            yield
            return
        warnings.simplefilter("default")
        captured = logging.getLogger("py.warnings")
        captured.handlers[:] = [handler]
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.captureWarnings(False)
            captured.handlers.clear()


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[TextIO]:
    """stdout, or FILE opened lazily (pip-audit ``_output_io``).  A file name that is not
    UTF-8 is written back as its own bytes (CSV), never a crash."""
    if path in (None, "-"):
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
        yield handle


class NoProgress:
    """Stands in for tqdm when stderr is not a terminal (tqdm costs ~15 ms to import)."""

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        """Nothing to draw."""

    def update(self, n: int = 1) -> None:
        """Nothing to draw."""

    def write(self, text: str, file: IO[str] | None = None) -> None:
        """Write ``text`` as a line, as tqdm does."""
        (file or sys.stderr).write(text + "\n")

    def close(self) -> None:
        """Nothing to close."""


def progress_bar(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return NoProgress()
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True, leave=False)


def ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"
