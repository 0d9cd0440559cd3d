"""The cosignatures gathered for the log's checkpoints, kept in memory only.

A cosignature line carries the time its cosigner signed (C2SP tlog-cosignature, to the
second), and the vault sends each new checkpoint to its cosigners at once: a line kept for
the checkpoint of size n would tell, to the second, when entry n - 1 (a submission, an
access, a reply) was logged. Nothing that reaches the server may leave a precise time on its
disk (DESIGN.md, guarantee 2), so no cosignature is ever written there. What a restart
loses is gathered again: the collector sends the newest checkpoint to every cosigner when it
starts, and a cosigner cosigns the size it last cosigned again (with a new time), so a
cosigned checkpoint is back within a round trip.

Bounded: the lines of the newest ``MAX_SIZES`` cosigned sizes are kept (every check needs
only the newest checkpoint that meets the policy, or one a waiting receipt asked for).
"""

from __future__ import annotations

import binascii
import threading
from base64 import b64decode
from collections.abc import Sequence

MAX_SIZES = 256
"""Cosigned sizes kept; past that the smallest is forgotten."""


class CosignatureMemory:
    """Cosignature lines (each ``— name base64``, no newline) by checkpoint size.
    Thread-safe."""

    def __init__(self, max_sizes: int = MAX_SIZES) -> None:
        self._max_sizes = max_sizes
        self._lines: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, size: int, lines: Sequence[str]) -> None:
        """Keep ``lines`` for the checkpoint of ``size``. A line replaces the one kept by the
        same key (name and key id): a checkpoint cosigned again carries the newer time."""
        keys = {_key(line) for line in lines}
        with self._lock:
            kept = self._lines.setdefault(size, set())
            kept.difference_update([line for line in kept if _key(line) in keys])
            kept.update(lines)
            while len(self._lines) > self._max_sizes:
                del self._lines[min(self._lines)]

    def lines(self, size: int) -> list[str]:
        """The lines kept for ``size``, sorted (one spelling of a cosigned checkpoint)."""
        with self._lock:
            return sorted(self._lines.get(size, ()))

    def sizes(self, min_lines: int = 1, *, above: int = -1, limit: int | None = None
              ) -> list[int]:
        """The sizes larger than ``above`` with at least ``min_lines`` lines kept, newest
        first, at most ``limit`` of them."""
        with self._lock:
            found = sorted((size for size, lines in self._lines.items()
                            if size > above and len(lines) >= min_lines), reverse=True)
        return found if limit is None else found[:limit]


def _key(line: str) -> tuple[str, bytes] | str:
    """The key that made a signature line ``— <name> <base64(key id (4) || ...)>``: its name
    and key id (a line of another shape stands for itself)."""
    parts = line.split(" ")
    if len(parts) == 3:
        try:
            return parts[1], b64decode(parts[2][:8], validate=True)[:4]
        except (binascii.Error, ValueError):
            pass
    return line
