"""What a hostile server (or one pretending to be the vault) can make of the client's
upload, retry and download code: never an endless loop, an endless wait, an endless body
held in memory, bytes skipped or sent twice forever, nor a Python error instead of a
sentence. Each server here is an httpx MockTransport answering as an attacker would."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from keys.roster import MAX_ROSTER_BYTES
from tests.api.test_retry import FakeTime, policy
from vault.client import (
    AnswerTooLargeError,
    ClientError,
    GaveUpError,
    MalformedAnswerError,
    TransportError,
    VaultClient,
)

UPLOAD = "a" * 32
FILE = bytes(range(256)) * 64  # 16 KiB
CHUNK = 4096


class TooManyRequests(Exception):
    """The client kept going after the test's bound: it would have looped forever."""


def client_of(answer: Callable[[httpx.Request], httpx.Response], *,
              retry_seconds: float | None = None, time: FakeTime | None = None,
              bound: int = 200) -> tuple[VaultClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def counted(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) > bound:
            raise TooManyRequests(f"{len(seen)} requests")
        request.read()
        return answer(request)

    retry = None if retry_seconds is None else policy(retry_seconds, time or FakeTime())
    return VaultClient("http://vault.invalid", transport=httpx.MockTransport(counted),
                       retry=retry, token="t"), seen


def upload(vault: VaultClient) -> None:
    vault.upload(io.BytesIO(FILE), upload_id=UPLOAD, chunk_bytes=CHUNK)


def test_a_server_answering_the_offset_but_refusing_every_append_is_given_up_on() -> None:
    """Asking the offset is not progress: only bytes the server takes restart the count,
    so --retry-for bounds an upload the server keeps answering 503."""
    time = FakeTime()

    def busy(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Upload-Offset": "0"})
        return httpx.Response(503, json={"error": "busy"})

    vault, seen = client_of(busy, retry_seconds=60, time=time)
    with vault, pytest.raises(GaveUpError, match="stayed busy"):
        upload(vault)
    assert 60 <= sum(time.slept) <= 61
    assert len(seen) < 40


@pytest.mark.parametrize("offset", ["-1", str(len(FILE) + 1), "1e3", "١٢", "+5", "", None])
def test_an_offset_outside_the_file_or_not_a_number_is_refused(offset: str | None) -> None:
    def lying(request: httpx.Request) -> httpx.Response:
        assert request.method == "HEAD", "nothing may be sent"
        return httpx.Response(200, headers={} if offset is None else {
            "Upload-Offset": offset.encode()})

    vault, _ = client_of(lying)
    with vault, pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
        upload(vault)


def test_an_append_answer_that_does_not_advance_is_refused() -> None:
    """A server that takes each chunk and says it still holds 0 bytes would have the client
    send the file forever."""
    def stuck(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Upload-Offset": "0"})
        return httpx.Response(200, json={"upload_id": UPLOAD, "offset": 0})

    vault, seen = client_of(stuck)
    with vault, pytest.raises(MalformedAnswerError, match="holds 0 bytes after taking"):
        upload(vault)
    assert [r.method for r in seen] == ["HEAD", "PATCH"]


def test_an_offset_that_goes_back_after_an_outage_is_refused() -> None:
    """Bytes the server confirmed are on its disk: an offset below them after a broken
    request is a server replaying the client's file at it, and is refused."""
    state = {"patches": 0}

    def rewinding(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Upload-Offset": "0"})
        state["patches"] += 1
        if state["patches"] == 2:
            return httpx.Response(503, json={"error": "busy"})
        offset = int(request.headers["Upload-Offset"])
        return httpx.Response(200, json={"upload_id": UPLOAD, "offset": offset + CHUNK})

    vault, seen = client_of(rewinding, retry_seconds=60)
    with vault, pytest.raises(MalformedAnswerError, match="had confirmed 4096"):
        upload(vault)
    assert [r.method for r in seen] == ["HEAD", "PATCH", "PATCH", "HEAD"]


def test_an_unusable_upload_id_is_refused() -> None:
    def creating(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"upload_id": "../../roster", "offset": 0})

    vault, _ = client_of(creating)
    with vault, pytest.raises(MalformedAnswerError, match="bad upload_id"):
        vault.create_upload()


@pytest.mark.parametrize("value", ["²", "1.5", "-3", "9" * 40])
def test_a_retry_after_that_is_not_a_count_of_seconds_is_ignored(value: str) -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": value.encode()},
                              json={"error": "busy"})

    vault, _ = client_of(busy)
    with vault, pytest.raises(ClientError) as refused:
        vault.roster_text()
    assert refused.value.status == 503
    assert refused.value.retry_after is None


def endless(sent: list[int]) -> Iterator[bytes]:
    block = b"x" * (1024 * 1024)
    while True:
        sent.append(len(block))
        yield block


def test_an_endless_answer_is_not_held_in_memory() -> None:
    sent: list[int] = []

    def flooding(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(sent))

    vault, _ = client_of(flooding)
    with vault, pytest.raises(MalformedAnswerError, match=rf"larger than {MAX_ROSTER_BYTES} "):
        vault.roster_text()
    assert sum(sent) <= MAX_ROSTER_BYTES + 2 * 1024 * 1024


@pytest.mark.parametrize("fetch", ["reply", "submission"])
def test_a_download_longer_than_listed_stops_at_the_listed_size(fetch: str) -> None:
    sent: list[int] = []

    def flooding(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(sent))

    vault, _ = client_of(flooding)
    sink = io.BytesIO()
    with vault, pytest.raises(AnswerTooLargeError, match=r"size listed.* larger than 5000000 "):
        if fetch == "reply":
            vault.fetch_reply(b"\x00" * 32, UPLOAD, sink, 5_000_000)
        else:
            vault.download(UPLOAD, sink, 5_000_000)
    assert sink.tell() <= 5_000_000
    assert sum(sent) <= 8 * 1024 * 1024


def test_a_broken_prefix_download_is_described_in_words() -> None:
    def breaking(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset")

    vault, _ = client_of(breaking)
    with vault, pytest.raises(TransportError) as broken:
        vault.download_prefix(UPLOAD, 100)
    assert str(broken.value) == ("the download broke off (cannot reach http://vault.invalid: "
                                 "the connection broke)")


@pytest.mark.parametrize("body", [b'{"log_index": -1}', b'{"log_index": "7"}', b"[]",
                                  b"not json", b'{"log_index": 1.5}'])
def test_a_deletion_answer_without_a_log_index_is_refused(body: bytes) -> None:
    def deleting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    vault, _ = client_of(deleting)
    with vault, pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
        vault.delete_submission(UPLOAD)


def drip() -> Iterator[bytes]:
    """A body a byte at a time, every 50 ms; reading it to its end is a failure."""
    for _ in range(100):
        time.sleep(0.05)
        yield b"x"
    raise TooManyRequests("the drip was read to its end")


def test_an_answer_dripped_a_byte_at_a_time_ends_within_the_timeout() -> None:
    """Each byte inside the read timeout would keep a plain client waiting for ever (and a
    retry policy's bound never reached); the whole answer must arrive within the timeout."""
    def dripping(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    vault = VaultClient("http://vault.invalid", transport=httpx.MockTransport(dripping),
                        timeout=0.5)
    started = time.monotonic()
    with vault, pytest.raises(TransportError) as slow:
        vault.roster_text()
    assert time.monotonic() - started < 2
    assert str(slow.value) == ("cannot reach http://vault.invalid: its answer did not arrive "
                               "within 0 s; the network or the server is slow or down")
    assert slow.value.short == "server not answering"


@pytest.mark.parametrize("sizes", [[17 * 1024 * 1024], [10 * 1024 * 1024] * 7])
def test_replies_listed_larger_than_replies_are_not_downloaded(sizes: list[int]) -> None:
    """Replies are held in memory on the witness's device: a listing of huge replies is
    refused before a byte of them is asked for."""
    from vault.codename import derive, new_codename
    from vault.witness import WitnessError, fetch_replies

    listing = {"replies": [{"id": f"{n:032x}", "sha256": "0" * 64, "size": size,
                            "received": "2026-01-01T00:00Z", "log_index": n}
                           for n, size in enumerate(sizes)]}

    def listing_only(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/mailbox", "no reply may be downloaded"
        return httpx.Response(200, json=listing)

    vault, seen = client_of(listing_only)
    with vault, pytest.raises(WitnessError, match="more than replies take"):
        fetch_replies(vault, derive(new_codename()))
    assert len(seen) == 1


def test_a_dripped_answer_is_retried_like_any_outage() -> None:
    import time

    calls: list[int] = []

    def drip() -> Iterator[bytes]:
        for _ in range(100):
            time.sleep(0.05)
            yield b"x"

    def dripping_then_answering(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, content=drip())
        return httpx.Response(200, text="roster")

    fake = FakeTime()
    vault = VaultClient("http://vault.invalid", timeout=0.3,
                        transport=httpx.MockTransport(dripping_then_answering),
                        retry=policy(60, fake))
    with vault:
        assert vault.roster_text() == "roster"
    assert len(calls) == 2 and fake.slept


def test_a_dripped_prefix_ends_within_the_timeout() -> None:
    def dripping(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, content=drip(), headers={"Content-Range": "bytes 0-99/100"})

    vault = VaultClient("http://vault.invalid", transport=httpx.MockTransport(dripping),
                        timeout=0.5, token="t")
    with vault, pytest.raises(TransportError, match="did not arrive within"):
        vault.download_prefix(UPLOAD, 100)


@pytest.mark.parametrize("fetch", ["reply", "submission"])
def test_a_download_dripped_a_byte_at_a_time_is_broken_off(fetch: str) -> None:
    """Less than 64 KiB in a timeout's span is no download: a reply or submission a server
    drips out would otherwise hold the command for ever."""
    def dripping(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    vault = VaultClient("http://vault.invalid", transport=httpx.MockTransport(dripping),
                        timeout=0.5, token="t")
    with vault, pytest.raises(TransportError, match="did not arrive within"):
        if fetch == "reply":
            vault.fetch_reply(b"\x00" * 32, UPLOAD, io.BytesIO(), 1000)
        else:
            vault.download(UPLOAD, io.BytesIO(), 1000)


def test_an_answer_nested_too_deeply_is_a_malformed_answer() -> None:
    def nested(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)

    vault, _ = client_of(nested)
    with vault, pytest.raises(MalformedAnswerError, match="not JSON"):
        vault.replies(b"\x00" * 32)


@pytest.mark.parametrize("body", [b"{}", b'{"entries": "AAAA"}', b'{"entries": [7]}',
                                  b'{"entries": ["not base64!"]}', b"[]"])
def test_log_answers_of_the_wrong_shape_are_malformed_answers(body: bytes) -> None:
    """`audit verify` exists to face a hostile server: its answers are checked, not indexed
    into (which ended in "amanat: 'entries'")."""
    def answering(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.replace(b"entries", request.url.path.split(
            "/")[-1].encode() if "proof" not in request.url.path else b"hashes"))

    vault, _ = client_of(answering)
    with vault:
        for ask in (lambda: vault.entries(0, 1), lambda: vault.inclusion_proof(0, 1),
                    lambda: vault.consistency_proof(1, 2)):
            with pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
                ask()


@pytest.mark.parametrize(("challenge", "token"), [
    (b'{"challenge": "!!"}', b'{"token": "t"}'), (b'{"challenge": 5}', b'{"token": "t"}'),
    (b"[]", b'{"token": "t"}'), (b'{"challenge": "AAAA"}', b'{"token": "a\\nb"}'),
    (b'{"challenge": "AAAA"}', b'{"token": 12}')])
def test_login_answers_of_the_wrong_shape_are_malformed_answers(challenge: bytes,
                                                                token: bytes) -> None:
    """A token goes into a header: one with a line break would break every later request."""
    def answering(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=challenge if request.url.path.endswith(
            "challenge") else token)

    vault, _ = client_of(answering)
    with vault, pytest.raises(MalformedAnswerError, match="malformed answer from the server"):
        vault.login("k" * 16, lambda message: (b"s" * 64, None), "log+00000000+AAAA")
