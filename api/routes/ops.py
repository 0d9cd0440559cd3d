"""Operations endpoints: a public health check and counters for the operator's monitoring.

Protects guarantee 2 (nothing identifies a witness) and "the vault stays open under attack"
(DESIGN.md 8) while letting an operator watch the server:

* ``GET /api/v1/health`` is public: 200 ``{"status": "ok"}``, or 503 naming each failing
  part (``storage``: less free space than the reserve, so anonymous writes get 507, which
  anyone can see already; ``database``, ``log``: they cannot be read).
* ``GET /api/v1/metrics`` (Prometheus text format) answers only a bearer token equal to the
  content of ``metrics.token`` in the data directory, a file the operator creates (0600);
  without that file, or with any other token, it answers 404 as if it did not exist. The
  onion service forwards to the loopback address, so "only from loopback" would protect
  nothing. Free space is not public: it tells an adversary how close a flood is to filling
  the disk. The values are totals only: uploads in progress, staged bytes, free bytes and
  the reserve, stored bytes, log entries, stored submissions and replies, and log records
  at warning level or above by logger, level and exception class (counted as they happen,
  whether or not the quiet log printed them). Nothing per request, no address, no time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import ServiceDep
from vault.store import NAMESPACE_REPLIES, NAMESPACE_SUBMISSIONS

router = APIRouter(prefix="/api/v1", tags=["operations"])

METRICS_TOKEN_FILE = "metrics.token"  # noqa: S105 - a file name
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_MAX_KINDS = 64
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9_]{0,63}")


class ErrorCounter(logging.Handler):
    """Counts log records (warning and above) by logger, level and exception class; emits
    nothing. The exception class comes from the record's exception, or from a message that
    ends in ``: ClassName`` (the server logs unexpected errors by class name only)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._counts: dict[tuple[str, str, str], int] = {}
        self._count_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        exc_class = ""
        if record.exc_info and record.exc_info[0] is not None:
            exc_class = record.exc_info[0].__name__
        else:
            try:
                tail = record.getMessage().rsplit(": ", 1)[-1]
            except Exception:  # a record whose arguments do not format
                tail = ""
            if _CLASS_NAME.fullmatch(tail):
                exc_class = tail
        kind = (record.name, record.levelname.lower(), exc_class)
        with self._count_lock:
            if kind not in self._counts and len(self._counts) >= _MAX_KINDS:
                kind = ("other", record.levelname.lower(), "")
            self._counts[kind] = self._counts.get(kind, 0) + 1

    def counts(self) -> dict[tuple[str, str, str], int]:
        with self._count_lock:
            return dict(self._counts)


ERRORS = ErrorCounter()
for _name in ("amanat", "uvicorn.error", "asyncio"):
    logging.getLogger(_name).addHandler(ERRORS)


@router.get("/health", include_in_schema=False)
def health(service: ServiceDep) -> JSONResponse:
    """200 ``{"status": "ok"}``, or 503 ``{"status": "failing", "failing": [...]}``."""
    failing: list[str] = []
    try:
        if service.store.free_bytes() < service.limits.reserve_bytes:
            failing.append("storage")
    except OSError:
        failing.append("storage")
    try:
        service.store.count_uploads()
    except Exception:
        failing.append("database")
    try:
        service.log_size()
    except Exception:
        failing.append("log")
    if failing:
        return JSONResponse({"status": "failing", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ok"})


def _token_matches(data_dir: Path, header: str | None) -> bool:
    path = data_dir / METRICS_TOKEN_FILE
    try:
        if path.stat().st_mode & 0o077:
            return False  # readable by others: not a secret any more
        expected = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not expected or header is None:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(),
                               hashlib.sha256(expected.encode()).digest())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(service: Any) -> str:
    """The counters in Prometheus text format (version 0.0.4)."""
    store = service.store
    gauges = [
        ("amanat_uploads_in_progress", "Resumable uploads staged now.",
         store.count_uploads()),
        ("amanat_staged_bytes", "Bytes of unfinished anonymous uploads.",
         service.staging.staged_bytes),
        ("amanat_free_bytes", "Bytes free on the data directory's file system.",
         store.free_bytes()),
        ("amanat_reserve_bytes", "Free bytes kept back: anonymous writes stop below this.",
         service.limits.reserve_bytes),
        ("amanat_stored_bytes", "Bytes of stored sealed submissions and replies.",
         store.stored_bytes()),
        ("amanat_log_entries", "Entries in the audit log (public in its checkpoint).",
         service.log_size()),
        ("amanat_submissions_stored", "Sealed submissions held.",
         len(store.record_indices(NAMESPACE_SUBMISSIONS))),
        ("amanat_replies_stored", "Sealed replies held.",
         len(store.record_indices(NAMESPACE_REPLIES))),
    ]
    lines: list[str] = []
    for name, text, value in gauges:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {int(value)}"]
    lines += ["# HELP amanat_log_records_total Log records at warning level or above.",
              "# TYPE amanat_log_records_total counter"]
    for (logger_name, level, exc_class), count in sorted(ERRORS.counts().items()):
        lines.append(f'amanat_log_records_total{{logger="{_label(logger_name)}",'
                     f'level="{level}",class="{_label(exc_class)}"}} {count}')
    return "\n".join(lines) + "\n"


@router.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
def metrics(service: ServiceDep, request: Request) -> PlainTextResponse:
    """Prometheus text format, for a bearer token equal to ``metrics.token``; else 404."""
    data_dir: Path = request.app.state.settings.data_dir
    if not _token_matches(data_dir, request.headers.get("authorization")):
        raise StarletteHTTPException(404)  # the answer to any path that does not exist
    return PlainTextResponse(metrics_text(service), media_type=PROMETHEUS_TEXT)
