"""What the HTTP server takes before any app reads a request: a body over the path's limit is
refused (413) while it arrives, not buffered to a temporary file first, so that requests from
anyone (no signature is checked before the body is read) cannot fill the disk."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.service.metrics import Metrics
from bot.service.server import MAX_REQUEST_BODY, HttpServer, wsgi_app
from tests.fixtures.databases import fresh_sqlite

CHUNK = 64 * 1024


@pytest.fixture
def server(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The service's router (health, metrics; no Slack, no intake) on a free local port."""
    db = fresh_sqlite(sqlite_template, tmp_path)
    router = wsgi_app(None, db, slack=False, metrics=Metrics())
    http = HttpServer(router, "127.0.0.1", 0)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    yield http.url
    http.stop(timeout=5)
    thread.join(timeout=5)
    db.dispose()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def chunked_post(url: str, path: str, total: int) -> tuple[int, int, float]:
    """POST ``total`` bytes to ``path`` in chunks as fast as the server reads them; the answer's
    status, the bytes sent before it came (or the server stopped reading) and the seconds."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    started = time.monotonic()
    sent = 0
    try:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        frame = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        else:
            sock.sendall(b"0\r\n\r\n")
        answer = sock.recv(4096)
    finally:
        sock.close()
    return _status(answer), sent, time.monotonic() - started


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/nowhere"])
def test_a_huge_chunked_body_on_any_path_is_refused_while_it_arrives(
    server: str, path: str
) -> None:
    """300 MB sent chunked to /healthz was read to the end into a temporary file and answered
    200. Now the server stops at the largest limit of any path and answers 413."""
    status, sent, _ = chunked_post(server, path, 300 * 1024 * 1024)

    assert status == 413
    # What the kernel's socket buffers take besides; far from the 300 MB sent.
    assert sent < MAX_REQUEST_BODY + 16 * 1024 * 1024, sent


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    server: str,
) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /orders HTTP/1.1\r\nHost: {host}\r\nContent-Length: 300000000\r\n\r\n".encode()
        )
        assert _status(sock.recv(4096)) == 413


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_paths_that_take_no_body_refuse_one(server: str, path: str) -> None:
    reply = requests.post(server + path, data=b"x" * 1000, timeout=10)

    assert reply.status_code == 413
    assert "takes no request body" in reply.text
    assert requests.get(server + path, timeout=10).status_code == 200
