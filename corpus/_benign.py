"""Benign samples: made by torch / safetensors / pickle from trusted in-memory data.

Their verdict is ``clean`` except the TorchScript archive (it carries code) and the
full-model pickle naming ``__main__.Net`` (debatable: a loader would import it).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import pickle
import struct
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from _common import TENSORS, Sample, benign, legacy_save_bytes, tiny_model, torch_save_bytes
from _containers import read_zip, tar_bytes, write_zip
from _opcodes import Asm
from safetensors.torch import save as safetensors_save
from torch import nn

__all__ = ["legacy_tar", "samples", "state_dict_zip", "torchscript_zip"]

_PT = "https://pytorch.org/docs/stable/notes/serialization.html"
_ST = "https://github.com/huggingface/safetensors#format"


def state_dict_zip() -> bytes:
    """``torch.save(tiny_model().state_dict())``: the base of many other samples."""
    return torch_save_bytes(tiny_model().state_dict())


def _numpy_metadata_dict() -> dict[str, object]:
    rng = np.random.default_rng(0)
    return {
        "conv.weight": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "conv.bias": np.zeros(8, dtype=np.float32),
        "fc.weight": rng.standard_normal((10, 8)).astype(np.float16),
        "step": 1200,
        "lr": 0.001,
        "classes": ["cat", "dog"],
        "note": "pthforensics-corpus numpy checkpoint",
        "best": np.float64(0.875),
    }


def _rename_numpy_globals(zip_bytes: bytes) -> bytes:
    """Rewrite ``numpy._core`` (numpy 2) to ``numpy.core`` (numpy 1) in data.pkl's GLOBALs.

    Protocol-2 GLOBAL arguments are newline-terminated text, so the edit keeps the
    stream valid; checkpoints written under numpy 1.x look exactly like this.
    """
    entries = []
    for name, data in read_zip(zip_bytes):
        if name.endswith("/data.pkl"):
            assert b"cnumpy._core.multiarray\n" in data
            data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
        entries.append((name, data))
    return write_zip(entries)


def _lightning(model: nn.Module) -> dict[str, object]:
    sd = OrderedDict((f"model.{k}", v) for k, v in model.state_dict().items())
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    model(torch.ones(2, 3, 8, 8)).sum().backward()
    optim.step()
    model.eval()
    return {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"current": {"completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": None}},
        "optimizer_states": [optim.state_dict()],
        "lr_schedulers": [{"step_size": 10, "gamma": 0.1, "last_epoch": 3, "_step_count": 4}],
        "hparams_name": "kwargs",
        "hyper_parameters": {"lr": 1e-3, "num_classes": 10, "backbone": "tiny"},
    }


def torchscript_zip() -> bytes:
    """A scripted tiny model, without the ``*.debug_pkl`` members (they hold absolute
    source paths of this machine and would make the output non-deterministic)."""
    model = tiny_model()
    scripted = torch.jit.script(model)
    path = Path(tempfile.mkdtemp()) / "archive.pt"
    torch.jit.save(scripted, str(path))
    entries = [(n, d) for n, d in read_zip(path.read_bytes()) if not n.endswith(".debug_pkl")]
    path.unlink()
    path.parent.rmdir()
    return write_zip([(n, d) for n, d in entries if not n.endswith("serialization_id")])


def legacy_tar(storage_count: bytes | None = None) -> bytes:
    """The pre-0.4 tar layout read by ``torch.serialization._legacy_load.legacy_load``:
    members ``sys_info``, ``storages``, ``tensors``, ``pickle``.

    storages: pickle(count), then per storage pickle((key, location, storage_type)),
    int64 element count, raw bytes; then pickle(storage views).
    tensors: pickle(count), then per tensor pickle((key, storage_key, tensor_type)),
    int32 ndim, 4 pad bytes, int64 sizes, int64 strides, int64 storage offset.
    pickle: the object; tensors are persistent ids resolved by ``int(saved_id)``.
    ``storage_count`` replaces the first pickle of ``storages`` (malicious variant).
    """
    weight = struct.pack("<12f", *[0.5 * i - 3 for i in range(12)])
    bias = struct.pack("<4f", 0.1, 0.2, 0.3, 0.4)
    sys_info = (
        Asm(2)
        .value({"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 8}})
        .stop().data
    )  # fmt: skip

    def storage_record(key: int) -> bytes:
        return Asm(2).integer(key).text("cpu").global_("torch", "FloatStorage").tuple3().stop().data

    storages = (
        (storage_count or Asm(2).integer(2).stop().data)
        + storage_record(1) + struct.pack("<q", 12) + weight
        + storage_record(2) + struct.pack("<q", 4) + bias
        + Asm(2).empty_list().stop().data
    )  # fmt: skip

    def tensor_record(key: int, storage: int, shape: tuple[int, ...]) -> bytes:
        record = (
            Asm(2)
            .integer(key)
            .integer(storage)
            .global_("torch", "FloatTensor")
            .tuple3()
            .stop()
            .data
        )
        strides = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
        return (
            record + struct.pack("<ii", len(shape), 0)
            + struct.pack(f"<{len(shape)}q", *shape) + struct.pack(f"<{len(shape)}q", *strides)
            + struct.pack("<q", 0)
        )  # fmt: skip

    tensors = (
        Asm(2).integer(2).stop().data + tensor_record(3, 1, (4, 3)) + tensor_record(4, 2, (4,))
    )
    obj = (
        Asm(2).global_("collections", "OrderedDict").empty_tuple().reduce()
        .mark()
        .text("fc.weight").text("3").binpersid()
        .text("fc.bias").text("4").binpersid()
        .setitems().stop().data
    )  # fmt: skip
    return tar_bytes(
        [("sys_info", sys_info), ("pickle", obj), ("storages", storages), ("tensors", tensors)]
    )


class Net(nn.Module):
    """A user model class; pickled as ``__main__.Net`` by ``torch.save(model)``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = tiny_model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


def _main_net_pickle() -> bytes:
    main = sys.modules["__main__"]
    original = Net.__module__, Net.__qualname__
    Net.__module__, Net.__qualname__ = "__main__", "Net"
    main.Net = Net  # type: ignore[attr-defined]  # pickle checks the name resolves
    try:
        return torch_save_bytes(Net())
    finally:
        del main.Net
        Net.__module__, Net.__qualname__ = original


def samples() -> list[Sample]:
    out: list[Sample] = []
    model = tiny_model()
    sd = model.state_dict()
    zip_sd = state_dict_zip()

    out.append(
        benign(
            "state_dict.pt",
            zip_sd,
            fmt="torch-zip",
            reference=_PT,
            technique="torch.save(state_dict), zip format, root folder 'archive'",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "epoch_012.pth"
        torch.save(sd, path)
        out.append(
            benign(
                "renamed_root.pth",
                path.read_bytes(),
                fmt="torch-zip",
                reference=_PT,
                technique="zip root folder 'epoch_012' (torch uses the file stem), "
                "file renamed since",
            )
        )
    out.append(
        benign(
            "state_dict_proto4.pt",
            torch_save_bytes(sd, pickle_protocol=4),
            fmt="torch-zip",
            technique="zip format, data.pkl with pickle protocol 4 "
            "(FRAME, SHORT_BINUNICODE, MEMOIZE)",
        )
    )
    out.append(
        benign(
            "state_dict_proto5.pt",
            torch_save_bytes(sd, pickle_protocol=5),
            fmt="torch-zip",
            technique="zip format, data.pkl with pickle protocol 5",
        )
    )
    out.append(
        benign(
            "legacy.pt",
            legacy_save_bytes(sd),
            fmt="torch-legacy",
            reference=_PT,
            technique="legacy stacked pickles (_use_new_zipfile_serialization=False)",
        )
    )
    out.append(
        benign(
            "legacy_proto4.pt",
            legacy_save_bytes(sd, pickle_protocol=4),
            fmt="torch-legacy",
            technique="legacy stacked pickles, pickle protocol 4",
        )
    )
    out.append(
        benign(
            "legacy_tar.tar",
            legacy_tar(),
            fmt="torch-tar",
            tensor_count=2,
            technique="pre-0.4 torch tar layout: sys_info, storages, tensors, pickle",
            reference="https://github.com/pytorch/pytorch/blob/v2.6.0/torch/serialization.py",
        )
    )

    out.extend(
        benign(
            f"numpy_dict_proto{protocol}.pkl",
            pickle.dumps(_numpy_metadata_dict(), protocol=protocol),
            fmt="pickle",
            tensor_count=None,
            technique=f"plain pickle protocol {protocol}: dict of numpy arrays and python metadata",
        )
        for protocol in range(6)
    )

    named = {k: v.contiguous() for k, v in sd.items()}
    floats = {k: v for k, v in named.items() if v.is_floating_point()}
    ints = {k: v for k, v in named.items() if not v.is_floating_point()}
    out.append(
        benign(
            "model_fp32.safetensors",
            safetensors_save(named, metadata={"format": "pt"}),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors fp32 with __metadata__",
        )
    )
    out.append(
        benign(
            "model_fp16.safetensors",
            safetensors_save({**{k: v.half() for k, v in floats.items()}, **ints}),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors fp16",
        )
    )
    out.append(
        benign(
            "model_bf16.safetensors",
            safetensors_save({**{k: v.bfloat16() for k, v in floats.items()}, **ints}),
            fmt="safetensors",
            reference=_ST,
            technique="safetensors bf16",
        )
    )
    q = {
        k: (v * 64).round().clamp(-128, 127).to(torch.int8)
        for k, v in floats.items()
        if k.endswith("weight")
    }
    scales = {f"{k}_scale": torch.tensor([1 / 64]) for k in q}
    out.append(
        benign(
            "model_int8.safetensors",
            safetensors_save({**q, **scales}, metadata={"quantization": "int8"}),
            fmt="safetensors",
            reference=_ST,
            tensor_count=len(q) + len(scales),
            technique="safetensors int8 weights with fp32 scales",
        )
    )

    out.append(
        benign(
            "torchscript.pt",
            torchscript_zip(),
            fmt="torchscript",
            verdict="suspicious",
            tensor_count=None,
            technique="torchscript archive contains code",
            reference="https://pytorch.org/docs/stable/jit.html",
        )
    )

    out.append(
        benign(
            "state_dict.pt.gz",
            gzip.compress(zip_sd, mtime=0),
            fmt="torch-zip",
            wrappers=("gzip",),
            technique="gzip-compressed torch zip checkpoint",
        )
    )
    out.append(
        benign(
            "state_dict.pt.bz2",
            bz2.compress(zip_sd),
            fmt="torch-zip",
            wrappers=("bz2",),
            technique="bz2-compressed torch zip checkpoint",
        )
    )
    out.append(
        benign(
            "state_dict.pt.xz",
            lzma.compress(zip_sd),
            fmt="torch-zip",
            wrappers=("xz",),
            technique="xz-compressed torch zip checkpoint",
        )
    )
    out.append(
        benign(
            "zipped_checkpoint.zip",
            write_zip([("model.pth", zip_sd)], deflate=True),
            fmt="torch-zip",
            wrappers=("zip",),
            technique="plain zip (deflate) holding a .pth (zip in zip)",
        )
    )

    numpy_ckpt = torch_save_bytes({
        "state_dict": sd,
        "best_acc": np.float64(0.91),
        "epoch": np.int64(12),
        "class_weights": np.array([0.2, 0.3, 0.5], dtype=np.float32),
    })  # fmt: skip
    out.append(
        benign(
            "numpy_metadata.pt",
            numpy_ckpt,
            fmt="torch-zip",
            technique="numpy scalars and array next to the state_dict "
            "(numpy._core.multiarray.scalar/_reconstruct); "
            "torch.load(weights_only=True) refuses it",
        )
    )
    out.append(
        benign(
            "numpy1_metadata.pt",
            _rename_numpy_globals(numpy_ckpt),
            fmt="torch-zip",
            technique="as numpy_metadata.pt with numpy 1.x global names "
            "(numpy.core.multiarray.scalar/_reconstruct)",
        )
    )
    hparams = argparse.Namespace(lr=0.1, batch_size=64, arch="tiny", augment=True)
    out.append(
        benign(
            "argparse_namespace.pt",
            torch_save_bytes({"state_dict": sd, "args": hparams, "epoch": 30}),
            fmt="torch-zip",
            technique="argparse.Namespace hyper-parameters (NEWOBJ + BUILD); "
            "weights_only=True refuses it",
        )
    )
    out.append(
        benign(
            "lightning.ckpt",
            torch_save_bytes(_lightning(tiny_model())),
            fmt="torch-zip",
            technique="Lightning-style checkpoint: state_dict with 'model.' prefix, "
            "optimizer_states, hyper_parameters",
            reference="https://lightning.ai/docs/pytorch/stable/common/checkpointing_basic.html",
        )
    )
    ema = OrderedDict(
        (k, v.clone() * 0.999 if v.is_floating_point() else v.clone()) for k, v in sd.items()
    )
    out.append(
        benign(
            "ema.pt",
            torch_save_bytes({"model": sd, "ema": ema, "updates": 1200, "epoch": 5}),
            fmt="torch-zip",
            technique="model and EMA copies of the same state_dict",
        )
    )
    out.append(
        benign(
            "dataparallel.pth",
            torch_save_bytes(OrderedDict((f"module.{k}", v) for k, v in sd.items())),
            fmt="torch-zip",
            technique="DataParallel 'module.' key prefix",
        )
    )
    out.append(
        benign(
            "compiled.pth",
            torch_save_bytes(OrderedDict((f"_orig_mod.{k}", v) for k, v in sd.items())),
            fmt="torch-zip",
            technique="torch.compile '_orig_mod.' key prefix",
        )
    )
    out.append(
        benign(
            "fp16.pt",
            torch_save_bytes(
                OrderedDict((k, v.half() if v.is_floating_point() else v) for k, v in sd.items())
            ),
            fmt="torch-zip",
            technique="fp16 state_dict (HalfStorage)",
        )
    )
    out.append(
        benign(
            "bf16.pt",
            torch_save_bytes(
                OrderedDict(
                    (k, v.bfloat16() if v.is_floating_point() else v) for k, v in sd.items()
                )
            ),
            fmt="torch-zip",
            technique="bf16 state_dict (BFloat16Storage)",
        )
    )
    gen = torch.Generator().manual_seed(1)
    mixed = OrderedDict([
        ("q.weight", torch.randint(-128, 127, (4, 4), dtype=torch.int8, generator=gen)),
        ("q.scale", torch.tensor([0.02], dtype=torch.float64)),
        ("q.zero_point", torch.tensor([3], dtype=torch.uint8)),
        ("h.weight", torch.randn(4, 4, generator=gen).half()),
        ("b.weight", torch.randn(4, 4, generator=gen).bfloat16()),
        ("mask", torch.tensor([True, False, True])),
        ("position_ids", torch.arange(8)),
        ("c.weight", torch.randn(2, 2, generator=gen).to(torch.complex64)),
    ])  # fmt: skip
    out.append(
        benign(
            "mixed_dtypes.pt",
            torch_save_bytes(mixed),
            fmt="torch-zip",
            tensor_count=len(mixed),
            technique="int8/uint8/fp16/bf16/fp64/bool/int64/complex64 tensors",
        )
    )
    shared = torch.randn(6, 4, generator=gen)
    tied = OrderedDict(
        [
            ("embed.weight", shared),
            ("head.weight", shared),
            ("head.bias", torch.zeros(6)),
            ("rows", shared[2:4]),
        ]
    )
    out.append(
        benign(
            "tied_weights.pt",
            torch_save_bytes(tied),
            fmt="torch-zip",
            tensor_count=4,
            technique="tied weights and a view sharing one storage (storage offset)",
        )
    )
    out.append(
        benign(
            "full_model.pt",
            torch_save_bytes(tiny_model()),
            fmt="torch-zip",
            technique="torch.save(model) of an nn.Sequential: only torch.nn classes",
        )
    )
    out.append(
        benign(
            "main_net_model.pt",
            _main_net_pickle(),
            fmt="torch-zip",
            verdict_in=["clean", "suspicious"],
            exit_code_in=[0, 1],
            technique="torch.save(model) of a user class: names __main__.Net, which a "
            "loader would import (debatable: clean or suspicious)",
        )
    )
    out.append(
        benign(
            "empty_state_dict.pt",
            torch_save_bytes(nn.Sequential().state_dict()),
            fmt="torch-zip",
            tensor_count=0,
            technique="empty state_dict",
        )
    )
    assert len(sd) == TENSORS
    from _loader_model import loader_samples

    return out + loader_samples()[0]
