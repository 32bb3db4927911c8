"""Class 7: code carried in the file.

A pickled ``torch.fx.GraphModule`` is ``reduce_graph_module(body, import_block)``
(``torch/fx/graph_module.py``): loading ``exec``s ``import_block + body["_code"]``, so any
module-level statement in either runs.  A TorchScript archive carries ``code/`` that
``torch.jit.load`` compiles (TorchScript itself cannot reach files or processes).
"""

from __future__ import annotations

from collections.abc import Iterator

from corpus._opcodes import Asm

from .archives import torch_zip
from .compose import LOADERS_OF, slug
from .harness import CANARY
from .pickles import CODE
from .variants import Variant

__all__ = ["code_variants", "graph_module_stream"]

_FORWARD = "\n\n\ndef forward(self, x):\n    return x\n"
_TOUCH = f"\nimport os\nos.system('touch {CANARY}')\n"


def graph_module_stream(
    code: str,
    import_block: str,
    *,
    module: str = "torch.fx.graph_module",
    name: str = "reduce_graph_module",
) -> bytes:
    """``reduce_graph_module({"_code": code, "training": True}, import_block)``."""
    asm = Asm(4).raw(_short(module)).raw(_short(name)).stack_global()
    asm.value({"_code": code, "training": True}).value(import_block).tuple2().reduce()
    return asm.stop().data


def _short(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _v(name: str, data: bytes, container: str, note: str = "") -> Variant:
    full = f"7-code/{name}/{container}"
    ext = ".pt" if container == "zip" else ".pkl"
    return Variant(full, "7-code", slug(full, ext), data, LOADERS_OF[container], note=note)


def code_variants() -> Iterator[Variant]:
    """GraphModules whose code creates the canary on load (or only when called)."""
    streams = {
        "gm-import-block": graph_module_stream(_FORWARD, "import torch" + _TOUCH),
        "gm-code-toplevel": graph_module_stream(_TOUCH + _FORWARD, "import torch\n"),
        "gm-exec-in-code": graph_module_stream(
            f"\nexec({CODE.format(path=CANARY)!r})\n" + _FORWARD, "import torch\n"
        ),
        "gm-walk-functional": graph_module_stream(
            _FORWARD,
            "import torch" + _TOUCH,
            module="torch.nn.functional",
            name="torch.fx.graph_module.reduce_graph_module",
        ),
        "gm-forward-from-src": _forward_from_src(),
        "gm-only-in-forward": graph_module_stream(
            "\n\n\ndef forward(self, x):\n    import os\n    os.system('touch "
            + CANARY
            + "')\n    return x\n",
            "import torch\n",
        ),
    }
    for label, stream in streams.items():
        note = "runs only when forward is called" if label == "gm-only-in-forward" else ""
        yield _v(label, stream, "raw", note)
        yield _v(label, torch_zip(stream), "zip", note)
    yield _v("torchscript-python-in-code", _torchscript_with(_TOUCH), "zip", "not TorchScript")


def _torchscript_with(text: str) -> bytes:
    """A real TorchScript archive (made here by torch.jit.save from a trusted module) whose
    code/ member gets Python ``text`` appended: torch.jit.load compiles TorchScript, which
    has no os module, so this cannot run; it is code in the file all the same."""
    import io
    import warnings
    import zipfile

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(torch.nn.Sequential(torch.nn.ReLU()))
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if "/code/" in info.filename and info.filename.endswith(".py"):
                data += text.encode()
            zout.writestr(info.filename, data)
    return out.getvalue()


def _forward_from_src() -> bytes:
    """``torch.fx.graph_module._forward_from_src(src, {})`` through a dotted walk."""
    asm = Asm(4).raw(_short("torch.nn.functional"))
    asm.raw(_short("torch.fx.graph_module._forward_from_src")).stack_global()
    asm.value(_TOUCH + _FORWARD).empty_dict().tuple2().reduce().pop().value({})
    return asm.stop().data
