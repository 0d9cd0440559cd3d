"""Property-based fuzzing of the whole API from its OpenAPI spec: no request, however
malformed, may produce a 5xx. Runs against a real server process, with an investigator's
bearer token so the authenticated endpoints are reached too.

Needs ``schemathesis`` (4.x); skipped when it is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.api.vaultkit import read_dev_keys  # noqa: E402
from tests.e2e.conftest import ServerProcess, start_server  # noqa: E402
from vault.client import VaultClient  # noqa: E402


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(Path(tmp_path_factory.mktemp("fuzz")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bearer(fuzzed_server: ServerProcess) -> str:
    dev = read_dev_keys(fuzzed_server.data_dir)
    with VaultClient(fuzzed_server.url) as client:
        return client.login(dev.investigator.key_id, dev.sign, dev.roster().log_vkey or "")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_server_errors(fuzzed_server: ServerProcess, bearer: str) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {bearer}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_5xx(case: Any) -> None:
            response = case.call(base_url=fuzzed_server.url, headers=headers)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}")

        no_5xx()
        assert fuzzed_server.alive()
    assert b"Traceback" not in fuzzed_server.output()
