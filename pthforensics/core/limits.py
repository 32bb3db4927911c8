"""Resource caps applied to every file (one frozen record, checked on creation).

Hitting a cap raises :class:`~pthforensics.errors.LimitExceeded` (no verdict
possible) or, where a partial verdict is still meaningful, becomes a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "Limits"]

_MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on what one file may cost."""

    max_pickle_bytes: int = 512 * _MiB
    """Largest single pickle stream read into memory (``data.pkl`` is usually KBs)."""
    max_decompressed_bytes: int = 2048 * _MiB
    """Largest output of a gzip/bz2/xz wrapper, written to a temporary file."""
    max_pickle_ops: int = 20_000_000
    """Opcodes walked per pickle stream by the static scan."""
    max_depth: int = 200
    """Nesting depth of containers walked in an object tree, and of nested wrappers."""
    max_memo: int = 5_000_000
    """Entries in a pickle memo."""
    max_tensors: int = 500_000
    """Tensors per file (a checkpoint shard holds thousands; a header declaring more than
    this is refused before its entries are built)."""
    max_tensor_elements: int = 1 << 48
    """Elements one tensor may declare (larger shapes are a finding, not an allocation)."""
    max_members: int = 200_000
    """Entries in a zip or tar directory."""
    max_nested_pickles: int = 64
    """Pickles found inside values (bytes that are themselves pickles) scanned per file."""
    max_seconds: float = 120.0
    """Wall-clock seconds per file for the static stages."""

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"Limits.{field.name} must be a positive number, got {value!r}")


DEFAULT_LIMITS = Limits()
