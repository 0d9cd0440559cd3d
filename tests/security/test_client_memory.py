"""A hostile server cannot fill a client's memory (or disk) with an endless answer.

A tiny HTTP server on 127.0.0.1 answers one endpoint with a body that does not end (up to
`FLOOD_BYTES`, so that a client without bounds fails this test rather than the machine).
Each client runs in a fresh interpreter started through ``bench.peak_rss``: its own peak
resident set size must stay under `MAX_PEAK_MIB` (plus the codename's Argon2id memory), and
it must fail with one line on stderr saying the answer is larger than it can be. Paging is
bounded too: a listing that never ends, or whose cursor does not move on, is refused.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.peak_rss import ProbedProcess
from keys.identity import InvestigatorIdentity
from tests.api.vaultkit import FAST_KDF
from vault import client as client_module
from vault.client import MalformedAnswerError, VaultClient
from vault.codename import new_codename

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
FLOOD_BYTES = 768 * MIB
MAX_PEAK_MIB = 100  # an interpreter with httpx and vault loaded takes about 60
CODENAME_MIB = 64  # `replies` derives its keys with Argon2id, m = 64 MiB (FORMAT.md 8)
REPLY = {"id": "0123456789abcdef0123456789abcdef", "sha256": "ab" * 32, "size": 1000,
         "received": "2026-11-21T05:00Z", "log_index": 3}

ENDLESS = object()


class HostileServer:
    """Answers every request whose path starts with a key of ``routes`` with (status,
    body), the body `ENDLESS` or bytes; anything else with 404."""

    def __init__(self, routes: dict[str, tuple[int, object]]) -> None:
        self.routes = routes
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            path = head.split(b" ", 2)[1].decode()
            status, body = next((answer for prefix, answer in self.routes.items()
                                 if path.startswith(prefix)), (404, b"{}"))
            try:
                if body is ENDLESS:
                    conn.sendall(f"HTTP/1.1 {status} Hostile\r\nContent-Type: application/json"
                                 "\r\nConnection: close\r\n\r\n".encode())
                    chunk = b"[" + b"0," * (MIB // 2 - 1)
                    for _ in range(FLOOD_BYTES // len(chunk)):
                        conn.sendall(chunk)
                else:
                    assert isinstance(body, bytes)
                    conn.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                                 .encode() + body)
            except OSError:
                return  # the client hung up: what it should do

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def identity(tmp_path: Path) -> Path:
    path = tmp_path / "me.identity"
    path.write_bytes(InvestigatorIdentity.generate("Me").seal("pass words", FAST_KDF))
    return path


CALLS = """
import sys
from vault.client import VaultClient
client = VaultClient(sys.argv[1])
client.token = "t"
call = {
    "a page of submissions": lambda: list(client.iter_submissions()),
    "log entries": lambda: client.entries(0, 10),
    "the held list": lambda: client.held(0, 10),
    "the checkpoint": client.checkpoint,
    "an inclusion proof": lambda: client.inclusion_proof(1, 10),
    "a consistency proof": lambda: client.consistency_proof(1, 10),
    "a receipt": lambda: client.receipt(1),
    "a login challenge": lambda: client.login("00" * 8, lambda m: (b"", None), "log"),
    "a download": lambda: client.download("0123456789abcdef0123456789abcdef",
                                          open("/dev/null", "wb"), 1000),
}[sys.argv[2]]
try:
    call()
except Exception as exc:
    print(f"amanat: {exc}", file=sys.stderr)
    sys.exit(1)
"""

SCENARIOS: dict[str, tuple[dict[str, tuple[int, object]], str]] = {
    # name: (routes, command: "cli:<args>" or a CALLS key)
    "the roster": ({"/api/v1/roster": (200, ENDLESS)}, "cli:inbox"),
    "the mailbox listing": ({"/api/v1/mailbox": (200, ENDLESS)}, "cli:replies"),
    "a reply": ({"/api/v1/mailbox/replies/": (200, ENDLESS),
                 "/api/v1/mailbox": (200, json.dumps({"replies": [REPLY]}).encode())},
                "cli:replies"),
    "an error message": ({"/api/v1/mailbox": (500, ENDLESS)}, "cli:replies"),
    **{name: ({"/api/v1/": (200, ENDLESS)}, name) for name in (
        "a page of submissions", "log entries", "the held list", "the checkpoint",
        "an inclusion proof", "a consistency proof", "a receipt", "a login challenge",
        "a download")},
}


def run_client(command: str, url: str, identity: Path) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AMANAT_PASSPHRASE": "pass words",
           "AMANAT_CODENAME": new_codename()}
    if command.startswith("cli:"):
        name = command.removeprefix("cli:")
        argv = [sys.executable, "-m", "vault.cli", name, "--server", url]
        if name == "inbox":
            argv += ["-i", str(identity)]
    else:
        argv = [sys.executable, "-c", CALLS, url, command]
    probed = ProbedProcess(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env)
    assert probed.stderr is not None
    with probed.stderr:
        err = probed.stderr.read().decode("utf-8", "replace")
    measured = probed.wait(timeout=120)
    return measured.returncode, measured.max_rss_bytes / MIB, err


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_an_endless_answer_is_refused_in_bounded_memory(scenario: str, identity: Path
                                                        ) -> None:
    routes, command = SCENARIOS[scenario]
    server = HostileServer(routes)
    try:
        status, peak, err = run_client(command, server.url, identity)
    finally:
        server.close()
    lines = [line for line in err.splitlines() if not line.startswith("amanat: no --org")]
    assert status == 1, err
    assert len(lines) == 1 and lines[0].startswith("amanat: "), err
    if scenario == "an error message":
        assert lines[0] == "amanat: server refused (500): Internal Server Error", err
    else:
        assert "is larger than" in lines[0] and "refusing it" in lines[0], err
    bound = MAX_PEAK_MIB + (CODENAME_MIB if command == "cli:replies" else 0)
    assert peak < bound, f"{scenario}: peak {peak:.0f} MiB"


def paging_client(next_cursor: Iterator[str]) -> VaultClient:
    def handler(request: httpx.Request) -> httpx.Response:
        page = {"submissions": [{**REPLY, "log_index": 1}] * 3, "next_cursor": next(next_cursor)}
        return httpx.Response(200, json=page)

    client = VaultClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    client.token = "t"
    return client


def test_a_listing_without_end_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "MAX_LISTED_SUBMISSIONS", 30)
    client = paging_client(str(n) for n in range(1, 10**9))
    with pytest.raises(MalformedAnswerError, match="lists more than 30 submissions"):
        list(client.iter_submissions())


def test_a_listing_whose_cursor_stands_still_is_refused() -> None:
    client = paging_client(iter(["5", "5"]))
    with pytest.raises(MalformedAnswerError, match="does not move on"):
        list(client.iter_submissions())


def test_a_head_answer_is_not_judged_by_its_content_length() -> None:
    """A HEAD answer has no body; its Content-Length may give the size of the GET's."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(10**12),
                                            "Upload-Offset": "5"})

    client = VaultClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    assert client.upload_offset("0123456789abcdef0123456789abcdef") == 5
