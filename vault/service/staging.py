"""Bounds on what anonymous clients may stage: how many uploads, how many bytes, how idle.

Protects "the vault stays open under attack" (DESIGN.md, 8). Over Tor every anonymous client
looks the same, so nothing here counts per client: the caps are global, and what keeps them
from being held by one flooder is time. An upload that received no byte for
``idle_seconds`` is dropped by the next sweep (or at once when the count cap is reached), so
empty or stalled uploads cannot hold the slots a genuine witness needs; bytes count against
the global cap as they arrive, not when the upload finishes. When the count cap is reached
all the same (a flood that keeps its uploads barely alive), a new upload takes the place of
the one that has waited longest without a byte, once that wait passes ``evict_seconds``:
a genuine witness's upload is busy while it sends, so only stalled ones give way.

Idle times live in memory only (monotonic clock), never on disk: stored times are hours
(guarantee 2). After a restart every upload found on disk starts a fresh idle period.
Investigators' replies are authenticated and bounded by their own size limit: they are not
counted against the anonymous caps, so a flood of anonymous uploads never blocks a reply.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class RetryLaterError(Exception):
    """A refusal that passes: ``retry_after`` says how many seconds to wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BusyUploadsError(RetryLaterError):
    """Too many uploads are in progress; the witness should retry later (503)."""


class StorageFullError(RetryLaterError):
    """Staging or storage has no room for more anonymous data right now (507)."""


@dataclass(frozen=True)
class StagingLimits:
    max_uploads: int = 1000
    max_staged_bytes: int = 16 * 1024 * 1024 * 1024
    idle_seconds: float = 600.0
    evict_seconds: float = 60.0


class Staging:
    """The live count of staged uploads and bytes, and when each upload last moved."""

    def __init__(self, limits: StagingLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._last_active: dict[str, float] = {}
        self._staged_bytes = 0

    @property
    def retry_after(self) -> int:
        """Seconds until a stalled upload can surely give way."""
        return max(1, int(min(self.limits.evict_seconds, self.limits.idle_seconds)) + 1)

    def resync(self, staged: Iterable[tuple[str, int]]) -> None:
        """Take the uploads and their sizes from what is on disk: forget those gone, start
        an idle period for those new (a restart), and count their bytes."""
        now = self._clock()
        sizes = dict(staged)
        with self._lock:
            self._last_active = {upload_id: self._last_active.get(upload_id, now)
                                 for upload_id in sizes}
            self._staged_bytes = sum(sizes.values())

    def admit(self, count: int) -> None:
        """Refuse a new anonymous upload when ``count`` (those staged now) is at the cap or
        staged bytes fill theirs."""
        if count >= self.limits.max_uploads:
            raise BusyUploadsError("too many uploads in progress; try again later",
                                   self.retry_after)
        with self._lock:
            full = self._staged_bytes >= self.limits.max_staged_bytes
        if full:
            raise StorageFullError("the server has no room for more uploads right now; "
                                   "try again later", self.retry_after)

    def touch(self, upload_id: str) -> None:
        with self._lock:
            self._last_active[upload_id] = self._clock()

    def charge(self, upload_id: str, size: int) -> None:
        """Count ``size`` more bytes arriving for ``upload_id``; StorageFullError (nothing
        counted) when they would pass the cap."""
        with self._lock:
            if self._staged_bytes + size > self.limits.max_staged_bytes:
                raise StorageFullError("the server has no room for more uploads right now; "
                                       "try again later", self.retry_after)
            self._staged_bytes += size
            self._last_active[upload_id] = self._clock()

    def idle(self, busy: set[str]) -> list[str]:
        """Uploads that received nothing for ``idle_seconds`` and have no request now."""
        cutoff = self._clock() - self.limits.idle_seconds
        with self._lock:
            return [u for u, last in self._last_active.items() if last <= cutoff and u not in busy]

    def longest_waiting(self, busy: set[str]) -> str | None:
        """The upload with no request now that has waited longest for a byte, if that wait
        passes ``evict_seconds``."""
        cutoff = self._clock() - self.limits.evict_seconds
        with self._lock:
            waiting = [(last, u) for u, last in self._last_active.items()
                       if last <= cutoff and u not in busy]
        return min(waiting)[1] if waiting else None

    @property
    def staged_bytes(self) -> int:
        with self._lock:
            return self._staged_bytes
