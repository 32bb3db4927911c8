# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "torch==2.14.1",
#     "torchvision==0.29.1",
#     "timm==1.0.31",
#     "transformers==5.24.0",
# ]
# ///
"""Build the architecture signatures shipped in ``pthforensics/infer/signatures/``.

Every constructor of torchvision (``list_models()``), timm (``list_models()``) and
transformers (every class of the Auto mappings) is instantiated on the meta device (no
weights, no download), once at its defaults and once per shape-bearing argument changed,
and its layout is fitted (``_layout.py``).  Records are appended to one JSONL file per
library under ``--work`` (an interrupted build resumes where it stopped); ``pack`` then
deduplicates the layouts and writes ``signatures.zip`` next to the matcher.

Run (not in CI; ~1 h on one core)::

    python tools/signatures/build.py              # collect all three libraries, then pack
    python tools/signatures/build.py --pack-only  # re-pack from the JSONL already collected

The versions pinned above are the ones the shipped data records (``meta.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever downloaded
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


sys.path.insert(0, str(HERE))
from _paths import setup  # noqa: E402

setup()

from _pack import pack  # noqa: E402

#: Seconds one constructor may take (its default build and every changed argument).
TIMEOUT = 300


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _jobs(
    libs: list[str], shard: tuple[int, int]
) -> Iterator[tuple[str, str, Callable[[], dict[str, Any]]]]:
    """(library, job id, job) for every constructor of the libraries (transformers classes
    of this shard of model types only)."""
    if "torchvision" in libs:
        from _collect import collect_torchvision, torchvision_names, torchvision_variants

        for name in torchvision_names():
            for kwargs in torchvision_variants(name):
                extra = ",".join(f"{k}={v}" for k, v in kwargs.items() if v is not None)
                yield (
                    "torchvision",
                    f"{name}|{extra}",
                    lambda n=name, k=kwargs: collect_torchvision(n, k),
                )
    if "timm" in libs:
        import timm
        from _collect import collect_timm

        for name in timm.list_models():
            yield "timm", name, lambda n=name: collect_timm(n)
    if "transformers" in libs:
        from _collect_hf import collect_transformers, heavy_first_last, transformers_classes

        part, parts = shard
        for model_type, cls in heavy_first_last(transformers_classes()):
            if zlib.crc32(model_type.encode()) % parts != part:
                continue
            yield (
                "transformers",
                f"{model_type}|{cls}",
                lambda t=model_type, c=cls: collect_transformers(t, c),
            )


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def _drop_stale(work: Path) -> None:
    """Remove transformers records that changed fewer config values than their model type
    needs (collected before the type's union was known), so they are collected again."""
    from _collect_hf import stale_records

    paths = sorted(work.glob("transformers*.jsonl"))
    records = [r for p in paths for r in _records(p)]
    stale = stale_records(records)
    for path in paths:
        keep = [r for r in _records(path) if r["job"] not in stale]
        path.write_text("".join(json.dumps(r) + "\n" for r in keep))
    print(f"{len(stale)} stale transformers records removed", flush=True)


def _supplement(work: Path) -> None:
    """Give transformers records collected before the input facts were recorded the same
    facts a fresh collection records (``_input_hf.py``)."""
    import torch
    import transformers
    from _input_hf import supplement

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    done = supplement(sorted(work.glob("transformers*.jsonl")))
    print(f"{done} transformers records given their input facts", flush=True)


def collect(
    libs: list[str], work: Path, limit: int | None, shard: tuple[int, int] = (0, 1)
) -> None:
    """Append one record per constructor not yet collected."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    work.mkdir(parents=True, exist_ok=True)
    if "transformers" in libs:
        if shard[0] == 0:  # one process rewrites the records; start the others after it
            _drop_stale(work)
        from _collect_hf import seed_shaping

        seed_shaping([r for p in work.glob("transformers*.jsonl") for r in _records(p)])
    done = {
        lib: {r["job"] for p in work.glob(f"{lib}*.jsonl") for r in _records(p)} for lib in libs
    }
    count = 0
    for lib, job, run in _jobs(libs, shard):
        if job in done[lib]:
            continue
        if limit is not None and count >= limit:
            break
        count += 1
        start = time.perf_counter()
        signal.alarm(TIMEOUT)
        try:
            rec = run()
        except _Timeout:
            rec = {"lib": lib, "error": f"timeout after {TIMEOUT} s"}
        except Exception as exc:  # noqa: BLE001 - a constructor that cannot be built is recorded, with why
            rec = {"lib": lib, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        finally:
            signal.alarm(0)
        rec["job"] = job
        suffix = f".{shard[0]}" if shard[1] > 1 and lib == "transformers" else ""
        with (work / f"{lib}{suffix}.jsonl").open("a") as f:
            f.write(json.dumps(rec) + "\n")
        status = "error" if "error" in rec else f"{rec.get('keys')} keys"
        print(f"{lib} {job}: {status} ({time.perf_counter() - start:.2f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--libs", default="torchvision,timm,transformers")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pthforensics-signatures"))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "pthforensics/infer/signatures/signatures.zip"
    )
    parser.add_argument("--limit", type=int, default=None, help="collect at most N constructors")
    parser.add_argument("--pack-only", action="store_true")
    parser.add_argument("--shard", default="0/1", help="I/N: transformers model types of shard I")
    args = parser.parse_args(argv)
    libs = args.libs.split(",")
    part, parts = (int(x) for x in args.shard.split("/"))
    if not args.pack_only:
        collect(libs, args.work, args.limit, (part, parts))
        if parts > 1:
            return 0  # the shards are packed together afterwards
    if "transformers" in libs:
        _supplement(args.work)
    stats = pack(sorted(p for lib in libs for p in args.work.glob(f"{lib}*.jsonl")), args.out)
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
