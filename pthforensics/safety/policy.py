"""The shape of the safety policy's data: every listed global, module or name has a reason.

The allow-list (:mod:`.allowlist`) and the deny-lists (:mod:`.denylist`, :mod:`.denynames`)
are tables of :class:`PolicyEntry`: what an entry is for and where that knowledge comes
from, as picklescan's ``_unsafe_globals`` comments its entries and fickling's
``ML_ALLOWLIST`` gives each allowed import a reason.  ``rules.py`` holds the logic that
reads them; nothing here decides a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

__all__ = ["PolicyEntry", "Table", "entries"]


class PolicyEntry(NamedTuple):
    """Why one global, module or name is on a list."""

    reason: str
    """What it is or does, in one phrase (shown in findings for the info/gadget lists)."""
    source: str
    """Where the fact comes from: a torch/CPython/library source file or a scanner's table."""


#: A policy table: ``module.name``, module or name -> its entry.
Table = Mapping[str, PolicyEntry]


def entries(
    reason: str, source: str, names: str | Iterable[str], *, prefix: str = "", suffix: str = ""
) -> dict[str, PolicyEntry]:
    """One entry per name, all with the same reason and source; ``names`` is an iterable
    or one whitespace-separated string (``"os posix nt"``)."""
    entry = PolicyEntry(reason, source)
    items = names.split() if isinstance(names, str) else names
    return {f"{prefix}{name}{suffix}": entry for name in items}
