"""Code carried in a checkpoint, judged with ast: real generated code is "carries code"
(suspicious); anything reaching files, processes or code execution is malicious."""

from __future__ import annotations

import warnings

import pytest

from pthforensics.core import Severity
from pthforensics.safety import judge_code

_FX_IMPORTS = (
    "NoneType = type(None)\nfrom math import inf\nfrom math import nan\nfrom torch import device\n"
    "import torch\nimport torch.fx._pytree as fx_pytree\nimport torch.utils._pytree as pytree"
)


def _fx_code(module: object) -> str:
    import torch

    traced = torch.fx.symbolic_trace(module)  # type: ignore[arg-type]
    _reducer, (body, import_block) = traced.__reduce__()
    return str(import_block) + str(body["_code"])


@pytest.mark.torch
def test_real_graph_modules_only_carry_code() -> None:
    import torch

    # (no annotations: with postponed evaluation fx would record them as strings)
    def head(x):  # type: ignore[no-untyped-def]
        y = torch.nn.functional.gelu(x).flatten(1)
        return torch.cat([y, y.mean(1, keepdim=True)], 1)[:, :3] * 2.0

    for module in (head, torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())):
        verdict = judge_code(_fx_code(module))
        assert verdict.severity is Severity.SUSPICIOUS, verdict.problems


@pytest.mark.torch
def test_real_torchscript_code_only_carries_code() -> None:
    import io
    import zipfile

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(
            torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
        )
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    with zipfile.ZipFile(buf) as archive:
        sources = [archive.read(n).decode() for n in archive.namelist() if n.endswith(".py")]
    assert sources
    for source in sources:
        verdict = judge_code(source, torchscript=True)
        assert verdict.severity is Severity.SUSPICIOUS, verdict.problems


@pytest.mark.parametrize(
    "body",
    [
        "\nimport os\nos.system('echo x')\n",  # module-level code
        "\nexec('print(1)')\n",
        "\ndef forward(self, x):\n    return open('p', 'w')\n",
        "\ndef forward(self, x):\n    return self.__class__.__init__.__globals__\n",
        "\ndef forward(self, x):\n    s = torch.save\n    s(x, 'p')\n    return x\n",
        "\ndef forward(self, x):\n    return x.numpy().tofile('p')\n",
        "\ndef forward(self, x):\n    return getattr(torch, 'lo' + 'ad')('p')\n",
        "\ndef forward(self, x):\n    return torch.ops.load_library('lib.so')\n",
        "\ndef forward(self, x):\n    return torch.from_file('p', True, 4)\n",
        "\ndef forward(self, x):\n    return __import__('os')\n",
        "\nfrom subprocess import call as call\ndef forward(self, x):\n    return call(['x'])\n",
    ],
)
def test_code_that_reaches_more_is_malicious(body: str) -> None:
    verdict = judge_code(_FX_IMPORTS + body)
    assert verdict.severity is Severity.MALICIOUS
    assert verdict.problems and all(p.startswith("line ") for p in verdict.problems)


def test_torchscript_reaching_files_is_malicious() -> None:
    source = "def forward(self, x: Tensor) -> Tensor:\n  return torch.from_file('p', True, 4)\n"
    assert judge_code(source, torchscript=True).severity is Severity.MALICIOUS
    assert judge_code("import os\n", torchscript=True).severity is Severity.MALICIOUS


def test_code_is_shown_and_never_run() -> None:
    body = "\nraise SystemExit('ran')\n" + "x = 1\n" * 2000
    verdict = judge_code(_FX_IMPORTS + body)
    assert verdict.shown.startswith("NoneType") and verdict.shown.endswith("...")
    # Code that does not parse cannot be exec'd: it carries code that runs nothing.
    assert judge_code("def (").severity is Severity.SUSPICIOUS


def test_damaged_code_fails_instead_of_running() -> None:
    """A name the code never defines raises NameError, an import one byte off a standard
    one raises ImportError: damage, not capability."""
    verdict = judge_code(
        _FX_IMPORTS + "\ndef forward(self, x):\n    return getAttr(self, 'a')(x)\n"
    )
    assert verdict.severity is Severity.SUSPICIOUS and verdict.failures
    damaged = _FX_IMPORTS.replace("torch.fx._pytree", "torch.fx._pytVee")
    verdict = judge_code(damaged + "\ndef forward(self, x):\n    return x\n")
    assert verdict.severity is Severity.SUSPICIOUS and verdict.failures
