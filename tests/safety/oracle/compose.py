"""Putting a payload stream into a file: raw pickle, torch zip, legacy stream, legacy tar,
or bytes nested for ``torch.storage._load_from_bytes``; one :class:`Variant` per call.

Every payload creates the canary *relative* to the loader's working folder, so a file's
bytes never depend on where it is written (one file serves every loader and every run).
"""

from __future__ import annotations

import hashlib
import re

from corpus._opcodes import Asm

from .archives import Member, deliver_bytes, legacy_parts, legacy_tar, torch_zip
from .harness import CANARY
from .pickles import Payload, compatible, payload_stream
from .variants import Variant

__all__ = ["LOADERS_OF", "compose", "nested_stream", "slug"]

#: Oracle loaders per container kind.  ``torch.load`` of a raw or legacy file *is*
#: ``pickle.load`` (its first call runs the first pickle), so ``pickle`` is added only where
#: torch reads the file another way (a ``.safetensors`` name, a tar).
LOADERS_OF = {
    "raw": ("torch",),
    "zip": ("torch", "members"),
    "legacy": ("torch",),
    "tar": ("torch", "members"),
    "nested": ("torch",),
}

#: What each legacy stream must unpickle to for ``torch.load`` to go on to the next one.
_LEGACY_RESULTS: tuple[object, ...] = (
    0x1950A86A20F9469CFC6C,
    1001,
    {"protocol_version": 1001, "little_endian": True},
    {},
    [],
)


def slug(text: str, ext: str = "") -> str:
    """A file name for ``text``: readable, unique (a short hash), at most ~120 characters."""
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:100].strip("._")
    return f"{clean}-{digest}{ext}"


def _kind(container: str) -> str:
    return container.split("-", 1)[0]


def compose(
    klass: str,
    payload: Payload,
    *,
    ref: str = "stack",
    caller: str = "reduce",
    trick: str = "none",
    container: str = "raw",
    ext: str = ".pkl",
    note: str = "",
    name: str | None = None,
) -> Variant | None:
    """One variant: ``payload`` called by ``caller`` in a stream with ``trick``, inside
    ``container`` (``raw``, ``zip``, ``legacy-K`` (payload in stream K of 5), ``tar-MEMBER``
    (``tar-storages``, ``tar-pickle``, ``tarv7-storages``...), ``nested-STYLE`` /
    ``nested-raw-STYLE`` (a zip / the bare stream, delivered to ``_load_from_bytes`` as
    :func:`~.archives.deliver_bytes` ``STYLE``)).  ``None`` when the parts do not fit."""
    if not compatible(payload.target, caller, ref, payload):
        return None
    label = f"{payload.module}:{payload.name}"
    name = name or f"{klass}/{label}/{ref}/{caller}/{trick}/{container}{ext}"
    kind = _kind(container)
    if kind == "legacy":
        k = int(container.split("-")[1])
        parts = legacy_parts()
        parts[k] = payload_stream(
            payload, CANARY, ref=ref, caller=caller, trick=trick, result=_LEGACY_RESULTS[k]
        )
        data = b"".join(parts)
    else:
        stream = payload_stream(payload, CANARY, ref=ref, caller=caller, trick=trick)
        if kind == "raw":
            data = stream
        elif kind == "zip":
            data = torch_zip(stream)
        elif kind in ("tar", "tarv7"):
            member = container.split("-", 1)[1]
            data = _tar_with(member, stream, ustar=kind == "tar")
            kind = "tar"
        elif kind == "nested":
            style = container.split("-")[-1]
            inner = stream if container.startswith("nested-raw-") else torch_zip(stream)
            data = nested_stream(inner, style)
        else:
            raise ValueError(f"unknown container {container!r}")
    loaders = LOADERS_OF[kind]
    if ext == ".safetensors":
        loaders = ("torch", "pickle")
    return Variant(
        name=name,
        klass=klass,
        filename=slug(name, ext),
        data=data,
        loaders=loaders,
        note=note,
        tags=(payload.target, label, ref, caller, trick, container),
    )


def _tar_with(member: str, stream: bytes, *, ustar: bool) -> bytes:
    """The legacy tar layout with ``stream`` as the first pickle of ``member``.

    ``legacy_load`` reads ``storages`` (a count, then the views), ``tensors`` (a count),
    then ``pickle``; it never unpickles ``sys_info``."""
    pickles: dict[str, list[bytes]] = {
        "sys_info": [Asm(2).value({"protocol_version": 1001}).stop().data],
        "storages": [Asm(2).value(0).stop().data, Asm(2).value([]).stop().data],
        "tensors": [Asm(2).value(0).stop().data],
        "pickle": [Asm(2).value({}).stop().data],
    }
    if member not in pickles:
        raise ValueError(f"no tar member {member!r}")
    pickles[member][0] = stream
    return legacy_tar([(name, b"".join(parts)) for name, parts in pickles.items()], ustar=ustar)


def nested_stream(inner: bytes, style: str, *, protocol: int = 4) -> bytes:
    """``torch.storage._load_from_bytes(<inner>)`` (how ``pickle.dump`` stores a storage:
    ``torch.load(io.BytesIO(b), weights_only=False)`` on embedded bytes)."""
    asm = Asm(protocol)
    asm.global_("torch.storage", "_load_from_bytes")
    deliver_bytes(asm, inner, style)
    asm.tuple1().reduce().pop().value({})
    return asm.stop().data


def members_zip(data_pkl: bytes, extra: list[Member]) -> bytes:
    """A torch zip with extra members after ``data.pkl``."""
    return torch_zip(data_pkl, extra=extra)
