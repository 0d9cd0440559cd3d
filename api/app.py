"""The application factory: ``create_app(settings)`` builds the FastAPI app for one data dir.

Privacy settings that protect guarantee 2 (nothing that reaches the server identifies a
witness) and are enforced here and in ``run``:

* no access log, no Server or Date header, proxy headers ignored (uvicorn flags in ``run``);
  the app never reads the client address, user agent or referrer;
* errors are generic JSON and never echo input; unexpected exceptions are logged by class
  name only (api/errors.py);
* every response carries strict security headers; no third-party resources (the interactive
  docs pages, which load scripts from a CDN, are off; the spec is at /openapi.json).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI

from api.deadlines import DeadlineMiddleware, deadline_protocol
from api.errors import (
    BodyLimitMiddleware,
    CatchAllMiddleware,
    SecurityHeadersMiddleware,
    install_error_handlers,
)
from api.quiet import LOG_CONFIG
from api.routes import investigator, log, ops, tiles, witness
from api.settings import Settings
from api.webpage import STATIC_DIR, WebPage, WebPageError, load_web_page
from api.webpage import router as web_router
from vault.service.service import VaultService
from vault.service.setup import OpenedVault, open_vault

API_VERSION = "1"
# JSON bodies (challenges, tokens, mailbox secrets) are tiny; sealed files and rosters are
# streamed by their routes under their own limits.
SMALL_BODY_BYTES = 64 * 1024
# Roster bodies (up to max_roster_bytes each) read at once; more wait for a 503's retry.
ROSTER_READS_AT_ONCE = 2


def streams_its_body(method: str, path: str) -> bool:
    """Whether a route reads its body itself, counting it against a configured limit."""
    if method == "POST" and path == "/api/v1/submissions":
        return True
    if method == "PATCH" and path.startswith("/api/v1/uploads/"):
        return True
    if method in ("PUT", "POST") and path == "/api/v1/roster":
        return True
    return method == "POST" and path.startswith("/api/v1/mailboxes/")
logger = logging.getLogger("amanat.server")


def open_settings_vault(settings: Settings) -> OpenedVault:
    return open_vault(
        settings.data_dir,
        store_dsn=settings.store,
        org_vkey=settings.org_vkey,
        dev=settings.dev,
        limits=settings.limits(),
        challenge_ttl=settings.challenge_ttl_seconds,
        token_ttl=settings.token_ttl_seconds,
        allow_missing=settings.allow_missing,
        upgrade_log_key=settings.upgrade_log_key,
        classical_logins=settings.classical_logins,
        servers=settings.login_servers(),
        control=True,
        blobs=settings.blob_storage(),
    )


def create_app(settings: Settings, service: VaultService | None = None) -> FastAPI:
    """Build the app. Opens (creating on first start) the vault in ``settings.data_dir``
    unless a ready ``service`` is given."""
    opened: OpenedVault | None = None
    if service is None:
        opened = open_settings_vault(settings)
        service = opened.service
    vault_service = service

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(_sweep_forever, vault_service, settings.sweep_interval_seconds)
            vault_service.start_cosigning(settings.cosigner_proxy)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
                await anyio.to_thread.run_sync(vault_service.stop_cosigning)
        if opened is not None:
            opened.close()

    app = FastAPI(
        title="amanat",
        version=API_VERSION,
        summary="A vault for testimony about mass detention: sealed ciphertext and an audit log.",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.service = vault_service
    app.state.settings = settings
    app.state.opened = opened
    app.state.roster_slots = anyio.Semaphore(ROSTER_READS_AT_ONCE)
    install_error_handlers(app)
    app.include_router(witness.router)
    app.include_router(investigator.router)
    app.include_router(log.router)
    app.include_router(tiles.router)
    app.include_router(ops.router)
    # The witness's page last: its routes never shadow an API path.
    page, problem = _web_page(vault_service.org_vkey, settings.web_dir)
    app.state.web_page, app.state.web_page_problem = page, problem
    app.include_router(web_router)
    # Added last = outermost: headers go on every response, including generic 500s.
    app.add_middleware(DeadlineMiddleware, window_seconds=settings.body_window_seconds,
                       min_bytes=settings.body_min_bytes,
                       small_body_seconds=settings.small_body_seconds,
                       streaming=streams_its_body)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=SMALL_BODY_BYTES, streaming=streams_its_body)
    app.add_middleware(SecurityHeadersMiddleware, cacheable=tiles.CACHEABLE_PREFIXES)
    return app


def _web_page(org_vkey: str | None, web_dir: Path | None
              ) -> tuple[WebPage | None, str | None]:
    """The built witness page with the organization key pinned in it, or why there is
    none (the API works without it)."""
    try:
        return load_web_page(org_vkey, web_dir or STATIC_DIR), None
    except WebPageError as exc:
        logger.error("witness page not served: %s", exc)
        return None, str(exc)


async def _sweep_forever(service: VaultService, interval: float) -> None:
    while True:
        try:
            await anyio.to_thread.run_sync(service.sweep)
        except Exception as exc:  # keep sweeping; never log request data
            logger.error("upload sweep failed: %s", type(exc).__name__)
        await anyio.sleep(interval)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn options that keep addresses and precise times out of every log, and
    connections bounded in number and time."""
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "server_header": False,
        "date_header": False,
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "log_level": "warning",
        "log_config": LOG_CONFIG,  # each kind of error once a minute, no traceback
        "lifespan": "on",
        # Bounded connections and time (api/deadlines.py): nobody holds a connection by
        # saying nothing; past max_connections new requests get 503 and clients retry.
        "http": deadline_protocol(settings.header_seconds, settings.max_connections),
        "timeout_keep_alive": settings.keep_alive_seconds,
        # The protocol keeps connections within max_connections, making room by closing
        # the longest-silent one; uvicorn's own cap (limit_concurrency) would instead answer
        # 503 to the genuine request while silent connections hold every place, so it is
        # off (one request runs per connection, so tasks are bounded too).
        "limit_concurrency": None,
    }
