# /// script
# requires-python = ">=3.11"
# dependencies = ["torch==2.13.0", "safetensors"]
# ///
"""Regenerate the pthforensics test corpus: ``benign/``, ``malicious/``, ``broken/``.

Run ``python corpus/generate.py`` (or ``uv run corpus/generate.py``).  Every sample is
rebuilt from fixed seeds after the three folders are emptied, and each ``X`` gets an
``X.truth.json`` next to it (format described in ``corpus/README.md``).

Safety: malicious samples are assembled from pickle opcodes (``_opcodes.Asm``) with
harmless payloads (``echo pthforensics-corpus`` / ``print('pthforensics-corpus')``).  This
script never unpickles anything: no ``pickle.load(s)``, no ``torch.load``, no
``numpy.load(allow_pickle=True)``.  Benign samples come from ``torch.save``,
``safetensors`` and ``pickle.dumps`` of trusted in-memory objects.

Layout of the generator: ``_opcodes`` (pickle assembler), ``_containers`` (zip, tar, 7z,
safetensors writers), ``_common`` (truth records, tiny model), and one module per folder
(``_benign``, ``_malicious`` + ``_malicious_containers``, ``_broken``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _benign  # noqa: E402
import _broken  # noqa: E402
import _malicious  # noqa: E402
from _common import Sample  # noqa: E402

FOLDERS = ("benign", "malicious", "broken")
MAX_BYTES = 1 << 20


def build() -> list[Sample]:
    """Every sample, in a stable order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile duplicate names, jit and numpy notices
        samples = _benign.samples() + _malicious.samples() + _broken.samples()
    paths = [s.path for s in samples]
    duplicates = [p for p, n in Counter(paths).items() if n > 1]
    assert not duplicates, duplicates
    for sample in samples:
        assert len(sample.data) < MAX_BYTES, (sample.path, len(sample.data))
        if sample.path.startswith("malicious/"):
            assert sample.truth["exit_code"] == 1, sample.path
            verdict, runs = sample.truth["verdict"], sample.truth.get("payload_runs")
            inert = verdict == "suspicious" and runs is False  # a payload no loader reaches
            assert verdict == "malicious" or inert, sample.path
        if sample.path.startswith("benign/"):
            assert sample.truth["verdict"] != "malicious"
    return samples


def write(samples: list[Sample], root: Path = HERE) -> None:
    """Empty the sample folders, then write every sample and its truth file."""
    for folder in FOLDERS:
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for sample in samples:
        path = root / sample.path
        path.write_bytes(sample.data)
        truth = {**sample.truth, "sha256": hashlib.sha256(sample.data).hexdigest()}
        path.with_name(path.name + ".truth.json").write_text(json.dumps(truth, indent=2) + "\n")


def main() -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # TorchScript orders __constants__ by set iteration: fix str hashing, then restart.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    samples = build()
    write(samples)
    counts = Counter(s.path.split("/", 1)[0] for s in samples)
    total = sum(len(s.data) for s in samples)
    summary = ", ".join(f"{counts[f]} {f}" for f in FOLDERS)
    print(f"wrote {len(samples)} samples ({summary}), {total / 1024:.0f} KiB, in {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
