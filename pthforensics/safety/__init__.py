"""The safety stage: does opening this file run code?  Judged without unpickling anything.

Stage function: :func:`scan_streams` (every pickle byte stream of a file -> findings and the
stub tree of the object stream).  Its parts, usable on their own:

* :func:`scan_stream`: the opcode pass over one stream (every global, call and offset);
* :func:`evaluate_stream` / :data:`RULES`: that pass -> findings; :func:`judge_global`:
  the grade of one global, over the policy tables :data:`ALLOWED`, :data:`BENIGN_METADATA`,
  :data:`GADGETS` (and the deny-lists in ``denylist``/``denynames``), each entry a
  :class:`PolicyEntry` with its reason and source;
* :func:`unpickle_stream`: the stub unpickler (structure without execution), whose records
  (:class:`Stub`, :class:`Recorder`, :class:`TensorCall`, :class:`StorageRef`...) the
  ``structure`` stage interprets;
* sniffing and constant evaluation of small pickles (:func:`looks_like_pickle`,
  :func:`simple_values`), which ``container`` uses to find where streams start and end.

Imports only ``core`` (``core -> safety -> container -> structure``): reading an archive
embedded in a value is a callable the caller passes to :func:`scan_streams`.
"""

from __future__ import annotations

from .allowlist import ALLOWED, BENIGN_METADATA, GADGETS
from .code_judge import CodeVerdict, judge_code
from .opcodes import (
    GlobalConst,
    looks_like_nested,
    looks_like_pickle,
    simple_values,
)
from .policy import PolicyEntry
from .rules import Judgement, judge_global, normalize_global
from .static_scan import GlobalUse, StreamScan, scan_stream
from .stream_rules import RULES, evaluate_stream
from .streams import ReadArchive, SafetyScan, ScanBudget, scan_streams
from .unpickle import (
    GlobalName,
    MappingStub,
    PersistentRef,
    PickleTree,
    Recorder,
    StorageRef,
    Stub,
    StubUnpickler,
    TensorCall,
    buffered,
    find_pickle_values,
    unpickle_stream,
)

__all__ = [
    "ALLOWED",
    "BENIGN_METADATA",
    "GADGETS",
    "CodeVerdict",
    "RULES",
    "GlobalConst",
    "GlobalName",
    "GlobalUse",
    "Judgement",
    "MappingStub",
    "PersistentRef",
    "PickleTree",
    "PolicyEntry",
    "ReadArchive",
    "Recorder",
    "SafetyScan",
    "ScanBudget",
    "StorageRef",
    "StreamScan",
    "Stub",
    "StubUnpickler",
    "TensorCall",
    "buffered",
    "evaluate_stream",
    "find_pickle_values",
    "judge_code",
    "judge_global",
    "looks_like_nested",
    "looks_like_pickle",
    "normalize_global",
    "scan_stream",
    "scan_streams",
    "simple_values",
    "unpickle_stream",
]
