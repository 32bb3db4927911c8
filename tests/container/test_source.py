"""Sources: local files read with pread and counted, remote objects read by range requests
through a cache of the ranges fetched (here over an in-memory handle that records every
request), and every corpus file read the same either way."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest

from pthforensics.container import open_source, read_container
from pthforensics.container import source as source_module
from pthforensics.container.source import Source, _RemoteFetch
from pthforensics.core import ContainerError
from tests._helpers import CORPUS


class Handle:
    """An object's bytes, with the requests made on them: (offset, length) each."""

    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        self.data = data
        self.requests: list[tuple[int, int]] = []
        self.fail_at = fail_at
        self._at = 0

    def seek(self, offset: int) -> None:
        self._at = offset

    def read(self, length: int) -> bytes:
        if self.fail_at is not None and self._at <= self.fail_at < self._at + length:
            raise TimeoutError("the store stopped answering")
        self.requests.append((self._at, length))
        return self.data[self._at : self._at + length]

    def close(self) -> None:
        """Nothing to release."""


def _remote(data: bytes, size: int | None = None) -> tuple[_RemoteFetch, Handle]:
    handle = Handle(data)
    return _RemoteFetch(handle, "s3://b/k", len(data) if size is None else size), handle


DATA = bytes(range(256)) * 4096  # 1 MiB


def test_a_read_fetches_once_and_is_served_from_the_cache_after() -> None:
    fetch, handle = _remote(DATA)
    assert fetch(0, 100) == DATA[:100]
    assert handle.requests == [(0, 4096)]  # the smallest fetch holds what follows
    assert fetch(10, 4000) == DATA[10:4010]
    assert fetch.requests == 1 and fetch.bytes == 4096


def test_only_the_gaps_between_cached_ranges_are_fetched() -> None:
    fetch, handle = _remote(DATA)
    fetch(0, 4096)
    fetch(100_000, 4096)
    assert fetch(2000, 200_000) == DATA[2000:202_000]
    assert handle.requests == [(0, 4096), (100_000, 4096), (4096, 95_904), (104_096, 97_904)]
    assert fetch.bytes == sum(n for _, n in handle.requests) == 202_000


def test_read_ahead_grows_while_reads_continue_and_resets_on_a_jump() -> None:
    fetch, handle = _remote(DATA)
    at = 0
    for _ in range(5):
        fetch(at, 10)
        at = handle.requests[-1][0] + handle.requests[-1][1]
    assert [n for _, n in handle.requests] == [4096, 8192, 16384, 32768, 65536]
    fetch(900_000, 10)
    assert handle.requests[-1] == (900_000, 4096)


def test_the_tail_and_the_end_of_the_object() -> None:
    fetch, handle = _remote(DATA)
    assert fetch(len(DATA) - 22, 100) == DATA[-22:]  # clipped to the object
    assert handle.requests == [(len(DATA) - 22, 22)]
    short, _ = _remote(DATA[:1000], size=5000)  # listed larger than it is
    assert short(0, 5000) == DATA[:1000]
    assert short(2000, 10) == b""


def test_the_cache_drops_the_least_recently_used_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "_CACHE_BYTES", 3 * 4096)
    fetch, handle = _remote(DATA)
    for at in (0, 100_000, 200_000):
        fetch(at, 10)
    fetch(0, 10)  # used again: the one at 100 000 is now the oldest
    fetch(300_000, 10)
    before = len(handle.requests)
    fetch(0, 10)
    fetch(200_000, 10)
    assert len(handle.requests) == before
    fetch(100_000, 10)
    assert handle.requests[-1] == (100_000, 4096)


def test_a_failed_request_is_a_container_error_naming_the_range() -> None:
    handle = Handle(DATA, fail_at=500_000)
    fetch = _RemoteFetch(handle, "s3://b/k", len(DATA))
    with pytest.raises(ContainerError, match="at offset 500000") as exc:
        fetch(500_000, 10)
    assert exc.value.path == "s3://b/k" and "TimeoutError" in exc.value.message


def _corpus_files() -> list[Path]:
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and not p.name.endswith((".json", ".py", ".md")) and p.stat().st_size
    )


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_reads_the_same_by_ranges(path: Path) -> None:
    data = path.read_bytes()
    fetch, handle = _remote(data)
    remote = Source(str(path), len(data), None, fetch)
    try:
        local = read_container(str(path))
    except ContainerError as exc:
        with pytest.raises(ContainerError) as again:
            read_container(remote)
        assert again.value.message == exc.message
    else:
        assert read_container(remote) == local
    # Each byte came over the wire once at most: what was fetched is never fetched again.
    spans = sorted(handle.requests)
    assert all(a + n <= b for (a, n), (b, _) in itertools.pairwise(spans))


def test_local_sources_count_what_they_read(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    with open_source(str(path)) as source:
        source.file.seek(len(DATA) - 100)
        assert source.file.read(100) == DATA[-100:]
        assert 100 <= source.bytes_read <= 8192
        source.file.seek(0)
        source.file.read(3)
        assert source.requests == 2
    with pytest.raises(ContainerError, match="is a directory"):
        open_source(str(tmp_path))
    with pytest.raises(ContainerError, match="cannot read file"):
        open_source(str(tmp_path / "missing.pt"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ContainerError, match="not a regular file"):
        open_source(str(fifo))


def test_seeking() -> None:
    fetch, _ = _remote(DATA)
    source = Source("s3://b/k", len(DATA), None, fetch)
    assert source.file.seek(-10, io.SEEK_END) == len(DATA) - 10
    assert source.file.read() == DATA[-10:]
    with pytest.raises(OSError, match="negative seek"):
        source.file.seek(-1)


def test_positional_reads_go_through_the_counted_fetch(tmp_path: Path) -> None:
    """The zip, tar and legacy readers' ``pread`` reads a source's bytes through its fetch:
    counted exactly (no 8 KiB buffer filled for a 30-byte local header), the position of
    the file unmoved, nothing past the end."""
    from pthforensics.container.positional import pread

    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    with open_source(str(path)) as source:
        source.file.seek(5)
        assert pread(source.file, 30, 1000) == DATA[1000:1030]
        assert (source.bytes_read, source.requests) == (30, 1)
        assert source.file.tell() == 5
        assert pread(source.file, 100, len(DATA) - 10) == DATA[-10:]
        assert pread(source.file, 10, len(DATA) + 5) == b""
        assert source.bytes_read == 40
    handle = Handle(DATA)
    remote = Source("s3://b/k", len(DATA), None, _RemoteFetch(handle, "s3://b/k", len(DATA)))
    assert pread(remote.file, 30, 1000) == DATA[1000:1030]
    assert remote.bytes_read == sum(n for _, n in handle.requests) and remote.requests == 1
