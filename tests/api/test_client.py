"""The HTTP client's own behaviour (its use against a real server is in tests/e2e)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import socket
import threading
from typing import Any

import httpx
import pytest

from tests.api.vaultkit import DevKeys
from vault import age
from vault.client import (
    ClientError,
    IntegrityError,
    RetryPolicy,
    TransportError,
    VaultClient,
)
from vault.service.mailbox import mailbox_id
from vault.service.service import VaultService
from vault.tlog import merkle, note
from vault.tlog.checkpoint import open_checkpoint


def _fake_socks5(seen: list[tuple[int, bytes]]) -> tuple[socket.socket, threading.Thread]:
    """A SOCKS5 proxy that records the address type and address asked for, then refuses."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            greeting = conn.recv(2)
            conn.recv(greeting[1])
            conn.sendall(b"\x05\x00")  # no authentication
            _ver, _cmd, _rsv, atyp = conn.recv(4)
            size = conn.recv(1)[0] if atyp == 3 else (4 if atyp == 1 else 16)
            address = conn.recv(size)
            conn.recv(2)
            seen.append((atyp, address))
            conn.sendall(b"\x05\x02\x00\x01" + bytes(6))  # "connection not allowed"

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_socks5h_proxy_resolves_names_remotely() -> None:
    """Through ``socks5h://`` the hostname goes to the proxy (Tor), never to local DNS."""
    if importlib.util.find_spec("socksio") is None:
        with pytest.raises(TransportError, match="socksio"):
            VaultClient("http://example.onion", proxy="socks5h://127.0.0.1:9050")
        return
    seen: list[tuple[int, bytes]] = []
    listener, thread = _fake_socks5(seen)
    port = listener.getsockname()[1]
    with (listener,
          VaultClient("http://vault-example.onion", proxy=f"socks5h://127.0.0.1:{port}") as client,
          pytest.raises(TransportError)):
        client.roster_text()
    thread.join(timeout=5)
    assert seen == [(3, b"vault-example.onion")]


def test_errors_carry_status_and_server_message() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["user-agent"] == "amanat"
        assert "referer" not in request.headers and "cookie" not in request.headers
        if request.url.path.endswith("/roster"):
            return httpx.Response(503, json={"error": "no roster has been published yet"})
        return httpx.Response(502, text="<html>proxy</html>")

    with VaultClient("http://vault.invalid", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(ClientError) as refused:
            client.roster_text()
        assert refused.value.status == 503
        assert refused.value.message == "no roster has been published yet"
        with pytest.raises(ClientError) as refused:
            client.checkpoint()
        assert refused.value.status == 502 and refused.value.message == "Bad Gateway"
        with pytest.raises(ClientError) as refused:
            client.list_submissions()
        assert refused.value.status == 401  # no token: refused before sending


def test_unreachable_server_is_a_transport_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with (VaultClient("http://vault.invalid", transport=httpx.MockTransport(fail)) as client,
          pytest.raises(TransportError)):
        client.roster_text()


def test_every_client_call_against_the_app(client: Any, dev: DevKeys,
                                           service: VaultService) -> None:
    vault = VaultClient("http://testserver", transport=client._transport)
    log_vkey = dev.roster().log_vkey or ""
    with vault:
        receipts = [vault.submit(dev.seal(b"%d" % i)) for i in range(3)]
        upload_id = vault.create_upload()
        vault.append(upload_id, 0, b"abc")
        vault.abandon_upload(upload_id)
        with pytest.raises(ClientError):
            vault.upload_offset(upload_id)

        vault.login(dev.investigator.key_id, dev.sign, log_vkey)
        page, cursor = vault.list_submissions(limit=2)
        assert [s.id for s in page] == [r.id for r in receipts[:2]] and cursor
        assert [s.id for s in vault.iter_submissions(page=2)] == [r.id for r in receipts]
        sink = io.BytesIO()
        assert vault.download(receipts[0].id, sink) == receipts[0].sha256
        assert vault.delete_submission(receipts[2].id) > receipts[2].log_index

        secret = bytes(range(16, 48))
        witness_key = age.X25519Identity.generate()
        reply = vault.post_reply(mailbox_id(secret),
                                 age.encrypt_bytes(b"hello", [witness_key.recipient()]))
        assert [r.id for r in vault.replies(secret)] == [reply.id]
        box = io.BytesIO()
        assert vault.fetch_reply(secret, reply.id, box) == reply.sha256
        assert age.decrypt_bytes(box.getvalue(), [witness_key]) == b"hello"

        text, _ = dev.add_reader(vault.roster_text())
        assert vault.publish_roster(text) == 3
        size = service.log_size()
        entries = vault.entries(0, size)
        assert len(entries) == size
        checkpoint = open_checkpoint(vault.checkpoint(), note.HybridVerifier.from_vkey(log_vkey),
                                     note.HybridVerifier.from_vkey(log_vkey).name)
        assert checkpoint.size == size
        leaf = merkle.leaf_hash(entries[1])
        merkle.verify_inclusion(leaf, 1, size, vault.inclusion_proof(1, size),
                                checkpoint.root_hash)
        old_root = merkle.root_hash(merkle.leaf_hash(e) for e in entries[:2])
        merkle.verify_consistency(2, size, old_root, checkpoint.root_hash,
                                  vault.consistency_proof(2, size))
        assert vault.receipt(1).startswith("c2sp.org/tlog-proof@v1\n")


def test_download_is_checked_against_the_announced_digest() -> None:
    def tampering(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"tampered", headers={"Amanat-Sha256": "00" * 32})

    with VaultClient("http://vault.invalid", transport=httpx.MockTransport(tampering),
                     token="t") as vault, pytest.raises(IntegrityError):
        vault.download("0" * 32, io.BytesIO())


def test_resumable_upload_retries_after_a_broken_request(client: Any, dev: DevKeys) -> None:
    sealed = dev.seal(b"z" * 300_000)
    inner = client._transport
    broken = {"left": 2}

    class Flaky(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PATCH" and broken["left"]:
                broken["left"] -= 1
                raise httpx.ReadError("connection reset")
            return inner.handle_request(request)  # type: ignore[no-any-return]

    with VaultClient("http://testserver", transport=Flaky(),
                     retry=RetryPolicy(60, sleep=lambda _: None)) as vault:
        seen: list[int] = []
        receipt = vault.upload(io.BytesIO(sealed), chunk_bytes=100_000, progress=seen.append)
    assert receipt.sha256 == hashlib.sha256(sealed).hexdigest()
    assert seen[-1] == len(sealed) and broken["left"] == 0
