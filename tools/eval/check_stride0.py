"""Check that pthforensics reads a stride-0 zoo file as it reads the real file.

Run with the project's Python::

    python tools/eval/check_stride0.py

For a few hand-written models (convolutions with BatchNorm, a recurrent text model, a
transformer with tied weights) and containers (plain, Lightning, DataParallel), it saves the
state_dict once with real random weights and once as ``build_zoo.py`` does (stride-0
expansions), runs ``inspect --json`` on both and prints every field that differs, ignoring
``path``, ``size`` and ``seconds``. Exit 1 if anything else differs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from evaluate import run_inspect  # noqa: E402
from handwritten import HANDWRITTEN  # noqa: E402
from truth import save_checkpoint, wrap  # noqa: E402

CASES = (
    ("hw_lenet5", "plain"),
    ("hw_cifar_vgg", "lightning"),
    ("hw_cifar_resnet20", "dataparallel"),
    ("hw_lstm_text", "plain"),
    ("hw_tiny_transformer_lm", "state_dict"),
    ("hw_eegnet", "plain"),
)
IGNORED = frozenset({"path", "size", "seconds", "mtime"})


def diff(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in IGNORED:
                out += diff(a.get(key), b.get(key), f"{where}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in diff(x, y, f"{where}[{i}]")
        ]
    return [] if a == b else [f"{where}: {str(a)[:80]} != {str(b)[:80]}"]


def main() -> int:
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, container in CASES:
            factory = HANDWRITTEN[name][0]
            torch.manual_seed(0)
            model = factory().eval()
            real = Path(tmp) / f"{name}_real.pt"
            fake = Path(tmp) / f"{name}_stride0.pt"
            torch.save(wrap(model.state_dict(), container), real)
            save_checkpoint(model, container, fake)
            ra, _, _ = run_inspect(str(real))
            rb, _, _ = run_inspect(str(fake))
            found = diff(ra, rb)
            sizes = f"{real.stat().st_size} B -> {fake.stat().st_size} B"
            print(f"{name} ({container}, {sizes}): {'identical' if not found else 'DIFFERS'}")
            for line in found:
                print("   ", line)
            bad += bool(found)
    print(json.dumps({"cases": len(CASES), "differing": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
