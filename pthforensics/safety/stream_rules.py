"""Stream-level rules: one stream's opcode pass (:class:`~.static_scan.StreamScan`) ->
findings, in the order of :data:`RULES`.

Each rule is a small function yielding :class:`~pthforensics.core.Finding`s, listed in one
explicit ordered tuple (fickling's one-class-per-rule ``Analysis``, without its
import-side-effect registration).  Globals are graded by :func:`.rules.judge_global` with
the protocol in effect and whether the loader calls them (by an opcode, or inside a
function that calls its arguments); nested loads and carried code are judged here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pthforensics.core import Finding, Location, PickleStream, Severity, StreamRole

from .code_judge import judge_code
from .rules import KNOWN_GOOD, judge_global
from .static_scan import GlobalUse, StreamScan

__all__ = [
    "RULES",
    "evaluate_stream",
    "rule_build_on_global",
    "rule_carried_code",
    "rule_computed_calls",
    "rule_globals",
    "rule_malformed",
    "rule_mutations",
    "rule_nested_loads",
    "rule_trailing_bytes",
]

logger = logging.getLogger(__name__)

#: Opcodes that call the global they name themselves.
_SELF_CALLING_OPCODES = ("INST", "OBJ")


def _loc(stream: PickleStream, offset: int | None, global_name: str | None = None) -> Location:
    return Location(member=stream.name, offset=offset, global_name=global_name)


def rule_globals(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Grade every global the stream names (each distinct global once per stream)."""
    seen: set[tuple[str | None, str | None, bool, bool]] = set()
    for use in scan.globals:
        if use.opcode.startswith("EXT"):
            yield _extension_global(stream, use)
            continue
        if use.walks and not use.called:
            continue  # getattr(global, "name") only: judged as the walks it makes
        key = (use.module, use.name, use.called, use.proto >= 4)
        if key in seen:
            continue
        seen.add(key)
        judgement = judge_global(use.module, use.name, proto=use.proto, called=use.called)
        if judgement is None:
            continue
        how = _how_called(use) if use.called else f"named by {use.opcode}"
        yield Finding(
            judgement.rule_id,
            judgement.severity,
            _loc(stream, use.offset, use.qualname),
            f"{judgement.reason} ({how})",
        )


def _extension_global(stream: PickleStream, use: GlobalUse) -> Finding:
    """An ``EXT`` code: the registry is empty in a fresh interpreter (torch.load's), so the
    lookup fails there and nothing it names runs; another program might have filled it."""
    return Finding(
        "extension-global",
        Severity.SUSPICIOUS,
        _loc(stream, use.offset),
        f"{use.opcode} {use.ext_code} names a global through copyreg's extension registry, "
        "which is empty in a fresh interpreter (loading fails there) and which a program "
        "that registered codes fills with what a scanner cannot see; checkpoint writers "
        "never emit it" + (f"; the stream calls it ({use.how})" if use.called else ""),
    )


def _how_called(use: GlobalUse) -> str:
    """``called by REDUCE at offset 43``, ``called via <function> at offset 1266``..."""
    if use.opcode in _SELF_CALLING_OPCODES:
        return f"called by {use.opcode}"
    if use.how.startswith("via"):
        return f"called {use.how} at offset {use.call_offset}"
    return f"called by {use.how or 'the call'} at offset {use.call_offset}"


def rule_computed_calls(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A call of what an earlier call returned: judged by what returned it."""
    worst: tuple[Severity, int, str] | None = None
    for offset, origin in scan.calls_non_global:
        known = origin in KNOWN_GOOD
        severity = Severity.SUSPICIOUS if known else Severity.MALICIOUS
        if origin not in ("a computed value",) and not known:
            module, _, name = origin.rpartition(".")
            judgement = judge_global(module, name, called=True)
            if judgement is not None and judgement.severity < Severity.MALICIOUS:
                severity = Severity.SUSPICIOUS
        if worst is None or severity > worst[0]:
            worst = (severity, offset, origin)
    if worst is not None:
        severity, offset, origin = worst
        yield Finding(
            "computed-callable",
            severity,
            _loc(stream, offset),
            f"{len(scan.calls_non_global)} call(s) apply a callable that an earlier call "
            f"returned ({origin}): a gadget chain, or the class's own __call__; checkpoint "
            "writers never emit this",
        )


def rule_build_on_global(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """BUILD applied to a module, class or function itself rewrites its attributes.

    What it sets is judged as called (a method set there runs when later opcodes or the
    program use the class: ``cls.__setstate__ = os.system``).  On an allow-listed class or
    function the setting is then suspicious (tampering, or a damaged stream: a class with
    its own ``__setstate__`` even refuses it); on anything else (a module: ``os.__dict__``),
    malicious."""
    for offset, qualname, sets in scan.builds_on_globals:
        if sets == "nothing" or (sets == "dict" and qualname in KNOWN_GOOD):
            continue  # no state, or a dict update a class refuses and a function ignores
        if qualname in KNOWN_GOOD:
            what = "objects (judged as called)" if sets == "objects" else "constants"
            yield Finding(
                "build-on-global",
                Severity.SUSPICIOUS,
                _loc(stream, offset, qualname),
                f"BUILD sets {what} as attributes of an allow-listed class or function "
                "itself: tampering with it, or a damaged stream",
            )
            continue
        yield Finding(
            "build-on-global",
            Severity.MALICIOUS,
            _loc(stream, offset, qualname),
            "BUILD sets attributes on a global module/class itself (monkey-patching what "
            "later opcodes call)",
        )
        return


def rule_mutations(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """APPEND/SETITEM/ADDITEMS on a global calls that object's methods."""
    for offset, qualname, operation in scan.mutations:
        if qualname in KNOWN_GOOD:
            continue  # a class or function refuses it: loading fails, nothing runs
        yield Finding(
            "global-mutated",
            Severity.SUSPICIOUS,
            _loc(stream, offset, qualname),
            f"{operation} applied to the global itself: the loader calls its methods",
        )
        return


def rule_nested_loads(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A function that unpickles bytes: known bytes are scanned as a file (by the stream
    scan); bytes computed at load time cannot be judged."""
    for offset, loader, _kind, data in scan.loads:
        if data is None:
            yield Finding(
                "nested-load-unknown",
                Severity.MALICIOUS,
                _loc(stream, offset, loader),
                f"{loader} unpickles bytes computed at load time (a call this scanner cannot "
                "evaluate): whatever they hold runs",
            )
        else:
            yield Finding(
                "nested-load",
                Severity.INFO,
                _loc(stream, offset, loader),
                f"{loader} unpickles {len(data)} byte(s) carried in the stream; they were "
                "scanned as a file of their own",
            )


def rule_carried_code(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Source code the loader executes (a pickled torch.fx.GraphModule): judged with ast."""
    for offset, carrier, source in scan.code:
        if source is None:
            yield Finding(
                "carried-code-unknown",
                Severity.MALICIOUS,
                _loc(stream, offset, carrier),
                f"{carrier} executes source text computed at load time",
            )
            continue
        verdict = judge_code(source)
        if verdict.severity is Severity.MALICIOUS:
            detail = "carries code that does more than call its submodules and torch operators: "
            detail += "; ".join(verdict.problems[:5])
            rule = "carried-code-dangerous"
        else:
            detail = "carries code (a torch.fx GraphModule, exec'd on load) that only calls "
            detail += "its submodules, torch operators and builtins"
            if verdict.failures:
                detail += " (and fails: " + "; ".join(verdict.failures[:3]) + ")"
            rule = "carries-code"
        yield Finding(
            rule, verdict.severity, _loc(stream, offset, carrier), f"{detail}\n{verdict.shown}"
        )


def rule_malformed(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """A stream CPython's unpickler stops in: everything before the stop runs."""
    if scan.error is not None:
        yield Finding(
            "malformed-pickle",
            Severity.SUSPICIOUS,
            _loc(stream, scan.error_offset),
            f"the pickle breaks ({scan.error}); a loader executes every opcode before the "
            "break, so it is judged on that prefix",
        )


def rule_trailing_bytes(stream: PickleStream, scan: StreamScan) -> Iterator[Finding]:
    """Opcodes after STOP in the object stream (a second pickle)."""
    if scan.end is not None and stream.role is StreamRole.OBJECT and scan.end < len(stream.data):
        yield Finding(
            "trailing-bytes",
            Severity.SUSPICIOUS,
            _loc(stream, scan.end),
            f"{len(stream.data) - scan.end} byte(s) follow STOP; pickle.load stops there, "
            "but a loader that reads again would run them",
        )


#: Stream-level rules, in the order their findings are reported.
RULES = (
    rule_globals,
    rule_computed_calls,
    rule_build_on_global,
    rule_mutations,
    rule_nested_loads,
    rule_carried_code,
    rule_malformed,
    rule_trailing_bytes,
)


def evaluate_stream(stream: PickleStream, scan: StreamScan) -> tuple[Finding, ...]:
    """Run every rule of :data:`RULES` on one scanned stream."""
    return tuple(finding for rule in RULES for finding in rule(stream, scan))
