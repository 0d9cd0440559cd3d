"""Canonical text of the entries in the vault's audit log.

Every submission, access, deletion, reply and roster change becomes one entry in the
append-only Merkle log (vault/tlog, vault/store/auditlog.py). The log is public: anyone may
fetch its entries and check them against signed checkpoints. So an entry must say exactly
what happened to which sealed file, and nothing that could identify a witness
(DESIGN.md "What must be true" 2 and 4):

* times are rounded DOWN to the hour (``2026-11-21T05:00Z``);
* no address, user agent, mailbox id or plaintext length ever appears, only the random
  submission id, the ciphertext's SHA-256 and size, and the investigator's key id (on
  accesses and deletions; a reply does not name who wrote it, which would narrow the
  submissions it may answer to those that investigator opened);
* the text is canonical: one ``name value`` line per field in a fixed order, so the same
  event always has the same bytes and hash, and ``parse_event`` accepts only that form::

    amanat/event/v1
    kind submission
    time 2026-11-21T05:00Z
    id 5c1f...
    sha256 9f86...
    size 1234
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

EVENT_HEADER = "amanat/event/v1"

KIND_SUBMISSION = "submission"
KIND_ACCESS = "access"
KIND_DELETION = "deletion"
KIND_REPLY = "reply"
KIND_ROSTER = "roster"

# Field names per kind, in their canonical order (after "kind" and "time").
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    KIND_SUBMISSION: ("id", "sha256", "size"),
    KIND_ACCESS: ("id", "investigator"),
    KIND_DELETION: ("id", "investigator"),
    KIND_REPLY: ("id", "sha256", "size"),
    KIND_ROSTER: ("version", "sha256"),
}
# Fields that earlier servers wrote and logs keep: still canonical, never written now.
LEGACY_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    KIND_REPLY: ("id", "sha256", "size", "investigator"),
}

_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
_HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:00Z")
_HOUR_FORMAT = "%Y-%m-%dT%H:00Z"


class EventError(ValueError):
    """An audit-log entry is not canonical event text, or an event field is malformed."""


def hour_floor(moment: datetime | None = None) -> datetime:
    """Return ``moment`` (default: now) in UTC, rounded down to the hour."""
    if moment is None:
        moment = datetime.now(UTC)
    if moment.tzinfo is None:
        raise EventError("times must carry a time zone")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_text(moment: datetime | None = None) -> str:
    """Return the hour of ``moment`` (default: now) as ``YYYY-MM-DDTHH:00Z``."""
    return hour_floor(moment).strftime(_HOUR_FORMAT)


def parse_hour(text: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:00Z`` back into an aware UTC datetime."""
    if not _HOUR.fullmatch(text):
        raise EventError("event time must be YYYY-MM-DDTHH:00Z (rounded down to the hour)")
    try:
        return datetime.strptime(text, _HOUR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise EventError("event time is not a real date and hour") from None


@dataclass(frozen=True)
class Event:
    """One audit-log event: its kind, its hour and its fields in canonical order."""

    kind: str
    time: str
    fields: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        names = EVENT_FIELDS.get(self.kind)
        if names is None:
            raise EventError(f"unknown event kind {self.kind!r}")
        parse_hour(self.time)
        given = tuple(name for name, _ in self.fields)
        if given != names and given != LEGACY_EVENT_FIELDS.get(self.kind):
            raise EventError(f"a {self.kind} event has the fields {', '.join(names)}")
        for name, value in self.fields:
            if not _VALUE.fullmatch(value):
                raise EventError(f"event field {name} must be 1-200 printable ASCII characters")

    def get(self, name: str) -> str:
        """Return the value of field ``name``."""
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    def encode(self) -> bytes:
        """Return the canonical text of this event (the bytes hashed into the log)."""
        lines = [EVENT_HEADER, f"kind {self.kind}", f"time {self.time}"]
        lines.extend(f"{name} {value}" for name, value in self.fields)
        return ("\n".join(lines) + "\n").encode("ascii")


def _make(kind: str, moment: datetime | None, **values: str) -> Event:
    names = EVENT_FIELDS[kind]
    return Event(kind, hour_text(moment), tuple((name, values[name]) for name in names))


def submission_event(
    submission_id: str, sha256_hex: str, size: int, *, moment: datetime | None = None
) -> Event:
    """A sealed file was received and stored."""
    return _make(
        KIND_SUBMISSION, moment, id=submission_id, sha256=sha256_hex, size=str(size)
    )


def access_event(submission_id: str, investigator: str, *, moment: datetime | None = None) -> Event:
    """An investigator downloaded a sealed file."""
    return _make(KIND_ACCESS, moment, id=submission_id, investigator=investigator)


def deletion_event(
    submission_id: str, investigator: str, *, moment: datetime | None = None
) -> Event:
    """An admin deleted a sealed file."""
    return _make(KIND_DELETION, moment, id=submission_id, investigator=investigator)


def reply_event(
    reply_id: str, sha256_hex: str, size: int, *, moment: datetime | None = None
) -> Event:
    """An investigator left a sealed reply in a witness's mailbox (neither the mailbox nor
    the investigator is named)."""
    return _make(KIND_REPLY, moment, id=reply_id, sha256=sha256_hex, size=str(size))


def roster_event(version: int, sha256_hex: str, *, moment: datetime | None = None) -> Event:
    """A new signed roster was published."""
    return _make(KIND_ROSTER, moment, version=str(version), sha256=sha256_hex)


def parse_event(entry: bytes) -> Event:
    """Parse an audit-log entry; only the exact canonical text is accepted."""
    try:
        text = entry.decode("ascii")
    except UnicodeDecodeError:
        raise EventError("event text must be ASCII") from None
    if not text.endswith("\n"):
        raise EventError("event text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or lines[0] != EVENT_HEADER:
        raise EventError(f"event text must start with {EVENT_HEADER}")
    pairs: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(" ")
        if not sep:
            raise EventError("each event line is 'name value'")
        pairs.append((name, value))
    if pairs[0][0] != "kind" or pairs[1][0] != "time":
        raise EventError("event text must give kind, then time")
    event = Event(pairs[0][1], pairs[1][1], tuple(pairs[2:]))
    if event.encode() != entry:
        raise EventError("event text is not canonical")
    return event
