"""Public cards: what an investigator hands to the organization's admin to join the roster.

Protects: the admin adds exactly the keys the investigator holds. A card carries a key id
derived from its keys, so a card damaged in transit (a clipped 1,959-character recipient, a
changed auth key) is refused, and the investigator can confirm the 16-character key id with
the admin out of band (phone, in person).

Card format (UTF-8 text, five lines, each ending in ``\\n``)::

    amanat.card/v1
    key-id <key id>
    name <name>
    auth <Ed25519 public key, 32 bytes, standard base64 with padding>
    age <age recipient: age1pq1... (or age1... for a classical X25519 recipient)>

The name runs to the end of its line and may contain single spaces and any script (rules in
``keys._text.name_problem``). The recipient must be in canonical (lowercase) form.

Key id (``derive_key_id``): the first 8 bytes, as 16 lowercase hex digits, of SHA-256 over
the UTF-8 text ``"amanat.key-id/v1\\n" + recipient + "\\n" + auth + "\\n"`` where ``recipient``
and ``auth`` are exactly the strings of the ``age`` and ``auth`` lines. Anyone can recompute
it: ``printf 'amanat.key-id/v1\\n%s\\n%s\\n' "$AGE" "$AUTH" | sha256sum | cut -c1-16``.
The name is not covered, so correcting a typo in a name keeps the key id.

When parsing, Windows line endings are turned into ``\\n`` and blank lines or spaces around
the card are ignored (cards travel through e-mail and chat); the five lines themselves must
be exactly as above.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from keys._text import b64decode_strict, b64encode, name_problem
from keys.errors import CardError
from vault import age

CARD_HEADER = "amanat.card/v1"
KEY_ID_DOMAIN = "amanat.key-id/v1"
AUTH_KEY_BYTES = 32
_KEY_ID = re.compile(r"[0-9a-f]{16}")


def derive_key_id(recipient: str, auth_key: bytes) -> str:
    """The key id of an (age recipient, Ed25519 auth key) pair: 16 lowercase hex digits."""
    text = f"{KEY_ID_DOMAIN}\n{recipient}\n{b64encode(auth_key)}\n"
    return hashlib.sha256(text.encode("utf-8")).digest()[:8].hex()


def is_key_id(text: str) -> bool:
    """Whether ``text`` has the form of a key id (16 lowercase hex digits)."""
    return _KEY_ID.fullmatch(text) is not None


def parse_recipient_strict(text: str) -> age.Recipient:
    """Parse an age recipient and insist on its canonical spelling.

    Raises ``ValueError`` (a ``CardError``) naming the problem.
    """
    # Bech32 has exactly two spellings of a string, lowercase and uppercase; only the first
    # is canonical (a key id is computed over the text).
    if text.upper().startswith("AGE-SECRET-KEY-"):
        raise CardError("this is a PRIVATE age key, not a recipient: never share it")
    if text != text.lower():
        raise CardError("the age recipient is not in canonical (lowercase) form")
    try:
        return age.parse_recipient(text)
    except (ValueError, age.AgeError):
        raise CardError("not a valid age recipient") from None


@dataclass(frozen=True)
class PublicCard:
    """An investigator's public keys and name; ``key_id`` is derived, never chosen."""

    name: str
    recipient: str
    auth_key: bytes
    _parsed: age.Recipient = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise CardError(problem)
        if len(self.auth_key) != AUTH_KEY_BYTES:
            raise CardError("the auth key must be a 32-byte Ed25519 public key")
        # Parsed once (bech32 of a 1,959-character key is not free) and kept.
        object.__setattr__(self, "_parsed", parse_recipient_strict(self.recipient))

    def age_recipient(self) -> age.Recipient:
        """The parsed age recipient."""
        return self._parsed

    @property
    def key_id(self) -> str:
        return derive_key_id(self.recipient, self.auth_key)

    def is_post_quantum(self) -> bool:
        return age.is_post_quantum(self._parsed)

    def format(self) -> str:
        """The canonical card text."""
        return (
            f"{CARD_HEADER}\n"
            f"key-id {self.key_id}\n"
            f"name {self.name}\n"
            f"auth {b64encode(self.auth_key)}\n"
            f"age {self.recipient}\n"
        )


def parse_card(text: str) -> PublicCard:
    """Parse a public card (see the module docstring); raises ``CardError`` naming the problem."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    if lines[0] != CARD_HEADER:
        raise CardError(f"not a public card (the first line must be {CARD_HEADER!r})")
    if len(lines) != 5:
        raise CardError(f"a public card has 5 lines, this one has {len(lines)}")
    fields: list[str] = []
    for number, (line, keyword) in enumerate(
        zip(lines[1:], ("key-id", "name", "auth", "age"), strict=True), start=2
    ):
        prefix = keyword + " "
        if not line.startswith(prefix):
            raise CardError(f"line {number} of the card must start with {prefix!r}")
        fields.append(line[len(prefix) :])
    key_id, name, auth_text, recipient = fields
    if not is_key_id(key_id):
        raise CardError("the key id must be 16 lowercase hex digits")
    auth_key = b64decode_strict(auth_text)
    if auth_key is None:
        raise CardError("the auth key is not canonical base64")
    card = PublicCard(name=name, recipient=recipient, auth_key=auth_key)
    if card.key_id != key_id:
        raise CardError(
            f"the card's key id {key_id} does not match its keys ({card.key_id}): "
            "the card was damaged or altered"
        )
    return card
