"""The safety stage: judge every pickle byte stream of a file, nested ones included.

:func:`scan_streams` takes a file's streams (from ``container``) and returns the findings
and the stub tree of the stream the loader returns.  Per stream, in the order a loader
meets them:

1. **fast path** (only when asked): a stream the stub unpickler reads exactly to its end,
   naming only allow-listed or ``info`` globals that no protocol changes (no dotted name,
   no Python 2 name), within the opcode and memo limits, needs no opcode walk (DESIGN.md,
   safety model 2): the opcode pass would give it the same findings
   (``tests/safety/test_fast_path.py`` checks it on every sample and variant); anything
   else falls back to
2. **the opcode pass** (:func:`.static_scan.scan_stream`) judged by :data:`.RULES`;
3. **stacked pickles**: bytes after ``STOP`` that CPython would read as a pickle (a loader
   that calls ``load()`` again runs them) are scanned as a stream of their own;
4. **nested loads**: the bytes a nested loader (``torch.storage._load_from_bytes``) is given
   are read by the ``read_archive`` callable the caller passes in (safety does not import
   ``container``), as ``torch.load`` would read them, and their streams scanned in turn;
5. **nested pickles**: bytes values the loaded object holds that are pickles or torch zips
   themselves (a staged payload), scanned up to ``limits.max_nested_pickles`` per file.

The opcode pass of a file shares one deadline and one nested-pickle budget
(:class:`ScanBudget`), which a later call (the pickles hidden in unused storages) continues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pthforensics.core import (
    DEFAULT_LIMITS,
    Container,
    Finding,
    LimitExceeded,
    Limits,
    Location,
    PickleStream,
    PthForensicsError,
    Severity,
    StreamRole,
)

from .names import loader_name
from .opcodes import looks_like_nested, looks_like_pickle
from .rules import Judgement, judge_global
from .static_scan import scan_stream
from .stream_rules import evaluate_stream
from .unpickle import GlobalName, PickleTree, find_pickle_values, unpickle_stream

__all__ = ["ReadArchive", "SafetyScan", "ScanBudget", "scan_streams"]

logger = logging.getLogger(__name__)

#: ``read_archive(data, name)``: the container of bytes ``torch.load`` is given (a torch zip
#: when they start like one, else stacked pickles; members named ``name!member``); raises
#: ``PthForensicsError`` when unreadable.
ReadArchive = Callable[[bytes, str], Container]

#: Bytes after ``STOP`` looked at to decide whether a second pickle follows.
_TRAILING_SNIFF = 4096
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class ScanBudget:
    """What one file's scan may still spend: shared by every call for the same file."""

    deadline: float
    """:func:`time.monotonic` value after which an opcode walk gives up."""
    nested_taken: int = 0
    """Nested pickles already scanned (``limits.max_nested_pickles`` caps them)."""

    @classmethod
    def start(cls, limits: Limits) -> ScanBudget:
        """A fresh budget: ``limits.max_seconds`` from now, no nested pickle taken."""
        return cls(time.monotonic() + limits.max_seconds)


@dataclass(frozen=True, slots=True)
class SafetyScan:
    """What the safety stage found in a file's streams."""

    findings: tuple[Finding, ...]
    """Every finding, in the order the streams were judged (not yet deduplicated)."""
    tree: PickleTree | None
    """The stub tree of the object stream (what the loader returns): the first stream of
    role ``object`` that is loaded and was not refused for a limit; ``None`` when none."""
    budget: ScanBudget
    """What remains for a later call on the same file."""


def scan_streams(
    streams: Sequence[PickleStream],
    *,
    read_archive: ReadArchive,
    limits: Limits = DEFAULT_LIMITS,
    fast: bool = False,
    budget: ScanBudget | None = None,
) -> SafetyScan:
    """Judge ``streams`` (and every stream found inside them) and decode the object stream.

    ``fast`` lets streams that the stub unpickler reads cleanly skip the opcode walk.  Only
    use it in a process with a memory cap (batch workers set one): CPython's C unpickler
    sizes its memo from indices in the file, which the opcode walk checks first.
    """
    scan = _StreamScan(limits, fast, read_archive, budget or ScanBudget.start(limits))
    scan.run(streams)
    objects = [
        s
        for s in streams
        if s.role is StreamRole.OBJECT and s.loaded and s.name not in scan.refused
    ]
    tree = scan.tree_of(objects[0]) if objects else None
    return SafetyScan(
        tuple(scan.findings),
        tree,
        replace(scan.budget, nested_taken=scan.nested),
    )


@dataclass
class _StreamScan:
    """Mutable working state of one :func:`scan_streams` call (local to it)."""

    limits: Limits
    fast: bool
    read_archive: ReadArchive
    budget: ScanBudget
    findings: list[Finding] = field(default_factory=list)
    trees: dict[int, PickleTree] = field(default_factory=dict)
    """Stub trees the fast path built, by ``id`` of the stream (names can repeat)."""
    refused: set[str] = field(default_factory=set)
    walked: dict[int, set[tuple[str | None, str | None]]] = field(default_factory=dict)
    """The globals the opcode pass saw, by ``id`` of the stream."""
    nested: int = 0
    pending: list[PickleStream] = field(default_factory=list)
    """Streams of embedded archives, queued behind the current one."""

    def __post_init__(self) -> None:
        self.nested = self.budget.nested_taken

    def run(self, streams: Sequence[PickleStream]) -> None:
        """Judge every stream, then the streams each one brought up, in a queue."""
        queue = list(streams)
        while queue:
            stream = queue.pop(0)
            if not stream.data:
                continue
            queue.extend(self.fast_path(stream) if self.fast else self.opcode_pass(stream))
            queue.extend(self.pending)
            self.pending.clear()

    def fast_path(self, stream: PickleStream) -> list[PickleStream]:
        """Step 1: the C-speed stub decode, judged by its globals; the opcode pass for a
        stream the opcode pass could judge differently."""
        if len(stream.data) > self.limits.max_pickle_ops:
            return self.opcode_pass(stream)  # the opcode limit could apply: same path
        tree = (
            stream.decoded
            if isinstance(stream.decoded, PickleTree)
            else (unpickle_stream(stream) if stream.data[:1] else None)
        )
        if (
            tree is None
            or tree.error is not None
            or tree.end != len(stream.data)
            or tree.memo_top >= self.limits.max_memo
        ):
            return self.opcode_pass(stream)
        infos: list[Finding] = []
        for g in dict.fromkeys(tree.globals_seen):
            judgement = _fast_judgement(g)
            if judgement is False:
                return self.opcode_pass(stream)
            if judgement is not None:
                infos.append(
                    Finding(
                        judgement.rule_id,
                        judgement.severity,
                        Location(stream.name, global_name=str(g)),
                        judgement.reason,
                    )
                )
        self.findings.extend(infos)
        self.trees[id(stream)] = tree
        values = find_pickle_values(tree.root, looks_like_nested, max_depth=self.limits.max_depth)
        return [self.nested_stream(stream, None, data) for data in values if self.take_nested()]

    def opcode_pass(self, stream: PickleStream) -> list[PickleStream]:
        """Step 2: the opcode walk and the stream rules; then steps 3-5 on what it found."""
        try:
            scan = scan_stream(stream.data, limits=self.limits, deadline=self.budget.deadline)
        except LimitExceeded as exc:
            self.findings.append(
                Finding(
                    "resource-limit",
                    Severity.SUSPICIOUS,
                    Location(stream.name),
                    f"{exc.message}; the stream was not decoded further",
                )
            )
            self.refused.add(stream.name)
            return []
        self.findings.extend(evaluate_stream(stream, scan))
        self.walked[id(stream)] = {(g.module, g.name) for g in scan.globals}
        more: list[PickleStream] = []
        if (
            scan.end is not None
            and scan.end < len(stream.data)
            and looks_like_pickle(stream.data[scan.end : scan.end + _TRAILING_SNIFF])
        ):
            # A second pickle after STOP: a loader that calls load() again runs it.
            more.append(
                PickleStream(
                    f"{stream.name}@{scan.end}",
                    stream.data[scan.end :],
                    role=StreamRole.TRAILING,
                    loaded=False,
                )
            )
        for offset, _loader, _kind, data in scan.loads:
            if data is not None and self.take_nested():
                more.append(self.embedded_archive(f"{stream.name}@{offset}(loads)", data))
        more.extend(
            self.nested_stream(stream, offset, data)
            for offset, data in scan.nested
            if self.take_nested()
        )
        return more

    def take_nested(self) -> bool:
        """Whether the file's nested-pickle budget allows one more."""
        self.nested += 1
        return self.nested <= self.limits.max_nested_pickles

    def nested_stream(self, stream: PickleStream, offset: int | None, data: bytes) -> PickleStream:
        """Step 5: a bytes value that is a pickle becomes a stream of its own."""
        name = f"{stream.name}@{offset if offset is not None else '?'}(bytes)"
        if data[:4] == _ZIP_MAGIC:
            return self.embedded_archive(name, data)
        self.findings.append(
            Finding(
                "nested-pickle",
                Severity.INFO,
                Location(stream.name, offset),
                "a bytes value is itself a pickle; it was scanned too",
            )
        )
        return PickleStream(name, data, role=StreamRole.NESTED, loaded=False)

    def embedded_archive(self, name: str, data: bytes) -> PickleStream:
        """Steps 4-5: bytes ``torch.load`` would read (a torch zip, or stacked pickles),
        read as a file of their own; their streams are queued (an empty stream stands for
        the bytes themselves)."""
        if data[:4] == _ZIP_MAGIC:
            self.findings.append(
                Finding(
                    "nested-archive",
                    Severity.INFO,
                    Location(name),
                    "a bytes value is a zip archive (torch.save output); its pickles were "
                    "scanned too",
                )
            )
        try:
            inner = self.read_archive(data, name)
        except PthForensicsError as exc:
            self.findings.append(
                Finding(
                    "nested-archive-unreadable", Severity.SUSPICIOUS, Location(name), exc.message
                )
            )
            return PickleStream(name, b"", role=StreamRole.NESTED, loaded=False)
        self.findings.extend(inner.findings)
        self.pending.extend(replace(s, loaded=False) for s in inner.streams)
        return PickleStream(name, b"", role=StreamRole.NESTED, loaded=False)

    def tree_of(self, stream: PickleStream) -> PickleTree:
        """The stub tree of the object stream (reused from the fast path when it ran)."""
        tree = self.trees.get(id(stream))
        if tree is not None:
            return tree
        tree = unpickle_stream(stream)
        # Defence in depth: a global the stub unpickler reaches past the point where the
        # opcode pass stopped.  The pass stops where CPython raises (an import that fails, a
        # call of a constant), which stubs do not, so such a global is not known to be
        # reached; it is reported as suspicious, never as a capability.
        walked = self.walked.get(id(stream), set())
        for g in dict.fromkeys(tree.globals_seen):
            if (g.module, g.name) in walked:
                continue
            judgement = judge_global(g.module, g.name)
            if judgement is not None and judgement.severity > Severity.INFO:
                self.findings.append(
                    Finding(
                        "global-past-stop",
                        Severity.SUSPICIOUS,
                        Location(stream.name, global_name=str(g)),
                        f"named after the point where CPython's unpickler stops, so not "
                        f"known to be reached; on its own: {judgement.reason}",
                    )
                )
        return tree


def _fast_judgement(g: GlobalName) -> Judgement | Literal[False] | None:
    """The judgement of a global the fast path may take: allow-listed (``None``) or
    ``info`` whatever the protocol and whether it is called; ``False`` otherwise."""
    if "." in g.name or loader_name(g.module, g.name, 0) != loader_name(g.module, g.name):
        return False  # a walk from protocol 4 on, a Python 2 name below 3: protocol-dependent
    judgement = judge_global(g.module, g.name, called=True)
    if judgement is not None and judgement.severity > Severity.INFO:
        return False
    return judgement
