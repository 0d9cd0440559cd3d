"""Quiet logs: each kind of error once a minute with a count, never a traceback."""

from __future__ import annotations

import io
import logging

from api.quiet import QuietFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_thousand_errors_of_one_kind_are_one_line_then_a_count() -> None:
    clock = Clock()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(QuietFilter(60, clock))
    logger = logging.getLogger("amanat.test.quiet")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for _ in range(1000):
            try:
                raise OSError(24, "Too many open files: /secret/path")
            except OSError:
                logger.exception("request failed: %s", "OSError")
        logger.error("another kind")
        clock.now = 61
        try:
            raise OSError(24, "Too many open files: /secret/path")
        except OSError:
            logger.exception("request failed: %s", "OSError")
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines == ["request failed: OSError (OSError)",
                     "another kind",
                     "request failed: OSError (OSError) (and 999 more like it in the last 61 s)"]
    assert "Traceback" not in out.getvalue() and "/secret/path" not in out.getvalue()
