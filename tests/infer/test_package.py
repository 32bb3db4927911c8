"""The infer and rebuild packages: exports, import direction, no torch on the static path."""

from __future__ import annotations

import subprocess
import sys

from tests._helpers import ROOT


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        timeout=60,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_static_stages_import_without_torch() -> None:
    run(
        "import sys; sys.modules['torch'] = None\n"
        "import pthforensics.structure.layers, pthforensics.infer, pthforensics.rebuild\n"
    )


def test_infer_never_imports_rebuild() -> None:
    out = run(
        "import sys, pthforensics.infer\n"
        "print(sorted(m for m in sys.modules if m.startswith('pthforensics.rebuild')))\n"
    )
    assert out == "[]"


def test_packages_export_their_stage_functions() -> None:
    from pthforensics import infer, rebuild

    for name in ("infer_layers", "infer_input", "channel_chain", "chain_links", "layer_type"):
        assert name in infer.__all__ and callable(getattr(infer, name))
    for name in ("rebuild_model", "trace_model", "trace_input"):
        assert name in rebuild.__all__ and callable(getattr(rebuild, name))
