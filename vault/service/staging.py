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

Storage has a reserve: an anonymous byte is refused (507) while the data directory's
filesystem has less than ``reserve_bytes`` free, or when it would take what is stored past
the operator's ``max_stored_bytes``. What is left serves what must never fail for lack of
room: log entries, investigators' reads with their access entries, deletions and replies.

Idle times live in memory only (monotonic clock), never on disk: stored times are hours
(guarantee 2). After a restart every upload found on disk starts a fresh idle period.
Investigators' replies are authenticated and bounded by their own size limit: they are not
counted against the anonymous caps, so a flood of anonymous uploads never blocks a reply.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_FULL = "the server has no room for more testimony right now; try again later"
# Free space that a finished upload or a reply needs before it starts (see require_headroom).
LOG_HEADROOM_BYTES = 1024 * 1024


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
    reserve_bytes: int = 0
    max_stored_bytes: int = 0  # 0: no quota


def reserve_for(total_bytes: int, min_free_bytes: int, min_free_percent: float) -> int:
    """The free space to keep on a filesystem of ``total_bytes``: the larger of the two."""
    return max(min_free_bytes, int(total_bytes * min_free_percent / 100))


def total_bytes(path: Path) -> int:
    """The size of ``path``'s filesystem."""
    stats = os.statvfs(path)
    return stats.f_blocks * stats.f_frsize


class Staging:
    """The live count of staged uploads and bytes, and when each upload last moved."""

    def __init__(self, limits: StagingLimits,
                 clock: Callable[[], float] = time.monotonic,
                 free: Callable[[], int] | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._free = free
        self._lock = threading.Lock()
        self._last_active: dict[str, float] = {}
        self._sizes: dict[str, int] = {}  # at the last resync
        self._staged_bytes = 0
        self._stored_bytes = 0

    @property
    def retry_after(self) -> int:
        """Seconds until a stalled upload can surely give way."""
        return max(1, int(min(self.limits.evict_seconds, self.limits.idle_seconds)) + 1)

    def resync(self, staged: Iterable[tuple[str, int]], stored: int | None = None) -> None:
        """Take the uploads and their sizes from what is on disk: forget those gone, start
        an idle period for those new (a restart), and count their bytes; ``stored``: the
        bytes of stored sealed files, when known."""
        now = self._clock()
        sizes = dict(staged)
        with self._lock:
            # An upload that grew since the last look moved (on a store shared by several
            # workers, bytes may have come through another one).
            self._last_active = {
                upload_id: (self._last_active.get(upload_id, now)
                            if self._sizes.get(upload_id, size) == size else now)
                for upload_id, size in sizes.items()}
            self._sizes = sizes
            self._staged_bytes = sum(sizes.values())
            if stored is not None:
                self._stored_bytes = stored

    def _room_for(self, size: int) -> bool:
        """Whether ``size`` more anonymous bytes fit the staging cap, the quota and the
        reserve (call with the lock held)."""
        limits = self.limits
        if self._staged_bytes + size > limits.max_staged_bytes:
            return False
        if limits.max_stored_bytes and (
                self._stored_bytes + self._staged_bytes + size > limits.max_stored_bytes):
            return False
        return self._free is None or self._free() - size >= limits.reserve_bytes

    def require_headroom(self) -> None:
        """Refuse (507) a write that ends in a log append while the filesystem has less
        than ``LOG_HEADROOM_BYTES`` free, whatever the configured reserve: such a write
        changes several files (the sealed file's name, a row, log entries and a checkpoint),
        and checking first keeps a full disk from stopping it halfway, with the upload
        gone and the submission not yet logged. Investigators' reads and deletions are not
        refused here: their log entries are small and must be tried."""
        if self._free is not None and self._free() < LOG_HEADROOM_BYTES:
            raise StorageFullError(_FULL, 60)

    def admit(self, count: int) -> None:
        """Refuse a new anonymous upload when ``count`` (those staged now) is at the cap or
        staged bytes fill theirs."""
        if count >= self.limits.max_uploads:
            raise BusyUploadsError("too many uploads in progress; try again later",
                                   self.retry_after)
        with self._lock:
            room = self._room_for(1)
        if not room:
            raise StorageFullError(_FULL, self.retry_after)

    def touch(self, upload_id: str) -> None:
        with self._lock:
            self._last_active[upload_id] = self._clock()

    def charge(self, upload_id: str, size: int) -> None:
        """Count ``size`` more bytes arriving for ``upload_id``; StorageFullError (nothing
        counted) when they would pass the cap."""
        with self._lock:
            if not self._room_for(size):
                raise StorageFullError(_FULL, self.retry_after)
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
