"""Streaming request bodies to disk, counted as they arrive.

Protects the server's memory and disk: a body is never held whole in memory (chunks are
gathered up to ``WRITE_BYTES`` and written by a worker thread), a declared Content-Length
past the limit is refused before reading, and an undeclared body is refused (413) the moment
it passes the limit, with nothing kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.requests import ClientDisconnect

from api.errors import ApiError
from vault.service.uploads import Appender, TooLargeError

WRITE_BYTES = 1024 * 1024
T = TypeVar("T")


async def in_thread_shielded(func: Callable[..., Any], *args: Any) -> Any:
    """Run cleanup ``func(*args)`` in a worker thread even while the request is being
    cancelled, so a half-received body is always committed or removed."""
    with anyio.CancelScope(shield=True):
        return await anyio.to_thread.run_sync(func, *args)


def declared_length(request: Request) -> int | None:
    """The Content-Length of the request, None when absent; 400 when malformed."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise ApiError(400, "malformed Content-Length")
    return int(raw)


class BodyInterrupted(Exception):
    """The client went away before sending the whole body (its bytes may be kept)."""


def interrupted(exc: BodyInterrupted, advice: str) -> ApiError:
    """The answer to a body that stopped arriving (408 when it stalled, else 400)."""
    if isinstance(exc, BodyStalled):
        return ApiError(408, f"no data arrived for too long; {advice}")
    return ApiError(400, f"the body was cut off; {advice}")


class BodyStalled(BodyInterrupted):
    """No byte of the body arrived for the idle timeout (the connection is given up)."""


async def stream_body(request: Request, appender: Appender, *, keep_last: bool = False
                      ) -> bytes:
    """Write the request body through ``appender``. Raises TooLargeError (appender aborted)
    or BodyInterrupted / BodyStalled (appender untouched: the caller commits or aborts).
    ``keep_last``: the last bytes (at most WRITE_BYTES) are returned instead of written, so
    the caller can write them and commit in one trip to a worker thread (each trip costs
    the event loop a wake-up and a thread switch)."""
    idle: float = request.app.state.settings.body_idle_seconds
    pending = bytearray()
    chunks = request.stream().__aiter__()
    try:
        while True:
            try:
                with anyio.fail_after(idle):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                if pending:
                    await anyio.to_thread.run_sync(appender.write, bytes(pending))
                raise BodyStalled from None
            pending += chunk
            if len(pending) >= WRITE_BYTES:
                data = bytes(pending)
                pending.clear()
                await anyio.to_thread.run_sync(appender.write, data)
    except ClientDisconnect:
        if pending:
            await anyio.to_thread.run_sync(appender.write, bytes(pending))
        raise BodyInterrupted from None
    except TooLargeError:
        raise
    if keep_last:
        return bytes(pending)
    if pending:
        await anyio.to_thread.run_sync(appender.write, bytes(pending))
    return b""


def write_and_commit(appender: Appender, last: bytes) -> int:
    """Write the body's last bytes and commit (in a worker thread); the new offset. On a
    failure (a full disk, the limit passed) what this request wrote is dropped."""
    try:
        if last:
            appender.write(last)
        return appender.commit()
    except BaseException:
        appender.abort()  # nothing left to do when the commit itself closed the appender
        raise


async def receive_whole_body(request: Request, appender: Appender, length: int | None,
                             finish: Callable[[str | None], T]) -> T:
    """Stream a single-request body (a submission or a reply) through ``appender``, commit
    it and call ``finish`` with its SHA-256 (computed while writing, as the appender starts
    at 0): the last write, the commit and ``finish`` share one worker thread trip. A failure
    on the way aborts the appender (the caller discards the staged upload); a body shorter
    than its Content-Length is a 400."""
    try:
        last = await stream_body(request, appender, keep_last=True)
    except BaseException:
        await in_thread_shielded(appender.abort)
        raise

    def complete() -> T:
        write_and_commit(appender, last)
        if length is not None and appender.offset != length:
            raise ApiError(400, "the body is shorter than its Content-Length")
        return finish(appender.sha256())

    return await anyio.to_thread.run_sync(complete)
