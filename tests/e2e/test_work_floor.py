"""The operator's floor for the proof of work (AMANAT_WORK_MIN_BITS): with it set, every
anonymous write pays, however quiet the server, and every client still gets through."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault.client import VaultClient


def test_with_a_floor_every_write_pays_and_clients_solve_it(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"AMANAT_WORK_MIN_BITS": "10"})
    dev = read_dev_keys(server.data_dir)
    sealed = dev.seal(b"paid for")
    assert httpx.post(server.url + "/api/v1/uploads", timeout=10).status_code == 428
    assert httpx.post(server.url + "/api/v1/submissions", content=sealed,
                      timeout=10).status_code == 428
    work = httpx.get(server.url + "/api/v1/work", timeout=10).json()
    assert work["bits"] == 10
    with VaultClient(server.url) as client:
        first = client.submit(sealed)  # refused once, then solved and sent again
        second = client.submit(io.BytesIO(sealed))  # solved before it is sent
        third = client.upload(io.BytesIO(sealed))
        assert client.asked_for_work
    assert len({first.id, second.id, third.id}) == 3
