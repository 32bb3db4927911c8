"""Malicious samples that hide a payload in the container rather than in the pickle:
torch zip members and headers, legacy stacked pickles, the tar layout, TorchScript,
wrappers and polyglots.  Benign parts come from ``torch.save`` of the tiny model; the
payload is the opcode-built ``os.system('echo pthforensics-corpus')``.
"""

from __future__ import annotations

import pickletools
import zlib

from _benign import legacy_tar, state_dict_zip, torchscript_zip
from _common import CMD, PY, Sample, legacy_save_bytes, malicious, tiny_model, torch_save_bytes
from _containers import ZipEntry, read_zip, seven_zip_stored, split_pickles, write_zip
from _malicious import PICKLESCAN_BLOCKLIST, PICKLESCAN_NESTED, os_system_pickle
from _opcodes import Asm, check

__all__ = ["container_samples"]

ZIP_FLAG_BITS = "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-w8jq-xcqf-f792"
ZIP_NAME_MISMATCH = (
    "https://github.com/mmaitre314/picklescan/security/advisories/GHSA-7q5r-7gvp-wc82"
)
ZIP_BAD_CRC = "https://nvd.nist.gov/vuln/detail/CVE-2025-10156"
ZIP_DUPLICATES = "https://github.com/google/saferpickle/pull/42"
HIDDEN_MEMBERS = "https://github.com/promptfoo/modelaudit/pull/1043"
SLEEPY_PICKLE = (
    "https://blog.trailofbits.com/2024/06/11/exploiting-ml-models-with-pickle-file-attacks-part-1/"
)
POLYGLOTS = "https://blog.trailofbits.com/2024/03/04/relishing-new-fickling-features-for-securing-ml-systems/"
FICKLING_POLYGLOT_SRC = "https://github.com/trailofbits/fickling/blob/master/fickling/polyglot.py"
LEGACY_FORMAT = "https://github.com/pytorch/pytorch/blob/v2.6.0/torch/serialization.py"
NESTED_ARCHIVES = "https://github.com/protectai/modelscan/issues/263"

# torch/serialization.py MAGIC_NUMBER: the first pickle of a legacy file.
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C


def _with_payload(tail: Asm) -> bytes:
    """A protocol-2 pickle that runs the payload, drops its result, then returns ``tail``'s
    value (``tail`` must not use the memo): what the loader expects still arrives."""
    return Asm(2).call("os", "system", CMD).pop().raw(tail.data[2:]).stop().data


def _sleepy(data_pkl: bytes) -> bytes:
    """Insert ``exec(PY)`` + POP right after PROTO 2 of a torch ``data.pkl``: the loader
    still returns the intact state_dict (Sleepy Pickle shape)."""
    assert data_pkl[:2] == b"\x80\x02"
    payload = Asm(None).global_("builtins", "exec").text(PY).tuple1().reduce().pop().data
    out = data_pkl[:2] + payload + data_pkl[2:]
    check(out)
    return out


def _replace(entries: list[tuple[str, bytes]], suffix: str, data: bytes) -> list[ZipEntry]:
    hits = [n for n, _ in entries if n.endswith(suffix)]
    assert len(hits) == 1, (suffix, hits)
    return [ZipEntry(n, data if n.endswith(suffix) else d) for n, d in entries]


def _strings(stream: bytes) -> list[str]:
    """String arguments of a pickle stream, read with ``pickletools.genops`` (no loading)."""
    return [
        arg
        for op, arg, _ in pickletools.genops(stream)
        if isinstance(arg, str) and op.name in ("BINUNICODE", "SHORT_BINUNICODE", "UNICODE")
    ]


def _zip_samples(inner: bytes) -> list[Sample]:
    base = read_zip(state_dict_zip())
    root = base[0][0].split("/", 1)[0]
    data_pkl = next(d for n, d in base if n.endswith("/data.pkl"))
    evil = _replace(base, "/data.pkl", inner)
    evil_zip = write_zip(evil)
    rest = [ZipEntry(n, d) for n, d in base if not n.endswith("/data.pkl")]
    out = [
        malicious(
            "zip_data_pkl.pt",
            evil_zip,
            fmt="torch-zip",
            technique="torch zip whose data.pkl is the payload",
            reference=PICKLESCAN_BLOCKLIST,
        ),
        malicious(
            "zip_sleepy.pt",
            write_zip(_replace(base, "/data.pkl", _sleepy(data_pkl))),
            fmt="torch-zip",
            reference=SLEEPY_PICKLE,
            technique="payload prepended inside a real data.pkl, the state_dict still "
            "loads (Sleepy Pickle)",
        ),
        malicious(
            "zip_data_pkl_trailing.pt",
            write_zip(_replace(base, "/data.pkl", data_pkl + inner)),
            fmt="torch-zip",
            reference=PICKLESCAN_BLOCKLIST,
            technique="benign data.pkl followed by a second (malicious) pickle after "
            "STOP in the same member",
        ),
        malicious(
            "zip_extra_member.pt",
            write_zip(
                [ZipEntry(n, d) for n, d in base[:1]]
                + [ZipEntry(f"{root}/extra/hooks.pkl", inner)]
                + [ZipEntry(n, d) for n, d in base[1:]]
            ),
            fmt="torch-zip",
            reference=HIDDEN_MEMBERS,
            technique="benign data.pkl, payload in a second member extra/hooks.pkl",
        ),
        malicious(
            "zip_extra_storage_member.pt",
            write_zip([ZipEntry(n, d) for n, d in base] + [ZipEntry(f"{root}/data/99", inner)]),
            fmt="torch-zip",
            reference=HIDDEN_MEMBERS,
            technique="payload in an unreferenced member named like a storage (data/99)",
        ),
        # torch's miniz looks names up by binary search over an unstably sorted index, so
        # which copy of a duplicated name it reads depends on the layout; zipfile reads the
        # last.  With this layout torch 2.13 reads the malicious first copy.
        malicious(
            "zip_duplicate_malicious_first.pt",
            write_zip(
                [
                    ZipEntry(f"{root}/data.pkl", inner),
                    *rest[:-1],
                    ZipEntry(f"{root}/data.pkl", data_pkl),
                    *rest[-1:],
                ]
            ),
            fmt="torch-zip",
            reference=ZIP_DUPLICATES,
            technique="two data.pkl entries, malicious first: torch 2.13 reads it, "
            "zipfile reads the benign last one",
        ),
        malicious(
            "zip_duplicate_malicious_second.pt",
            write_zip(
                [
                    ZipEntry(f"{root}/data.pkl", data_pkl),
                    *rest,
                    ZipEntry(f"{root}/data.pkl", inner),
                ]
            ),
            fmt="torch-zip",
            reference=ZIP_DUPLICATES,
            technique="two data.pkl entries, benign first, malicious last",
        ),
        malicious(
            "zip_local_name_mismatch.pt",
            write_zip(
                [
                    ZipEntry(e.name, e.data, local_name=f"{root}/data.pkx")
                    if e.name.endswith("/data.pkl")
                    else e
                    for e in evil
                ]
            ),
            fmt="torch-zip",
            reference=ZIP_NAME_MISMATCH,
            technique="data.pkl whose local header names data.pkx (zipfile raises "
            "BadZipFile, torch reads the central directory)",
        ),
        malicious(
            "zip_encrypted_flag.pt",
            write_zip(
                [
                    ZipEntry(e.name, e.data, flags=0x1) if e.name.endswith("/data.pkl") else e
                    for e in evil
                ]
            ),
            fmt="torch-zip",
            reference=ZIP_FLAG_BITS,
            technique="malicious data.pkl with the encrypted flag bit set (zipfile "
            "refuses; older torch read it, torch 2.13 refuses too)",
        ),
        malicious(
            "zip_bad_crc.pt",
            write_zip(
                [
                    ZipEntry(e.name, e.data, crc=zlib.crc32(e.data) ^ 0xFFFFFFFF)
                    if e.name.endswith("/data.pkl")
                    else e
                    for e in evil
                ]
            ),
            fmt="torch-zip",
            reference=ZIP_BAD_CRC,
            technique="malicious data.pkl with a wrong CRC-32 (zipfile raises, torch "
            "does not check CRCs)",
        ),
        malicious(
            "zip_deflated.pt",
            write_zip(evil, deflate=True),
            fmt="torch-zip",
            reference=PICKLESCAN_BLOCKLIST,
            technique="torch zip with deflate-compressed members (raw bytes show no opcodes)",
        ),
        malicious(
            "polyglot_pickle_zip.pt",
            inner + state_dict_zip(),
            fmt="pickle",
            format_in=["pickle", "torch-legacy"],
            reference=POLYGLOTS,
            technique="pickle at offset 0 followed by a valid torch zip: zipfile sees a "
            "zip, torch.load takes the legacy path and unpickles offset 0",
        ),
        malicious(
            "zip_in_zip.zip",
            write_zip([ZipEntry("model.pth", evil_zip)], deflate=True),
            fmt="torch-zip",
            wrappers=("zip",),
            reference=NESTED_ARCHIVES,
            technique="plain zip holding a malicious torch zip",
        ),
    ]
    model = tiny_model()
    for protocol, how in ((2, "_codecs.encode(latin1 text)"), (4, "BINBYTES")):
        ckpt = torch_save_bytes(
            {"state_dict": model.state_dict(), "extra_state": inner}, pickle_protocol=protocol
        )
        out.append(
            malicious(
                f"nested_pickle_value_proto{protocol}.pt",
                ckpt,
                fmt="torch-zip",
                reference=PICKLESCAN_NESTED,
                technique=f"malicious pickle stored as a bytes value ({how}) "
                "inside a benign checkpoint dict",
            )
        )
    return out


def _legacy_samples() -> list[Sample]:
    legacy = legacy_save_bytes(tiny_model().state_dict())
    (magic, proto, sys_info, obj, keys), storages = split_pickles(legacy, 5)
    sys_info_value = {
        "protocol_version": 1001,
        "little_endian": True,
        "type_sizes": {"short": 2, "int": 4, "long": 8},
    }
    streams = {
        "magic": _with_payload(Asm(2).integer(_MAGIC_NUMBER)),
        "sys_info": _with_payload(Asm(2).value(sys_info_value)),
        "storage_keys": _with_payload(Asm(2).value(_strings(keys))),
    }
    out = []
    for slot, stream in streams.items():
        check(stream)
        parts = {"magic": magic, "sys_info": sys_info, "storage_keys": keys}
        parts[slot] = stream
        data = parts["magic"] + proto + parts["sys_info"] + obj + parts["storage_keys"] + storages
        out.append(
            malicious(
                f"legacy_payload_in_{slot}.pt",
                data,
                fmt="torch-legacy",
                reference=LEGACY_FORMAT,
                technique=f"legacy stacked pickles, payload in the {slot} pickle "
                "(read by torch before/after the object pickle)",
            )
        )
    count = _with_payload(Asm(2).integer(2))
    out.append(
        malicious(
            "tar_payload_in_storages.tar",
            legacy_tar(storage_count=count),
            fmt="torch-tar",
            reference=LEGACY_FORMAT,
            technique="old torch tar layout, payload in the 'storages' member "
            "(read with plain pickle.load)",
        )
    )
    return out


def container_samples() -> list[Sample]:
    inner = os_system_pickle()
    out = _zip_samples(inner) + _legacy_samples()
    script = read_zip(torchscript_zip())
    out.append(
        malicious(
            "torchscript_constants_pkl.pt",
            write_zip(_replace(script, "/constants.pkl", inner)),
            fmt="torchscript",
            reference=FICKLING_POLYGLOT_SRC,
            technique="TorchScript archive whose constants.pkl is the payload",
        )
    )
    out.append(
        malicious(
            "payload.7z",
            seven_zip_stored("model.pkl", inner),
            fmt="pickle",
            wrappers=("7z",),
            reference=PICKLESCAN_BLOCKLIST,
            technique="7z archive (Copy coder) holding a malicious pickle",
        )
    )
    return out
