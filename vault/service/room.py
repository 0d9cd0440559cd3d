"""Emergency room: space the server holds back so that investigators can still read, delete
and reply when the disk is full.

Protects "the vault stays open under attack" (DESIGN.md, 8) when the storage reserve is not
enough: another program fills the disk, or the operator set no reserve. Every read of a
testimony is logged before it is served, and a deletion before it happens; with no byte
free, the log cannot grow, so without room held back nobody could read what is stored, nor
delete anything to make room.

The server keeps a file of ``ROOM_BYTES`` zero bytes, ``room.reserve`` in the data
directory, written (and fsynced) while there is space for it. When an investigator's log
append fails because the disk is full, the service removes the file and tries once more
(``release``), and says so in its output once a minute; the next sweep writes it again as
soon as there is room for it and more. Anonymous writes never use it: they are refused
(507) before the disk is full (the reserve, and the headroom in staging.py).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

__all__ = ["ROOM_BYTES", "ROOM_NAME", "EmergencyRoom", "disk_full"]

ROOM_NAME: Final = "room.reserve"
ROOM_BYTES: Final = 8 * 1024 * 1024
_CHUNK: Final = 1024 * 1024

logger = logging.getLogger("amanat.server")


class EmergencyRoom:
    """The held-back space of one data directory."""

    def __init__(self, directory: Path, size: int = ROOM_BYTES) -> None:
        self.path = directory / ROOM_NAME
        self.size = size
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_size == self.size
        except FileNotFoundError:
            return False

    def ensure(self) -> bool:
        """Hold the room back again if it is not and there is space for it and as much
        again; return whether it is held. Never raises for want of space."""
        with self._lock:
            if self.held:
                return True
            stats = os.statvfs(self.path.parent)
            if stats.f_bavail * stats.f_frsize < 2 * self.size:
                return False
            partial = self.path.with_name(f".{ROOM_NAME}.part")
            try:
                with open(partial, "wb") as file:
                    block = bytes(_CHUNK)
                    for start in range(0, self.size, _CHUNK):
                        file.write(block[: min(_CHUNK, self.size - start)])
                    file.flush()
                    os.fsync(file.fileno())
                os.chmod(partial, 0o600)
                os.replace(partial, self.path)
            except OSError:
                partial.unlink(missing_ok=True)
                return False
            return True

    def release(self) -> bool:
        """Give the room back to the filesystem; return whether there was any to give."""
        with self._lock:
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
        logger.error("the disk is full: released the room held back for investigators' "
                     "reads, deletions and replies (%d MiB); free space on the data "
                     "directory's disk", self.size // (1024 * 1024))
        return True


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a write refused for want of space: ENOSPC or
    EDQUOT from the file system, SQLITE_FULL from SQLite."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(current, sqlite3.OperationalError) and (
                getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
                or "disk is full" in str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False
