"""Fixtures: a dev vault in a temp dir, and an in-process client of the app built on it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.vaultkit import TEST_SERVER, DevKeys, read_dev_keys
from vault.service.service import Limits, VaultService
from vault.service.setup import OpenedVault, open_vault

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient as TestClient

SMALL_LIMITS = Limits(max_submission_bytes=1024 * 1024, max_reply_bytes=64 * 1024,
                      max_roster_bytes=64 * 1024, upload_ttl_hours=24)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def opened(data_dir: Path) -> Iterator[OpenedVault]:
    vault = open_vault(data_dir, dev=True, limits=SMALL_LIMITS, servers=[TEST_SERVER])
    yield vault
    vault.service.close()


@pytest.fixture
def service(opened: OpenedVault) -> VaultService:
    return opened.service


@pytest.fixture
def dev(opened: OpenedVault, data_dir: Path) -> DevKeys:
    return read_dev_keys(data_dir)


@pytest.fixture
def client(opened: OpenedVault, data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, dev=True)
    app = create_app(settings, opened.service)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def token(client: TestClient, dev: DevKeys, service: VaultService) -> str:
    challenge = client.post("/api/v1/auth/challenge",
                            json={"key_id": dev.investigator.key_id}).json()["challenge"]
    response = client.post("/api/v1/auth/token", json=dev.login_body(challenge, service.log_vkey))
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
