"""A whole batch: the files found under some paths, those an earlier run already scanned,
and the reports of the rest, yielded as they complete.

A single file (and no explicit worker count) is read in-process: nothing to fork.  Any
more go to the worker pool of :mod:`.workers`.  The unit of work is the caller's
(:data:`.workers.Work`), so this package never imports the pipeline.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import replace
from types import TracebackType

from pthforensics.core import Candidate, FileReport, ModelGroup

from .cluster import Executor
from .discover import Discovery, discover_tree
from .resume import ResumeKey, read_resume, resume_key
from .workers import BatchOptions, Work, run_batch

__all__ = ["TreeScan", "start_tree_scan"]

logger = logging.getLogger(__name__)


class TreeScan(Iterator[FileReport]):
    """The reports of every file found, each exactly once: first those taken from the
    resume file (in discovery order), then the others as they complete.

    Iterating runs the scan; :meth:`close` (or leaving a ``with`` block) stops the workers
    of a scan left unfinished.  What discovery found (the attributes below) is known before
    the first report.
    """

    files: tuple[Candidate, ...]
    """Every file found, in discovery order (folders walked sorted, depth first)."""
    models: tuple[ModelGroup, ...]
    """The sharded models found (``*.index.json`` with a ``weight_map``) and their shards."""
    resumed: tuple[FileReport, ...]
    """Reports taken from the resume file, not scanned again."""
    todo: tuple[Candidate, ...]
    """The files this scan reads."""
    skipped: tuple[tuple[str, int], ...]
    """Entries of the folders walked that are not scanned, counted by reason (see
    :data:`pthforensics.batch.SKIP_REASONS`)."""

    def __init__(
        self,
        found: Discovery,
        previous: Mapping[ResumeKey, FileReport],
        work: Work,
        options: BatchOptions,
        *,
        in_process: bool,
        on_start: Callable[[Candidate], None] | None = None,
        executor: Executor = run_batch,
    ) -> None:
        self.files = files = found.files
        self.models = found.models
        self.skipped = found.skipped
        self.resumed = tuple(
            _with_aliases(previous[k], c) for c in files if (k := resume_key(c)) in previous
        )
        self.todo = tuple(c for c in files if resume_key(c) not in previous)
        self._aliased = {c.path: c for c in self.todo if c.aliases}
        self._reports = self._run(
            work, options, in_process=in_process, on_start=on_start, executor=executor
        )

    def _run(
        self,
        work: Work,
        options: BatchOptions,
        *,
        in_process: bool,
        on_start: Callable[[Candidate], None] | None,
        executor: Executor,
    ) -> Generator[FileReport, None, None]:
        yield from self.resumed
        if in_process and len(self.todo) == 1:
            # No memory cap in-process, so the scan takes the opcode walk before any C
            # unpickling (BatchOptions.fast is False without a cap).
            if on_start is not None:
                on_start(self.todo[0])
            yield self._aliases_of(work(self.todo[0], replace(options, memory_mb=None)))
        else:
            for report in executor(self.todo, work, options, on_start=on_start):
                yield self._aliases_of(report)

    def _aliases_of(self, report: FileReport) -> FileReport:
        """``report`` with the other paths discovery found for its file."""
        candidate = self._aliased.get(report.path)
        return report if candidate is None else _with_aliases(report, candidate)

    def __next__(self) -> FileReport:
        return next(self._reports)

    def close(self) -> None:
        """Stop the scan: workers still running are stopped."""
        self._reports.close()

    def __enter__(self) -> TreeScan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def start_tree_scan(
    paths: Iterable[str | os.PathLike[str]],
    work: Work,
    options: BatchOptions,
    *,
    in_process: bool = False,
    resume: str | os.PathLike[str] | None = None,
    include_hidden: bool = False,
    exclude: Iterable[str] = (),
    on_start: Callable[[Candidate], None] | None = None,
    executor: Executor = run_batch,
) -> TreeScan:
    """Discover the files under ``paths`` (URLs listed with ``options.storage``), read
    ``resume`` (an earlier JSONL output), and return the scan ready to iterate.
    ``in_process``: read a single file to scan without starting workers.  ``executor``:
    what runs the batch (the local pool, or :class:`.cluster.DaskExecutor`)."""
    found = discover_tree(
        [os.fspath(p) for p in paths],
        include_hidden=include_hidden,
        exclude=tuple(exclude),
        storage=options.storage,
    )
    previous = read_resume(resume) if resume is not None and found.files else {}
    scan = TreeScan(
        found,
        previous,
        work,
        options,
        in_process=in_process,
        on_start=on_start,
        executor=executor,
    )
    if previous:
        logger.info(
            "resuming: %d file(s) already scanned, %d to go", len(scan.resumed), len(scan.todo)
        )
    return scan


def _with_aliases(report: FileReport, candidate: Candidate) -> FileReport:
    """``report`` listing the candidate's other paths (as discovery found them now)."""
    if report.aliases == candidate.aliases:
        return report
    return replace(report, aliases=candidate.aliases)
