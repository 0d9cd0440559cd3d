"""Time limits on every connection and request, so silence and slowness hold nothing.

Protects "the vault stays open under attack" (DESIGN.md, 8): a connection is a file
descriptor and some memory, and the server has a bounded number of each (uvicorn's
``limit_concurrency`` caps connections, so a genuine client gets 503 and retries rather
than a hang). Without deadlines one client could hold them all by saying nothing.

* ``DeadlineProtocol`` (uvicorn's protocol on the httptools parser): past
  ``max_connections`` a new connection replaces the one that has waited longest for a
  request head, or is closed at once (the file limit is raised to its maximum at start, so
  it never binds first); a connection must deliver a complete request head within
  ``header_seconds`` of opening, or of its last response, and at most ``MAX_HEAD_BYTES`` of
  it (the parser sets no limit of its own); a silent, dripping or endless head is closed.
  At most ``MAX_PIPELINED`` requests may wait behind the one being answered (the parser
  reads every request a read brings, so a connection could otherwise queue thousands).
  uvicorn's own keep-alive timer is cancelled by any byte, so one byte a minute would
  otherwise keep a connection forever.
* ``DeadlineMiddleware`` (ASGI): a request body must bring at least ``min_bytes`` in every
  ``window_seconds`` while it is arriving, and a small (JSON) body must be whole within
  ``small_body_seconds``. A body that fails is cut off: the route sees a client that went
  away (a resumable upload keeps what it received), the answer is 408 and the connection is
  closed. No per-address counting anywhere: over Tor every client has the same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable
from typing import Any

import anyio
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import error_response

# The most a request head (request line and headers) may take; a longer one is refused.
MAX_HEAD_BYTES = 16 * 1024
# What uvicorn answers and logs for a request it cannot parse (api/quiet.py limits the log).
MALFORMED = "Invalid HTTP request received."


# Requests a connection may send ahead of the answers to its earlier ones (pipelining).
MAX_PIPELINED = 16


class HeadTooLarge(Exception):
    """A request head longer than allowed, or one too many sent ahead of the answers
    (raised inside the parser, which then stops)."""


def raise_open_file_limit() -> None:
    """Raise this process's soft limit on open files to its hard limit (best effort): each
    connection is a file, and the connection cap should bind before the file limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def deadline_protocol(header_seconds: float, max_connections: int,
                      max_head_bytes: int = MAX_HEAD_BYTES) -> type[HttpToolsProtocol]:
    """A protocol class (uvicorn's, on the httptools parser) whose connections must send a
    request head in time, and at most ``max_head_bytes`` of it; past ``max_connections`` a
    new connection takes the place of the one that has waited longest for a request head
    (at least a second; with none, it is let in up to twice the cap, then closed at once and
    its client retries): so the number of open files stays bounded however many connections
    arrive, and silent connections cannot keep out one that asks something at once."""

    # Connections waiting for a request head, oldest first: the ones that give way. Those
    # that never sent one go before those kept alive after a response (a genuine client
    # may be about to reuse its connection).
    # A connection waits at least `protected` seconds before it can give way, so a flood of
    # new connections cannot push out a genuine one before its request head arrives.
    fresh: dict[HttpToolsProtocol, float] = {}
    kept: dict[HttpToolsProtocol, float] = {}
    protected = min(1.0, header_seconds / 2)

    class DeadlineProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        # Bytes received since the connection began waiting for a request head; None while
        # it is not waiting (a head is complete and its request not yet answered and read).
        _head_bytes: int | None = None

        def _arm(self, waiting: dict[HttpToolsProtocol, float]) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_seconds, self._too_slow)
            self._head_bytes = 0
            waiting[self] = self.loop.time()

        def _longest_waiting(self) -> HttpToolsProtocol | None:
            cutoff = self.loop.time() - protected
            for waiting in (fresh, kept):
                for connection, since in waiting.items():
                    if since > cutoff:
                        break  # oldest first: the rest are younger still
                    if not connection.transport.is_closing():
                        return connection
            return None

        def _disarm(self) -> None:
            fresh.pop(self, None)
            kept.pop(self, None)
            self._head_bytes = None
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                # Full: the connection that has waited longest for a request head gives way
                # (a genuine client sends its head at once).
                oldest = self._longest_waiting()
                if oldest is not None:
                    fresh.pop(oldest, None)
                    kept.pop(oldest, None)
                    oldest.transport.abort()
                elif len(self.connections) > 2 * max_connections:
                    transport.abort()
                    return
                # else: every waiting connection is younger than a second; let this one
                # in too (it may be a genuine client racing a flood), up to twice the cap.
            self._arm(fresh)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            waiting = self._head_bytes is not None
            super().data_received(data)
            if not waiting or self._head_bytes is None or self.transport.is_closing():
                return
            # Waiting for a head before this chunk and still after it, so all of it was
            # head (the parser keeps an unfinished head whole, however long): refused past
            # the limit, as a malformed request is. A chunk that began the wait (the end of
            # a body read after an early answer) is not counted: the head it began is
            # measured whole when it completes.
            self._head_bytes += len(data)
            if self._head_bytes > max_head_bytes:
                self._disarm()
                self.logger.warning(MALFORMED)
                self.send_400_response(MALFORMED)

        def on_headers_complete(self) -> None:
            self._disarm()
            # The head arrived whole within one read: its size, from what the parser gave
            # (request line and "name: value" lines). Refused like a malformed request: the
            # parser stops, uvicorn answers 400 and closes.
            size = len(self.url) + 16 + sum(len(name) + len(value) + 4
                                            for name, value in self.headers)
            if size > max_head_bytes:
                raise HeadTooLarge
            cycle = self.cycle
            if (cycle is not None and not cycle.response_complete
                    and len(self.pipeline) >= MAX_PIPELINED):
                # Requests sent before the answers to earlier ones (HTTP/1.1 pipelining)
                # wait in memory, however many one read holds: a few, then refused.
                raise HeadTooLarge
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            cycle = self.cycle
            if (cycle is not None and cycle.response_complete and not self.pipeline
                    and not self.transport.is_closing()):
                self._arm(kept)  # answered before its body was read: the next head, in time

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if (not self.transport.is_closing() and not self.pipeline
                    and not self.cycle.more_body):
                self._arm(kept)  # the next request head must come in time too

    return DeadlineProtocol


def _too_slow() -> JSONResponse:
    """The answer to a request cut off for slowness (made only then)."""
    return error_response(
        408, "the request arrived too slowly; send it again (an upload keeps what "
        "arrived: ask for its offset and resume)", {"Connection": "close"})


class BodyTooSlow(ClientDisconnect):
    """The body did not arrive fast enough; treated like a client that went away."""


class DeadlineMiddleware:
    """Cuts off request bodies that arrive too slowly (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, window_seconds: float, min_bytes: int,
                 small_body_seconds: float, streaming: Callable[[str, str], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.window = window_seconds
        self.min_bytes = min_bytes
        self.small_body_seconds = small_body_seconds
        self.streaming = streaming
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = self._clock
        streams = self.streaming(scope["method"], scope["path"])
        deadline = None if streams else clock() + self.small_body_seconds
        window_start = clock()
        window_bytes = 0
        cut = False
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal window_start, window_bytes, cut, body_done
            if cut:
                raise BodyTooSlow
            if body_done:
                return await receive()
            while True:
                now = clock()
                if now - window_start >= self.window:
                    if window_bytes < self.min_bytes:
                        cut = True
                        raise BodyTooSlow
                    window_start, window_bytes = now, 0
                wait = window_start + self.window - now
                if deadline is not None:
                    wait = min(wait, deadline - now)
                    if wait <= 0:
                        cut = True
                        raise BodyTooSlow
                with anyio.move_on_after(wait):
                    message = await receive()
                    if message["type"] == "http.request":
                        window_bytes += len(message.get("body", b""))
                        body_done = not message.get("more_body", False)
                    return message

        started = False
        replaced = False

        async def send_closing(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                started = True
                if cut and message["status"] < 500:
                    # Whatever the route made of the cut-off body (a JSON route's 400),
                    # the answer is 408 and the connection is not kept.
                    replaced = True
                    await _too_slow()(scope, receive, send)
                    return
                if cut:
                    headers: list[Any] = [h for h in message.get("headers", [])
                                          if h[0].lower() != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_closing)
        except BodyTooSlow:
            if not started:
                await _too_slow()(scope, receive, send)
        except ClientDisconnect:
            pass  # the client went away: nobody to answer, nothing to log
