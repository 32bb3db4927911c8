"""Loopback servers for the remote tests and benchmarks, started and stopped by them.

* :func:`moto_s3` runs moto's standalone S3 server (``python -m moto.server``, what s3fs's
  own test suite uses) as a separate process on 127.0.0.1 and a free port;
* :func:`range_http` serves a folder over HTTP from a thread, honouring ``Range`` (one
  range per request, as fsspec asks) and counting the body bytes it sends; or ignoring
  ``Range``, saying so (``ranges="none"``: ``Accept-Ranges: none``) or not
  (``ranges="ignored"``), like servers that cannot seek.

Nothing here listens on anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
#: Credentials moto accepts (it checks none): passed as storage options, so that no real
#: profile or instance-metadata endpoint is ever consulted.
S3_KEY = "testing"
S3_SECRET = "testing"
_START_SECONDS = 60.0


def free_port() -> int:
    """A port nobody listens on now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"moto server did not listen on port {port} in {_START_SECONDS} s")


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server in a process of its own; yields its endpoint URL."""
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, process)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def s3_options(endpoint: str) -> list[str]:
    """``--storage-option`` values for the moto server at ``endpoint``."""
    return [f"endpoint_url={endpoint}", f"key={S3_KEY}", f"secret={S3_SECRET}"]


def s3_filesystem(endpoint: str) -> Any:
    """An s3fs file system on the moto server (no caching of listings between calls)."""
    import s3fs

    return s3fs.S3FileSystem(
        endpoint_url=endpoint, key=S3_KEY, secret=S3_SECRET, skip_instance_cache=True
    )


class Traffic:
    """What a :func:`range_http` server sent: body bytes, and the requests it answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.body_bytes = 0
        self.requests: list[tuple[str, str, str | None]] = []
        """(method, path, Range header) of each request."""

    def add(self, method: str, path: str, ranges: str | None, sent: int) -> None:
        with self.lock:
            self.requests.append((method, path, ranges))
            self.body_bytes += sent


class _Handler(http.server.SimpleHTTPRequestHandler):
    traffic: Traffic
    ranges: str
    #: Headers and body go out in separate writes: with Nagle's algorithm the body waits
    #: for the client's delayed ACK (~40 ms a request on Linux loopback).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            self._whole(get=True)
            return
        size = os.path.getsize(path)
        wanted = self.headers.get("Range") if self.ranges == "yes" else None
        span = _parse_range(wanted, size) if wanted else None
        if span is None:
            self._whole(get=True)
            return
        start, end = span
        self.send_response(206)
        self._file_headers(path, size)
        self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
        self._send(data, wanted)

    def do_HEAD(self) -> None:
        self._whole(get=False)

    def _whole(self, *, get: bool) -> None:
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            handle = self.send_head()  # directory listing or 404, as the stdlib does
            if handle is not None:
                with handle:
                    data = handle.read() if get else b""
                self._send(data, None)
            return
        size = os.path.getsize(path)
        self.send_response(200)
        self._file_headers(path, size)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not get:
            self.traffic.add(self.command, self.path, None, 0)
            return
        sent = 0
        with open(path, "rb") as f:
            try:
                while chunk := f.read(1 << 16):
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client took what it needed and hung up
        self.traffic.add(self.command, self.path, None, sent)

    def _file_headers(self, path: str, size: int) -> None:
        st = os.stat(path)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        tag = hashlib.sha1(f"{st.st_mtime_ns}:{size}".encode()).hexdigest()
        self.send_header("ETag", f'"{tag}"')
        if self.ranges != "ignored":
            self.send_header("Accept-Ranges", "bytes" if self.ranges == "yes" else "none")

    def _send(self, data: bytes, ranges: str | None) -> None:
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return
        self.traffic.add(self.command, self.path, ranges, len(data))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> ``(start, end)``, end exclusive."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    if not first:
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    return (start, end) if start < end else None


@contextlib.contextmanager
def range_http(root: Path, *, ranges: str = "yes") -> Iterator[tuple[str, Traffic]]:
    """Serve ``root`` on 127.0.0.1 from a thread; yields its base URL (ending ``/``) and
    the :class:`Traffic` it counts.  ``ranges``: ``yes``, ``none`` or ``ignored`` (see
    the module docstring)."""
    traffic = Traffic()
    handler = type(
        "Handler",
        (_Handler,),
        {"traffic": traffic, "ranges": ranges, "protocol_version": "HTTP/1.1"},
    )

    def make(*args: Any) -> http.server.SimpleHTTPRequestHandler:
        return handler(*args, directory=str(root))

    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), make)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}/", traffic
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
