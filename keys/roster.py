"""The roster: the organization's signed list of investigators, which never rolls back.

Protects: testimony is sealed only to investigators the organization vouches for (design
guarantees 1 and 5). A witness accepts recipient keys only from a roster signed by the
organization's root key, which they pin out of band; a server that swaps keys or serves a
malformed roster is refused, and one that replays an old roster (to keep a removed
investigator reading) is refused by clients that remember versions (``RosterState``) and, for
clients that keep nothing, once the old roster's signed expiry date has passed.

Roster text (the body of a C2SP signed note; UTF-8, each line ends in ``\\n``)::

    amanat.roster/v1 <origin>
    version <N>
    policy <pq-only | allow-x25519>
    expires <YYYY-MM-DD>
    log <log key: Ed25519 vkey, space, ML-DSA-44 vkey>           (optional)
    cosigners <k>                                               (optional, then:)
    cosigner <Ed25519 vkey> <ML-DSA-44 vkey> <address>          (1 to 16 lines)
    investigator <key id> <roles> <auth key> <age recipient> <name>
    ...                                                        (zero or more)

followed by a blank line and the signature lines of the signed note (``— <origin> <base64>``):
one by each half of the pinned organization key (Ed25519 and ML-DSA-44), both required
unless the key was pinned under the classical policy (``keys.org``), which accepts one.

* ``<origin>`` is the organization key's name (printable ASCII, no spaces or ``+``) and must
  equal the name of the verifier key the roster is checked against.
* ``N`` is decimal without leading zeros, 1 ≤ N < 2⁶³. Every change raises it by one; a client
  refuses a version lower than the highest it has seen for this organization, and a different
  roster with the same version (see ``RosterState``).
* ``policy pq-only`` (the default): every recipient is ``mlkem768x25519`` (``age1pq1…``).
  ``policy allow-x25519``: classical X25519 recipients (``age1…``) are allowed too, but the
  readers must all be of one type, since one age file never mixes the two.
* ``expires`` is a UTC calendar date (ISO 8601 ``YYYY-MM-DD``, nothing else): the roster is
  valid through the end of that day and every client refuses it afterwards
  (``RosterExpiredError``). A client that keeps no state cannot tell an old roster from the
  current one, so the expiry bounds how old a roster a compromised server can replay to it.
  A roster is signed for at most ``MAX_VALIDITY_DAYS`` days, and verifiers refuse an expiry
  further ahead than that (plus ``CLOCK_SLACK_DAYS`` for a slow clock), so no signed roster
  can stay valid for decades. Day granularity on purpose: nothing here records a precise time.
* ``log`` is the audit log's verifier key in C2SP vkey form, present once the log exists.
* ``cosigners <k>`` and the ``cosigner`` lines after it name the log's cosigners (partner
  organizations running ``amanat cosigner``) and the policy: clients rely on a checkpoint
  only when at least ``k`` of them cosigned it (``vault.tlog.cosigning``). ``k`` is decimal
  without leading zeros, 1 ≤ k ≤ n, where n (1 to 16) is the number of ``cosigner`` lines;
  the ``cosigners`` line is present exactly when there is at least one ``cosigner`` line,
  and both need a ``log`` line. Each ``cosigner`` line gives the cosigner's two C2SP vkeys
  under one name, Ed25519 (type 0x04) then ML-DSA-44 (type 0x06), as ``amanat cosigner
  init`` prints them, and the address of its tlog-witness endpoint (``http://`` or
  ``https://``, lower-case host, optional port and path, no final slash), where the vault
  sends ``<address>/add-checkpoint``. Lines are sorted by cosigner name, names unique. A
  roster without these lines names no cosigners: its checkpoints need no cosignature.
* one ``investigator`` line per active investigator, sorted by key id, key ids unique:
  ``<key id>`` is 16 lowercase hex digits and must equal ``keys.card.derive_key_id`` of the
  line's recipient and auth key; ``<roles>`` is a comma-separated, sorted, duplicate-free,
  non-empty list from ``admin`` (may manage the server) and ``reader`` (testimony is sealed to
  them); ``<auth key>`` is, for a hybrid investigator (``amanat.card/v2``), the 32-byte
  Ed25519 public key and the 1312-byte ML-DSA-44 public key, each in standard base64 with
  padding, joined by ``,`` (not in the base64 alphabet, so the line keeps one spelling), and
  for a classical one (``amanat.card/v1``, who logs in with Ed25519 alone and is refused by
  servers under their default login policy) the Ed25519 key alone; the key id is then the v2
  or the v1 derivation (``keys.card``) accordingly; ``<age recipient>`` is in canonical
  lowercase form; ``<name>`` runs to the end of the line (any script, single spaces; rules in
  ``keys._text.name_problem``).

Fields are separated by exactly one space; nothing else (no comments, no blank lines, no
trailing spaces) is accepted, so every roster has exactly one spelling.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from keys._files import write_private_file
from keys._text import b64decode_strict, b64encode, origin_problem
from keys.card import PublicCard, is_key_id
from keys.errors import (
    CardError,
    RosterError,
    RosterExpiredError,
    RosterFormatError,
    RosterPolicyError,
    RosterRollbackError,
    RosterSignatureError,
    RosterStateError,
)
from keys.org import CLASSICAL_PREFIX, parse_org_vkey
from vault import age
from vault.tlog import note
from vault.tlog.cosignature import CosignatureError
from vault.tlog.cosigning import MAX_COSIGNERS, Cosigner, CosigningPolicy

ROSTER_HEADER = "amanat.roster/v1"
POLICY_PQ_ONLY = "pq-only"
POLICY_ALLOW_X25519 = "allow-x25519"
POLICIES = (POLICY_PQ_ONLY, POLICY_ALLOW_X25519)
ROLE_ADMIN = "admin"
ROLE_READER = "reader"
ROLES = (ROLE_ADMIN, ROLE_READER)
MAX_VERSION = 2**63 - 1
# Between the Ed25519 and the ML-DSA-44 auth keys of a hybrid investigator's line.
AUTH_SEPARATOR = ","
# Largest signed roster accepted (about 400 investigators at ~2.1 KB a line).
MAX_ROSTER_BYTES = 1024 * 1024
# Validity of a roster signed by `amanat roster` unless the admin says otherwise (days).
DEFAULT_VALIDITY_DAYS = 90
# Longest validity a roster may be signed with: how old a roster a server can replay to a
# witness who keeps no state is bounded by the validity the organization chose.
MAX_VALIDITY_DAYS = 366
# Verifiers accept an expiry up to MAX_VALIDITY_DAYS + CLOCK_SLACK_DAYS days ahead of their
# own date, so a freshly signed roster is not refused by a device whose clock is a few days
# behind the admin's.
CLOCK_SLACK_DAYS = 7

_VERSION = re.compile(r"0|[1-9][0-9]{0,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def utc_today() -> date:
    """Today's date in UTC, by this computer's clock (what expiry dates are compared with)."""
    return datetime.now(UTC).date()


def expiry_after(days: int, *, today: date | None = None) -> date:
    """The expiry date of a roster signed ``today`` (default: UTC today) and valid ``days`` days.

    ``days`` is 1 to ``MAX_VALIDITY_DAYS``; the roster is then valid through the end of
    ``today + days`` (UTC).
    """
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise RosterError(
            f"a roster is valid for 1 to {MAX_VALIDITY_DAYS} days (asked for {days})"
        )
    return (utc_today() if today is None else today) + timedelta(days=days)


def parse_expiry(text: str) -> date:
    """Parse an expiry date written exactly as ``YYYY-MM-DD`` (RosterFormatError otherwise)."""
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise RosterFormatError(
            f"the expiry date must be a real calendar date written YYYY-MM-DD, not {text!r}"
        ) from None
    return value


def parse_roles(text: str) -> tuple[str, ...]:
    """Parse a comma-separated role list (any order) into the canonical sorted tuple."""
    roles = tuple(sorted(set(text.split(","))))
    for role in roles:
        if role not in ROLES:
            raise RosterError(f"unknown role {role!r} (known roles: {', '.join(ROLES)})")
    return roles


@dataclass(frozen=True)
class Investigator:
    """One roster line: an investigator's key id, roles and public keys, and name.
    ``auth_pq`` (the ML-DSA-44 auth key) is None only for a classical investigator."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    recipient: str
    auth_key: bytes
    auth_pq: bytes | None = None
    _card: PublicCard = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_key_id(self.key_id):
            raise RosterFormatError("a key id must be 16 lowercase hex digits")
        if not self.roles or list(self.roles) != sorted(set(self.roles)):
            raise RosterFormatError(
                f"investigator {self.key_id}: roles must be a non-empty, sorted list "
                "without repetition"
            )
        for role in self.roles:
            if role not in ROLES:
                raise RosterFormatError(f"investigator {self.key_id}: unknown role {role!r}")
        try:
            card = PublicCard(name=self.name, recipient=self.recipient, auth_key=self.auth_key,
                              auth_pq=self.auth_pq)
        except CardError as exc:
            raise RosterFormatError(f"investigator {self.key_id}: {exc}") from None
        if card.key_id != self.key_id:
            raise RosterFormatError(
                f"investigator {self.key_id}: the key id does not match the keys "
                f"(they give {card.key_id})"
            )
        object.__setattr__(self, "_card", card)

    @classmethod
    def from_card(cls, card: PublicCard, roles: Iterable[str] = (ROLE_READER,)) -> Investigator:
        return cls(
            key_id=card.key_id,
            name=card.name,
            roles=tuple(sorted(set(roles))),
            recipient=card.recipient,
            auth_key=card.auth_key,
            auth_pq=card.auth_pq,
        )

    def card(self) -> PublicCard:
        return self._card

    @property
    def is_reader(self) -> bool:
        return ROLE_READER in self.roles

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles

    def is_post_quantum(self) -> bool:
        return self._card.is_post_quantum()

    @property
    def is_hybrid(self) -> bool:
        """Whether this investigator logs in with Ed25519 and ML-DSA-44 (not Ed25519 alone)."""
        return self.auth_pq is not None

    def format(self) -> str:
        auth = b64encode(self.auth_key)
        if self.auth_pq is not None:
            auth += AUTH_SEPARATOR + b64encode(self.auth_pq)
        return (
            f"investigator {self.key_id} {','.join(self.roles)} {auth} "
            f"{self.recipient} {self.name}\n"
        )


@dataclass(frozen=True)
class Roster:
    """A roster's content. Constructing one checks every rule of the format and policy.

    ``version`` 0 is only the starting point of a roster that has never been signed
    (``Roster.empty``); signed rosters have version ≥ 1. ``expires`` (a UTC date) is None only
    in a draft: ``with_expiry`` sets it, and a roster without one can be neither formatted nor
    signed. Every ``with_*`` change keeps the expiry it started from.
    """

    origin: str
    version: int
    policy: str = POLICY_PQ_ONLY
    log_vkey: str | None = None
    investigators: tuple[Investigator, ...] = field(default=())
    expires: date | None = None
    cosigning: CosigningPolicy | None = None

    def __post_init__(self) -> None:
        problem = origin_problem(self.origin)
        if problem is not None:
            raise RosterFormatError(f"roster origin: {problem}")
        if not 0 <= self.version <= MAX_VERSION:
            raise RosterFormatError(f"the roster version must be between 1 and {MAX_VERSION}")
        if self.policy not in POLICIES:
            raise RosterFormatError(
                f"unknown roster policy {self.policy!r} (known: {', '.join(POLICIES)})"
            )
        if self.expires is not None and type(self.expires) is not date:
            raise RosterFormatError("the roster's expiry must be a date (without a time)")
        if self.log_vkey is not None:
            try:
                note.HybridVerifier.from_vkey(self.log_vkey)
            except note.NoteError as exc:
                raise RosterFormatError(f"the log key is not a valid verifier key: {exc}") from None
        if self.cosigning is not None:
            if self.log_vkey is None:
                raise RosterFormatError("a roster names cosigners only with a log key")
            names = [cosigner.name for cosigner in self.cosigning.cosigners]
            if names != sorted(names):
                raise RosterFormatError("cosigners are not sorted by name")
        seen: set[str] = set()
        previous = ""
        for person in self.investigators:
            if person.key_id in seen:
                raise RosterFormatError(f"duplicate key id {person.key_id}")
            seen.add(person.key_id)
            if person.key_id < previous:
                raise RosterFormatError(
                    f"investigators are not sorted by key id ({person.key_id} after {previous})"
                )
            previous = person.key_id
        readers_pq: set[bool] = set()
        for person in self.investigators:
            pq = person.is_post_quantum()
            if not pq and self.policy == POLICY_PQ_ONLY:
                raise RosterPolicyError(
                    f"investigator {person.key_id} has a classical X25519 recipient, "
                    f"but the roster's policy is {POLICY_PQ_ONLY}"
                )
            if person.is_reader:
                readers_pq.add(pq)
        if len(readers_pq) > 1:
            raise RosterPolicyError(
                "the roster's readers mix post-quantum and classical recipients, "
                "which one age file cannot do"
            )

    @classmethod
    def empty(cls, origin: str) -> Roster:
        """The never-signed starting point of a new roster (version 0, no investigators)."""
        return cls(origin=origin, version=0)

    def format(self) -> str:
        """The canonical roster text (the body that the organization key signs)."""
        lines = [
            f"{ROSTER_HEADER} {self.origin}\n",
            f"version {self.version}\n",
            f"policy {self.policy}\n",
            f"expires {self.expiry().isoformat()}\n",
        ]
        if self.log_vkey is not None:
            lines.append(f"log {self.log_vkey}\n")
        if self.cosigning is not None:
            lines.append(f"cosigners {self.cosigning.quorum}\n")
            lines.extend(
                f"cosigner {c.ed25519.vkey()} {c.mldsa44.vkey()} {c.url}\n"
                for c in self.cosigning.cosigners
            )
        lines.extend(person.format() for person in self.investigators)
        return "".join(lines)

    def expiry(self) -> date:
        """The last day (UTC) on which this roster is valid; RosterError for a draft without."""
        if self.expires is None:
            raise RosterError(
                "the roster has no expiry date yet: give it one before it is signed"
            )
        return self.expires

    def days_left(self, today: date | None = None) -> int:
        """Days from ``today`` (default: UTC today) to the expiry: 0 on the last valid day,
        negative once expired."""
        return (self.expiry() - (utc_today() if today is None else today)).days

    def find(self, key_id: str) -> Investigator | None:
        """The investigator with this key id, or None."""
        for person in self.investigators:
            if person.key_id == key_id:
                return person
        return None

    def readers(self) -> list[Investigator]:
        return [person for person in self.investigators if person.is_reader]

    def recipients(self) -> list[age.Recipient]:
        """The age recipients of every reader: what a testimony is sealed to."""
        readers = self.readers()
        if not readers:
            raise RosterError("the roster lists no reader: nothing can be sealed to it")
        return [person.card().age_recipient() for person in readers]

    def _next(self, **changes: object) -> Roster:
        if self.version >= MAX_VERSION:
            raise RosterError("the roster version cannot grow any further")
        return replace(self, version=self.version + 1, **changes)  # type: ignore[arg-type]

    def with_added(
        self, cards: Sequence[PublicCard], roles: Iterable[str] = (ROLE_READER,)
    ) -> Roster:
        """The next version, with these investigators added (refuses ones already listed)."""
        role_list = tuple(roles)
        added = {person.key_id: person for person in self.investigators}
        for card in cards:
            if card.key_id in added:
                raise RosterError(f"{card.key_id} ({card.name}) is already on the roster")
            added[card.key_id] = Investigator.from_card(card, role_list)
        return self._next(investigators=tuple(added[k] for k in sorted(added)))

    def with_removed(self, key_ids: Iterable[str]) -> Roster:
        """The next version, without these investigators (refuses unknown key ids)."""
        kept = {person.key_id: person for person in self.investigators}
        for key_id in key_ids:
            if kept.pop(key_id, None) is None:
                raise RosterError(f"{key_id} is not on the roster")
        return self._next(investigators=tuple(kept[k] for k in sorted(kept)))

    def with_log(self, log_vkey: str) -> Roster:
        """The next version, naming this audit log verifier key."""
        return self._next(log_vkey=log_vkey)

    def with_cosigning(self, cosigning: CosigningPolicy | None) -> Roster:
        """The next version, with this cosigning policy (None: no cosigners). The cosigners
        are put in name order."""
        if cosigning is not None:
            ordered = tuple(sorted(cosigning.cosigners, key=lambda c: c.name))
            cosigning = CosigningPolicy(cosigning.quorum, ordered)
        return self._next(cosigning=cosigning)

    def with_policy(self, policy: str) -> Roster:
        """The next version, under this recipient policy."""
        return self._next(policy=policy)

    def renewed(self, expires: date) -> Roster:
        """The next version, valid through ``expires``; nothing else changes."""
        return self._next(expires=expires)

    def with_expiry(self, expires: date) -> Roster:
        """This draft (same version) valid through ``expires``.

        For a version not signed yet (after ``with_added`` and the like). Re-signing an
        already signed version with another expiry makes two rosters with one version, which
        clients refuse as equivocation: use ``renewed`` for that.
        """
        return replace(self, expires=expires)


def _split(line: str, count: int) -> list[str]:
    parts = line.split(" ", count - 1)
    if len(parts) != count or any(not part for part in parts[:-1]):
        raise ValueError
    return parts


def parse_roster(text: str) -> Roster:
    """Parse roster text (the signed body, without signatures). No signature check."""
    if not text.endswith("\n"):
        raise RosterFormatError("the roster text must end with a newline")
    lines = text[:-1].split("\n")
    cursor = iter(enumerate(lines, start=1))

    def expect(keyword: str) -> tuple[int, str]:
        number, line = next(cursor, (len(lines) + 1, ""))
        if not line.startswith(keyword + " "):
            raise RosterFormatError(f"roster line {number}: expected a {keyword!r} line")
        return number, line[len(keyword) + 1 :]

    _, origin = expect(ROSTER_HEADER)
    number, version_text = expect("version")
    if not _VERSION.fullmatch(version_text) or int(version_text) < 1:
        raise RosterFormatError(f"roster line {number}: the version must be a positive integer")
    number, policy = expect("policy")
    if policy not in POLICIES:
        raise RosterFormatError(f"roster line {number}: unknown policy {policy!r}")
    number, expires_text = expect("expires")
    try:
        expires = parse_expiry(expires_text)
    except RosterFormatError as exc:
        raise RosterFormatError(f"roster line {number}: {exc}") from None
    log_vkey: str | None = None
    investigators: list[Investigator] = []
    quorum: int | None = None
    cosigners: list[Cosigner] = []
    for number, line in cursor:
        if number == 5 and line.startswith("log "):
            log_vkey = line[4:]
        elif number == 5 + (log_vkey is not None) and line.startswith("cosigners "):
            quorum = _parse_quorum(number, line[len("cosigners "):])
        elif quorum is not None and not investigators and line.startswith("cosigner "):
            cosigners.append(_parse_cosigner(number, line[len("cosigner "):]))
        else:
            investigators.append(_parse_investigator(number, line))
    try:
        return Roster(
            origin=origin,
            version=int(version_text),
            policy=policy,
            log_vkey=log_vkey,
            investigators=tuple(investigators),
            expires=expires,
            cosigning=_cosigning(quorum, cosigners),
        )
    except RosterError as exc:
        raise type(exc)(f"roster: {exc}") from None


def _parse_quorum(number: int, text: str) -> int:
    if not _VERSION.fullmatch(text) or not 1 <= int(text) <= MAX_COSIGNERS:
        raise RosterFormatError(
            f"roster line {number}: the number of cosigners required must be 1 to "
            f"{MAX_COSIGNERS}, written without leading zeros"
        )
    return int(text)


def _parse_cosigner(number: int, rest: str) -> Cosigner:
    parts = rest.split(" ")
    if len(parts) != 3 or not all(parts):
        raise RosterFormatError(
            f"roster line {number}: a cosigner line is 'cosigner <Ed25519 vkey> "
            "<ML-DSA-44 vkey> <address>'"
        )
    try:
        return Cosigner.from_vkeys(*parts)
    except CosignatureError as exc:
        raise RosterFormatError(f"roster line {number}: {exc}") from None


def _cosigning(quorum: int | None, cosigners: list[Cosigner]) -> CosigningPolicy | None:
    if quorum is None:
        return None
    try:
        return CosigningPolicy(quorum, tuple(cosigners))
    except CosignatureError as exc:
        raise RosterFormatError(f"cosigners: {exc}") from None


def _parse_investigator(number: int, line: str) -> Investigator:
    keyword, _, rest = line.partition(" ")
    if keyword != "investigator":
        raise RosterFormatError(f"roster line {number}: unexpected {keyword!r} line")
    try:
        key_id, roles, auth_text, recipient, name = _split(rest, 5)
    except ValueError:
        raise RosterFormatError(f"roster line {number}: malformed line") from None
    halves = auth_text.split(AUTH_SEPARATOR)
    if len(halves) > 2:
        raise RosterFormatError(
            f"roster line {number}: the auth field is an Ed25519 key, or an Ed25519 and an "
            f"ML-DSA-44 key joined by {AUTH_SEPARATOR!r}; it has more parts"
        )
    keys: list[bytes] = []
    for half in halves:
        key = b64decode_strict(half)
        if not key:  # None (not canonical base64) or empty
            raise RosterFormatError(
                f"roster line {number}: the auth key is not canonical base64 (or is empty)"
            )
        keys.append(key)
    try:
        return Investigator(
            key_id=key_id,
            name=name,
            roles=tuple(roles.split(",")),
            recipient=recipient,
            auth_key=keys[0],
            auth_pq=keys[1] if len(keys) == 2 else None,
        )
    except RosterFormatError as exc:
        raise RosterFormatError(f"roster line {number}: {exc}") from None


def check_expiry(roster: Roster, *, today: date | None = None, slack_days: int = 0) -> None:
    """Refuse a roster that has expired or whose expiry is too far ahead of ``today``.

    ``today`` defaults to the UTC date now. ``RosterExpiredError`` once ``today`` is past the
    expiry date (the roster is valid through the end of that day); ``RosterPolicyError`` when
    the expiry is more than ``MAX_VALIDITY_DAYS + slack_days`` days ahead.
    """
    today = utc_today() if today is None else today
    expires = roster.expiry()
    if today > expires:
        raise RosterExpiredError(
            f"roster version {roster.version} expired on {expires.isoformat()} (today is "
            f"{today.isoformat()} UTC by this computer's clock): the organization must "
            "publish a renewed roster"
        )
    if (expires - today).days > MAX_VALIDITY_DAYS + slack_days:
        raise RosterPolicyError(
            f"roster version {roster.version} is valid until {expires.isoformat()}, more "
            f"than {MAX_VALIDITY_DAYS} days after today ({today.isoformat()} UTC by this "
            "computer's clock): the organization must sign it again with a shorter validity"
        )


def check_has_readers(roster: Roster) -> None:
    """Refuse a roster nothing can be sealed to (no investigator, or only admins): every
    witness refuses it, so signing and publishing one would stop the vault from taking
    testimony. ``amanat roster`` checks this before it signs; ``sign_roster`` itself does
    not, so tests and tools can still make such rosters to see them refused."""
    if not roster.investigators:
        raise RosterError(
            "refusing to sign a roster with no investigators: witnesses would have nobody to "
            "seal testimony to and would refuse it; a roster starts with `amanat roster add`, "
            "and the last investigator can be removed only once another is added"
        )
    if not roster.readers():
        raise RosterError(
            "refusing to sign a roster with no reader (only admins): witnesses would have "
            "nobody to seal testimony to and would refuse it; add a reader (`amanat roster "
            "add`, whose default role is reader) before the last one is removed"
        )


def sign_roster(roster: Roster, *signers: note.AnySigner, today: date | None = None) -> str:
    """The signed note of ``roster`` by the organization key's halves (their name must be
    the origin): ``sign_roster(roster, *org.signers())``.

    The roster must have an expiry date that is not past and at most ``MAX_VALIDITY_DAYS``
    days after ``today`` (default: the UTC date now).
    """
    for signer in signers:
        if signer.name != roster.origin:
            raise RosterError(
                f"the roster belongs to {roster.origin!r}, not to the key {signer.name!r}"
            )
    if roster.version < 1:
        raise RosterError("a signed roster has version 1 or more")
    check_expiry(roster, today=today)
    return note.sign_note(roster.format(), *signers)


def verify_roster(
    signed: str | bytes,
    org_vkey: str,
    *,
    state: RosterState | None = None,
    today: date | None = None,
    check_dates: bool = True,
) -> Roster:
    """Check a signed roster against the pinned organization key and return its content.

    Raises ``VerifierKeyError`` (not a ``RosterError``: the roster is not at fault) when
    ``org_vkey`` itself is mistyped or malformed.

    Refuses (with a ``RosterError`` subclass naming the problem): a missing, forged or
    foreign signature (``RosterSignatureError``), a malformed or non-canonical roster
    (``RosterFormatError``), a policy violation (``RosterPolicyError``), a roster past its
    expiry date on ``today`` (``RosterExpiredError``; ``today`` defaults to the UTC date now)
    or valid for longer than a roster may be (``RosterPolicyError``) and, when ``state`` is
    given, a version lower than the highest seen for this organization or a different
    roster with the same version (``RosterRollbackError``). ``state`` is then updated; an
    expired roster is refused before it is recorded. Pass ``state=None`` to keep nothing
    (witnesses who must leave no trace): the expiry then bounds how old a roster they accept.

    ``check_dates=False`` skips only the expiry checks, for those who must read the current
    roster whatever its dates: the server loading the roster it already accepted, and the
    admin replacing an expired roster with a renewed one. Clients never pass it.
    """
    pin = parse_org_vkey(org_vkey)
    if not pin.key.is_hybrid and not pin.classical:
        raise RosterSignatureError(
            f"the organization key {pin.name} given is Ed25519 only, without its ML-DSA-44 "
            "half: pin both (the two vkeys the organization publishes, separated by a space), "
            f"or accept Ed25519-only signatures explicitly by writing {CLASSICAL_PREFIX!r} "
            "before the key (the classical policy)"
        )
    data = signed.encode("utf-8") if isinstance(signed, str) else signed
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterFormatError(f"the roster is larger than {MAX_ROSTER_BYTES} bytes")
    if b"\n\n" not in data:
        raise RosterSignatureError("the roster is not signed (no signature block)")
    try:
        opened = note.open_note(data, pin.key.verifiers(), require_all=not pin.classical)
    except note.MissingSignatureError as exc:
        raise RosterSignatureError(
            f"the roster is not signed by both halves of the organization key: {exc}"
        ) from None
    except note.UnverifiedNoteError:
        raise RosterSignatureError(
            f"the roster is not signed by the organization key {pin.name} "
            f"({pin.key.classical.key_id.hex()}): forged, altered, or signed by another key"
        ) from None
    except note.NoteError as exc:
        raise RosterFormatError(f"the roster is not a well-formed signed note: {exc}") from None
    roster = parse_roster(opened.text)
    if roster.origin != pin.name:
        raise RosterSignatureError(
            f"the roster names the organization {roster.origin!r}, "
            f"but the pinned key is {pin.name!r}"
        )
    if check_dates:
        check_expiry(roster, today=today, slack_days=CLOCK_SLACK_DAYS)
    if state is not None:
        digest = hashlib.sha256(opened.text.encode("utf-8")).digest()
        state.check_and_update(pin.state_key, roster.version, text_sha256=digest)
    return roster


def read_roster_unverified(signed: str) -> Roster:
    """Parse a signed roster's text WITHOUT checking its signature (for display only)."""
    head, separator, _ = signed.rpartition("\n\n")
    if not separator:
        raise RosterFormatError("the roster has no signature block")
    return parse_roster(head + "\n")


STATE_FORMAT = "amanat.roster-state/v1"


def default_state_path() -> Path:
    """Where the highest roster versions seen are kept, unless the caller says otherwise.

    ``$AMANAT_STATE_DIR/rosters.json`` if set, else ``$XDG_STATE_HOME/amanat/rosters.json``
    (when that is an absolute path), else ``~/.local/state/amanat/rosters.json``.
    """
    explicit = os.environ.get("AMANAT_STATE_DIR")
    if explicit:
        return Path(explicit) / "rosters.json"
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "amanat" / "rosters.json"


@dataclass(frozen=True)
class _Seen:
    version: int
    text_sha256: bytes | None


class RosterState:
    """The highest roster version seen per organization (keyed by its verifier key).

    In memory (``RosterState()``), or backed by a JSON file (``RosterState.load(path)``)
    that is re-read under a lock and rewritten atomically (mode 0600) on every update, so two
    processes never lower each other's record. File format::

        {"format": "amanat.roster-state/v1",
         "rosters": {"<org vkey>": {"version": N, "sha256": "<hex of the signed text>"}}}
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._seen: dict[str, _Seen] = {}

    def __repr__(self) -> str:
        return f"RosterState(path={self.path!r}, organizations={len(self._seen)})"

    @classmethod
    def load(cls, path: Path | str) -> RosterState:
        """A state backed by ``path`` (an absent file is an empty state)."""
        state = cls(Path(path))
        state._seen = _read_state(state.path)  # type: ignore[arg-type]
        return state

    def highest(self, org_vkey: str) -> int | None:
        """The highest version seen for this organization, or None."""
        seen = self._seen.get(org_vkey)
        return None if seen is None else seen.version

    def check_and_update(
        self, org_vkey: str, version: int, *, text_sha256: bytes | None = None
    ) -> None:
        """Refuse a rollback (or a second roster with the same version), then record it."""
        if self.path is None:
            self._seen = _merged(self._seen, org_vkey, version, text_sha256)
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(self.path):
            # Another process may have recorded newer versions since this state was loaded.
            on_disk = _read_state(self.path)
            for key, seen in self._seen.items():
                if key not in on_disk or on_disk[key].version < seen.version:
                    on_disk[key] = seen
            self._seen = _merged(on_disk, org_vkey, version, text_sha256)
            self.save()

    def save(self) -> None:
        """Write the state file atomically (no-op for an in-memory state)."""
        if self.path is None:
            return
        document = {
            "format": STATE_FORMAT,
            "rosters": {
                key: {"version": seen.version}
                | ({} if seen.text_sha256 is None else {"sha256": seen.text_sha256.hex()})
                for key, seen in sorted(self._seen.items())
            },
        }
        data = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            raise RosterStateError(
                f"cannot write the roster state {self.path}: {exc.strerror}"
            ) from None


def _merged(
    seen: dict[str, _Seen], org_vkey: str, version: int, text_sha256: bytes | None
) -> dict[str, _Seen]:
    previous = seen.get(org_vkey)
    if previous is not None:
        if version < previous.version:
            raise RosterRollbackError(
                f"roster version {version} is older than version {previous.version}, "
                "already seen for this organization: refusing a rollback"
            )
        if (
            version == previous.version
            and text_sha256 is not None
            and previous.text_sha256 is not None
            and text_sha256 != previous.text_sha256
        ):
            raise RosterRollbackError(
                f"two different rosters carry version {version}: the organization key "
                "signed conflicting rosters, or it is compromised"
            )
        if version == previous.version and text_sha256 is None:
            text_sha256 = previous.text_sha256
    updated = dict(seen)
    updated[org_vkey] = _Seen(version, text_sha256)
    return updated


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise RosterStateError(f"cannot lock the roster state {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_state(path: Path) -> dict[str, _Seen]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RosterStateError(f"cannot read the roster state {path}: {exc.strerror}") from None
    problem = (
        f"the roster state {path} is damaged; move it aside only if you trust every roster since"
    )
    try:
        document = json.loads(raw)
    except ValueError:
        raise RosterStateError(problem) from None
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise RosterStateError(problem)
    rosters = document.get("rosters")
    if not isinstance(rosters, dict):
        raise RosterStateError(problem)
    seen: dict[str, _Seen] = {}
    for key, entry in rosters.items():
        if not isinstance(entry, dict):
            raise RosterStateError(problem)
        version = entry.get("version")
        digest_hex = entry.get("sha256")
        if type(version) is not int or not 0 <= version <= MAX_VERSION:
            raise RosterStateError(problem)
        digest: bytes | None = None
        if digest_hex is not None:
            if not isinstance(digest_hex, str) or not re.fullmatch(r"[0-9a-f]{64}", digest_hex):
                raise RosterStateError(problem)
            digest = bytes.fromhex(digest_hex)
        seen[key] = _Seen(version, digest)
    return seen


__all__ = [
    "CLOCK_SLACK_DAYS",
    "DEFAULT_VALIDITY_DAYS",
    "MAX_VALIDITY_DAYS",
    "POLICIES",
    "POLICY_ALLOW_X25519",
    "POLICY_PQ_ONLY",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_READER",
    "Investigator",
    "Roster",
    "RosterState",
    "check_expiry",
    "check_has_readers",
    "default_state_path",
    "expiry_after",
    "parse_expiry",
    "parse_roles",
    "parse_roster",
    "read_roster_unverified",
    "sign_roster",
    "utc_today",
    "verify_roster",
]
