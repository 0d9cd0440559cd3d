"""What the witness's commands show and say about the network: the ``--retry-for`` option,
the countdown while the server is out of reach, and what to do when they give up.

The retrying itself is `vault.client.RetryPolicy`; this module only presents it. The
countdown goes to stderr: redrawn in place on a terminal, and elsewhere (logs, pipes) one
line when a wait starts, then at most one every ``LINE_INTERVAL`` seconds unless the reason
changes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vault.cli.common import clock_text, one_line

if TYPE_CHECKING:
    from vault.client import GaveUpError, RetryPolicy, RetryWait

DEFAULT_RETRY_SECONDS = 600.0
LINE_INTERVAL = 10.0


class Countdown:
    """Shows each `RetryWait`: "server unreachable; retrying in 8 s (gives up in 9:32)"."""

    def __init__(self, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._clock = clock
        self._last: float | None = None
        self._reason = ""

    @staticmethod
    def line(wait: RetryWait) -> str:
        # The reason may quote the server (a 503's message): one_line keeps it to one line.
        return one_line(f"amanat: {wait.reason}; retrying in {max(1, round(wait.delay))} s "
                        f"(gives up in {clock_text(wait.gives_up_in)})")

    def __call__(self, wait: RetryWait) -> None:
        if self.tty:
            self.stream.write("\r" + self.line(wait).ljust(78))
            if wait.delay <= 1:  # the last second of this wait: keep the line
                self.stream.write("\n")
        else:
            now = self._clock()
            if (self._last is not None and now - self._last < LINE_INTERVAL
                    and wait.reason == self._reason):
                return
            self._last, self._reason = now, wait.reason
            self.stream.write(self.line(wait) + "\n")
        self.stream.flush()


MAX_RETRY_SECONDS = 7 * 24 * 3600.0


def retry_seconds(text: str) -> float:
    """``--retry-for``: a number of seconds from 0 to a week (not "inf" or "nan", which
    would make the bound no bound)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_RETRY_SECONDS:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds from 0 to {MAX_RETRY_SECONDS:.0f} (a week)")
    return seconds


def add_retry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retry-for", metavar="SECONDS", type=retry_seconds, default=DEFAULT_RETRY_SECONDS,
        help="while the server cannot be reached (or is busy), keep trying for this long "
             f"after the last success, with a countdown (default {DEFAULT_RETRY_SECONDS:.0f}; "
             "0 gives up at once)")


def retry_policy(args: argparse.Namespace) -> RetryPolicy:
    from vault.client import RetryPolicy

    return RetryPolicy(args.retry_for, on_wait=Countdown())


def gave_up(exc: GaveUpError, advice: str) -> str:
    """What a command says when its retry policy gave up, and what to do next."""
    after = f"gave up after {clock_text(exc.seconds)}" if exc.seconds >= 1 else "gave up"
    return f"{after}: {exc}; {advice}"


SUBMIT_GAVE_UP = ("nothing was delivered, and nothing was stored on this device: running the "
                  "same command again is safe")


def upload_gave_up(record: Path) -> str:
    """What to do after `upload` gave up, with or without a resume record beside the file."""
    if not record.exists():
        return "nothing was sent yet: run the same command again"
    return (f"run the same command again to go on from where it stopped (the server keeps "
            f"what it received for a day; {record} remembers where)")


def work_progress(stream: TextIO | None = None,
                  clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """Shows a proof of work being solved: redrawn in place on a terminal, elsewhere a line
    at most every ``LINE_INTERVAL`` seconds."""
    out = stream or sys.stderr
    tty = out.isatty()
    last: list[float] = []

    def show(bits: int, tried: int) -> None:
        now = clock()
        if not tty and last and now - last[0] < LINE_INTERVAL:
            return
        last[:] = [now]
        text = (f"amanat: the server is busy; solving its proof of work ({bits} bits, "
                f"{tried:,} tries)")
        out.write(f"\r{text}\x1b[K" if tty else text + "\n")
        out.flush()

    return show
