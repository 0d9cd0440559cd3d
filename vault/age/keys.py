"""Parsing recipients and identities from their text forms and from age key files.

Protects: *a typo never silently becomes a different key* (Bech32 checksums, exact
prefixes), and secret keys never appear in error messages (only line numbers do).
"""

from __future__ import annotations

from vault.age.errors import KeyFormatError
from vault.age.pq import MLKEM768X25519Identity, MLKEM768X25519Recipient
from vault.age.recipient import Identity, Recipient
from vault.age.x25519 import X25519Identity, X25519Recipient


def parse_recipient(text: str) -> Recipient:
    """Parse ``age1pq1…`` (post-quantum) or ``age1…`` (X25519).

    Raises :class:`KeyFormatError` (a ValueError) naming what is wrong.
    """
    if text.startswith("age1pq1"):
        return MLKEM768X25519Recipient.parse(text)
    if text.startswith("age1"):
        return X25519Recipient.parse(text)
    raise KeyFormatError("unknown recipient type (expected age1pq1… or age1…)")


def parse_identity(text: str) -> Identity:
    """Parse ``AGE-SECRET-KEY-PQ-1…`` or ``AGE-SECRET-KEY-1…``.

    Raises :class:`KeyFormatError`; the message never contains the key.
    """
    if text.startswith("AGE-SECRET-KEY-PQ-1"):
        return MLKEM768X25519Identity.parse(text)
    if text.startswith("AGE-SECRET-KEY-1"):
        return X25519Identity.parse(text)
    raise KeyFormatError(
        "unknown identity type (expected AGE-SECRET-KEY-PQ-1… or AGE-SECRET-KEY-1…)"
    )


def _key_lines(text: str) -> list[tuple[int, str]]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append((number, line))
    return lines


def parse_recipients_file(text: str) -> list[Recipient]:
    """Parse an age recipients file (``-R``): one recipient a line, ``#`` comments, blanks.

    Raises :class:`KeyFormatError` naming the first bad line; an empty file is an error.
    """
    recipients = []
    for number, line in _key_lines(text):
        try:
            recipients.append(parse_recipient(line))
        except KeyFormatError as exc:
            raise KeyFormatError(f"line {number}: {exc}") from None
    if not recipients:
        raise KeyFormatError("no recipients in the file")
    return recipients


def parse_identities_file(text: str) -> list[Identity]:
    """Parse an age identity file (``-i``), such as one written by ``age-keygen``.

    Raises :class:`KeyFormatError` naming the first bad line (never its content).
    """
    identities = []
    for number, line in _key_lines(text):
        try:
            identities.append(parse_identity(line))
        except KeyFormatError as exc:
            raise KeyFormatError(f"line {number}: {exc}") from None
    if not identities:
        raise KeyFormatError("no identities in the file")
    return identities


def is_post_quantum(recipient: Recipient) -> bool:
    """Whether ``recipient`` resists a quantum adversary (its class says ``post_quantum``)."""
    return getattr(recipient, "post_quantum", False) is True
