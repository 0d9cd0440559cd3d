"""A hostile server's answers are checked before anything in them is used.

Ids, digests and hours from the server are printed to the terminal and put into URLs and
case records; a broken or compromised server could send anything in their place. Every
listing, receipt and reply record is checked field by field, and an answer that is not
JSON, or lacks a field, is one clear error rather than a crash.
"""

from __future__ import annotations

import json

import httpx
import pytest

from vault.client import MalformedAnswerError, VaultClient

GOOD = {"id": "0123456789abcdef0123456789abcdef", "sha256": "ab" * 32, "size": 7,
        "received": "2026-11-21T05:00Z", "log_index": 3}


def client_answering(body: bytes) -> VaultClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    client = VaultClient("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    client.token = "t"
    return client


def listing(record: object, cursor: object = None) -> bytes:
    return json.dumps({"submissions": [record], "next_cursor": cursor}).encode()


def test_a_well_formed_listing_is_accepted() -> None:
    items, cursor = client_answering(listing(GOOD, "12")).list_submissions()
    assert [i.id for i in items] == [GOOD["id"]] and cursor == "12"


@pytest.mark.parametrize(("field", "value"), [
    ("id", "../../etc/passwd"),
    ("id", "\x1b[2J" + "0" * 28),
    ("sha256", "AB" * 32),
    ("sha256", 5),
    ("received", "2026-11-21T05:17:42Z"),
    ("size", -1),
    ("size", True),
    ("size", "7"),
    ("log_index", -2),
    ("log_index", None),
])
def test_a_bad_field_is_refused(field: str, value: object) -> None:
    with pytest.raises(MalformedAnswerError, match=f"bad {field}"):
        client_answering(listing({**GOOD, field: value})).list_submissions()


@pytest.mark.parametrize("body", [
    b"<html>not json</html>",
    b"[]",
    b'{"submissions": {}}',
    json.dumps({"submissions": ["x"]}).encode(),
    listing(GOOD, "../1"),
    listing({k: v for k, v in GOOD.items() if k != "size"}),
])
def test_a_malformed_answer_is_one_clear_error(body: bytes) -> None:
    with pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
        client_answering(body).list_submissions()


def test_mailbox_and_receipt_answers_are_checked_too() -> None:
    with pytest.raises(MalformedAnswerError):
        client_answering(json.dumps({"replies": [{**GOOD, "id": "x"}]}).encode()).replies(
            b"\x00" * 32)
    receipt = {**GOOD, "entry": "amanat/event/v1\n", "receipt": 5}
    with pytest.raises(MalformedAnswerError, match="bad receipt"):
        client_answering(json.dumps(receipt).encode()).submit(b"sealed")


@pytest.mark.parametrize("body", [
    {"start": 0, "end": 5, "held": ["\x1b[2J" + "0" * 28]},
    {"start": 0, "end": 5, "held": "0123456789abcdef0123456789abcdef"},
    {"start": 0, "end": 0, "held": []},   # answers for nothing: would never progress
    {"start": 0, "end": 9, "held": []},   # beyond what was asked
    {"start": 0, "end": "5", "held": []},
])
def test_a_bad_held_answer_is_refused(body: object) -> None:
    client = client_answering(json.dumps(body).encode())
    with pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
        client.held(0, 5)
    good = {"start": 0, "end": 5, "held": [GOOD["id"]]}
    assert client_answering(json.dumps(good).encode()).held(0, 5) == (5, {GOOD["id"]})
