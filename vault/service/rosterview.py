"""The server's view of the current signed roster: who may log in, and what a submission
must be sealed to.

Protects guarantee 5 on the server side: the roster is accepted only through
``keys.roster.verify_roster`` against the pinned organization key, and submissions are
checked against the readers it lists (one stanza each, of the readers' recipient type).
"""

from __future__ import annotations

from dataclasses import dataclass

from keys.errors import RosterError, RosterSignatureError
from keys.roster import Investigator, Roster, verify_roster

PQ_STANZA_TYPE = "mlkem768x25519"
X25519_STANZA_TYPE = "X25519"


class RosterRejected(ValueError):
    """A roster failed verification; ``signature`` tells a bad signature from bad content."""

    def __init__(self, message: str, *, signature: bool) -> None:
        super().__init__(message)
        self.signature = signature


@dataclass(frozen=True)
class Member:
    """One investigator as the server needs them."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    auth_key: bytes


@dataclass(frozen=True)
class RosterView:
    """A verified roster: version, log key, members by key id, readers and their stanza type."""

    version: int
    log_vkey: str | None
    investigators: dict[str, Member]
    readers: int
    stanza_type: str
    roster: Roster


def _member(person: Investigator) -> Member:
    return Member(person.key_id, person.name, tuple(person.roles), bytes(person.auth_key))


def read_roster(text: str, org_vkey: str) -> RosterView:
    """Verify ``text`` against ``org_vkey``; RosterRejected when it does not hold."""
    try:
        roster = verify_roster(text, org_vkey, state=None)
    except RosterSignatureError as exc:
        raise RosterRejected(str(exc), signature=True) from None
    except RosterError as exc:
        raise RosterRejected(str(exc), signature=False) from None
    readers = roster.readers()
    classical = any(not person.is_post_quantum() for person in readers)
    return RosterView(
        version=roster.version,
        log_vkey=roster.log_vkey,
        investigators={p.key_id: _member(p) for p in roster.investigators},
        readers=len(readers),
        stanza_type=X25519_STANZA_TYPE if classical else PQ_STANZA_TYPE,
        roster=roster,
    )
