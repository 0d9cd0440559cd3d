"""Reply mailboxes: the server knows a mailbox only by the SHA-256 of its secret.

Protects the witness's anonymity when an investigator answers: the witness derives a
mailbox secret from their codename (vault/codename) and puts only ``mailbox_id(secret)``
inside the sealed manifest. The server stores replies under that id and hands them out to
whoever presents the secret, so neither a seized database nor the public audit log links a
mailbox to a person, and a reply cannot be fetched by anyone who only saw the id.

Wire form of a secret: lowercase hex of its raw bytes (16 to 128 bytes), sent in the
``Amanat-Mailbox-Secret`` header or a JSON body, never in a URL (URLs end up in logs and
browser history).
"""

from __future__ import annotations

import hashlib
import re

MAILBOX_SECRET_HEADER = "Amanat-Mailbox-Secret"  # noqa: S105 - a header name
MIN_SECRET_BYTES = 16
MAX_SECRET_BYTES = 128
_SECRET_HEX = re.compile(f"(?:[0-9a-f]{{2}}){{{MIN_SECRET_BYTES},{MAX_SECRET_BYTES}}}")


class MailboxSecretError(ValueError):
    """A mailbox secret is not 16-128 bytes written as lowercase hex."""


def mailbox_id(secret: bytes) -> str:
    """The mailbox id the server files replies under: SHA-256 of the secret, lowercase hex."""
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
        raise MailboxSecretError(
            f"a mailbox secret is {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes"
        )
    return hashlib.sha256(secret).hexdigest()


def encode_mailbox_secret(secret: bytes) -> str:
    """The wire form of a mailbox secret (lowercase hex)."""
    mailbox_id(secret)  # length check
    return secret.hex()


def decode_mailbox_secret(text: str) -> bytes:
    """Parse the wire form of a mailbox secret; MailboxSecretError when malformed."""
    if not _SECRET_HEX.fullmatch(text):
        raise MailboxSecretError(
            f"a mailbox secret is {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes in lowercase hex"
        )
    return bytes.fromhex(text)
