"""Floods against a real server: a genuine witness and investigator still get through.

Every anonymous client looks the same over Tor, so none of these defences counts per
address; each test floods a real ``amanat serve`` the way one anonymous client could and
checks what a genuine `amanat submit` and `amanat inbox` still get done meanwhile.
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.floodkit import Flood, genuine_inbox, genuine_reply, genuine_submit, rss_kib

FLOOD_SECONDS = 30.0


def per_thread_client(server: ServerProcess) -> Callable[[], httpx.Client]:
    local = threading.local()

    def client() -> httpx.Client:
        if getattr(local, "client", None) is None:
            local.client = httpx.Client(base_url=server.url, timeout=10)
        made: httpx.Client = local.client
        return made

    return client


def wait_for(flood: Flood, rounds: int) -> None:
    deadline = time.monotonic() + FLOOD_SECONDS
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
def test_a_challenge_flood_does_not_lock_investigators_out(server: ServerProcess) -> None:
    """10,000 login challenges for the investigator's key id used to fill a table and lock
    every login out for a minute; challenges now store nothing."""
    key_id = read_dev_keys(server.data_dir).investigator.key_id
    client = per_thread_client(server)

    def ask() -> None:
        client().post("/api/v1/auth/challenge", json={"key_id": key_id}).raise_for_status()

    before = rss_kib(server)
    with Flood(ask) as flood:
        wait_for(flood, 10_100)
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
        server_factory: Callable[..., ServerProcess]) -> None:
    """Empty `POST /uploads` in a loop used to take every slot for 24 h; now an upload that
    waits for a byte longer than the eviction wait gives its place to a new one."""
    server = server_factory(env={"AMANAT_MAX_OPEN_UPLOADS": "200",
                                 "AMANAT_UPLOAD_EVICT_SECONDS": "2"})
    client = per_thread_client(server)

    def take_a_slot() -> None:
        client().post("/api/v1/uploads").raise_for_status()

    before = rss_kib(server)
    with Flood(take_a_slot) as flood:
        wait_for(flood, 200)
        assert httpx.post(server.url + "/api/v1/uploads", timeout=10).status_code in (201, 503)
        genuine_submit(server)
        [line] = genuine_inbox(server)
        genuine_reply(server, line.split()[0])
        assert flood.rounds > 400  # the flood kept taking slots all along
    staged = list((server.data_dir / "uploads").iterdir())
    assert len(staged) <= 201
    assert rss_kib(server) < before + 64 * 1024
