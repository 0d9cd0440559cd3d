"""The X25519 recipient type (``age1…`` / ``AGE-SECRET-KEY-1…``), classical only.

Protects: *confidentiality of the file key to the holder of one X25519 key* (not against
a future quantum computer; use :mod:`vault.age.pq` for that). Each stanza uses a fresh
ephemeral key; the wrap key is HKDF over the shared secret salted with both public keys;
an all-zero shared secret (low-order share) is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from vault.age import bech32
from vault.age._primitives import WRAPPED_KEY_SIZE, hkdf_sha256, unwrap_file_key, wrap_file_key
from vault.age.errors import HeaderError, KeyFormatError
from vault.age.format import Stanza, b64decode, b64encode

STANZA_TYPE = "X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
KEY_SIZE = 32
_INFO = b"age-encryption.org/v1/X25519"


def check_stanza(stanza: Stanza) -> bytes:
    """Validate an ``X25519`` stanza; return its ephemeral share. Raises HeaderError."""
    if len(stanza.args) != 1:
        raise HeaderError("invalid X25519 stanza: wrong number of arguments")
    try:
        share = b64decode(stanza.args[0])
    except ValueError:
        raise HeaderError("invalid X25519 stanza: share is not canonical base64") from None
    if len(share) != KEY_SIZE:
        raise HeaderError("invalid X25519 stanza: share has the wrong length")
    if len(stanza.body) != WRAPPED_KEY_SIZE:
        raise HeaderError("invalid X25519 stanza: body has the wrong length")
    return share


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


class X25519Recipient:
    """An X25519 public key, written ``age1…``."""

    post_quantum: ClassVar[bool] = False

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != KEY_SIZE:
            raise KeyFormatError("an X25519 recipient is 32 bytes")
        self._public = bytes(public_key)
        self._key = X25519PublicKey.from_public_bytes(self._public)

    @classmethod
    def parse(cls, text: str) -> X25519Recipient:
        """Parse ``age1…``; raise :class:`KeyFormatError`."""
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(f"malformed X25519 recipient: {exc}") from None
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError("not an X25519 recipient (expected age1…)")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("malformed X25519 recipient: wrong length")
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        return self._public

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(self._key)
        wrap_key = hkdf_sha256(shared, share + self._public, _INFO)
        return [Stanza(STANZA_TYPE, (b64encode(share),), wrap_file_key(wrap_key, file_key))]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)

    def __repr__(self) -> str:
        return f"X25519Recipient({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash((STANZA_TYPE, self._public))


class X25519Identity:
    """An X25519 private key, written ``AGE-SECRET-KEY-1…``."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_SIZE:
            raise KeyFormatError("an X25519 identity is 32 bytes")
        self._secret = bytes(secret)
        self._key = X25519PrivateKey.from_private_bytes(self._secret)
        self._public = _raw_public(self._key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(os.urandom(KEY_SIZE))

    @classmethod
    def from_bytes(cls, secret: bytes) -> X25519Identity:
        return cls(secret)

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        """Parse ``AGE-SECRET-KEY-1…``; raise :class:`KeyFormatError` (without the key)."""
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(f"malformed X25519 identity: {exc}") from None
        if hrp != IDENTITY_HRP:
            raise KeyFormatError("not an X25519 identity (expected AGE-SECRET-KEY-1…)")
        if len(data) != KEY_SIZE:
            raise KeyFormatError("malformed X25519 identity: wrong length")
        return cls(data)

    def recipient(self) -> X25519Recipient:
        return X25519Recipient(self._public)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        mine = [(s, check_stanza(s)) for s in stanzas if s.type == STANZA_TYPE]
        for stanza, share in mine:
            try:
                shared = self._key.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise HeaderError("invalid X25519 stanza: low-order share") from None
            wrap_key = hkdf_sha256(shared, share + self._public, _INFO)
            file_key = unwrap_file_key(wrap_key, stanza.body)
            if file_key is not None:
                return file_key
        return None

    def __str__(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._secret)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self.recipient()})"
