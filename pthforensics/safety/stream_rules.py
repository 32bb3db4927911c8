"""Stream-level rules: one stream's opcode pass (:class:`~.static_scan.StreamScan`) ->
findings, in the order of :data:`RULES`.

Each rule is a small function yielding :class:`~pthforensics.core.Finding`s, listed in one
explicit ordered tuple (fickling's one-class-per-rule ``Analysis``, without its
import-side-effect registration).  Globals are graded by :func:`.rules.judge_global`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pthforensics.core import Finding, Location, PickleStream, Severity, StreamRole

from .denynames import LOWERCASE_CLASSES
from .rules import Judgement, judge_global
from .static_scan import StreamScan
from .symbolic import GlobalUse

__all__ = [
    "RULES",
    "evaluate_stream",
    "rule_build_on_global",
    "rule_computed_calls",
    "rule_globals",
    "rule_malformed",
    "rule_no_persistent_ids",
]

logger = logging.getLogger(__name__)

#: Judgements of globals outside every list, which a call of a function makes malicious.
_UNKNOWN_RULES = frozenset({"unknown-global", "unknown-torch-global"})
#: Opcodes that call the global they name themselves.
_SELF_CALLING_OPCODES = ("INST", "OBJ")


def _loc(stream: PickleStream, offset: int | None, global_name: str | None = None) -> Location:
    return Location(member=stream.name, offset=offset, global_name=global_name)


def rule_globals(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Grade every global the stream names (each distinct global once per stream)."""
    seen: set[tuple[str | None, str | None, bool]] = set()
    for use in scan.globals:
        if use.opcode.startswith("EXT"):
            yield _extension_global(stream, use)
            continue
        key = (use.module, use.name, use.called)
        if key in seen:
            continue
        seen.add(key)
        judgement = judge_global(use.module, use.name)
        if judgement is None:
            continue
        if use.called and judgement.rule_id in _UNKNOWN_RULES and _is_function_name(use.name):
            judgement = Judgement(
                Severity.MALICIOUS,
                "unknown-function-call",
                f"the stream calls '{use.qualname}', a function outside the "
                "allow-list (not a class): checkpoint writers only call "
                "class constructors and torch's rebuild helpers",
            )
        how = f"called by {_call_opcode(use)}" if use.called else f"named by {use.opcode}"
        yield Finding(
            judgement.rule_id,
            judgement.severity,
            _loc(stream, use.offset, use.qualname),
            f"{judgement.reason} ({how})",
        )


def _extension_global(stream: PickleStream, use: GlobalUse) -> Finding:
    return Finding(
        "extension-global",
        Severity.MALICIOUS,
        _loc(stream, use.offset),
        f"{use.opcode} {use.ext_code} names a global through copyreg's "
        "extension registry, which the loading process controls and a "
        "scanner cannot see; checkpoint writers never emit it",
    )


def _is_function_name(name: str | None) -> bool:
    """Whether a global's last name component reads as a function rather than a class."""
    leaf = (name or "").rsplit(".", 1)[-1]
    core = leaf.lstrip("_")
    return bool(core) and core[:1].islower() and leaf not in LOWERCASE_CLASSES


def _call_opcode(use: GlobalUse) -> str:
    if use.opcode in _SELF_CALLING_OPCODES:
        return use.opcode
    return f"the call at offset {use.call_offset}"


def rule_computed_calls(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A call whose callable is not a global: the result of an earlier call is called."""
    for offset in scan.calls_non_global[:1]:
        yield Finding(
            "computed-callable",
            Severity.MALICIOUS,
            _loc(stream, offset),
            f"{len(scan.calls_non_global)} call(s) apply a callable that an earlier "
            "call returned (a gadget chain); checkpoint writers never emit this",
        )


def rule_build_on_global(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """BUILD applied to a module or class itself rewrites its attributes."""
    for offset, qualname in scan.builds_on_globals[:1]:
        yield Finding(
            "build-on-global",
            Severity.MALICIOUS,
            _loc(stream, offset, qualname),
            "BUILD sets attributes on a global module/class itself (monkey-patching "
            "what later opcodes call)",
        )


def rule_malformed(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A stream that breaks: the loader runs everything before the break."""
    if scan.error is not None:
        yield Finding(
            "malformed-pickle",
            Severity.SUSPICIOUS,
            _loc(stream, scan.error_offset),
            f"the pickle breaks ({scan.error}); a loader executes every opcode "
            "before the break, so it is judged on that prefix",
        )


def rule_no_persistent_ids(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Persistent ids in a stream a loader reads without persistent_load are harmless; note
    streams that hold opcodes after STOP in the same bytes (a second pickle)."""
    if scan.end is not None and stream.role is StreamRole.OBJECT and scan.end < len(stream.data):
        yield Finding(
            "trailing-bytes",
            Severity.SUSPICIOUS,
            _loc(stream, scan.end),
            f"{len(stream.data) - scan.end} byte(s) follow STOP; pickle.load stops "
            "there, but a loader that reads again would run them",
        )


#: Stream-level rules, in the order their findings are reported.
RULES = (
    rule_globals,
    rule_computed_calls,
    rule_build_on_global,
    rule_malformed,
    rule_no_persistent_ids,
)


def evaluate_stream(stream: PickleStream, scan: StreamScan) -> tuple[Finding, ...]:
    """Run every rule of :data:`RULES` on one scanned stream."""
    return tuple(finding for rule in RULES for finding in rule(stream, scan))
