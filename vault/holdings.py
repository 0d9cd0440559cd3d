"""What the audit log says the server must hold: every logged submission minus the logged
deletions, every logged reply, and the newest logged roster version.

Protects DESIGN guarantee 4 ("nobody can silently drop a testimony"): the log, not the
server's database, is the record of truth. The server compares its database and blob
directory with this at every start (vault/service/consistency.py) and refuses to serve over
a database that lost something; ``amanat inbox``, ``amanat audit verify --full`` and
``amanat receipt verify --server`` compare it with what the server lists and serves, so a
testimony that disappears without a deletion entry is named, with its log index, by every
client that looks. Pure bookkeeping over entries; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vault.events import (
    KIND_DELETION,
    KIND_REPLY,
    KIND_ROSTER,
    KIND_SUBMISSION,
    Event,
    EventError,
    parse_event,
)

__all__ = ["LogHoldings", "LoggedItem", "missing_line"]


@dataclass(frozen=True)
class LoggedItem:
    """A submission or reply as its log entry records it."""

    id: str
    index: int
    sha256: str
    size: int
    time: str


@dataclass
class LogHoldings:
    """Entries fed in log order (``add``); what they say must still be held.

    Entries that are not canonical event text are skipped here: the full audit reports them
    (``vault.audit``), and the server's own log only ever holds canonical text.
    """

    size: int = 0
    submissions: dict[str, LoggedItem] = field(default_factory=dict)
    deletions: dict[str, int] = field(default_factory=dict)
    replies: dict[str, LoggedItem] = field(default_factory=dict)
    roster_version: int = 0

    @classmethod
    def of(cls, entries: Iterable[bytes], start: int = 0) -> LogHoldings:
        holdings = cls(size=start)
        for entry in entries:
            holdings.add(entry)
        return holdings

    def add(self, entry: bytes) -> Event | None:
        """Record the entry at index ``self.size``; return it parsed (None if malformed)."""
        index = self.size
        self.size += 1
        try:
            event = parse_event(entry)
        except EventError:
            return None
        if event.kind in (KIND_SUBMISSION, KIND_REPLY):
            item = LoggedItem(event.get("id"), index, event.get("sha256"),
                              int(event.get("size")), event.time)
            target = self.submissions if event.kind == KIND_SUBMISSION else self.replies
            target.setdefault(item.id, item)
        elif event.kind == KIND_DELETION:
            self.deletions.setdefault(event.get("id"), index)
        elif event.kind == KIND_ROSTER:
            self.roster_version = max(self.roster_version, int(event.get("version")))
        return event

    def live(self) -> list[LoggedItem]:
        """Logged submissions with no logged deletion, in log order."""
        return [item for item in self.submissions.values() if item.id not in self.deletions]

    def live_in(self, start: int, end: int) -> list[LoggedItem]:
        """Live submissions whose entry index is in ``[start, end)``."""
        return [item for item in self.live() if start <= item.index < end]


def missing_line(item: LoggedItem, what: str = "submission") -> str:
    """The one line naming a logged, undeleted item the server does not hold."""
    return (f"{what} {item.id} (log entry {item.index}, {item.time}, "
            f"{item.size} bytes) is in the log with no deletion, but the server does not "
            "hold it")
