"""Quiet logs under attack: each kind of error once, then a count, never a traceback.

Protects "the vault stays open under attack" (DESIGN.md, 8) and guarantee 2: a flood of bad
requests must not become a flood of log lines (which fills the disk, and journald with the
timing of every attempt), and no log line may carry request data. ``QuietFilter`` passes the
first record of each kind (logger, level, message, exception class), drops the others for
``interval`` seconds, then passes one more with how many were dropped. Tracebacks are
replaced by the exception's class name. ``LOG_CONFIG`` installs it for amanat's, uvicorn's and
asyncio's loggers (uvicorn's ``log_config``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

INTERVAL_SECONDS = 60.0
MAX_KINDS = 1000


class QuietFilter(logging.Filter):
    """Passes each kind of record once per ``interval`` seconds, without its traceback."""

    def __init__(self, interval: float = INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, int, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        exc_class = ""
        if record.exc_info and record.exc_info[0] is not None:
            exc_class = record.exc_info[0].__name__
        message = record.getMessage()[:200]
        kind = (record.name, record.levelno, message, exc_class)
        now = self._clock()
        with self._lock:
            if len(self._kinds) >= MAX_KINDS:
                self._kinds.clear()
            last, dropped = self._kinds.get(kind, (None, 0))
            if last is not None and now - last < self._interval:
                self._kinds[kind] = (last, dropped + 1)
                return False
            self._kinds[kind] = (now, 0)
        text = message + (f" ({exc_class})" if exc_class else "")
        if dropped:
            text += f" (and {dropped} more like it in the last {int(now - last)} s)"  # type: ignore[operator]
        record.msg, record.args = text, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"quiet": {"()": QuietFilter}},
    "formatters": {"plain": {"format": "amanat: %(levelname)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                            "formatter": "plain", "filters": ["quiet"]}},
    "loggers": {
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
