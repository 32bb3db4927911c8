"""Misses of the differential oracle we accept, each with the reason in our code.

``tests/safety/test_oracle.py`` checks this list strictly both ways: a variant that misses
and is not listed fails the test, and so does a listed variant that no longer misses
(remove it when its fix lands).  A miss is what :func:`tests.safety.oracle.measure.misses`
reports: a payload a loader runs that is not ``malicious`` (single file or folder scan),
an attack that does not run and is not at least ``suspicious``, a benign look-alike
called ``malicious``, or a file whose single and folder verdicts differ.

Empty since issue 9 (the scanner models the loader: CPython's opcode semantics, miniz's
member lookup and directory choice, what CPython starts to unpickle, functions that call
their arguments, nested loaders, carried code).  Reasons name the file, function and rule
responsible (paths below ``pthforensics/``) when an entry is added.
"""

from __future__ import annotations

__all__ = ["KNOWN_MISSES", "REASONS"]

#: Every reason, by name (for reports).
REASONS: dict[str, str] = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}

#: Variant name -> reason.
KNOWN_MISSES: dict[str, str] = {}
