"""Exceptions raised by pthforensics.

Only conditions that leave *no verdict possible* raise; anything suspicious about
a file is a :class:`~pthforensics.records.Finding`, not an exception.

::

    PthForensicsError
      ContainerError(ValueError)   not a checkpoint, truncated, bad member
        PickleDecodeError          opcode stream cannot be decoded at all
      LimitExceeded                a resource cap of Limits was hit
      InferenceError               layer / input inference failed
      RebuildError                 the guessed model could not be built or loaded
      TraceError                   the forward pass could not run

Every exception carries the path (and member/offset where known) and renders a
one-line message that says what failed, where, and what to try next.
"""

from __future__ import annotations

__all__ = [
    "ContainerError",
    "InferenceError",
    "LimitExceeded",
    "PickleDecodeError",
    "PthForensicsError",
    "RebuildError",
    "TraceError",
]


class PthForensicsError(Exception):
    """Base class of every error pthforensics raises on purpose."""

    #: the pipeline stage that raised (``container``, ``unpickle``, ...)
    stage = "pipeline"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        member: str | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.member = member
        self.offset = offset

    def where(self) -> str:
        """``path[:member][@offset]``, or an empty string when nothing is known."""
        parts = self.path or ""
        if self.member:
            parts += f":{self.member}" if parts else self.member
        if self.offset is not None:
            parts += f"@{self.offset}"
        return parts

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class ContainerError(PthForensicsError, ValueError):
    """The file is not a checkpoint we can read, or it is truncated or corrupt."""

    stage = "container"


class PickleDecodeError(ContainerError):
    """A pickle stream cannot be decoded at all (not even a prefix)."""

    stage = "unpickle"


class LimitExceeded(PthForensicsError):
    """A resource cap was hit; the file is refused rather than read further."""

    stage = "limits"

    def __init__(
        self,
        resource: str,
        limit: int | float,
        actual: int | float | str,
        *,
        path: str | None = None,
        member: str | None = None,
    ) -> None:
        super().__init__(
            f"{resource} limit exceeded ({actual} > {limit}); raise it with the matching "
            f"--max-* option if the file is trusted",
            path=path,
            member=member,
        )
        self.resource = resource
        self.limit = limit
        self.actual = actual


class InferenceError(PthForensicsError):
    """Layer or input inference could not proceed."""

    stage = "infer"


class RebuildError(PthForensicsError):
    """The guessed model could not be built or the tensors did not load into it."""

    stage = "rebuild"


class TraceError(PthForensicsError):
    """The forward pass of the rebuilt model could not be run."""

    stage = "trace"
