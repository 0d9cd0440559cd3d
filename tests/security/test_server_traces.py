"""Secrets that cross the wire never land in a URL, on the server's disk or in its output.

Against a real ``amanat serve`` process: a witness submits, polls its mailbox (secret in the
header, then in a JSON body) and fetches a reply; an investigator logs in (challenge,
signature, bearer token), lists, downloads and replies. Every request the clients send is
recorded: the bearer token travels only in the Authorization header, the mailbox secret only
in its header or a JSON body, never in a URL (URLs end up in proxy logs and histories).
Afterwards the data directory (SQLite WAL included, while running and after a stop) and
the server's stdout and stderr hold no token, no challenge, no signature and no mailbox
secret; a live token's SHA-256 is kept only in the store's login table (vault.sqlite3, so a
restart keeps the login), never in the output.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from pathlib import Path

import httpx

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault import age
from vault.client import VaultClient
from vault.service.mailbox import MAILBOX_SECRET_HEADER, mailbox_id


class RecordingTransport(httpx.HTTPTransport):
    """An HTTP transport that keeps every request it sends (URL, headers, body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def _body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:  # a streamed upload: sealed bytes, no secret
        return b""


def _headers_holding(request: httpx.Request, needle: str) -> list[str]:
    return [name.lower() for name, value in request.headers.items() if needle in value]


def test_tokens_and_mailbox_secrets_stay_out_of_urls_disk_and_output(
        server: ServerProcess) -> None:
    dev = read_dev_keys(server.data_dir)
    roster = dev.roster()
    witness_wire = RecordingTransport()
    investigator_wire = RecordingTransport()
    secret = secrets.token_bytes(32)
    secret_hex = secret.hex()
    mailbox = mailbox_id(secret)

    with VaultClient(server.url, transport=witness_wire) as witness:
        witness.submit(age.encrypt_bytes(b"testimony", roster.recipients()))
        assert witness.replies(secret) == []

    with VaultClient(server.url, transport=investigator_wire) as investigator:
        token = investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
        listed = [s.id for s in investigator.iter_submissions()]
        investigator.download(listed[0], io.BytesIO())
        reply = age.encrypt_bytes(b"thank you", [age.X25519Identity.generate().recipient()])
        reply_info = investigator.post_reply(mailbox, reply)

    with VaultClient(server.url, transport=witness_wire) as witness:
        [waiting] = witness.replies(secret)
        assert waiting.id == reply_info.id
        witness.fetch_reply(secret, waiting.id, io.BytesIO())
    # The JSON-body form of the mailbox request, for clients that cannot set headers.
    with httpx.Client(base_url=server.url, transport=witness_wire) as raw:
        answer = raw.post("/api/v1/mailbox", json={"secret": secret_hex})
        assert answer.status_code == 200 and len(answer.json()["replies"]) == 1

    challenges = [base64.b64decode(r.read().decode().split('"challenge":"')[1].split('"')[0])
                  for r in investigator_wire.sent if r.url.path.endswith("/auth/token")]
    signatures = [r.read().decode().split('"signature":"')[1].split('"')[0]
                  for r in investigator_wire.sent if r.url.path.endswith("/auth/token")]
    assert len(challenges) == 1 and len(signatures) == 1

    # On the wire: the token only in Authorization, the secret only in its header or body.
    token_uses = 0
    for request in investigator_wire.sent + witness_wire.sent:
        assert token not in str(request.url)
        assert secret_hex not in str(request.url)
        assert mailbox not in str(request.url) or "/mailboxes/" in request.url.path
        token_headers = _headers_holding(request, token)
        assert token_headers in ([], ["authorization"])
        token_uses += bool(token_headers)
        assert token.encode() not in _body(request)
        secret_headers = _headers_holding(request, secret_hex)
        assert secret_headers in ([], [MAILBOX_SECRET_HEADER.lower()])
        if secret_hex.encode() in _body(request):
            assert (request.method, request.url.path) == ("POST", "/api/v1/mailbox")
    assert token_uses >= 3  # list, download, reply
    assert sum(bool(_headers_holding(r, secret_hex)) for r in witness_wire.sent) == 3

    # On the server: nowhere on disk or in its output, running or stopped.
    token_digest = hashlib.sha256(token.encode("ascii")).digest()
    needles = {
        "bearer token": token.encode(),
        "token digest": token_digest,
        "mailbox secret": secret,
        "mailbox secret (hex)": secret_hex.encode(),
        "challenge": challenges[0],
        "challenge (base64)": base64.b64encode(challenges[0]),
        "challenge digest": hashlib.sha256(challenges[0]).digest(),
        "signature (base64)": signatures[0].encode(),
        "signature": base64.b64decode(signatures[0]),
    }
    for phase in ("running", "stopped"):
        if phase == "stopped":
            server.stop()
        files = [p for p in Path(server.data_dir).rglob("*") if p.is_file()]
        assert files
        for path in files:
            data = path.read_bytes()
            for what, needle in needles.items():
                assert needle not in data, f"{what} found in {path} ({phase})"
            if token_digest.hex().encode() in data:
                assert path.name.startswith("vault.sqlite3"), f"token digest in {path}"
        output = server.output()
        for what, needle in {**needles, "token digest (hex)": token_digest.hex().encode()
                             }.items():
            assert needle not in output, f"{what} found in the server's output"
