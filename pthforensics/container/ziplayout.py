"""How torch sees a zip: its root, the member it unpickles, whether it is TorchScript.

``torch.load`` on a file that starts with ``PK\\x03\\x04`` opens it with miniz
(:mod:`.miniz`): the root comes from the first central-directory name, ``data.pkl`` is
found case-insensitively (of duplicates, the one miniz's search meets), ``constants.pkl``
among the names (exactly) makes it TorchScript, and a name outside the root makes
``getAllRecords`` refuse the archive.  :func:`torch_layout` answers those questions and
turns every way the answer could differ between readers into a finding.

Sources: ``torch/serialization.py`` (``_is_zipfile``, ``_is_torchscript_zip``, ``_load``),
``caffe2/serialize/inline_container.cc``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pthforensics.core import Finding, Location, Severity

from .miniz import MinizIndex, archive_root
from .zipread import ZipEntry

__all__ = ["TorchLayout", "raw_name", "torch_layout"]

_OBJECT = b"data.pkl"
_CONSTANTS = b"constants.pkl"


@dataclass(frozen=True, slots=True)
class TorchLayout:
    """What torch's reader makes of an archive's names."""

    root: str
    """The archive root (``""`` when torch refuses: the first name has no ``/``)."""
    object_index: int | None
    """The entry ``getRecord("data.pkl")`` opens, when any."""
    constants_index: int | None
    """The entry of ``constants.pkl`` (TorchScript), when any."""
    is_script: bool
    loadable: bool
    """Whether torch's reader accepts the names (a root, every name inside it)."""
    findings: tuple[Finding, ...]


def raw_name(entry: ZipEntry) -> bytes:
    """The name's bytes as stored (UTF-8 with flag bit 11, else cp437)."""
    if entry.name.isascii():
        return entry.name.encode("ascii")
    if entry.flags & 0x800:
        return entry.name.encode("utf-8", "surrogateescape")
    try:
        return entry.name.encode("cp437")
    except UnicodeEncodeError:
        return entry.name.encode("utf-8", "surrogateescape")


def torch_layout(entries: list[ZipEntry], prefix: str) -> TorchLayout:
    """The layout torch's reader sees in ``entries`` (central-directory order, directory
    entries included); member names in findings are prefixed with ``prefix``."""
    findings: list[Finding] = []
    names = [raw_name(e) for e in entries]
    root_raw = archive_root(names[0]) if names else None
    if root_raw is None:
        return TorchLayout("", None, None, False, False, ())
    root = root_raw.decode("utf-8", "replace")
    index = MinizIndex(names)
    root_slash = root_raw + b"/"
    object_index = index.locate(root_slash + _OBJECT)
    outside = [entries[i].name for i, n in enumerate(names) if not n.startswith(root_slash)]
    if outside:
        findings.append(
            Finding(
                "zip-name-outside-root",
                Severity.SUSPICIOUS,
                Location(prefix + outside[0]),
                f"{len(outside)} member name(s) lie outside the archive root '{root}/' that "
                "torch takes from the first name: torch refuses the archive, other zip "
                "readers list every member",
            )
        )
    constants = [i for i, n in enumerate(names) if n == root_slash + _CONSTANTS]
    findings.extend(_case_duplicates(entries, names, object_index, prefix))
    return TorchLayout(
        root,
        object_index,
        constants[0] if constants else None,
        bool(constants),
        not outside,
        tuple(findings),
    )


def _case_duplicates(
    entries: list[ZipEntry], names: list[bytes], chosen: int | None, prefix: str
) -> list[Finding]:
    """Names equal but for ASCII case: miniz's case-insensitive lookup opens one of them
    (exact duplicates are reported by :mod:`.zipcheck`)."""
    lowered = [n.lower() for n in names]
    if len(set(lowered)) == len(set(names)):
        return []  # no two distinct names fold to the same one
    groups: dict[bytes, list[int]] = {}
    for i, name in enumerate(lowered):
        groups.setdefault(name, []).append(i)
    found: list[Finding] = []
    for members in groups.values():
        if len({names[i] for i in members}) < 2:
            continue
        opened = f" (it opens '{entries[chosen].name}')" if chosen in members else ""
        found.append(
            Finding(
                "zip-case-duplicate",
                Severity.SUSPICIOUS,
                Location(prefix + entries[members[0]].name),
                f"{len(members)} members share this name but for case: torch's reader looks "
                f"names up case-insensitively and opens one of them{opened}",
            )
        )
    return found
