"""Floods against a real server: a genuine witness and investigator still get through.

Every anonymous client looks the same over Tor, so none of these defences counts per
address; each test floods a real ``amanat serve`` the way one anonymous client could and
checks what a genuine `amanat submit` and `amanat inbox` still get done meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.floodkit import (
    ConnectionFlood,
    Flood,
    drip,
    genuine_inbox,
    genuine_open,
    genuine_reply,
    genuine_submit,
    open_fds,
    rss_kib,
    submit,
)

FLOOD_SECONDS = 30.0
# These floods test the defences other than the proof of work (on by default), so they turn
# it off: each of the other defences must hold on its own. The last test turns it on.
NO_WORK = {"AMANAT_WORK_QUIET_RATE": "0"}


def per_thread_client(server: ServerProcess) -> Callable[[], httpx.Client]:
    local = threading.local()

    def client() -> httpx.Client:
        if getattr(local, "client", None) is None:
            local.client = httpx.Client(base_url=server.url, timeout=10)
        made: httpx.Client = local.client
        return made

    return client


def wait_for(flood: Flood, rounds: int, seconds: float = FLOOD_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while flood.rounds < rounds:
        assert time.monotonic() < deadline, f"only {flood.rounds} rounds of the flood ran"
        time.sleep(0.05)


def login(server: ServerProcess) -> str:
    keys = read_dev_keys(server.data_dir)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        challenge = client.post("/api/v1/auth/challenge",
                                json={"key_id": keys.investigator.key_id}).json()["challenge"]
        body = keys.login_body(challenge, keys.roster().log_vkey, server=server.url)
        answer = client.post("/api/v1/auth/token", json=body)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


@pytest.mark.slow
def test_a_challenge_flood_does_not_lock_investigators_out(
        server_factory: Callable[..., ServerProcess]) -> None:
    """10,000 login challenges for the investigator's key id used to fill a table and lock
    every login out for a minute; challenges now store nothing."""
    server = server_factory(env=NO_WORK)
    key_id = read_dev_keys(server.data_dir).investigator.key_id
    client = per_thread_client(server)

    def ask() -> None:
        client().post("/api/v1/auth/challenge", json={"key_id": key_id}).raise_for_status()

    before = rss_kib(server)
    with Flood(ask) as flood:
        # 10,000 challenges, as the review sent; on a busy 2-core machine that takes longer
        # than the other floods' bound (about 330 a second were needed).
        wait_for(flood, 10_100, seconds=3 * FLOOD_SECONDS)
        assert genuine_inbox(server) == []
        genuine_submit(server)
    assert len(genuine_inbox(server)) == 1
    assert rss_kib(server) < before + 32 * 1024


def test_a_login_survives_a_restart(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory()
    token = login(server)
    secret = server.data_dir / "auth.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 32
    server.stop()
    again = start_server(server.data_dir.parent, data_dir=server.data_dir, port=server.port)
    try:
        answer = httpx.get(again.url + "/api/v1/submissions",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        again.stop()


@pytest.mark.slow
def test_an_upload_slot_flood_does_not_shut_witnesses_out(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """Empty `POST /uploads` in a loop (at the rate the review measured: every place in
    27 s, here 200 places in 6 s) used to take every place for 24 h; now an upload that
    waits for a byte longer than the eviction wait gives its place to a new one. (A
    faster flood outruns eviction: that takes the proof of work, next test.)"""
    server = server_factory(env={"AMANAT_MAX_OPEN_UPLOADS": "200",
                                 "AMANAT_UPLOAD_EVICT_SECONDS": "5", **NO_WORK})
    client = per_thread_client(server)

    def take_a_slot() -> None:
        client().post("/api/v1/uploads").raise_for_status()

    before = rss_kib(server)
    with Flood(take_a_slot, threads=4, pause=0.12) as flood:
        wait_for(flood, 200)
        genuine_submit(server)
        [line] = genuine_inbox(server)
        genuine_open(server, line.split()[0], tmp_path / "case")
        genuine_reply(server, line.split()[0], tmp_path / "case")
        assert flood.rounds > 200  # more uploads than places: stalled ones gave way
    staged = list((server.data_dir / "uploads").iterdir())
    assert len(staged) <= 201
    assert rss_kib(server) < before + 64 * 1024


NO_ROOM = ("amanat: server refused (507): the server has no room for more testimony right "
           "now; try again later")


def test_below_the_storage_reserve_witnesses_wait_and_investigators_work(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """A reserve larger than the free space: a witness is told to try later (nothing
    stored), an investigator still lists, opens (its access logged) and replies."""
    server = server_factory()
    genuine_submit(server)
    server.stop()
    full = start_server(server.data_dir.parent, data_dir=server.data_dir, port=server.port,
                        env={"AMANAT_MIN_FREE_BYTES": str(2**62)})
    try:
        refused = submit(full, check=False)
        assert refused.returncode != 0
        assert NO_ROOM in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        [line] = genuine_inbox(full)
        genuine_open(full, line.split()[0], tmp_path / "case")
        assert any((tmp_path / "case").iterdir())
        genuine_reply(full, line.split()[0], tmp_path / "case")
        assert genuine_inbox(full) == [line]
    finally:
        full.stop()


@contextlib.contextmanager
def small_filesystem(path: Path, mib: int) -> Iterator[Path]:
    """A tmpfs of ``mib`` MiB at ``path`` (needs root)."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("mounting a small filesystem needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
def test_a_disk_flood_stops_at_the_reserve(tmp_path: Path) -> None:
    """Uploads of 1 MiB appends until refused, on a 96 MiB filesystem with a 24 MiB
    reserve: they stop (507) with the reserve intact, and an investigator still opens
    (access logged), replies and lists."""
    with small_filesystem(tmp_path / "small", 96) as small:
        server = start_server(tmp_path, data_dir=small / "data",
                              env={"AMANAT_MIN_FREE_BYTES": str(24 * 2**20),
                                   "AMANAT_MAX_STAGED_BYTES": str(2**40), **NO_WORK})
        try:
            genuine_submit(server)
            client = per_thread_client(server)
            refusals: list[int] = []

            def fill() -> None:
                upload = client().post("/api/v1/uploads")
                if upload.status_code != 201:
                    refusals.append(upload.status_code)
                    return
                upload_id = upload.json()["upload_id"]
                for offset in range(0, 8 * 2**20, 2**20):
                    answer = client().patch(f"/api/v1/uploads/{upload_id}",
                                            content=os.urandom(2**20),
                                            headers={"Upload-Offset": str(offset)})
                    if answer.status_code != 200:
                        refusals.append(answer.status_code)
                        return

            with Flood(fill):
                deadline = time.monotonic() + FLOOD_SECONDS
                while 507 not in refusals:
                    assert time.monotonic() < deadline, "the flood was never refused"
                    time.sleep(0.1)
                [line] = genuine_inbox(server)
                genuine_open(server, line.split()[0], tmp_path / "case")
                genuine_reply(server, line.split()[0], tmp_path / "case")
            stats = os.statvfs(small)
            assert stats.f_bavail * stats.f_frsize > 20 * 2**20
            assert set(refusals) <= {507, 503}
        finally:
            server.stop()


FAST_DEADLINES = {"AMANAT_HEADER_SECONDS": "2", "AMANAT_BODY_WINDOW_SECONDS": "2",
                  "AMANAT_BODY_MIN_BYTES": "1024", "AMANAT_MAX_CONNECTIONS": "64", **NO_WORK}


def silent(server: ServerProcess) -> ConnectionFlood:
    """Connections that never say a word."""
    return ConnectionFlood(server, 60, drip(b"", b"", 3600))


@pytest.mark.slow
def test_silent_slow_and_stalled_connections_are_closed(
        server_factory: Callable[..., ServerProcess]) -> None:
    """150 connections against a cap of 64: silent ones, request heads dripped a byte at a
    time, a submission body at 3 bytes a second, roster bodies stalled after 64 KiB. Each
    is closed within seconds; a genuine witness and investigator get through meanwhile;
    memory and open files stay bounded; the server writes no traceback."""
    server = server_factory(env=FAST_DEADLINES)
    head = b"PUT /api/v1/roster HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
    floods = [
        silent(server),
        ConnectionFlood(server, 30, drip(b"GET /api/v1/roster HTTP/1.1\r\n", b"X", 0.5)),
        ConnectionFlood(server, 30, drip(
            b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
            b"abc", 1.0)),
        ConnectionFlood(server, 30, drip(head + b"a" * 65536, b"", 3600)),
    ]
    before_rss, before_fds = rss_kib(server), open_fds(server)
    with contextlib.ExitStack() as stack:
        for flood in floods:
            stack.enter_context(flood)
        time.sleep(3)
        genuine_submit(server)
        assert len(genuine_inbox(server)) == 1
        time.sleep(3)
        # 150 connections wanted, 64 allowed (twice that while all are new), each with at
        # most a staged file besides its socket: open files stay bounded.
        assert open_fds(server) < before_fds + 2 * (2 * 64) + 8
    for flood in floods:
        assert flood.lifetimes, "no connection of this kind was ever closed"
        assert max(flood.lifetimes) < 12, max(flood.lifetimes)
        assert flood.opened > 30
    deadline = time.monotonic() + 10
    while open_fds(server) > before_fds + 4:
        assert time.monotonic() < deadline, f"{open_fds(server)} files open"
        time.sleep(0.2)
    assert rss_kib(server) < before_rss + 64 * 1024
    assert "Traceback" not in server.output_text()
    assert len(server.output()) < 20_000


@pytest.mark.slow
def test_a_flood_of_malformed_requests_is_logged_once(server: ServerProcess) -> None:
    """2,000 malformed requests, each a warning from the HTTP layer: the server says so once
    (then once a minute, with a count), not 2,000 times."""
    import socket

    for _ in range(2000):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            with contextlib.suppress(OSError):
                sock.recv(4096)
    genuine_submit(server)
    output = server.output_text()
    assert output.count("Invalid HTTP request") == 1, output[-2000:]
    assert "Traceback" not in output


def test_a_json_body_must_arrive_whole_in_time(
        server_factory: Callable[..., ServerProcess]) -> None:
    """A login request whose small body drips in (fast enough for the rate rule) is cut at
    the small-body deadline: 408, and the connection is closed."""
    import socket

    server = server_factory(env={"AMANAT_SMALL_BODY_SECONDS": "2",
                                 "AMANAT_BODY_WINDOW_SECONDS": "60", "AMANAT_BODY_MIN_BYTES": "1"})
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/challenge HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        answer = b""
        with contextlib.suppress(OSError):
            for _ in range(40):
                time.sleep(0.25)
                sock.sendall(b" ")
                sock.settimeout(0.01)
                with contextlib.suppress(TimeoutError):
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
        with contextlib.suppress(OSError):
            sock.settimeout(2)
            while chunk := sock.recv(4096):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()
    assert b"the request arrived too slowly" in answer
    assert time.monotonic() - started < 6


@pytest.mark.slow
def test_a_fast_upload_flood_must_pay_and_witnesses_get_through(
        server_factory: Callable[..., ServerProcess]) -> None:
    """With the proof of work as it is by default (asked past 2 admitted writes a second),
    a flood of empty uploads as fast as one client can send them raises the difficulty;
    the flooder, who does not solve, is refused (428) and holds few places, while a genuine
    `amanat submit` solves the puzzle and gets through."""
    server = server_factory(env={"AMANAT_MAX_OPEN_UPLOADS": "200"})
    client = per_thread_client(server)
    statuses: list[int] = []

    def take_a_slot() -> None:
        statuses.append(client().post("/api/v1/uploads").status_code)

    with Flood(take_a_slot) as flood:
        wait_for(flood, 2000)
        assert genuine_submit(server)
        assert len(genuine_inbox(server)) == 1
    assert statuses.count(201) < 200 and statuses.count(428) > 1000
    work = httpx.get(server.url + "/api/v1/work", timeout=10).json()
    assert set(work) == {"seed", "bits", "expires_in"}
