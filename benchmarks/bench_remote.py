"""Scanning where zoos live: bytes read by range requests, remote vs local wall time, and
throughput on a Dask cluster.

Everything runs on this machine, on 127.0.0.1, started and stopped here: moto's standalone
S3 server (a process), a web server honouring ``Range`` (a thread), a byte-counting TCP
proxy in front of the S3 server, and Dask ``LocalCluster`` worker processes.

1. **Bytes read**: a zoo of 100 MB+ checkpoints (torch zip, one with thousands of tensors,
   legacy, safetensors, a sharded pair) made under benchmarks/_work (never committed),
   uploaded to a bucket and scanned: per object, the bytes its report says it read and the
   share of its size; for the whole scan, every byte the S3 server sent through the proxy
   (listing, discovery sniffs, headers included).  Goal: <= 2%.
2. **Wall time remote vs local**: ``pthforensics scan`` as a process on the local folder,
   through S3 and through HTTP (median of ``--repeat`` runs).
3. **Dask throughput**: a 1,000-object bucket (copies of corpus checkpoints) scanned with
   ``--dask local:N`` for 1, 2 and 4 workers, beside the local pool (``-j 1``, ``-j 2``).

    python benchmarks/bench_remote.py                   # all three
    python benchmarks/bench_remote.py --sizes 100 --objects 200 --repeat 1   # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from _measure import ROOT, compile_package, measure

sys.path.insert(0, str(ROOT))

from tests._servers import (
    LOOPBACK,
    moto_s3,
    range_http,
    s3_filesystem,
    s3_options,
)

WORK = Path(__file__).resolve().parent / "_work" / "remote"
_MiB = 1 << 20


# --- the zoo ---------------------------------------------------------------------------


def make_zoo(size_mb: int) -> Path:
    """Checkpoints of about ``size_mb`` MB each (cached under benchmarks/_work)."""
    folder = WORK / f"zoo_{size_mb}mb"
    done = folder / ".complete"
    if done.exists():
        return folder
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    per_layer = size_mb * _MiB // 4 // 24
    width = int(per_layer**0.5)
    wide = {}
    for i in range(24):
        wide[f"blocks.{i}.fc.weight"] = torch.zeros(width, width)
        wide[f"blocks.{i}.fc.bias"] = torch.zeros(width)
    torch.save(wide, folder / "zip.pt")
    torch.save(wide, folder / "legacy.pt", _use_new_zipfile_serialization=False)
    save_file(wide, folder / "model.safetensors")
    # Thousands of tensors: a large data.pkl and central directory.
    many = {f"layer{i}.weight": torch.zeros(size_mb * _MiB // 4 // 3000) for i in range(3000)}
    torch.save(many, folder / "zip_3000_tensors.pt")
    halves = list(wide.items())
    shards = {}
    for part, items in enumerate((halves[:24], halves[24:]), 1):
        name = f"model-0000{part}-of-00002.safetensors"
        save_file({k: v.repeat(2, 1) if v.dim() == 2 else v for k, v in items}, folder / name)
        shards.update(dict.fromkeys((k for k, _ in items), name))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
    done.touch()
    return folder


def make_small_objects(count: int) -> dict[str, bytes]:
    """``count`` small checkpoints (corpus files, cycled) by object name."""
    corpus = ROOT / "corpus"
    sources = sorted(
        p
        for part in ("benign", "models")
        for p in (corpus / part).iterdir()
        if p.suffix in {".pt", ".pth", ".safetensors", ".ckpt"}
    )
    blobs = [p.read_bytes() for p in sources]
    return {
        f"objects/{i // 100:02d}/{i:04d}_{src.name}": blob
        for i, (src, blob) in zip(range(count), itertools.cycle(zip(sources, blobs, strict=True)))
    }


# --- a byte-counting proxy -------------------------------------------------------------


class CountingProxy:
    """A TCP proxy on 127.0.0.1 that counts the bytes the upstream server sends back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.received = 0
        self._lock = threading.Lock()
        self._server = socket.create_server((LOOPBACK, 0))
        self.port = self._server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(1 << 16):
                if count:
                    with self._lock:
                        self.received += len(data)
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop = True
        self._server.close()


# --- measurements ----------------------------------------------------------------------


def _options(endpoint: str) -> list[str]:
    return [flag for o in s3_options(endpoint) for flag in ("--storage-option", o)]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pthforensics", "scan", *args]


def bytes_table(endpoint: str, zoo: Path) -> None:
    """Per object: size, bytes read, share, requests; the whole scan's bytes on the wire."""
    from pthforensics import scan_tree

    port = int(endpoint.rsplit(":", 1)[1])
    proxy = CountingProxy(port)
    via = f"http://{LOOPBACK}:{proxy.port}"
    options = [f"endpoint_url={via}", *s3_options(endpoint)[1:]]
    started = time.perf_counter()
    with scan_tree([f"s3://zoo/{zoo.name}/"], storage_options=options, jobs=2) as tree:
        reports = sorted(tree, key=lambda r: r.path)
    seconds = time.perf_counter() - started
    proxy.close()
    # The same objects from the web server, which counts the requests for each.
    with range_http(zoo.parent) as (url, traffic), scan_tree([f"{url}{zoo.name}/"], jobs=2) as web:
        web_reports = {r.path.rsplit("/", 1)[1]: r for r in web}
    requests: dict[str, int] = {}
    for method, path, _ranges in traffic.requests:
        if method == "GET" and not path.endswith("/"):
            name = path.rsplit("/", 1)[1]
            requests[name] = requests.get(name, 0) + 1
    print(f"\n1. Bytes read by range requests (zoo of {zoo.name}, S3 on 127.0.0.1)\n")
    rows = [("object", "format", "size MB", "read KB", "share", "GETs")]
    for r in reports:
        name = r.path.rsplit("/", 1)[1]
        size, read = r.size or 0, r.bytes_read or 0
        assert web_reports[name].bytes_read == read, name  # same reads from either server
        rows.append(
            (
                name,
                r.format.value if r.format else (r.error.message[:30] if r.error else "?"),
                f"{size / _MiB:.1f}",
                f"{read / 1024:.1f}",
                f"{100 * read / size:.3f}%" if size else "-",
                str(requests.get(name, 0)),
            )
        )
    total = sum(r.size or 0 for r in reports)
    read = sum(r.bytes_read or 0 for r in reports)
    rows.append(
        (
            "all objects",
            "",
            f"{total / _MiB:.1f}",
            f"{read / 1024:.1f}",
            f"{100 * read / total:.3f}%",
            str(sum(requests.values())),
        )
    )
    rows.append(
        (
            "on the wire",
            "(+listing, sniffs, HTTP)",
            "",
            f"{proxy.received / 1024:.1f}",
            f"{100 * proxy.received / total:.3f}%",
            "",
        )
    )
    _print(rows)
    print(
        f"\n{len(reports)} objects in {seconds:.2f} s; goal <= 2% of the bytes.  GETs: range "
        "requests per object on the web server, the discovery's 4 KiB sniff included."
    )


def _get_ms(endpoint: str, key: str) -> float:
    """Milliseconds of one 4 KiB range GET on ``key`` of the S3 server (median of 5)."""
    fs = s3_filesystem(endpoint)
    handle = fs.open(key, "rb", cache_type="none", size=fs.size(key))
    times = []
    for i in range(5):
        started = time.perf_counter()
        handle.seek(4096 * i)
        handle.read(4096)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def wall_table(endpoint: str, zoo: Path, repeat: int) -> None:
    """Whole-process wall time of the same scan: local folder, S3, HTTP."""
    print(f"\n2. Wall time, remote vs local ({zoo.name}, -j 2, median of {repeat})\n")
    local, _, code_local = measure(_cli(str(zoo), "-j", "2"), repeat)
    s3, _, code_s3 = measure(_cli(f"s3://zoo/{zoo.name}/", "-j", "2", *_options(endpoint)), repeat)
    with range_http(zoo.parent) as (url, _traffic):
        web, _, code_web = measure(_cli(f"{url}{zoo.name}/", "-j", "2"), repeat)
    rows = [("source", "seconds", "vs local", "exit")]
    for name, seconds, code in (
        ("local folder", local, code_local),
        ("S3 (moto)", s3, code_s3),
        ("HTTP (Range)", web, code_web),
    ):
        rows.append((name, f"{seconds:.2f}", f"{seconds / local:.2f}x", str(code)))
    _print(rows)
    big, small = _get_ms(endpoint, f"zoo/{zoo.name}/zip.pt"), _get_ms(endpoint, "zoo/small")
    print(
        f"\nmoto answers one 4 KiB range GET in {big:.0f} ms on a {zoo.name[4:]} object, "
        f"{small:.1f} ms on a 100 KB one (it reads the whole object for each): the S3 "
        "column measures moto more than the scan."
    )


def dask_table(endpoint: str, count: int) -> None:
    """Objects per second on a ``count``-object bucket: Dask workers vs the local pool."""
    from distributed import LocalCluster

    fs = s3_filesystem(endpoint)
    fs.mkdir("many")
    objects = make_small_objects(count)
    fs.pipe({f"many/{k}": v for k, v in objects.items()})
    total_mb = sum(map(len, objects.values())) / _MiB
    print(f"\n3. Throughput on a {count}-object bucket ({total_mb:.1f} MB)\n")
    rows = [("executor", "cluster start s", "discover s", "scan s", "objects/s", "errors")]
    rows.extend(
        _timed_scan(f"local pool -j {jobs}", endpoint, count, "-", jobs=jobs) for jobs in (1, 2)
    )
    for workers in (1, 2, 4):
        started = time.perf_counter()
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            dashboard_address=None,
        ) as cluster:
            up = f"{time.perf_counter() - started:.2f}"
            name = f"dask, {workers} worker(s)"
            rows.append(_timed_scan(name, endpoint, count, up, dask=cluster.scheduler_address))
    _print(rows)
    print(
        "\n(scan s: from the end of discovery to the last report; the clusters are started "
        "before, their start-up shown apart)"
    )


def _timed_scan(name: str, endpoint: str, count: int, up: str, **kwargs: object) -> tuple[str, ...]:
    from pthforensics import scan_tree

    started = time.perf_counter()
    tree = scan_tree(["s3://many/"], storage_options=s3_options(endpoint), **kwargs)  # type: ignore[arg-type]
    listed = time.perf_counter()
    errors = seen = 0
    with tree:
        for report in tree:
            seen += 1
            errors += report.error is not None
    seconds = time.perf_counter() - listed
    assert seen == count, (name, seen)
    return (
        name,
        up,
        f"{listed - started:.2f}",
        f"{seconds:.2f}",
        f"{seen / seconds:.1f}",
        str(errors),
    )


def _print(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


@contextlib.contextmanager
def _bucket(endpoint: str, zoos: list[Path]) -> Iterator[None]:
    fs = s3_filesystem(endpoint)
    fs.mkdir("zoo")
    fs.pipe("zoo/small", bytes(100_000))
    for zoo in zoos:
        fs.put(f"{zoo}/", f"zoo/{zoo.name}/", recursive=True)
    yield


def main() -> int:
    compile_package()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100], help="MB per checkpoint")
    parser.add_argument("--objects", type=int, default=1000, help="objects in the Dask bucket")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", choices=["bytes", "wall", "dask"], action="append", help="run only these parts"
    )
    args = parser.parse_args()
    parts = set(args.only or ["bytes", "wall", "dask"])
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    zoos = [make_zoo(size) for size in args.sizes] if parts & {"bytes", "wall"} else []
    with moto_s3() as endpoint, _bucket(endpoint, zoos):
        for zoo in zoos:
            if "bytes" in parts:
                bytes_table(endpoint, zoo)
            if "wall" in parts:
                wall_table(endpoint, zoo, args.repeat)
        if "dask" in parts:
            dask_table(endpoint, args.objects)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} (on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
