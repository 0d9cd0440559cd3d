"""`VaultClient.download_prefix`: one ranged GET for the start of a sealed file, whatever
the server answers (its use against a real server is in tests/workflows/test_reply_prefix.py
and tests/e2e/test_ranges.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from vault.client import MalformedAnswerError, TransportError, VaultClient

SUBMISSION = "0" * 32
WHOLE = bytes(range(256)) * 4096  # 1 MiB


def client_of(answer: Callable[[httpx.Request], httpx.Response]) -> VaultClient:
    return VaultClient("http://vault.invalid", transport=httpx.MockTransport(answer), token="t")


def test_asks_for_the_range_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def ranged(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(206, content=WHOLE[:100], headers={
            "Content-Range": f"bytes 0-99/{len(WHOLE)}"})

    with client_of(ranged) as vault:
        assert vault.download_prefix(SUBMISSION, 100) == (WHOLE[:100], len(WHOLE))
    (request,) = seen
    assert request.url.path == f"/api/v1/submissions/{SUBMISSION}"
    assert request.headers["Range"] == "bytes=0-99"
    assert request.headers["Authorization"] == "Bearer t"


def test_a_server_ignoring_the_range_is_read_no_further() -> None:
    sent: list[int] = []

    def body() -> Iterator[bytes]:
        for start in range(0, len(WHOLE), 16 * 1024):
            sent.append(start)
            yield WHOLE[start:start + 16 * 1024]

    def whole(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(),
                              headers={"Content-Length": str(len(WHOLE))})

    with client_of(whole) as vault:
        assert vault.download_prefix(SUBMISSION, 40_000) == (WHOLE[:40_000], len(WHOLE))
    assert len(sent) * 16 * 1024 < 300_000  # the body was not read to its end


def test_a_file_shorter_than_the_range_comes_whole() -> None:
    def short(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, content=WHOLE[:10], headers={"Content-Range": "bytes 0-9/10"})

    with client_of(short) as vault:
        assert vault.download_prefix(SUBMISSION, 100) == (WHOLE[:10], 10)


@pytest.mark.parametrize("content_range", [
    "", "bytes 5-9/10", "bytes 0-9/*", "bytes 0-10/10", "bytes */10", "bytes 0-9/1e1"])
def test_a_bad_content_range_is_a_malformed_answer(content_range: str) -> None:
    def bad(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Range": content_range} if content_range else {}
        return httpx.Response(206, content=b"x" * 10, headers=headers)

    with client_of(bad) as vault, pytest.raises(MalformedAnswerError, match="Content-Range"):
        vault.download_prefix(SUBMISSION, 10)


def test_fewer_bytes_than_announced_is_a_broken_download() -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, content=WHOLE[:50], headers={
            "Content-Range": f"bytes 0-99/{len(WHOLE)}"})

    with client_of(cut) as vault, pytest.raises(TransportError, match="fewer bytes"):
        vault.download_prefix(SUBMISSION, 100)
