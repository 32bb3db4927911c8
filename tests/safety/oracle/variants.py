"""Attack variants with a harmless canary payload, and the benign look-alikes beside them.

Every variant is a small file built from opcodes and zip/tar bytes by code (nothing
attacker-shaped is ever made by a pickler).  Its payload, when a loader runs it, creates
the file :data:`~tests.safety.oracle.harness.CANARY` in the loader's working folder and
does nothing else.  Classes follow issue 9:

====  ======================================================================================
1     protocol-4 dotted names that walk attributes from a harmless-looking module
2     functions that call their arguments (rebuild helpers, numpy ctors, copyreg, partial)
3     zip member tricks for torch's reader (case, duplicates, directories, decoys, staging)
4     streams a sniff rejects but CPython reads; names and extensions of such files
5     opcode-semantics disagreements between pickletools / stubs and CPython
6     nested loaders (``torch.storage._load_from_bytes`` and the bytes it is given)
7     code carried in the file (pickled ``torch.fx.GraphModule``, TorchScript)
====  ======================================================================================

``benign`` variants are look-alikes that must not be called malicious.

As a script: ``python -m tests.safety.oracle.variants OUT_DIR [--random N --seed S]``
writes every variant to ``OUT_DIR`` and prints one JSON line per file.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLASSES", "Variant", "ci_variants", "random_variants", "write_variants"]

#: Variant classes, in report order.
CLASSES = (
    "1-walk",
    "2-caller",
    "3-zip",
    "4-sniff",
    "5-semantics",
    "6-nested",
    "7-code",
    "benign",
)


@dataclass(frozen=True, slots=True)
class Variant:
    """One generated file and how the oracle loads it."""

    name: str
    """Unique, stable across runs (KNOWN_MISSES and reports use it)."""
    klass: str
    """One of :data:`CLASSES`."""
    filename: str
    """File name to write (extension chosen on purpose: some variants have none)."""
    data: bytes
    loaders: tuple[str, ...]
    """Oracle loaders that apply (see :mod:`tests.safety.oracle.harness`)."""
    malicious: bool = True
    """Attack (True) or benign look-alike (False)."""
    note: str = ""
    tags: tuple[str, ...] = ()
    """Composition features (target, ref, caller, trick, container) for grouping."""
    expect: str | None = None
    """For a benign variant, the one verdict it must get (issue 9: a damaged name that
    exists in no module is ``suspicious``); ``None``: anything but ``malicious``."""


def write_variants(variants: Iterable[Variant], folder: Path) -> dict[str, Path]:
    """Write each variant into ``folder`` (one sub-folder per class); name -> path."""
    paths: dict[str, Path] = {}
    for v in variants:
        if v.name in paths:
            raise ValueError(f"duplicate variant name {v.name!r}")
        path = folder / v.klass / v.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            raise ValueError(f"two variants write {path}")
        path.write_bytes(v.data)
        paths[v.name] = path
    return paths


def ci_variants() -> list[Variant]:
    """The curated set every CI run checks (a few hundred, deterministic)."""
    from .catalogue import curated

    variants = curated()
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise AssertionError(f"duplicate variant names: {dupes[:5]}")
    return variants


def random_variants(
    count: int, seed: int, chains: Sequence[tuple[str, str, str]] = ()
) -> list[Variant]:
    """``count`` random compositions (target x reference x caller x trick x container),
    walks drawn from ``chains`` (``(module, name, target)``, see :mod:`.chains`)."""
    from .catalogue import random_composition

    rng = random.Random(seed)
    out: list[Variant] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < count and attempts < count * 50:
        attempts += 1
        variant = random_composition(rng, chains)
        if variant is not None and variant.name not in seen:
            seen.add(variant.name)
            out.append(variant)
    return out


def _main(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="write the oracle's attack variants")
    parser.add_argument("out", type=Path)
    parser.add_argument("--random", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    variants = ci_variants()
    if args.random:
        from .chains import discover_chains

        chains = [(c.module, c.name, c.target) for c in discover_chains()]
        variants += random_variants(args.random, args.seed, chains)
    paths = write_variants(variants, args.out)
    for v in variants:
        row: dict[str, object] = {"name": v.name, "class": v.klass, "path": str(paths[v.name])}
        row |= {"loaders": v.loaders, "malicious": v.malicious, "note": v.note}
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
