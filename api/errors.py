"""Errors as JSON, and the two middlewares that keep responses private and safe.

* every error is ``{"error": "<message>"}`` with a 4xx/5xx status; messages come from the
  service (written for people, never echoing request input); unexpected exceptions become a
  generic 500 and are logged by class name only, so no request data reaches a log;
* every response carries the security headers below (strict CSP for API responses, no
  referrer, no sniffing, no framing, no caching).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault.service.auth import AuthError, WrongServerError
from vault.service.mailbox import MailboxSecretError
from vault.service.room import disk_full
from vault.service.rosterview import RosterRejected
from vault.service.service import (
    BusyUploadsError,
    ForbiddenError,
    LogRangeError,
    NoOrgKeyError,
    NoRosterError,
    NotCosignedYetError,
    RosterStaleError,
    StorageFullError,
    WorkError,
)
from vault.service.staging import RetryLaterError
from vault.service.uploads import NotSealedError, OffsetError, TooLargeError
from vault.store import ConflictError, NotFoundError

logger = logging.getLogger("amanat.server")

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# For pages served outside /api/ (the witness page): its own origin only, never a third party.
# No inline script or style, no eval, no plugin, nothing from another origin.
PAGE_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
            b"worker-src 'none'; frame-src 'none'; "
            b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
API_PREFIXES = ("/api/", "/openapi.json")

API_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    # The page never needs the location, the camera or the microphone: a witness is never
    # asked for them, whatever the page's code says.
    (b"permissions-policy",
     b"interest-cohort=(), geolocation=(), camera=(), microphone=(), payment=(), usb=()"),
)


class ApiError(Exception):
    """An error answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# Service exception class -> HTTP status. The first matching class wins.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (TooLargeError, 413),
    (OffsetError, 409),
    (RosterStaleError, 409),
    (ConflictError, 409),
    (NotFoundError, 404),
    (NotCosignedYetError, 404),
    (NotSealedError, 422),
    (MailboxSecretError, 400),
    (ForbiddenError, 403),
    (WrongServerError, 403),
    (AuthError, 401),
    (NoRosterError, 503),
    (NoOrgKeyError, 503),
    (BusyUploadsError, 503),
    (StorageFullError, 507),
    (WorkError, 428),
    (LogRangeError, 400),
)


def status_for(exc: BaseException) -> int | None:
    if isinstance(exc, RosterRejected) and not isinstance(exc, RosterStaleError):
        return 403 if exc.signature else 422
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def service_error(_: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        if status is None:  # pragma: no cover - only registered for mapped classes
            return error_response(500, "internal error")
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, RetryLaterError):
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(status, str(exc), headers)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, message, dict(exc.headers or {}) or None)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Name where the problem is (from the schema), never what was sent.
        places = sorted({".".join(str(p) for p in e.get("loc", ())[:2])
                         for e in exc.errors()})[:5]
        return error_response(422, "invalid request: " + ", ".join(places))

    app.add_exception_handler(ApiError, api_error)
    for cls, _status in _STATUS:
        app.add_exception_handler(cls, service_error)
    app.add_exception_handler(RosterRejected, service_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response and drops any Server/Date header.

    API responses get ``API_CSP`` (``default-src 'none'``); anything else (a static page)
    gets ``PAGE_CSP`` (``default-src 'self'``). Every answer is ``Cache-Control: no-store``,
    except that an answer under one of the ``cacheable`` path prefixes (public files made
    to be cached, such as the log's tiles) keeps the Cache-Control it set itself."""

    def __init__(self, app: ASGIApp,
                 headers: tuple[tuple[bytes, bytes], ...] = API_SECURITY_HEADERS,
                 cacheable: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = headers
        self.cacheable = cacheable
        self._names = {name for name, _ in headers} | {
            b"server", b"date", b"content-security-policy"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path: str = scope.get("path", "")
        csp = API_CSP if path.startswith(API_PREFIXES) else PAGE_CSP
        cacheable = bool(self.cacheable) and path.startswith(self.cacheable)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                keep_cache = cacheable and any(k.lower() == b"cache-control" for k, _ in own)
                kept = [(k, v) for k, v in own if k.lower() not in self._names
                        or (keep_cache and k.lower() == b"cache-control")]
                added = [(k, v) for k, v in self.headers
                         if not (keep_cache and k == b"cache-control")]
                message["headers"] = [*kept, *added, (b"content-security-policy", csp)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


DISK_FULL = "the server's disk is full; try again later"


class CatchAllMiddleware:
    """Turns any unexpected exception into a generic 500, logging only its class name
    (tracebacks and messages may carry request data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            full = disk_full(exc)
            if full:
                logger.error("a write failed: the disk is full")
            else:
                logger.error("request failed: %s", type(exc).__name__)
            if not started:
                response = (error_response(507, DISK_FULL, {"Retry-After": "60"}) if full
                            else error_response(500, "internal error"))
                await response(scope, receive, send)


class _BodyTooLarge(StarletteHTTPException):
    """Raised while reading a capped body; FastAPI passes HTTP exceptions through."""


class BodyLimitMiddleware:
    """Caps request bodies at ``limit`` bytes, except on the routes that stream their body
    to disk under their own, larger limits (``streaming(method, path)``). A declared
    Content-Length past the cap is refused before reading; an undeclared body is counted."""

    def __init__(self, app: ASGIApp, limit: int,
                 streaming: Callable[[str, str], bool]) -> None:
        self.app = app
        self.limit = limit
        self.streaming = streaming
        self.refusal = f"request bodies here are at most {limit} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.streaming(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await error_response(413, self.refusal)(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge(413, self.refusal)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await error_response(413, self.refusal)(scope, receive, send)


def json_error_schema() -> dict[str, Any]:
    return {"description": "Error", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}},
        "required": ["error"]}}}}
