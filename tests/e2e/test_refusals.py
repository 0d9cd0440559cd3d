"""Against a real uvicorn process: hostile requests get a 4xx with a JSON error, store
nothing, and the server keeps serving after each, including requests no well-behaved HTTP
client would send (sent over a raw socket)."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault import age
from vault.client import ClientError, VaultClient


def stored(data_dir: Path, settle: float = 3.0) -> list[str]:
    """Files in blobs/ and uploads/, after giving the server a moment to clean up after a
    client that hung up (it notices the disconnect asynchronously)."""
    deadline = time.monotonic() + settle
    while True:
        found = sorted(str(p.relative_to(data_dir)) for sub in ("blobs", "uploads")
                       for p in (data_dir / sub).rglob("*") if p.is_file())
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def raw_request(server: ServerProcess, request: bytes, *, close_early: bool = False
                ) -> tuple[int | None, dict[str, str], bytes]:
    """Send bytes as they are; return (status, headers, body), status None if no answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        if close_early:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def assert_json_4xx(status: int | None, headers: dict[str, str], body: bytes) -> None:
    assert status is not None and 400 <= status < 500, (status, body)
    assert body == b"" or "error" in json.loads(body)  # HEAD answers carry no body
    csp = headers.get("content-security-policy", "")
    # default-src 'none' under /api/, 'self' (a future static page) elsewhere.
    assert csp.startswith(("default-src 'none';", "default-src 'self';")), csp
    assert "frame-ancestors 'none'" in csp
    assert "server" not in headers and "date" not in headers


@pytest.fixture
def small_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(env={"AMANAT_MAX_SUBMISSION_BYTES": str(256 * 1024)})


def test_hostile_requests(small_server: ServerProcess) -> None:
    server = small_server
    dev = read_dev_keys(server.data_dir)
    with VaultClient(server.url) as client:
        good = dev.seal(b"statement")
        bad_bodies = [
            b"not age at all",
            age.encrypt_bytes(b"x", [age.X25519Identity.generate().recipient()]),
            good[:300],
            b"\0" * (256 * 1024 + 1),
        ]
        for body in bad_bodies:
            with pytest.raises(ClientError) as refused:
                client.submit(body)
            assert 400 <= refused.value.status < 500
            assert stored(server.data_dir) == []
        upload_id = client.create_upload()
        client.append(upload_id, 0, good[:100])
        for offset in (0, 99, 101):
            with pytest.raises(ClientError) as refused:
                client.append(upload_id, offset, b"x")
            assert refused.value.status == 409
        assert client.upload_offset(upload_id) == 100
        client.abandon_upload(upload_id)

    raw_cases = [
        # A body cut short: Content-Length promises more than arrives before the close.
        (b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
         b"Content-Type: application/octet-stream\r\n\r\n" + good[:1000], True),
        (b"GET /api/v1/submissions/../../etc/passwd HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n", False),
        (b"GET /api/v1/submissions/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n", False),
        (b"GET /api/v1/submissions/%2e%2e%2f%2e%2e%2fetc%2fpasswd HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n", False),
        (b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False),
        (b"HEAD /api/v1/uploads/..%2f..%2fvault.sqlite3 HTTP/1.1\r\nHost: x\r\n"
         b"Connection: close\r\n\r\n", False),
        (b"PATCH /api/v1/uploads/%2e%2e HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
         b"Content-Length: 1\r\nConnection: close\r\n\r\nx", False),
        (b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n"
         b"Connection: close\r\n\r\n", False),
        (b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 8\r\nConnection: close\r\n\r\n{\"a\": 1}", False),
    ]
    for request, close_early in raw_cases:
        status, headers, body = raw_request(server, request, close_early=close_early)
        if status is not None:
            assert_json_4xx(status, headers, body)
            assert b"root:" not in body
        assert stored(server.data_dir) == []
        assert server.alive()
        with VaultClient(server.url) as client:
            assert client.roster_text() == dev.roster_text
    assert b"Traceback" not in server.output()


def test_stalled_bodies_are_given_up(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"AMANAT_BODY_IDLE_SECONDS": "1"})
    dev = read_dev_keys(server.data_dir)
    good = dev.seal(b"statement")
    started = time.monotonic()
    status, headers, body = raw_request(server, (
        b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
        b"Connection: close\r\n\r\n" + good[:100]))
    assert status == 408 and time.monotonic() - started < 8
    assert_json_4xx(status, headers, body)
    assert stored(server.data_dir) == []
    with VaultClient(server.url) as client:
        upload_id = client.create_upload()
        status, _, _ = raw_request(server, (
            f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: x\r\nUpload-Offset: 0\r\n"
            "Content-Length: 5000\r\nConnection: close\r\n\r\n").encode() + good[:100])
        assert status == 408
        assert client.upload_offset(upload_id) == 100  # what arrived is kept for resuming
        client.append(upload_id, 100, good[100:])
        assert client.finish_upload(upload_id).size == len(good)


def test_malformed_http_is_not_logged(server: ServerProcess) -> None:
    canary = b"CANARY-" + secrets.token_hex(6).encode()
    for request in [
        b"GET /api/v1/roster HTTP/1.1\r\nHost: x\r\nUser-Agent " + canary + b"\r\n\r\n",
        canary + b"\x00 / HTTP/1.1\r\n\r\n",
        b"GET /api/v1/roster HTTP/1.1\r\nHost: x\r\nContent-Length: " + canary + b"\r\n\r\n",
        b"GET /" + canary + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ]:
        status, _, _ = raw_request(server, request)
        assert status is None or 400 <= status < 500
    assert server.alive()
    server.stop()
    assert canary not in server.output()
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert canary not in path.read_bytes()


def test_a_request_head_is_at_most_16_kib(server: ServerProcess) -> None:
    """The HTTP parser sets no limit of its own on a request head (api/deadlines.py does):
    a head past 16 KiB, in one long header, a long path, or one that never ends, is answered
    400 and its connection closed, well before the head deadline; one under it is served."""
    roster = b"GET /api/v1/roster HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    status, _, _ = raw_request(server, roster + b"X-Pad: " + b"a" * 12_000 + b"\r\n\r\n")
    assert status == 200
    for request in (roster + b"X-Pad: " + b"a" * 20_000 + b"\r\n\r\n",
                    b"GET /api/v1/" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"):
        assert raw_request(server, request)[0] == 400
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        began = time.monotonic()
        sock.sendall(roster)
        answer = b""
        with contextlib.suppress(ConnectionError):
            for _ in range(40):  # 40 KiB at most, a KiB at a time, never ending the head
                sock.sendall(b"X-Pad-" + b"b" * 1018 + b"\r\n")
                time.sleep(0.01)
        with contextlib.suppress(ConnectionError, TimeoutError):
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]
        assert time.monotonic() - began < 5
    assert server.alive()
    with VaultClient(server.url) as client:
        assert client.roster_text()


def answers_to(server: ServerProcess, requests: bytes) -> list[int]:
    """The statuses answered to ``requests`` sent at once on one connection, until it
    closes (the last request asks for it) or goes quiet."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(requests)
        data = b""
        with contextlib.suppress(ConnectionError, TimeoutError):
            while chunk := sock.recv(65536):
                data += chunk
    return [int(status) for status in re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", data)]


def test_pipelined_requests_are_bounded(server: ServerProcess) -> None:
    """Requests sent ahead of the answers (HTTP/1.1 pipelining) are all answered, in order,
    while a few wait; a connection queueing hundreds (the parser reads whatever one read
    holds, so each would wait in memory) gets 400 and is closed; the server keeps serving."""
    get = b"GET /api/v1/log/checkpoint HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /api/v1/log/checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert answers_to(server, get * 5 + last) == [200] * 6
    flooded = answers_to(server, get * 500 + last)
    assert 400 in flooded and len(flooded) < 100, flooded
    assert server.alive()
    with VaultClient(server.url) as client:
        assert client.checkpoint()


def test_a_body_sent_after_an_early_answer_is_not_taken_for_a_head(
        server: ServerProcess) -> None:
    """A request answered before its body arrived (413 on its declared length) keeps its
    connection: the body that follows, however long, is read and dropped, and the next
    request on that connection is answered."""
    body = b"x" * (70 * 1024)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:50_000])
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 413 "), first[:100]
        sock.sendall(body[50_000:])  # the body's end, past 16 KiB, in one read
        time.sleep(0.5)
        sock.sendall(b"GET /api/v1/log/checkpoint HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        data = b""
        with contextlib.suppress(ConnectionError, TimeoutError):
            while chunk := sock.recv(65536):
                data += chunk
    assert re.findall(rb"HTTP/1\.1 ([0-9]{3}) ", data) == [b"200"], data[:200]
