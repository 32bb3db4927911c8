"""Scanning zoos where they live: an S3 bucket (moto's standalone server) and an HTTP
server honouring ``Range``, both on 127.0.0.1 and started by the tests, give the same
reports as the same folder on disk, each object once, reading a small share of the bytes
of big files; resuming matches URL, size and ETag; what cannot be read is an error report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pthforensics import scan, scan_tree
from pthforensics.cli import main
from tests._remote_zoo import BIG, MAX_SHARE, by_name, scan_jsonl, storage_args
from tests._servers import range_http, s3_filesystem


def _check_same(remote: list[dict[str, Any]], root: str, local: list[dict[str, Any]], zoo: Path):
    """``remote`` reports (paths under ``root``) equal the local ones, every object once."""
    mine, theirs = by_name(remote, root), by_name(local, str(zoo))
    assert sorted(mine) == sorted(theirs)
    different = [name for name in theirs if mine[name] != theirs[name]]
    assert different == []
    # What the zoo holds is all there: no hidden file, no non-checkpoint, the big ones.
    assert not any(name.startswith(".hidden") for name in mine)
    assert not any(name.endswith((".json", ".py", ".md")) for name in mine)
    assert {"big/big_zip.pt", "big/big_legacy.pt", "big/big.safetensors"} <= set(mine)
    verdicts = {r["verdict"] for r in mine.values()}
    assert {"clean", "suspicious", "malicious", None} <= verdicts


def _check_share(reports: list[dict[str, Any]]) -> None:
    big = [r for r in reports if r["size"] >= BIG]
    assert len(big) == 3
    for report in big:
        assert report["status"] == "ok"
        assert 0 < report["bytes_read"] <= MAX_SHARE * report["size"], report["path"]


def test_a_bucket_scans_as_the_folder_does(
    s3_zoo: tuple[str, list[str]],
    remote_zoo: Path,
    zoo_local_reports: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    url, options = s3_zoo
    fs = s3_filesystem(options[0].split("=", 1)[1])
    assert fs.exists("zoo/.hidden/skipped.pt")  # in the bucket, and skipped as locally
    document = tmp_path / "doc.json"
    reports = scan_jsonl(
        tmp_path / "s3.jsonl", [url], "-j", "2", "-o", str(document), *storage_args(options)
    )
    _check_same(reports, url, zoo_local_reports, remote_zoo)
    _check_share(reports)
    assert all(r["etag"] for r in reports if r["status"] == "ok")
    summary = json.loads(document.read_text())["summary"]
    assert summary["bytes_read"] == sum(r["bytes_read"] or 0 for r in reports)
    assert summary["bytes_total"] == sum(r["size"] for r in reports if r["bytes_read"] is not None)
    local_doc = tmp_path / "local.json"
    scan_jsonl(tmp_path / "local.jsonl", [str(remote_zoo)], "-j", "2", "-o", str(local_doc))
    local_models = json.loads(local_doc.read_text())["summary"]["models"]
    assert _models(summary["models"]) == _models(local_models)
    assert _models(summary["models"]) == [
        ("sharded", "ok", "clean", ["clean", "clean"], 0, 4),
        ("sharded_missing", "error", "clean", ["clean", None], 1, 2),
    ]


def _models(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            m["model"],
            m["status"],
            m["verdict"],
            [s["verdict"] for s in m["shards"]],
            len(m["missing_shards"]),
            m["shard_tensors"],
        )
        for m in entries
    ]


def test_a_web_server_scans_as_the_folder_does(
    remote_zoo: Path, zoo_local_reports: list[dict[str, Any]], tmp_path: Path
) -> None:
    with range_http(remote_zoo) as (url, traffic):
        reports = scan_jsonl(tmp_path / "http.jsonl", [url], "-j", "2")
    _check_same(reports, url, zoo_local_reports, remote_zoo)
    _check_share(reports)
    # Every GET of a file asked for a range: no file was fetched whole.
    files = [r for r in traffic.requests if r[0] == "GET" and not r[1].endswith("/")]
    assert files and all(ranges is not None for _, _, ranges in files)
    total = sum(r["size"] for r in reports)
    assert traffic.body_bytes < 0.2 * total


def test_remote_discovery_keeps_the_local_order(
    s3_zoo: tuple[str, list[str]], remote_zoo: Path
) -> None:
    url, options = s3_zoo
    with scan_tree([url], storage_options=options) as remote, scan_tree([remote_zoo]) as local:
        names = [c.path[len(url) :] for c in remote.files]
        assert names == [c.path[len(str(remote_zoo)) + 1 :] for c in local.files]
        assert all(c.etag and c.size is not None and c.mtime is None for c in remote.files)
        exclude = ["big", "*.pkl", "*/broken/*"]
        with (
            scan_tree([url], storage_options=options, exclude=exclude) as fewer,
            scan_tree([remote_zoo], exclude=exclude) as local_fewer,
        ):
            kept = [c.path[len(url) :] for c in fewer.files]
            assert kept == [c.path[len(str(remote_zoo)) + 1 :] for c in local_fewer.files]
            assert len(kept) < len(names) and not any(
                n.startswith(("big/", "corpus/broken/")) or n.endswith(".pkl") for n in kept
            )
        named = {c.path[len(url) :]: c.model for c in remote.files if c.model}
        assert named == {
            "models--org--tiny/snapshots/abc123/pytorch_model.bin": "org/tiny",
            "sharded/model-00001-of-00002.safetensors": "sharded",
            "sharded/model-00002-of-00002.safetensors": "sharded",
            "sharded_missing/model-00001-of-00002.safetensors": "sharded_missing",
        }


def test_resume_matches_url_size_and_etag(
    s3_endpoint: str, remote_zoo: Path, tmp_path: Path
) -> None:
    fs = s3_filesystem(s3_endpoint)
    fs.mkdir("resume")
    for name in ("state_dict.pt", "tied_weights.pt", "fp16.pt"):
        fs.put(str(remote_zoo / "corpus" / "benign" / name), f"resume/{name}")
    options = storage_args([f"endpoint_url={s3_endpoint}", "key=testing", "secret=testing"])
    out = tmp_path / "run.jsonl"
    first = scan_jsonl(out, ["s3://resume/"], "-j", "1", *options)
    assert len(first) == 3
    again = scan_jsonl(out, ["s3://resume/"], "--resume", str(out), "-j", "1", *options)
    assert len(again) == 3  # nothing appended: every object matched
    # Same name and size, other bytes: a new ETag, so it is read again (and only it).
    data = bytearray((remote_zoo / "corpus" / "benign" / "fp16.pt").read_bytes())
    data[-30] ^= 0xFF
    fs.pipe("resume/fp16.pt", bytes(data))
    rerun = scan_jsonl(out, ["s3://resume/"], "--resume", str(out), "-j", "1", *options)
    # The file is kept to one line per path: the stale line goes, the new one is appended.
    assert len(rerun) == 3 and rerun[-1]["path"] == "s3://resume/fp16.pt"
    old_fp16 = first[[r["path"] for r in first].index("s3://resume/fp16.pt")]
    assert rerun[-1]["etag"] != old_fp16["etag"]
    assert list(rerun[:2]) == [r for r in first if r["path"] != "s3://resume/fp16.pt"]


def test_objects_that_cannot_be_read_are_error_reports(s3_endpoint: str, remote_zoo: Path) -> None:
    fs = s3_filesystem(s3_endpoint)
    fs.mkdir("vanishing")
    for name in ("state_dict.pt", "fp16.pt"):
        fs.put(str(remote_zoo / "corpus" / "benign" / name), f"vanishing/{name}")
    options = [f"endpoint_url={s3_endpoint}", "key=testing", "secret=testing"]
    missing = "s3://vanishing/never-there.pt"
    with scan_tree(["s3://vanishing/", missing], storage_options=options, jobs=1) as tree:
        assert len(tree.files) == 3
        fs.rm("vanishing/fp16.pt")  # listed, then gone before it is read
        reports = {r.path: r for r in tree}
    assert len(reports) == 3
    assert reports["s3://vanishing/state_dict.pt"].verdict is not None
    for gone in ("s3://vanishing/fp16.pt", missing):
        error = reports[gone].error
        assert error is not None and error.stage == "container", gone
    assert "no such object" in (reports[missing].error.message or "")  # type: ignore[union-attr]


def test_a_server_without_ranges_is_never_read_whole(remote_zoo: Path) -> None:
    big = remote_zoo / "big" / "big_zip.pt"
    with range_http(remote_zoo, ranges="none") as (url, traffic):
        report = scan(url + "big/big_zip.pt")
    assert report.error is not None and "range requests" in report.error.message
    assert traffic.body_bytes == 0  # it said so: nothing but a HEAD
    with range_http(remote_zoo, ranges="ignored") as (url, traffic):
        report = scan(url + "big/big_zip.pt")
    # It did not say so: the first bytes come from the start of a whole-file answer, the
    # end of the file cannot, and the scan stops there.
    assert report.error is not None and "range requests" in report.error.message
    assert report.bytes_read is not None and report.bytes_read < 0.01 * big.stat().st_size


def test_single_objects_and_inspect_by_url(s3_zoo: tuple[str, list[str]]) -> None:
    url, options = s3_zoo
    report = scan(url + "corpus/malicious/os_system.pkl", storage_options=options)
    assert report.verdict is not None and report.verdict.value == "malicious"
    assert report.bytes_read == report.size
    from pthforensics import inspect

    deep = inspect(url + "corpus/models/lenet_seq.pt", storage_options=options, trace=False)
    assert deep.layers and deep.input is not None


def test_bad_remote_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["scan", "s3://b/", "--storage-option", "novalue"],
        ["scan", "s3://b/", "--storage-option", "bad key=1"],
        ["scan", "x", "--dask", "local:0"],
        ["scan", "x", "--dask", "somewhere"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
    assert "KEY=VALUE" in capsys.readouterr().err


def test_importing_and_local_scans_load_no_remote_or_dask_module() -> None:
    code = (
        "import sys\n"
        "import pthforensics, pthforensics.cli\n"
        "r = pthforensics.scan('corpus/benign/state_dict.pt')\n"
        "assert r.bytes_read and r.bytes_read >= r.size, r\n"
        "loaded = [m for m in ('fsspec', 's3fs', 'aiohttp', 'dask', 'distributed') "
        "if m in sys.modules]\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_ROOT
    ).stdout
    assert out.strip() == "[]"


_ROOT = Path(__file__).resolve().parent.parent
