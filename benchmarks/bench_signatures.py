"""What naming the architecture adds to ``inspect``: BERT-base and ResNet-50 key sets.

The two layouts come from the shipped signature data itself (transformers ``BertModel``
and torchvision ``resnet50`` at their defaults, ResNet-50 with a 10-class head), saved as
torch zip files of stride-0 views under ``benchmarks/_work`` (never committed).  Printed:
the median time of reading and scanning the file (what ``inspect`` does before naming),
of ``name_architecture`` on it (warm: data already read), and of the first call in a fresh
process (reading the data index included).

    python benchmarks/bench_signatures.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "_work"
CASES = (("transformers", "BertModel", {}), ("torchvision", "resnet50", {"num_classes": 10}))


def _make(library: str, name: str, change: dict[str, int]) -> Path:
    import torch

    from pthforensics.infer.signatures import load_store
    from pthforensics.infer.signatures._expand import expand_layout

    store = load_store()
    assert store is not None
    entry = next(
        e for e in store.entries if (e.library, e.name, e.form) == (library, name, "module")
    )
    layout = store.layout(entry.layout)
    values = {**dict(zip(layout["params"], entry.defaults, strict=True)), **change}
    state = {
        k: torch.zeros(1).reshape(()).expand(shape) for k, shape in expand_layout(layout, values)
    }
    WORK.mkdir(exist_ok=True)
    path = WORK / f"{name}.pt"
    torch.save(state, path)
    return path


_COLD = (
    "import time, sys\n"
    "t = time.perf_counter()\n"
    "from pthforensics.container.reader import read_container\n"
    "from pthforensics.pipeline import scan_container\n"
    "from pthforensics.infer.signatures import name_architecture\n"
    "c = read_container(sys.argv[1]); _, ck = scan_container(c)\n"
    "t = time.perf_counter()\n"
    "a = name_architecture(ck.main, path=sys.argv[1], container_format=c.format, kind=ck.kind)\n"
    "print(time.perf_counter() - t, a.status, a.name)\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    from pthforensics.container.reader import read_container
    from pthforensics.infer.signatures import name_architecture
    from pthforensics.pipeline import scan_container

    print(f"{'model':<12} {'keys':>5} {'read+scan ms':>13} {'name ms':>8} {'first ms':>9}  answer")
    for library, name, change in CASES:
        path = _make(library, name, change)
        scans, names = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            container = read_container(str(path))
            _, checkpoint = scan_container(container)
            scans.append(time.perf_counter() - t)
            assert checkpoint is not None and checkpoint.main is not None
            t = time.perf_counter()
            arch = name_architecture(
                checkpoint.main, path=str(path), container_format=container.format
            )
            names.append(time.perf_counter() - t)
        cold = subprocess.run(
            [sys.executable, "-c", _COLD, str(path)], capture_output=True, text=True, cwd=ROOT
        )
        first = float(cold.stdout.split()[0]) * 1000
        print(
            f"{name:<12} {len(checkpoint.main.tensors):>5} "
            f"{statistics.median(scans) * 1000:>13.1f} {statistics.median(names) * 1000:>8.1f} "
            f"{first:>9.1f}  {arch.status} {arch.library} {arch.name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
