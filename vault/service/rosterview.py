"""The server's view of the current signed roster: who may log in, and what a submission
must be sealed to.

Protects guarantee 5 on the server side: the roster is accepted only through
``keys.roster.verify_roster`` against the pinned organization key (so an expired roster, or
one valid for longer than allowed, is never published), and submissions are checked against
the readers it lists (one stanza each, of the readers' recipient type). A roster that expires
while it is the current one is still served, so that clients can say why they refuse it, and
still admits its investigators, so that an organization late to renew is not locked out of
its own testimony.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from keys.errors import RosterError, RosterSignatureError
from keys.roster import Investigator, Roster, utc_today, verify_roster

# `amanat serve` warns at start when the current roster expires within this many days.
RENEWAL_WARNING_DAYS = 14

PQ_STANZA_TYPE = "mlkem768x25519"
X25519_STANZA_TYPE = "X25519"


class RosterRejected(ValueError):
    """A roster failed verification; ``signature`` tells a bad signature from bad content."""

    def __init__(self, message: str, *, signature: bool) -> None:
        super().__init__(message)
        self.signature = signature


@dataclass(frozen=True)
class Member:
    """One investigator as the server needs them: ``auth_pq`` (the ML-DSA-44 auth key) is
    None for a classical investigator, who logs in with Ed25519 alone."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    auth_key: bytes
    auth_pq: bytes | None = None


@dataclass(frozen=True)
class RosterView:
    """A verified roster: version, log key, members by key id, readers and their stanza type."""

    version: int
    log_vkey: str | None
    investigators: dict[str, Member]
    readers: int
    stanza_type: str
    roster: Roster

    @property
    def expires(self) -> date:
        """The last day (UTC) on which clients accept this roster."""
        return self.roster.expiry()


def _member(person: Investigator) -> Member:
    return Member(person.key_id, person.name, tuple(person.roles), bytes(person.auth_key),
                  person.auth_pq)


def read_roster(
    text: str, org_vkey: str, *, today: date | None = None, check_dates: bool = True
) -> RosterView:
    """Verify ``text`` against ``org_vkey``; RosterRejected when it does not hold.

    ``check_dates`` (the default, for publishing) refuses a roster expired on ``today``
    (default: UTC today) or valid for too long; the server passes False only to load the
    roster it already accepted, which stays current after it expires.
    """
    try:
        roster = verify_roster(text, org_vkey, state=None, today=today, check_dates=check_dates)
    except RosterSignatureError as exc:
        raise RosterRejected(str(exc), signature=True) from None
    except RosterError as exc:
        raise RosterRejected(str(exc), signature=False) from None
    readers, stanza_type = sealing_rule(roster)
    return RosterView(
        version=roster.version,
        log_vkey=roster.log_vkey,
        investigators={p.key_id: _member(p) for p in roster.investigators},
        readers=readers,
        stanza_type=stanza_type,
        roster=roster,
    )


def sealing_rule(roster: Roster) -> tuple[int, str]:
    """What a file sealed to ``roster`` must carry: (stanzas, their type), one per reader,
    ``mlkem768x25519`` unless a reader is classical (then ``X25519``). The server checks
    submissions with it, and `amanat upload` checks a file before sending a byte."""
    readers = roster.readers()
    classical = any(not person.is_post_quantum() for person in readers)
    return len(readers), X25519_STANZA_TYPE if classical else PQ_STANZA_TYPE


def expiry_notice(view: RosterView, today: date | None = None) -> tuple[str, bool]:
    """What `amanat serve` says about the current roster's expiry, and whether it is a warning
    (expired, or expiring within ``RENEWAL_WARNING_DAYS``)."""
    today = utc_today() if today is None else today
    left = (view.expires - today).days
    when = view.expires.isoformat()
    renew = ("sign a renewed one (`amanat roster renew --org ORG.key --roster FILE`) and "
             "publish it (`amanat roster publish`)")
    if left < 0:
        return (f"WARNING: roster version {view.version} expired on {when} (UTC): witnesses "
                f"and investigators refuse it until the organization publishes a renewed "
                f"roster; {renew}"), True
    if left == 0:
        return (f"WARNING: roster version {view.version} expires at the end of today, {when} "
                f"(UTC): clients refuse it from tomorrow; {renew}"), True
    if left <= RENEWAL_WARNING_DAYS:
        return (f"WARNING: roster version {view.version} expires on {when} (UTC), in {left} "
                f"day{'s' if left != 1 else ''}: clients refuse it after that day; "
                f"{renew}"), True
    return f"roster version {view.version} is valid through {when} (UTC; {left} days left)", False
