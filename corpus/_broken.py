"""Broken samples: unreadable or damaged files (no verdict, exit 2), plus damaged torch
zips whose damage is itself the finding (missing/short storage, impossible shape) and a
benign pickle nested deeper than any sane cap."""

from __future__ import annotations

import random

from _benign import state_dict_zip
from _common import TENSORS, Sample, broken
from _containers import ZipEntry, read_zip, safetensors_bytes, write_zip
from _opcodes import Asm, check

__all__ = ["samples"]

_ST = "https://github.com/huggingface/safetensors#format"


def _huge_shape_zip(base: list[tuple[str, bytes]]) -> bytes:
    """A torch zip whose data.pkl declares fc.weight of 10**15 float32 elements over a
    4-element storage (written like torch's own data.pkl, from opcodes)."""
    root = base[0][0].split("/", 1)[0]

    def tensor(a: Asm, key: str, storage: str, size: int) -> None:
        a.text(key).global_("torch._utils", "_rebuild_tensor_v2").mark()
        a.mark().text("storage").global_("torch", "FloatStorage").text(storage).text("cpu").integer(
            4
        )
        a.tuple().binpersid()
        a.integer(0).tuple_of(size).tuple_of(1).boolean(False)
        a.global_("collections", "OrderedDict").empty_tuple().reduce()
        a.tuple().reduce()

    a = Asm(2).global_("collections", "OrderedDict").empty_tuple().reduce().mark()
    tensor(a, "fc.weight", "0", 10**15)
    tensor(a, "fc.bias", "1", 4)
    data_pkl = a.setitems().stop().data
    check(data_pkl)
    meta = {n.split("/", 1)[1]: d for n, d in base}
    return write_zip([
        (f"{root}/data.pkl", data_pkl),
        (f"{root}/.format_version", meta[".format_version"]),
        (f"{root}/.storage_alignment", meta[".storage_alignment"]),
        (f"{root}/byteorder", b"little"),
        (f"{root}/data/0", bytes(16)),
        (f"{root}/data/1", bytes(16)),
        (f"{root}/version", b"3\n"),
    ])  # fmt: skip


def samples() -> list[Sample]:
    zip_sd = state_dict_zip()
    base = read_zip(zip_sd)
    rng = random.Random(0)
    f32 = {"dtype": "F32", "shape": [4]}
    return [
        broken("empty.pt", b"", technique="empty file"),
        broken(
            "random.bin",
            b"\x00" + rng.randbytes(4095),
            technique="random bytes (first byte 0x00 is no pickle opcode)",
        ),
        broken(
            "not_a_checkpoint.txt",
            b"# not a checkpoint\nThese are release notes, not weights.\n" * 4,
            technique="a text file",
        ),
        broken(
            "truncated_zip.pt",
            zip_sd[: len(zip_sd) // 2],
            fmt="torch-zip",
            technique="torch zip cut in half (no central directory)",
        ),
        broken(
            "zip_without_data_pkl.pt",
            write_zip([(n, d) for n, d in base if not n.endswith("/data.pkl")]),
            fmt="torch-zip",
            technique="torch zip layout without data.pkl",
        ),
        broken(
            "safetensors_header_too_large.safetensors",
            safetensors_bytes({"w": {**f32, "data_offsets": [0, 16]}}, bytes(16), declared=1 << 20),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors header length larger than the file",
        ),
        broken(
            "safetensors_invalid_json.safetensors",
            safetensors_bytes(
                b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]', bytes(16)
            ),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors header is not JSON",
        ),
        broken(
            "safetensors_overlap.safetensors",
            safetensors_bytes(
                {"a": {**f32, "data_offsets": [0, 16]}, "b": {**f32, "data_offsets": [8, 24]}},
                bytes(24),
            ),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors tensors with overlapping data_offsets",
        ),
        broken(
            "safetensors_out_of_bounds.safetensors",
            safetensors_bytes({"a": {**f32, "data_offsets": [0, 16]}}, bytes(8)),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors data_offsets past the end of the file",
        ),
        broken(
            "storage_missing.pt",
            write_zip([(n, d) for n, d in base if not n.endswith("/data/3")]),
            fmt="torch-zip",
            status="ok",
            verdict="suspicious",
            tensor_count=TENSORS,
            technique="missing storage (data/3 absent: truncated download or tampering)",
        ),
        broken(
            "storage_truncated.pt",
            write_zip(
                [ZipEntry(n, d[: len(d) // 2] if n.endswith("/data/0") else d) for n, d in base]
            ),
            fmt="torch-zip",
            status="ok",
            verdict="suspicious",
            tensor_count=TENSORS,
            technique="missing storage bytes (data/0 holds half of what the tensor declares)",
        ),
        broken(
            "huge_shape.pt",
            _huge_shape_zip(base),
            fmt="torch-zip",
            status="ok",
            verdict="suspicious",
            tensor_count=2,
            technique="declared size exceeds storage (shape (10**15,) over 16 bytes)",
        ),
        broken(
            "deep_nesting.pkl",
            Asm(2).raw(b"]" * 100_000 + b"a" * 99_999).stop().data,
            fmt="pickle",
            status="ok",
            verdict="clean",
            exit_code_in=[0, 2],
            status_in=["ok", "error"],
            technique="benign pickle of 100000 nested lists (depth cap: clean or error)",
        ),
    ]
