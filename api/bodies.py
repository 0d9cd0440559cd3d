"""Streaming request bodies to disk, counted as they arrive.

Protects the server's memory and disk: a body is never held whole in memory (chunks are
gathered up to ``WRITE_BYTES`` and written by a worker thread), a declared Content-Length
past the limit is refused before reading, and an undeclared body is refused (413) the moment
it passes the limit, with nothing kept.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import Request
from starlette.requests import ClientDisconnect

from api.errors import ApiError
from vault.service.uploads import Appender, TooLargeError

WRITE_BYTES = 1024 * 1024


def declared_length(request: Request) -> int | None:
    """The Content-Length of the request, None when absent; 400 when malformed."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise ApiError(400, "malformed Content-Length")
    return int(raw)


class BodyInterrupted(Exception):
    """The client went away before sending the whole body (its bytes may be kept)."""


async def stream_body(request: Request, appender: Appender) -> None:
    """Write the request body through ``appender``. Raises TooLargeError (appender aborted)
    or BodyInterrupted (appender untouched: the caller commits or aborts)."""
    pending = bytearray()
    try:
        async for chunk in request.stream():
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
    if pending:
        await anyio.to_thread.run_sync(appender.write, bytes(pending))
