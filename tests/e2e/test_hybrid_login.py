"""Investigator logins against a real server carry both signatures, Ed25519 and ML-DSA-44.

Under the default policy a hybrid roster entry logs in only with both valid signatures over
the challenge message; any missing, swapped or corrupted one is refused exactly like a wrong
signature (401, the same message), and the refusal spends nothing. A classical roster entry
(an identity from before ML-DSA-44 auth keys) is refused with the fix named, and accepted
only by a server run under the explicit classical login policy (``--classical-logins``).
Hostile ``signature_mldsa`` values get a 4xx and the server keeps serving."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from keys.identity import InvestigatorIdentity
from keys.roster import ROLE_READER
from tests.api.vaultkit import DevKeys, read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault.client import ClientError, VaultClient
from vault.service.auth import challenge_message, server_origin

# An identity from before ML-DSA-44 auth keys: Ed25519 only.
CLASSICAL = InvestigatorIdentity("Erlan Nurlanuly", b"\x05" * 32, b"\x06" * 32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _with_classical_reader(server: ServerProcess) -> DevKeys:
    """Put CLASSICAL on the dev server's roster beside the dev investigator (hybrid)."""
    dev = read_dev_keys(server.data_dir)
    with VaultClient(server.url) as client:
        text = dev.next_roster(client.roster_text(),
                               lambda r: r.with_added([CLASSICAL.card()], (ROLE_READER,)))
        client.publish_roster(text)
    return dev


class Login:
    """Raw POSTs to /auth/challenge and /auth/token, so every field can be chosen."""

    def __init__(self, server: ServerProcess, log_vkey: str) -> None:
        self.server = server
        self.log_vkey = log_vkey
        self.origin = server_origin(server.url)

    def challenge(self, key_id: str) -> str:
        response = httpx.post(f"{self.server.url}/api/v1/auth/challenge",
                              json={"key_id": key_id}, timeout=30)
        assert response.status_code == 200, response.text
        return str(response.json()["challenge"])

    def message(self, key_id: str, challenge: str) -> bytes:
        return challenge_message(self.origin, self.log_vkey, key_id, base64.b64decode(challenge))

    def token(self, key_id: str, challenge: str, **fields: Any) -> httpx.Response:
        body = {"key_id": key_id, "challenge": challenge, "server": self.origin, **fields}
        return httpx.post(f"{self.server.url}/api/v1/auth/token", json=body, timeout=30)


@pytest.fixture
def strict_server(server_factory: Callable[..., ServerProcess]) -> tuple[ServerProcess, DevKeys]:
    server = server_factory()
    return server, _with_classical_reader(server)


def test_a_hybrid_login_needs_both_signatures(
        strict_server: tuple[ServerProcess, DevKeys]) -> None:
    server, dev = strict_server
    who = dev.investigator
    assert who.is_hybrid
    login = Login(server, dev.roster().log_vkey or "")
    challenge = login.challenge(who.key_id)
    ed25519, mldsa = who.sign_login(login.message(who.key_id, challenge))
    assert mldsa is not None
    other_challenge = login.challenge(who.key_id)
    other_ed25519, other_mldsa = who.sign_login(login.message(who.key_id, other_challenge))
    assert other_mldsa is not None
    corrupted = bytearray(mldsa)
    corrupted[100] ^= 0x01

    wrong_ed25519 = login.token(who.key_id, challenge, signature=_b64(other_ed25519),
                                signature_mldsa=_b64(mldsa))
    assert wrong_ed25519.status_code == 401
    refusal = wrong_ed25519.json()["error"]
    attempts = {
        "Ed25519 only": {"signature": _b64(ed25519)},
        "ML-DSA-44 only": {"signature": "", "signature_mldsa": _b64(mldsa)},
        "ML-DSA-44 of another challenge": {"signature": _b64(ed25519),
                                           "signature_mldsa": _b64(other_mldsa)},
        "the two swapped": {"signature": _b64(mldsa[:64]), "signature_mldsa": _b64(
            ed25519 + mldsa[64:])},
        "corrupted ML-DSA-44": {"signature": _b64(ed25519),
                                "signature_mldsa": _b64(bytes(corrupted))},
        "zero ML-DSA-44": {"signature": _b64(ed25519), "signature_mldsa": _b64(bytes(2420))},
    }
    for case, fields in attempts.items():
        response = login.token(who.key_id, challenge, **fields)
        assert (response.status_code, response.json()["error"]) == (401, refusal), case
    # No refusal spent the challenge: both signatures redeem it now, once.
    good = {"signature": _b64(ed25519), "signature_mldsa": _b64(mldsa)}
    response = login.token(who.key_id, challenge, **good)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    listing = httpx.get(f"{server.url}/api/v1/submissions",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert listing.status_code == 200
    again = login.token(who.key_id, challenge, **good)
    assert again.status_code == 401 and "used challenge" in again.json()["error"]
    # The client sends both (one API for the CLI and the tests).
    with VaultClient(server.url) as client:
        assert client.login(who.key_id, who.sign_login, login.log_vkey)


def test_a_classical_entry_is_refused_by_default_naming_the_fix(
        strict_server: tuple[ServerProcess, DevKeys]) -> None:
    server, dev = strict_server
    login = Login(server, dev.roster().log_vkey or "")
    challenge = login.challenge(CLASSICAL.key_id)
    ed25519, mldsa = CLASSICAL.sign_login(login.message(CLASSICAL.key_id, challenge))
    assert mldsa is None
    response = login.token(CLASSICAL.key_id, challenge, signature=_b64(ed25519))
    assert response.status_code == 401
    error = response.json()["error"]
    assert "only an Ed25519 auth key" in error and "amanat keys upgrade" in error
    assert "new card" in error
    with VaultClient(server.url) as client, pytest.raises(ClientError, match="keys upgrade"):
        client.login(CLASSICAL.key_id, CLASSICAL.sign_login, login.log_vkey)


def test_the_classical_login_policy_accepts_classical_entries_only(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(extra_args=("--classical-logins",))
    assert "classical login policy" in server.output_text()
    dev = _with_classical_reader(server)
    log_vkey = dev.roster().log_vkey or ""
    with VaultClient(server.url) as client:
        token = client.login(CLASSICAL.key_id, CLASSICAL.sign_login, log_vkey)
        assert token and client.list_submissions()[0] == []
    # A hybrid entry still needs both signatures under the classical policy.
    login = Login(server, log_vkey)
    who = dev.investigator
    challenge = login.challenge(who.key_id)
    ed25519, _ = who.sign_login(login.message(who.key_id, challenge))
    response = login.token(who.key_id, challenge, signature=_b64(ed25519))
    assert response.status_code == 401 and "does not match" in response.json()["error"]


def test_hostile_ml_dsa_signatures_get_4xx_and_the_server_keeps_serving(
        strict_server: tuple[ServerProcess, DevKeys]) -> None:
    server, dev = strict_server
    who = dev.investigator
    login = Login(server, dev.roster().log_vkey or "")
    challenge = login.challenge(who.key_id)
    ed25519, mldsa = who.sign_login(login.message(who.key_id, challenge))
    assert mldsa is not None
    hostile: list[object] = [
        "A" * 100_000,                       # oversized
        _b64(mldsa + b"\0"),                 # one byte too long
        _b64(mldsa[:-1]),                    # one byte short
        "!" * 3228,                          # not base64
        "=" * 3228,
        _b64(mldsa)[:-1] + "\u00e9",
        12345, [], {"a": 1}, True,
    ]
    for value in hostile:
        response = login.token(who.key_id, challenge, signature=_b64(ed25519),
                               signature_mldsa=value)
        assert 400 <= response.status_code < 500, (value, response.status_code)
        assert "error" in response.json() or "detail" in response.json()
    raw = httpx.post(f"{server.url}/api/v1/auth/token", timeout=30, content=b"{" * 50_000,
                     headers={"Content-Type": "application/json"})
    assert 400 <= raw.status_code < 500
    assert server.alive()
    response = login.token(who.key_id, challenge, signature=_b64(ed25519),
                           signature_mldsa=_b64(mldsa))
    assert response.status_code == 200, response.text
