"""age v1 file encryption (C2SP age.md), with hybrid post-quantum recipients.

Every testimony is sealed in this format, so the stock ``age`` tool can always open it.

The model: a file is encrypted under a fresh random 16-byte *file key*. The *header*
wraps that key once per *recipient*, each wrap a *stanza* (``-> type args`` plus a body),
and ends with an HMAC of the whole header keyed from the file key. The *payload* follows:
a 16-byte nonce, then the plaintext in 64 KiB ChaCha20-Poly1305 chunks (STREAM), so files
of any size are processed in constant memory and cannot be truncated, reordered or
extended undetected. An *identity* finds the stanza addressed to it and unwraps the file
key; nothing else about the recipients is revealed.

Two small interfaces carry everything: a :class:`Recipient` has ``wrap(file_key) ->
[Stanza]``, an :class:`Identity` has ``unwrap(stanzas) -> file_key | None``. Native types,
one module each:

* ``mlkem768x25519`` (:mod:`.pq`): ML-KEM-768 + X25519 via HPKE; ``age1pq1…`` /
  ``AGE-SECRET-KEY-PQ-1…``. The default: it resists a future quantum computer.
* ``X25519`` (:mod:`.x25519`): ``age1…`` / ``AGE-SECRET-KEY-1…``, for compatibility.
* ``scrypt`` (:mod:`.scrypt`): a passphrase; must be alone in a file.

Post-quantum and classical recipients are never mixed in one file. Optional ASCII armor
(:mod:`.armor`) is strict PEM. A :class:`SealedFile` (:mod:`.sealing`) produces a file of
known size piece by piece from any offset, for uploads that resume without storing it.
Each failure has its own class: :class:`HeaderError`,
:class:`HMACError`, :class:`PayloadError`, :class:`NoMatchError`, :class:`ArmorError`
(all :class:`AgeError`); bad keys raise :class:`KeyFormatError`, unusable recipient lists
:class:`RecipientError` (both also ValueError).

    identity = MLKEM768X25519Identity.generate()
    sealed = encrypt_bytes(b"testimony", [identity.recipient()])
    assert decrypt_bytes(sealed, [identity]) == b"testimony"
"""

from __future__ import annotations

from vault.age.encryption import decrypt, decrypt_bytes, encrypt, encrypt_bytes
from vault.age.errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HMACError,
    KeyFormatError,
    NoMatchError,
    PayloadError,
    RecipientError,
)
from vault.age.format import HeaderInfo, Stanza, inspect_header
from vault.age.keys import (
    is_post_quantum,
    parse_identities_file,
    parse_identity,
    parse_recipient,
    parse_recipients_file,
)
from vault.age.pq import MLKEM768X25519Identity, MLKEM768X25519Recipient
from vault.age.recipient import Identity, Recipient
from vault.age.scrypt import ScryptIdentity, ScryptRecipient
from vault.age.sealing import PlaintextLengthError, SealedFile
from vault.age.x25519 import X25519Identity, X25519Recipient

__all__ = [
    "AgeError",
    "ArmorError",
    "HMACError",
    "HeaderError",
    "HeaderInfo",
    "Identity",
    "KeyFormatError",
    "MLKEM768X25519Identity",
    "MLKEM768X25519Recipient",
    "NoMatchError",
    "PayloadError",
    "PlaintextLengthError",
    "Recipient",
    "RecipientError",
    "ScryptIdentity",
    "ScryptRecipient",
    "SealedFile",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "inspect_header",
    "is_post_quantum",
    "parse_identities_file",
    "parse_identity",
    "parse_recipient",
    "parse_recipients_file",
]
