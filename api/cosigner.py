"""The cosigner's HTTP skin: ``POST /add-checkpoint`` of C2SP tlog-witness, nothing else.

The checks and the state live in ``vault.cosigner``; this module only reads a bounded body,
runs ``Cosigner.add_checkpoint`` in a worker thread and turns its refusals into the statuses
the spec names (400, 403, 404, 409 with ``text/x.tlog.size``, 422) with a one-line plain
text reason. The same privacy rules as the vault server (api/app.py): no access log, no
Server or Date header, no client address read or logged, bodies capped and time-limited
(api/deadlines.py), unexpected errors logged by class name only.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from api.deadlines import DeadlineMiddleware, deadline_protocol
from api.errors import BodyLimitMiddleware, CatchAllMiddleware, SecurityHeadersMiddleware
from api.quiet import LOG_CONFIG
from vault.cosigner.witness import (
    MAX_BODY_BYTES,
    SIZE_CONTENT_TYPE,
    Cosigner,
    Refusal,
    SizeConflict,
)

HEADER_SECONDS = 10.0
BODY_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 256
TEXT = "text/plain; charset=utf-8"


def _never_streams(method: str, path: str) -> bool:
    return False


def create_cosigner_app(cosigner: Cosigner) -> FastAPI:
    app = FastAPI(title="amanat cosigner", docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None, openapi_url=None)
    app.state.cosigner = cosigner

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        try:
            lines: str = await anyio.to_thread.run_sync(cosigner.add_checkpoint, body)
        except SizeConflict as exc:
            return Response(exc.body().encode("ascii"), status_code=409,
                            headers={"content-type": SIZE_CONTENT_TYPE})
        except Refusal as exc:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status,
                                     media_type=TEXT)
        return PlainTextResponse(lines, media_type=TEXT)

    app.add_middleware(DeadlineMiddleware, window_seconds=BODY_SECONDS, min_bytes=1,
                       small_body_seconds=BODY_SECONDS, streaming=_never_streams)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES, streaming=_never_streams)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def cosigner_uvicorn_options(host: str, port: int) -> dict[str, Any]:
    """uvicorn options: no access log, no Server or Date header, proxy headers ignored,
    quiet logs, bounded connections (as api.app.uvicorn_options for the vault)."""
    return {
        "host": host,
        "port": port,
        "access_log": False,
        "server_header": False,
        "date_header": False,
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "log_level": "warning",
        "log_config": LOG_CONFIG,
        "lifespan": "off",
        "http": deadline_protocol(HEADER_SECONDS, MAX_CONNECTIONS),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": None,
    }


def check_listen(host: str, port: int) -> None:
    """Refuse, in words and before the key is unlocked, an address this cosigner cannot
    listen on (as ``amanat serve`` does)."""
    from api.server import _check_listen

    _check_listen(host, port)


def serve_cosigner(cosigner: Cosigner, host: str, port: int) -> None:
    """Run the cosigner until interrupted."""
    import uvicorn

    from api.deadlines import raise_open_file_limit

    raise_open_file_limit()
    uvicorn.run(create_cosigner_app(cosigner), **cosigner_uvicorn_options(host, port))


__all__ = ["check_listen", "cosigner_uvicorn_options", "create_cosigner_app", "serve_cosigner"]
