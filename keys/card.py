"""Public cards: what an investigator hands to the organization's admin to join the roster.

Protects: the admin adds exactly the keys the investigator holds. A card carries a key id
derived from its keys, so a card damaged in transit (a clipped 1,959-character recipient, a
changed auth key) is refused, and the investigator can confirm the 16-character key id with
the admin out of band (phone, in person).

Card format (UTF-8 text, six lines, each ending in ``\\n``)::

    amanat.card/v2
    key-id <key id>
    name <name>
    auth <Ed25519 public key, 32 bytes, standard base64 with padding>
    auth-pq <ML-DSA-44 public key, 1312 bytes, standard base64 with padding>
    age <age recipient: age1pq1... (or age1... for a classical X25519 recipient)>

A hybrid identity (``keys.identity``) logs in with both auth keys. An older card
(``amanat.card/v1``: the same lines without ``auth-pq``, five in all) still parses: it is a
classical card, whose investigator logs in with Ed25519 alone, which servers refuse under
their default policy until the investigator runs ``amanat keys upgrade``.

The name runs to the end of its line and may contain single spaces and any script (rules in
``keys._text.name_problem``). The recipient must be in canonical (lowercase) form.

Key id (``derive_key_id``): the first 8 bytes, as 16 lowercase hex digits, of SHA-256 over
the UTF-8 text ``"amanat.key-id/v2\\n" + recipient + "\\n" + auth + "\\n" + auth_pq + "\\n"``
(a v1 card: ``"amanat.key-id/v1\\n" + recipient + "\\n" + auth + "\\n"``) where ``recipient``,
``auth`` and ``auth_pq`` are exactly the strings of the ``age``, ``auth`` and ``auth-pq``
lines. Anyone can recompute it:
``printf 'amanat.key-id/v2\\n%s\\n%s\\n%s\\n' "$AGE" "$AUTH" "$AUTH_PQ" | sha256sum | cut -c1-16``.
The name is not covered, so correcting a typo in a name keeps the key id; the domain differs
between the two versions, so a v1 and a v2 key id never coincide.

When parsing, Windows line endings are turned into ``\\n`` and blank lines or spaces around
the card are ignored (cards travel through e-mail and chat); the lines themselves must
be exactly as above.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from keys._text import b64decode_strict, b64encode, name_problem
from keys.errors import CardError
from vault import age
from vault.tlog.note import MLDSA44_PUBLIC_KEY_SIZE

CARD_HEADER = "amanat.card/v2"
CLASSICAL_CARD_HEADER = "amanat.card/v1"
KEY_ID_DOMAIN = "amanat.key-id/v2"
CLASSICAL_KEY_ID_DOMAIN = "amanat.key-id/v1"
AUTH_KEY_BYTES = 32
AUTH_PQ_KEY_BYTES = MLDSA44_PUBLIC_KEY_SIZE
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_CARD_LINES = {
    CARD_HEADER: ("key-id", "name", "auth", "auth-pq", "age"),
    CLASSICAL_CARD_HEADER: ("key-id", "name", "auth", "age"),
}


def derive_key_id(recipient: str, auth_key: bytes, auth_pq: bytes | None = None) -> str:
    """The key id of an investigator's public keys: 16 lowercase hex digits. v2 over the age
    recipient, the Ed25519 and the ML-DSA-44 auth keys; v1 (``auth_pq`` None, a classical
    investigator) over the first two."""
    if auth_pq is None:
        text = f"{CLASSICAL_KEY_ID_DOMAIN}\n{recipient}\n{b64encode(auth_key)}\n"
    else:
        text = f"{KEY_ID_DOMAIN}\n{recipient}\n{b64encode(auth_key)}\n{b64encode(auth_pq)}\n"
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
    """An investigator's public keys and name; ``key_id`` is derived, never chosen.
    ``auth_pq`` (the ML-DSA-44 auth key) is None only on a classical (v1) card."""

    name: str
    recipient: str
    auth_key: bytes
    auth_pq: bytes | None = None
    _parsed: age.Recipient = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise CardError(problem)
        if len(self.auth_key) != AUTH_KEY_BYTES:
            raise CardError("the auth key must be a 32-byte Ed25519 public key")
        # Every 1312-byte string encodes an ML-DSA-44 public key (FIPS 204 pkDecode).
        if self.auth_pq is not None and len(self.auth_pq) != AUTH_PQ_KEY_BYTES:
            raise CardError(
                f"the post-quantum auth key must be a {AUTH_PQ_KEY_BYTES}-byte ML-DSA-44 "
                "public key"
            )
        # Parsed once (bech32 of a 1,959-character key is not free) and kept.
        object.__setattr__(self, "_parsed", parse_recipient_strict(self.recipient))

    def age_recipient(self) -> age.Recipient:
        """The parsed age recipient."""
        return self._parsed

    @property
    def key_id(self) -> str:
        return derive_key_id(self.recipient, self.auth_key, self.auth_pq)

    @property
    def is_hybrid(self) -> bool:
        """Whether the investigator logs in with both Ed25519 and ML-DSA-44 (a v2 card)."""
        return self.auth_pq is not None

    def is_post_quantum(self) -> bool:
        return age.is_post_quantum(self._parsed)

    def format(self) -> str:
        """The canonical card text (v2 for a hybrid card, v1 for a classical one)."""
        pq = "" if self.auth_pq is None else f"auth-pq {b64encode(self.auth_pq)}\n"
        header = CARD_HEADER if self.auth_pq is not None else CLASSICAL_CARD_HEADER
        return (
            f"{header}\n"
            f"key-id {self.key_id}\n"
            f"name {self.name}\n"
            f"auth {b64encode(self.auth_key)}\n"
            f"{pq}"
            f"age {self.recipient}\n"
        )


def parse_card(text: str) -> PublicCard:
    """Parse a public card (see the module docstring); raises ``CardError`` naming the problem."""
    lines = text.replace("\r\n", "\n").strip().split("\n")
    keywords = _CARD_LINES.get(lines[0])
    if keywords is None:
        raise CardError(f"not a public card (the first line must be {CARD_HEADER!r})")
    if len(lines) != len(keywords) + 1:
        raise CardError(
            f"a public card ({lines[0]}) has {len(keywords) + 1} lines, this one has "
            f"{len(lines)}"
        )
    fields: dict[str, str] = {}
    for number, (line, keyword) in enumerate(zip(lines[1:], keywords, strict=True), start=2):
        prefix = keyword + " "
        if not line.startswith(prefix):
            raise CardError(f"line {number} of the card must start with {prefix!r}")
        fields[keyword] = line[len(prefix) :]
    key_id = fields["key-id"]
    if not is_key_id(key_id):
        raise CardError("the key id must be 16 lowercase hex digits")
    auth_key = b64decode_strict(fields["auth"])
    if auth_key is None:
        raise CardError("the auth key is not canonical base64")
    auth_pq: bytes | None = None
    if "auth-pq" in fields:
        auth_pq = b64decode_strict(fields["auth-pq"])
        if auth_pq is None:
            raise CardError("the post-quantum auth key is not canonical base64")
    card = PublicCard(name=fields["name"], recipient=fields["age"], auth_key=auth_key,
                      auth_pq=auth_pq)
    if card.key_id != key_id:
        raise CardError(
            f"the card's key id {key_id} does not match its keys ({card.key_id}): "
            "the card was damaged or altered"
        )
    return card
