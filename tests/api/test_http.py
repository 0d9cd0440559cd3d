"""The HTTP API in process: the whole loop, security headers, and refusals of bad input.

Every refusal must be a 4xx with a JSON ``error``, store nothing (no blob, no staged upload,
no log entry, no row) and leave the server answering.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from keys.identity import InvestigatorIdentity
from keys.roster import ROLE_ADMIN
from tests.api.conftest import TestClient
from tests.api.vaultkit import DevKeys
from vault import age, events
from vault.service.mailbox import MAILBOX_SECRET_HEADER, mailbox_id
from vault.service.service import VaultService
from vault.tlog import merkle, note, proof
from vault.tlog.checkpoint import open_checkpoint

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def snapshot(data_dir: Path, service: VaultService) -> tuple[Any, ...]:
    """Everything a request could have stored."""
    files = sorted(str(p.relative_to(data_dir)) for p in (data_dir / "blobs").rglob("*"))
    staged = sorted(p.name for p in (data_dir / "uploads").iterdir())
    page, _ = service.store.list_submissions(0, 10_000)
    return (files, staged, service.log_size(), len(page),
            service.store.current_roster())


def assert_refused(response: Any, status: int | tuple[int, ...]) -> None:
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert_security_headers(response)


def assert_security_headers(response: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert value in response.headers.get(name, ""), name
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers
    assert "date" not in response.headers


def assert_serving(client: TestClient) -> None:
    response = client.get("/api/v1/roster")
    assert response.status_code == 200
    assert response.text.startswith("amanat.roster/v1 ")


# --- the whole loop ---------------------------------------------------------------------------

def test_submit_receipt_login_list_download_delete(
    client: TestClient, dev: DevKeys, service: VaultService, auth: dict[str, str]
) -> None:
    roster_text = client.get("/api/v1/roster").text
    roster = dev.roster()
    assert roster_text == dev.roster_text
    sealed = age.encrypt_bytes(b"testimony about Aunt Gulnar", roster.recipients())

    response = client.post("/api/v1/submissions", content=sealed)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert_security_headers(response)
    assert receipt["sha256"] == hashlib.sha256(sealed).hexdigest()
    assert receipt["size"] == len(sealed)
    assert receipt["received"] == events.hour_text()

    # The receipt proves the logged entry, which names the submission and nothing else.
    entry = receipt["entry"].encode()
    event = events.parse_event(entry)
    assert event.kind == "submission"
    assert dict(event.fields) == {"id": receipt["id"], "sha256": receipt["sha256"],
                                  "size": str(len(sealed))}
    log_key = note.HybridVerifier.from_vkey(roster.log_vkey or "")
    verified = proof.verify_receipt(receipt["receipt"], entry, log_key, log_key.name)
    assert verified.index == receipt["log_index"]

    listing = client.get("/api/v1/submissions", headers=auth).json()
    assert [s["id"] for s in listing["submissions"]] == [receipt["id"]]
    assert listing["submissions"][0]["received"].endswith(":00Z")

    download = client.get(f"/api/v1/submissions/{receipt['id']}", headers=auth)
    assert download.status_code == 200
    assert download.headers["amanat-sha256"] == receipt["sha256"]
    assert age.decrypt_bytes(download.content, [dev.investigator.age_identity()]) == (
        b"testimony about Aunt Gulnar")

    kinds = [events.parse_event(e).kind for e in service.audit_log.entries(0, service.log_size())]
    assert kinds == ["roster", "submission", "access"]
    access = events.parse_event(service.audit_log.entries(2, 3)[0])
    assert access.get("investigator") == dev.investigator.key_id

    deleted = client.delete(f"/api/v1/submissions/{receipt['id']}", headers=auth)
    assert deleted.status_code == 200, deleted.text
    assert events.parse_event(service.audit_log.entries(3, 4)[0]).kind == "deletion"
    assert_refused(client.get(f"/api/v1/submissions/{receipt['id']}", headers=auth), 404)
    assert not list((service.store.blobs.blobs / "submissions").iterdir())  # type: ignore[attr-defined]


def test_list_pagination_with_cursor(client: TestClient, dev: DevKeys,
                                     auth: dict[str, str]) -> None:
    ids = [client.post("/api/v1/submissions", content=dev.seal(b"%d" % i)).json()["id"]
           for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/submissions", headers=auth, params=params).json()
        seen += [s["id"] for s in page["submissions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_resumable_upload(client: TestClient, dev: DevKeys, data_dir: Path) -> None:
    sealed = dev.seal(b"x" * 200_000)
    created = client.post("/api/v1/uploads")
    assert created.status_code == 201
    upload_id = created.json()["upload_id"]
    assert created.headers["location"] == f"/api/v1/uploads/{upload_id}"
    offset = 0
    for piece in (sealed[:1000], sealed[1000:150_000], sealed[150_000:]):
        head = client.head(f"/api/v1/uploads/{upload_id}")
        assert int(head.headers["upload-offset"]) == offset
        response = client.patch(f"/api/v1/uploads/{upload_id}", content=piece,
                                headers={"Upload-Offset": str(offset)})
        assert response.status_code == 200, response.text
        offset = response.json()["offset"]
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == len(sealed)
    finished = client.post(f"/api/v1/uploads/{upload_id}/finish")
    assert finished.status_code == 201, finished.text
    assert finished.json()["sha256"] == hashlib.sha256(sealed).hexdigest()
    assert not list((data_dir / "uploads").iterdir())
    assert client.head(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_abandoned_upload_is_deleted(client: TestClient, data_dir: Path) -> None:
    upload_id = client.post("/api/v1/uploads").json()["upload_id"]
    client.patch(f"/api/v1/uploads/{upload_id}", content=b"abc", headers={"Upload-Offset": "0"})
    assert client.delete(f"/api/v1/uploads/{upload_id}").status_code == 204
    assert not list((data_dir / "uploads").iterdir())


def test_mailbox_reply_round_trip(client: TestClient, dev: DevKeys, auth: dict[str, str],
                                  service: VaultService) -> None:
    secret = bytes(range(32))
    box = mailbox_id(secret)
    witness_key = age.MLKEM768X25519Identity.generate()
    sealed_reply = age.encrypt_bytes(b"we received your testimony", [witness_key.recipient()])

    empty = client.get("/api/v1/mailbox", headers={MAILBOX_SECRET_HEADER: secret.hex()})
    assert empty.status_code == 200 and empty.json() == {"replies": []}

    posted = client.post(f"/api/v1/mailboxes/{box}/replies", content=sealed_reply, headers=auth)
    assert posted.status_code == 201, posted.text
    reply_id = posted.json()["id"]
    logged = events.parse_event(service.audit_log.entries(posted.json()["log_index"],
                                                          posted.json()["log_index"] + 1)[0])
    assert logged.kind == "reply" and box not in logged.encode().decode()

    by_header = client.get("/api/v1/mailbox", headers={MAILBOX_SECRET_HEADER: secret.hex()})
    by_body = client.post("/api/v1/mailbox", json={"secret": secret.hex()})
    assert [r["id"] for r in by_header.json()["replies"]] == [reply_id]
    assert by_body.json() == by_header.json()
    other = client.post("/api/v1/mailbox", json={"secret": "00" * 32}).json()
    assert other == {"replies": []}

    fetched = client.get(f"/api/v1/mailbox/replies/{reply_id}",
                         headers={MAILBOX_SECRET_HEADER: secret.hex()})
    assert fetched.status_code == 200
    assert age.decrypt_bytes(fetched.content, [witness_key]) == b"we received your testimony"
    assert_refused(client.get(f"/api/v1/mailbox/replies/{reply_id}",
                              headers={MAILBOX_SECRET_HEADER: "11" * 32}), 404)
    assert_refused(client.get(f"/api/v1/mailbox/replies/{reply_id}"), 400)
    # The server keeps only the hash of the secret.
    rows = service.store._db.execute("SELECT mailbox_id FROM replies").fetchall()  # type: ignore[attr-defined]
    assert rows == [(box,)]


def test_log_endpoints_give_verifiable_proofs(client: TestClient, dev: DevKeys) -> None:
    for i in range(3):
        client.post("/api/v1/submissions", content=dev.seal(b"%d" % i))
    log_key = note.HybridVerifier.from_vkey(dev.roster().log_vkey or "")
    checkpoint = open_checkpoint(client.get("/api/v1/log/checkpoint").text, log_key, log_key.name)
    assert checkpoint.size == 4
    entries = [base64.b64decode(e) for e in
               client.get("/api/v1/log/entries", params={"start": 0, "end": 4}).json()["entries"]]
    assert merkle.root_hash(merkle.leaf_hash(e) for e in entries) == checkpoint.root_hash
    for index in range(4):
        hashes = client.get("/api/v1/log/proof/inclusion",
                            params={"index": index, "size": 4}).json()["hashes"]
        merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, 4,
                                [base64.b64decode(h) for h in hashes], checkpoint.root_hash)
    old_root = merkle.root_hash(merkle.leaf_hash(e) for e in entries[:2])
    hashes = client.get("/api/v1/log/proof/consistency",
                        params={"old": 2, "new": 4}).json()["hashes"]
    merkle.verify_consistency(2, 4, old_root, checkpoint.root_hash,
                              [base64.b64decode(h) for h in hashes])
    receipt = client.get("/api/v1/log/receipt", params={"index": 1}).text
    proof.verify_receipt(receipt, entries[1], log_key, log_key.name)
    for path, params in [("/api/v1/log/entries", {"start": 3, "end": 9}),
                         ("/api/v1/log/entries", {"start": 2, "end": 2}),
                         ("/api/v1/log/proof/inclusion", {"index": 4, "size": 4}),
                         ("/api/v1/log/proof/consistency", {"old": 0, "new": 2}),
                         ("/api/v1/log/proof/consistency", {"old": 3, "new": 2}),
                         ("/api/v1/log/receipt", {"index": 99}),
                         ("/api/v1/log/entries", {"start": -1, "end": 2}),
                         ("/api/v1/log/entries", {"start": "x", "end": 2})]:
        assert_refused(client.get(path, params=params), (400, 422))


def test_roster_publish_new_version(client: TestClient, dev: DevKeys, service: VaultService,
                                    auth: dict[str, str]) -> None:
    text, other = dev.add_reader(dev.roster_text)
    response = client.put("/api/v1/roster", content=text.encode())
    assert response.status_code == 200, response.text
    assert response.json() == {"version": 3}
    assert client.get("/api/v1/roster").text == text
    assert events.parse_event(service.audit_log.entries(service.log_size() - 1,
                                                        service.log_size())[0]).kind == "roster"
    # Submissions now need one stanza per reader: two.
    old = age.encrypt_bytes(b"x", dev.recipients())
    assert_refused(client.post("/api/v1/submissions", content=old), 422)
    both = [*dev.recipients(), age.parse_recipient(other.card().recipient)]
    new = age.encrypt_bytes(b"x", both)
    assert client.post("/api/v1/submissions", content=new).status_code == 201
    # The same roster again is not newer.
    assert_refused(client.post("/api/v1/roster", content=text.encode()), 409)
    # A token stays valid while its investigator stays on the roster.
    assert client.get("/api/v1/submissions", headers=auth).status_code == 200


def test_removed_investigator_loses_access(client: TestClient, dev: DevKeys,
                                           auth: dict[str, str]) -> None:
    with_other, _other = dev.add_reader(dev.roster_text)
    assert client.put("/api/v1/roster", content=with_other.encode()).status_code == 200
    without_me = dev.next_roster(with_other,
                                 lambda r: r.with_removed([dev.investigator.key_id]))
    assert client.put("/api/v1/roster", content=without_me.encode()).status_code == 200
    assert_refused(client.get("/api/v1/submissions", headers=auth), 401)


def test_delete_needs_admin(client: TestClient, dev: DevKeys, service: VaultService) -> None:
    text, other = dev.add_reader(dev.roster_text)
    client.put("/api/v1/roster", content=text.encode())
    both = [*dev.recipients(), age.parse_recipient(other.card().recipient)]
    sealed = age.encrypt_bytes(b"x", both)
    sid = client.post("/api/v1/submissions", content=sealed).json()["id"]
    challenge = client.post("/api/v1/auth/challenge",
                            json={"key_id": other.key_id}).json()["challenge"]
    token = client.post("/api/v1/auth/token",
                        json=dev.login_body(challenge, service.log_vkey, other)).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/submissions/{sid}", headers=headers).status_code == 200
    assert_refused(client.delete(f"/api/v1/submissions/{sid}", headers=headers), 403)


def test_admin_who_is_not_a_reader_cannot_touch_testimony(
        client: TestClient, dev: DevKeys, service: VaultService) -> None:
    """Testimony is sealed to readers only: an admin-only key may delete, not list, download
    or reply, and a refused reply stores nothing."""
    admin = InvestigatorIdentity.generate("Admin Only")
    text = dev.next_roster(dev.roster_text,
                           lambda r: r.with_added([admin.card()], (ROLE_ADMIN,)))
    assert client.put("/api/v1/roster", content=text.encode()).status_code == 200
    sid = client.post("/api/v1/submissions", content=dev.seal(b"x")).json()["id"]
    challenge = client.post("/api/v1/auth/challenge",
                            json={"key_id": admin.key_id}).json()["challenge"]
    token = client.post("/api/v1/auth/token",
                        json=dev.login_body(challenge, service.log_vkey, admin)).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    log_size = service.log_size()
    assert_refused(client.get("/api/v1/submissions", headers=headers), 403)
    assert_refused(client.get(f"/api/v1/submissions/{sid}", headers=headers), 403)
    reply = age.encrypt_bytes(b"hello", [age.MLKEM768X25519Identity.generate().recipient()])
    assert_refused(client.post(f"/api/v1/mailboxes/{'a' * 64}/replies", content=reply,
                               headers=headers), 403)
    assert service.log_size() == log_size
    assert client.delete(f"/api/v1/submissions/{sid}", headers=headers).status_code == 200


# --- refusals ---------------------------------------------------------------------------------

def _x25519_sealed() -> bytes:
    return age.encrypt_bytes(b"x", [age.X25519Identity.generate().recipient()])


BAD_SUBMISSIONS: dict[str, str | bytes] = {
    "empty": b"",
    "not age": b"hello, this is plain text\n" * 10,
    "armored garbage": (b"-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n"
                        b"-----END AGE ENCRYPTED FILE-----\n"),
    "classical only": "x25519",
    "two recipients": "two",
    "truncated header": "cut-header",
    "truncated payload": "cut-payload",
    "scrypt": "scrypt",
}


def _bad_body(kind: str | bytes, dev: DevKeys) -> bytes:
    if isinstance(kind, bytes):
        return kind
    good = dev.seal(b"testimony")
    if kind == "x25519":
        return _x25519_sealed()
    if kind == "two":
        return age.encrypt_bytes(b"x", [*dev.recipients(),
                                        age.MLKEM768X25519Identity.generate().recipient()])
    if kind == "cut-header":
        return good[:200]
    if kind == "cut-payload":
        header = age.inspect_header(__import__("io").BytesIO(good))
        return good[: header.length + 20]
    if kind == "scrypt":
        return age.encrypt_bytes(b"x", [age.ScryptRecipient(b"pass", work_factor=10)])
    raise AssertionError(kind)


@pytest.mark.parametrize("name", sorted(BAD_SUBMISSIONS))
def test_bad_submission_is_refused_and_nothing_stored(
    name: str, client: TestClient, dev: DevKeys, service: VaultService, data_dir: Path
) -> None:
    body = _bad_body(BAD_SUBMISSIONS[name], dev)
    before = snapshot(data_dir, service)
    assert_refused(client.post("/api/v1/submissions", content=body), 422)
    assert snapshot(data_dir, service) == before
    # Same through a resumable upload: the refused file is deleted at finish.
    upload_id = client.post("/api/v1/uploads").json()["upload_id"]
    client.patch(f"/api/v1/uploads/{upload_id}", content=body, headers={"Upload-Offset": "0"})
    assert_refused(client.post(f"/api/v1/uploads/{upload_id}/finish"), 422)
    assert snapshot(data_dir, service) == before
    assert_serving(client)


def test_over_the_size_limit(client: TestClient, dev: DevKeys, service: VaultService,
                             data_dir: Path) -> None:
    limit = service.limits.max_submission_bytes
    before = snapshot(data_dir, service)
    big = b"\0" * (limit + 1)
    # Declared too large: refused before reading.
    assert_refused(client.post("/api/v1/submissions", content=big), 413)
    # Not declared (chunked): refused while streaming.
    assert_refused(client.post("/api/v1/submissions",
                               content=iter([big[:limit // 2], big[limit // 2:]])), 413)
    assert snapshot(data_dir, service) == before
    upload_id = client.post("/api/v1/uploads").json()["upload_id"]
    client.patch(f"/api/v1/uploads/{upload_id}", content=b"a" * 10,
                 headers={"Upload-Offset": "0"})
    assert_refused(client.patch(f"/api/v1/uploads/{upload_id}", content=big[:limit],
                                headers={"Upload-Offset": "10"}), 413)
    assert_refused(client.patch(f"/api/v1/uploads/{upload_id}",
                                content=iter([big[:limit // 2], big[:limit // 2]]),
                                headers={"Upload-Offset": "10"}), 413)
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == 10
    assert_refused(client.put("/api/v1/roster", content=b"r" * (64 * 1024 + 1)), 413)
    assert_refused(client.post(f"/api/v1/mailboxes/{'0' * 64}/replies",
                               content=b"r" * (64 * 1024 + 1)), 401)
    assert_serving(client)


def test_reply_over_limit(client: TestClient, auth: dict[str, str], service: VaultService,
                          data_dir: Path) -> None:
    before = snapshot(data_dir, service)
    assert_refused(client.post(f"/api/v1/mailboxes/{'0' * 64}/replies",
                               content=b"r" * (64 * 1024 + 1), headers=auth), 413)
    assert_refused(client.post(f"/api/v1/mailboxes/{'0' * 64}/replies",
                               content=b"not age", headers=auth), 422)
    assert_refused(client.post("/api/v1/mailboxes/../replies", content=_x25519_sealed(),
                               headers=auth), (404, 405))
    assert_refused(client.post(f"/api/v1/mailboxes/{'G' * 64}/replies",
                               content=_x25519_sealed(), headers=auth), 404)
    assert snapshot(data_dir, service) == before


def test_bad_offsets(client: TestClient, service: VaultService, data_dir: Path) -> None:
    upload_id = client.post("/api/v1/uploads").json()["upload_id"]
    client.patch(f"/api/v1/uploads/{upload_id}", content=b"abc", headers={"Upload-Offset": "0"})
    for offset in ("0", "2", "4", "999999"):
        assert_refused(client.patch(f"/api/v1/uploads/{upload_id}", content=b"d",
                                    headers={"Upload-Offset": offset}), 409)
    for offset in ("-1", "x", "1e3", ""):
        assert_refused(client.patch(f"/api/v1/uploads/{upload_id}", content=b"d",
                                    headers={"Upload-Offset": offset}), 422)
    assert_refused(client.patch(f"/api/v1/uploads/{upload_id}", content=b"d"), 422)
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["offset"] == 3
    assert_serving(client)


MALFORMED_IDS = ["0", "x" * 32, "0" * 31, "0" * 33, "0" * 32 + "%0a", "ABCDEF" + "0" * 26,
                 "..", "...", "%2e%2e", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2f..%2fetc%2fpasswd",
                 "%00", "etc/passwd"]


@pytest.mark.parametrize("bad_id", [*MALFORMED_IDS, "0" * 32])
def test_unknown_or_malformed_ids(bad_id: str, client: TestClient, auth: dict[str, str],
                                  service: VaultService, data_dir: Path) -> None:
    before = snapshot(data_dir, service)
    for method, path in [("GET", f"/api/v1/submissions/{bad_id}"),
                         ("DELETE", f"/api/v1/submissions/{bad_id}"),
                         ("GET", f"/api/v1/uploads/{bad_id}"),
                         ("PATCH", f"/api/v1/uploads/{bad_id}"),
                         ("POST", f"/api/v1/uploads/{bad_id}/finish"),
                         ("DELETE", f"/api/v1/uploads/{bad_id}")]:
        response = client.request(method, path, headers={**auth, "Upload-Offset": "0"},
                                  content=b"x" if method == "PATCH" else None)
        assert_refused(response, (404, 405))
    if bad_id != "..":  # the client itself resolves ".." (to GET /api/v1/mailbox)
        response = client.get(f"/api/v1/mailbox/replies/{bad_id}",
                              headers={MAILBOX_SECRET_HEADER: "00" * 32})
        assert_refused(response, (404, 405))
    assert snapshot(data_dir, service) == before
    assert_serving(client)


def test_traversal_paths_never_leave_the_api(client: TestClient, auth: dict[str, str]) -> None:
    for raw in ["/api/v1/submissions/../../etc/passwd", "/api/v1/../../etc/passwd",
                "/api/v1/submissions/%2e%2e/%2e%2e/etc/passwd",
                "/api/v1/submissions/..%2F..%2Fetc%2Fpasswd"]:
        response = client.get(raw, headers=auth)
        assert response.status_code in (404, 405), raw
        assert "root:" not in response.text
        assert response.json()["error"]


def test_tokens_forged_expired_and_missing(client: TestClient, dev: DevKeys,
                                           service: VaultService, token: str) -> None:
    for headers in [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer forged"},
                    {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()},
                    {"Authorization": "Bearer " + token[:-2] + "xx"},
                    {"Authorization": "Bearer \u00e9".encode()}]:
        response = client.get("/api/v1/submissions", headers=headers)
        assert_refused(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    service.auth.token_ttl = 0.0
    challenge = client.post("/api/v1/auth/challenge",
                            json={"key_id": dev.investigator.key_id}).json()["challenge"]
    expired = client.post("/api/v1/auth/token",
                          json=dev.login_body(challenge, service.log_vkey)).json()["token"]
    assert_refused(client.get("/api/v1/submissions",
                              headers={"Authorization": f"Bearer {expired}"}), 401)


def test_challenges_single_use_bound_and_signed(client: TestClient, dev: DevKeys,
                                                service: VaultService) -> None:
    key_id = dev.investigator.key_id
    challenge = client.post("/api/v1/auth/challenge", json={"key_id": key_id}).json()["challenge"]
    body = dev.login_body(challenge, service.log_vkey)
    assert client.post("/api/v1/auth/token", json=body).status_code == 200
    assert_refused(client.post("/api/v1/auth/token", json=body), 401)  # replayed

    # A signature by another key, or over another server's log key, is refused.
    challenge = client.post("/api/v1/auth/challenge", json={"key_id": key_id}).json()["challenge"]
    stranger = type(dev.investigator).generate("Stranger")
    forged = dev.login_body(challenge, service.log_vkey, stranger)
    forged["key_id"] = key_id
    assert_refused(client.post("/api/v1/auth/token", json=forged), 401)
    challenge = client.post("/api/v1/auth/challenge", json={"key_id": key_id}).json()["challenge"]
    other_log = note.Signer.generate("other-log").vkey()
    assert_refused(client.post("/api/v1/auth/token",
                               json=dev.login_body(challenge, other_log)), 401)

    # Made-up challenges, unknown key ids, malformed bodies.
    made_up = base64.b64encode(b"\1" * 32).decode()
    assert_refused(client.post("/api/v1/auth/token",
                               json=dev.login_body(made_up, service.log_vkey)), 401)
    assert_refused(client.post("/api/v1/auth/challenge", json={"key_id": "0" * 16}), 404)
    for bad in [{"key_id": "zz"}, {}, {"key_id": key_id, "extra": 1}, [], "x"]:
        assert_refused(client.post("/api/v1/auth/challenge", json=bad), 422)
    assert_refused(client.post("/api/v1/auth/token", json={
        "key_id": key_id, "challenge": "!!!", "signature": "AAAA"}), 422)
    assert_refused(client.post("/api/v1/auth/token", content=b"{not json",
                               headers={"Content-Type": "application/json"}), 422)
    assert_serving(client)


def test_a_login_signed_for_another_address_is_forbidden(
        client: TestClient, dev: DevKeys, service: VaultService) -> None:
    """The address the client connected to is part of what it signs; this server (the test
    client's http://testserver) refuses a signature made for another, whatever Host says,
    and a client that names no address is told to update."""
    key_id = dev.investigator.key_id
    for server in ("http://look-alike.example:80", "http://testserver:8080"):
        challenge = client.post("/api/v1/auth/challenge",
                                json={"key_id": key_id}).json()["challenge"]
        response = client.post("/api/v1/auth/token",
                               json=dev.login_body(challenge, service.log_vkey, server=server),
                               headers={"Host": "look-alike.example"})
        assert_refused(response, 403)
        assert "look-alike server" in response.json()["error"]
        assert "token" not in response.json()
    challenge = client.post("/api/v1/auth/challenge", json={"key_id": key_id}).json()["challenge"]
    outdated = dev.login_body(challenge, service.log_vkey)
    del outdated["server"]
    response = client.post("/api/v1/auth/token", json=outdated)
    assert_refused(response, 401)
    assert "update amanat" in response.json()["error"]
    message_format = client.post("/api/v1/auth/challenge",
                                 json={"key_id": key_id}).json()["message_format"]
    assert message_format.startswith("amanat/auth/v2\nserver <scheme://host:port")


def test_rosters_refused(client: TestClient, dev: DevKeys, service: VaultService,
                         data_dir: Path) -> None:
    before = snapshot(data_dir, service)
    current = dev.roster_text
    newer = dev.next_roster(current, lambda r: r.with_policy("pq-only"))
    body, _, signature = newer.rpartition("\n\n")
    # Bad signature: flip a byte of the signature.
    sig_line = signature.strip().split(" ")
    raw = bytearray(base64.b64decode(sig_line[-1]))
    raw[-1] ^= 1
    tampered_sig = body + "\n\n" + " ".join([*sig_line[:-1], base64.b64encode(raw).decode()]) + "\n"
    # Altered text under a valid signature.
    altered = newer.replace("version 3", "version 4", 1)
    # Signed by another org key.
    from keys.org import OrgKey
    from keys.roster import sign_roster, verify_roster
    stranger = OrgKey.generate(dev.org.origin)
    foreign = sign_roster(verify_roster(newer, dev.org_vkey), stranger.signer())
    # Old version (the current one), and one naming another log.
    other_log = dev.next_roster(current, lambda r: r.with_log(
        note.Signer.generate("elsewhere").vkey()))
    # A lower version than the current one, validly signed.
    from dataclasses import replace
    current_roster = verify_roster(current, dev.org_vkey)
    assert current_roster.version >= 2
    lower = sign_roster(replace(current_roster, version=current_roster.version - 1),
                        *dev.org.signers())
    cases: dict[str, int | tuple[int, ...]] = {
        tampered_sig: 403, altered: 403, foreign: 403, current: 409, lower: 409,
        "not a roster": 403,
        "": 403, "amanat.roster/v1 x\n\n— x AAAA\n": (403, 422), other_log: 422,
    }
    for text, status in cases.items():
        assert_refused(client.put("/api/v1/roster", content=text.encode()), status)
    assert_refused(client.put("/api/v1/roster", content=b"\xff\xfe"), 422)
    assert snapshot(data_dir, service) == before
    assert client.get("/api/v1/roster").text == current
    assert_serving(client)


def test_mailbox_secret_refusals(client: TestClient) -> None:
    for value in ["", "abc", "00" * 15, "00" * 129, "GG" * 32, "AA" * 32]:
        assert_refused(client.get("/api/v1/mailbox", headers={MAILBOX_SECRET_HEADER: value}), 400)
        assert_refused(client.post("/api/v1/mailbox", json={"secret": value}), 422)
    assert_refused(client.get("/api/v1/mailbox"), 400)


# --- privacy and hygiene ----------------------------------------------------------------------

def test_security_headers_everywhere(client: TestClient) -> None:
    outside = client.get("/nope")
    assert outside.headers["content-security-policy"].startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in outside.headers["content-security-policy"]
    assert outside.headers["referrer-policy"] == "no-referrer"
    for method, path in [("GET", "/api/v1/roster"), ("GET", "/api/nope"),
                         ("POST", "/api/v1/roster"),
                         ("DELETE", "/api/v1/roster"), ("GET", "/openapi.json"),
                         ("GET", "/api/v1/log/checkpoint"), ("HEAD", "/api/v1/uploads/x")]:
        assert_security_headers(client.request(method, path))
    for path in ("/docs", "/redoc"):
        assert client.get(path).status_code == 404


def test_unexpected_errors_are_generic(client: TestClient, service: VaultService,
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    def explode() -> str:
        raise RuntimeError("secret detail from /etc/shadow")

    monkeypatch.setattr(service, "roster_text", explode)
    response = client.get("/api/v1/roster?witness=CANARY")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error"}
    assert_security_headers(response)
    assert "secret detail" not in caplog.text and "CANARY" not in caplog.text


def test_validation_errors_do_not_echo_input(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/submissions", headers=auth,
                          params={"limit": "CANARY-INPUT", "cursor": "CANARY2"})
    assert_refused(response, 422)
    assert "CANARY" not in response.text


def test_no_roster_yet(tmp_path: Path) -> None:
    from api.app import create_app
    from api.settings import Settings
    app = create_app(Settings(data_dir=tmp_path / "fresh"))
    with TestClient(app, raise_server_exceptions=False) as fresh:
        assert_refused(fresh.get("/api/v1/roster"), 503)
        assert_refused(fresh.post("/api/v1/submissions", content=b"x"), 503)
        assert_refused(fresh.post("/api/v1/uploads"), 503)
        assert_refused(fresh.put("/api/v1/roster", content=b"x"), 503)
        assert fresh.get("/api/v1/log/checkpoint").status_code == 200
    app.state.service.close()


def test_openapi_committed_matches_app(client: TestClient) -> None:
    committed = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
    served = client.get("/openapi.json").json()
    assert json.loads(committed.read_text()) == served, (
        "docs/openapi.json is stale: run `python -m api.openapi` to regenerate it")


def test_small_bodies_are_capped(client: TestClient) -> None:
    huge = b'{"key_id": "' + b"0" * 100_000 + b'"}'
    assert_refused(client.post("/api/v1/auth/challenge", content=huge,
                               headers={"Content-Type": "application/json"}), 413)
    chunked = client.post("/api/v1/mailbox", content=iter([huge[:50_000], huge[50_000:]]),
                          headers={"Content-Type": "application/json"})
    assert_refused(chunked, 413)
    assert "at most" in chunked.json()["error"]
    assert_refused(client.post("/api/v1/uploads", content=b"x" * 70_000), 413)
    assert_serving(client)
