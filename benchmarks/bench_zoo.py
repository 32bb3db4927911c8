"""Batch throughput on a generated model zoo: pthforensics vs picklescan vs modelscan.

Builds a zoo under benchmarks/_work/zoo (never committed): a few hundred files mixing
small and large torch checkpoints (zip and legacy), safetensors and sharded models,
every malicious and broken sample of corpus/, and files that are not checkpoints, in
nested folders.  Each tool scans the whole folder as one process; the script prints
wall time, files per second, peak RSS of the largest process, and the ratio against the
faster of the two other scanners, then pthforensics' scaling from -j 1 to -j N.

    python benchmarks/bench_zoo.py            # needs: pip install picklescan modelscan
    python benchmarks/bench_zoo.py --files 600 --repeat 3
    python benchmarks/bench_zoo.py --baseline 45816cf --repeat 7   # this code vs an older one

With ``--baseline REV`` the rivals are left out: this checkout and the package as it was at
git revision REV scan the same zoos, their runs interleaved, at -j N and -j 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from _measure import (
    baseline_checkout,
    compile_package,
    measure,
    measure_side_by_side,
    tool_path,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"


def build_zoo(n_files: int, seed: int = 0, broken: bool = True) -> tuple[Path, int]:
    """Create the zoo (cached by size, seed and whether broken samples are in); return its
    folder and file count."""
    import torch
    from safetensors.torch import save_file

    zoo = WORK / f"zoo-v2-{n_files}-{seed}{'' if broken else '-nobroken'}"
    marker = zoo / ".complete"
    if marker.exists():
        return zoo, int(marker.read_text())
    shutil.rmtree(zoo, ignore_errors=True)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    count = 0

    def folder() -> Path:
        path = zoo / f"team{rng.randrange(5)}" / f"project{rng.randrange(8)}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    samples = sorted((ROOT / "corpus" / "malicious").glob("*"))
    if broken:
        samples += sorted((ROOT / "corpus" / "broken").glob("*"))
    samples = [p for p in samples if not p.name.endswith(".json")]
    for sample in samples:
        shutil.copy(sample, folder() / sample.name)
        count += 1
    for i in range(3):  # large checkpoints
        width = 2048
        sd = {f"blocks.{j}.weight": torch.zeros(width, width) for j in range(3)}
        torch.save(sd, folder() / f"large_{i}.pth")
        count += 1
    for i in range(2):  # sharded safetensors models
        path = folder() / f"sharded_{i}"
        path.mkdir()
        weight_map = {}
        for s in range(3):
            name = f"model-{s + 1:05d}-of-00003.safetensors"
            save_file({f"layer{s}.weight": torch.zeros(256, 256)}, path / name)
            weight_map[f"layer{s}.weight"] = name
            count += 1
        (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    n_other = max(10, n_files // 15)
    for i in range(n_other):
        (folder() / f"notes_{i}.txt").write_text("not a model " * rng.randrange(1, 500))
        count += 1
    while count < n_files:
        sd = _architecture(rng, torch)
        kind = rng.random()
        target = folder() / f"ckpt_{count}"
        if kind < 0.6:
            torch.save({"state_dict": sd, "epoch": rng.randrange(100)}, f"{target}.pth")
        elif kind < 0.75:
            torch.save(sd, f"{target}.pt", _use_new_zipfile_serialization=False)
        else:
            save_file({k: v.contiguous() for k, v in sd.items()}, f"{target}.safetensors")
        count += 1
    marker.write_text(str(count))
    return zoo, count


def _architecture(rng: random.Random, torch):  # type: ignore[no-untyped-def]
    """A state_dict with the key layout and tensor count of a real architecture (ResNet-50,
    BERT-base, a small CNN), at a tiny width so the zoo stays small on disk."""
    w = 4
    sd = {}
    choice = rng.random()
    if choice < 0.4:  # ResNet-50 layout: 320 tensors

        def bn(prefix: str) -> None:
            for leaf in ("weight", "bias", "running_mean", "running_var"):
                sd[f"{prefix}.{leaf}"] = torch.zeros(w)
            sd[f"{prefix}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)

        sd["conv1.weight"] = torch.zeros(w, 3, 7, 7)
        bn("bn1")
        for stage, blocks in enumerate((3, 4, 6, 3), 1):
            for b in range(blocks):
                p = f"layer{stage}.{b}"
                for i, k in ((1, 1), (2, 3), (3, 1)):
                    sd[f"{p}.conv{i}.weight"] = torch.zeros(w, w, k, k)
                    bn(f"{p}.bn{i}")
                if b == 0:
                    sd[f"{p}.downsample.0.weight"] = torch.zeros(w, w, 1, 1)
                    bn(f"{p}.downsample.1")
        sd["fc.weight"] = torch.zeros(10, w)
        sd["fc.bias"] = torch.zeros(10)
    elif choice < 0.7:  # BERT-base layout: ~200 tensors
        sd["embeddings.word_embeddings.weight"] = torch.zeros(100, w)
        sd["embeddings.position_embeddings.weight"] = torch.zeros(64, w)
        sd["embeddings.LayerNorm.weight"] = torch.zeros(w)
        sd["embeddings.LayerNorm.bias"] = torch.zeros(w)
        for layer in range(12):
            p = f"encoder.layer.{layer}"
            for name in (
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "intermediate.dense",
                "output.dense",
            ):
                sd[f"{p}.{name}.weight"] = torch.zeros(w, w)
                sd[f"{p}.{name}.bias"] = torch.zeros(w)
            for name in ("attention.output.LayerNorm", "output.LayerNorm"):
                sd[f"{p}.{name}.weight"] = torch.zeros(w)
                sd[f"{p}.{name}.bias"] = torch.zeros(w)
    else:  # a small CNN
        for i in range(rng.randrange(2, 6)):
            sd[f"features.{3 * i}.weight"] = torch.zeros(w, w, 3, 3)
            sd[f"features.{3 * i}.bias"] = torch.zeros(w)
        sd["classifier.weight"] = torch.zeros(10, w * 16)
        sd["classifier.bias"] = torch.zeros(10)
    return sd


def _last_line(cmd: list[str], timeout: float) -> tuple[str, bool]:
    """The last line a tool prints on the zoo, and whether it died with a traceback."""
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    text = out.stdout + out.stderr
    tail = text.strip().splitlines()[-1:] or [""]
    return tail[0], "Traceback (most recent call last)" in text


def main() -> int:
    compile_package()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds after which a tool's run is killed (default: 300)",
    )
    parser.add_argument(
        "--baseline", metavar="REV", help="compare with the package at this git revision"
    )
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    ours = [sys.executable, "-m", "pthforensics", "scan", "--json", "-o", os.devnull]
    if args.baseline:
        return _against_baseline(args, ours, cores)
    for broken in (True, False):
        zoo, n = build_zoo(args.files, broken=broken)
        label = "with the broken samples" if broken else "without the broken samples"
        print(f"\nzoo {label}: {zoo} ({n} files)")
        tools = {f"pthforensics -j {cores}": [*ours, "-j", str(cores), str(zoo)]}
        for name in ("picklescan", "modelscan"):
            exe = tool_path(name)
            if exe:
                tools[name] = [exe, "-p", str(zoo)]
            else:
                print(f"{name} not installed: column skipped", file=sys.stderr)
        results = {name: measure(cmd, args.repeat, args.timeout) for name, cmd in tools.items()}
        tails = {
            name: _last_line(cmd, args.timeout)
            for name, cmd in tools.items()
            if not name.startswith("pthforensics") and results[name][2] != "timeout"
        }
        # A rival that died on a file (a traceback) did not scan the zoo: no comparison.
        aborted = {name for name, (_line, crashed) in tails.items() if crashed}
        rivals = [
            v[0]
            for k, v in results.items()
            if not k.startswith("pthforensics") and v[2] != "timeout" and k not in aborted
        ]
        best = min(rivals) if rivals else None
        print(
            f"{'tool':<20}{'seconds':>9}{'files/s':>10}{'peak MB':>10}{'exit':>9}"
            f"{'speed-up vs faster rival':>26}"
        )
        for name, (seconds, peak, code) in results.items():
            ratio = f"{best / seconds:.1f}x" if best and name.startswith("pthforensics") else ""
            print(
                f"{name:<20}{seconds:>9.2f}{n / seconds:>10.1f}{peak:>10.1f}{code!s:>9}{ratio:>26}"
            )
        for name in tools:
            if name.startswith("pthforensics"):
                continue
            if results[name][2] == "timeout":
                print(f"  {name} did not finish within {args.timeout:.0f} s")
                continue
            line, crashed = tails[name]
            note = " (aborted: not compared)" if crashed else ""
            print(f"  {name}{note} last line: {line[:110]}")
        print("scaling of pthforensics with -j:")
        base = None
        for jobs in range(1, cores + 1):
            seconds, peak, _ = (
                results[f"pthforensics -j {cores}"]
                if jobs == cores
                else measure([*ours, "-j", str(jobs), str(zoo)], args.repeat, args.timeout)
            )
            base = base or seconds
            print(
                f"  -j {jobs}: {seconds:6.2f} s  {n / seconds:7.1f} files/s  speed-up "
                f"{base / seconds:.2f}x  peak {peak:.0f} MB"
            )
    return 0


def _against_baseline(args: argparse.Namespace, ours: list[str], cores: int) -> int:
    """This checkout vs the package at ``args.baseline``, side by side on the same zoos."""
    old = baseline_checkout(args.baseline)
    print(f"baseline: {args.baseline} extracted to {old}")
    print(
        f"{'zoo':<14}{'-j':>3}  {'code':<10}{'seconds':>9}{'files/s':>10}{'cpu s':>8}"
        f"{'peak MB':>9}{'exit':>6}"
    )
    for broken in (True, False):
        zoo, n = build_zoo(args.files, broken=broken)
        label = "with broken" if broken else "no broken"
        for jobs in sorted({cores, 1}, reverse=True):
            cmd = [*ours, "-j", str(jobs), str(zoo)]
            results = measure_side_by_side(
                {"this": (cmd, ROOT), "baseline": (cmd, old)}, args.repeat, args.timeout
            )
            for name, run in results.items():
                print(
                    f"{label:<14}{jobs:>3}  {name:<10}{run.seconds:>9.3f}{n / run.seconds:>10.1f}"
                    f"{run.cpu:>8.2f}{run.peak_mb:>9.1f}{run.code!s:>6}"
                )
            this, old_run = results["this"], results["baseline"]
            print(
                f"{'':<17}speed this / baseline: wall {old_run.seconds / this.seconds:.3f}x, "
                f"cpu {old_run.cpu / this.cpu:.3f}x ({n} files)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
