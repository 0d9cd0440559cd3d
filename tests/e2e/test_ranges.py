"""Byte ranges of a sealed submission from a real server (RFC 9110 §14): one range gets 206
with exactly those bytes, a range past the end 416, anything else the whole file; every
download, ranged or not, is logged as an access first."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault.client import VaultClient
from vault.events import parse_event

SIZE_PLAINTEXT = 300_000


@pytest.fixture
def stored(server: ServerProcess) -> tuple[str, bytes, dict[str, str]]:
    """(submission id, its sealed bytes, auth headers) on a fresh dev server."""
    dev = read_dev_keys(server.data_dir)
    sealed = dev.seal(os.urandom(SIZE_PLAINTEXT))
    with VaultClient(server.url) as client:
        receipt = client.submit(sealed)
        token = client.login(dev.investigator.key_id, dev.sign,
                             dev.roster().log_vkey or "")
    return receipt.id, sealed, {"Authorization": f"Bearer {token}"}


def accesses(server: ServerProcess) -> int:
    with VaultClient(server.url) as client:
        size = int(client.checkpoint().splitlines()[1])
        return sum(parse_event(e).kind == "access" for e in client.entries(0, size))


def test_one_range_gets_206_with_exactly_those_bytes(
        server: ServerProcess, stored: tuple[str, bytes, dict[str, str]]) -> None:
    submission, sealed, auth = stored
    size = len(sealed)
    url = f"{server.url}/api/v1/submissions/{submission}"
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=1000-": (1000, size - 1),
        "bytes=-50": (size - 50, size - 1),
        f"bytes=0-{size * 10}": (0, size - 1),  # clipped to the file
        f"bytes=-{size * 10}": (0, size - 1),
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
    }
    for header, (first, last) in cases.items():
        response = httpx.get(url, headers={**auth, "Range": header}, timeout=30)
        assert response.status_code == 206, (header, response.text)
        assert response.content == sealed[first:last + 1], header
        assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert response.headers["content-length"] == str(last - first + 1)
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["amanat-sha256"] == hashlib.sha256(sealed).hexdigest()
    assert accesses(server) == len(cases)


def test_a_range_past_the_end_is_416(server: ServerProcess,
                                     stored: tuple[str, bytes, dict[str, str]]) -> None:
    submission, sealed, auth = stored
    url = f"{server.url}/api/v1/submissions/{submission}"
    for header in (f"bytes={len(sealed)}-", f"bytes={len(sealed) + 5}-{len(sealed) + 9}",
                   "bytes=-0"):
        response = httpx.get(url, headers={**auth, "Range": header}, timeout=30)
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{len(sealed)}"
        assert response.json() == {"error": f"no such byte range: the file has {len(sealed)} "
                                            "bytes"}


def test_anything_but_one_range_gets_the_whole_file(
        server: ServerProcess, stored: tuple[str, bytes, dict[str, str]]) -> None:
    submission, sealed, auth = stored
    url = f"{server.url}/api/v1/submissions/{submission}"
    for header in (None, "bytes=9-2", "bytes=0-1,5-6", "items=0-10", "bytes=a-b", "bytes=",
                   "bytes=" + "9" * 40 + "-"):
        headers = auth if header is None else {**auth, "Range": header}
        response = httpx.get(url, headers=headers, timeout=30)
        assert response.status_code == 200, header
        assert response.content == sealed
        assert response.headers["accept-ranges"] == "bytes"
        assert "content-range" not in response.headers
    # If-Range names a validator this server never gave, so it cannot match: the range
    # is ignored (RFC 9110 §13.1.5), not served from a file the client may not mean.
    for validator in ('"v1"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        response = httpx.get(url, headers={**auth, "Range": "bytes=0-99",
                                           "If-Range": validator}, timeout=30)
        assert response.status_code == 200, validator
        assert response.content == sealed


def test_a_range_needs_a_reader_token(server: ServerProcess,
                                      stored: tuple[str, bytes, dict[str, str]]) -> None:
    submission, _, _ = stored
    response = httpx.get(f"{server.url}/api/v1/submissions/{submission}",
                         headers={"Range": "bytes=0-99"}, timeout=30)
    assert response.status_code == 401
    assert accesses(server) == 0
