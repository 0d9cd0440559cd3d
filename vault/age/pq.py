"""The hybrid post-quantum recipient type ``mlkem768x25519`` (ML-KEM-768 + X25519, X-Wing).

Protects: *confidentiality of the file key for decades*, against an adversary who records
ciphertext today and has a quantum computer later, while staying as strong as X25519 if
ML-KEM falls. The file key is sealed with HPKE base mode (KEM MLKEM768-X25519, HKDF-SHA256,
ChaCha20-Poly1305, info ``age-encryption.org/mlkem768x25519``, empty aad).

Keys: an identity is a 32-byte seed (``AGE-SECRET-KEY-PQ-1…``); ``SHAKE256(seed, 96)``
gives the 64-byte ML-KEM-768 seed then the 32-byte X25519 private key. A recipient
(``age1pq1…``) is the 1184-byte ML-KEM public key followed by the 32-byte X25519 public
key. Stanza: ``-> mlkem768x25519 <base64 of the 1120-byte enc>`` and a 32-byte body.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from vault.age import bech32
from vault.age._primitives import WRAPPED_KEY_SIZE
from vault.age.errors import HeaderError, KeyFormatError
from vault.age.format import Stanza, b64decode, b64encode

STANZA_TYPE = "mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
SEED_SIZE = 32
MLKEM_PUBLIC_SIZE = 1184
X25519_SIZE = 32
PUBLIC_SIZE = MLKEM_PUBLIC_SIZE + X25519_SIZE
ENC_SIZE = 1120
_MLKEM_CIPHERTEXT_SIZE = ENC_SIZE - X25519_SIZE
_INFO = b"age-encryption.org/mlkem768x25519"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def check_stanza(stanza: Stanza) -> bytes:
    """Validate an ``mlkem768x25519`` stanza; return its enc. Raises HeaderError."""
    if len(stanza.args) != 1:
        raise HeaderError("invalid mlkem768x25519 stanza: wrong number of arguments")
    try:
        enc = b64decode(stanza.args[0])
    except ValueError:
        raise HeaderError("invalid mlkem768x25519 stanza: enc is not canonical base64") from None
    if len(enc) != ENC_SIZE:
        raise HeaderError("invalid mlkem768x25519 stanza: enc has the wrong length")
    if len(stanza.body) != WRAPPED_KEY_SIZE:
        raise HeaderError("invalid mlkem768x25519 stanza: body has the wrong length")
    return enc


class MLKEM768X25519Recipient:
    """A hybrid ML-KEM-768 + X25519 public key, written ``age1pq1…``."""

    post_quantum: ClassVar[bool] = True

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != PUBLIC_SIZE:
            raise KeyFormatError(f"an mlkem768x25519 recipient is {PUBLIC_SIZE} bytes")
        try:
            mlkem = MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM_PUBLIC_SIZE])
        except ValueError:
            raise KeyFormatError("invalid ML-KEM-768 public key in the recipient") from None
        x25519 = X25519PublicKey.from_public_bytes(public_bytes[MLKEM_PUBLIC_SIZE:])
        self._public = bytes(public_bytes)
        self._key = hpke.MLKEM768X25519PublicKey(mlkem, x25519)

    @classmethod
    def from_public_bytes(cls, public_bytes: bytes) -> MLKEM768X25519Recipient:
        return cls(public_bytes)

    @classmethod
    def parse(cls, text: str) -> MLKEM768X25519Recipient:
        """Parse ``age1pq1…``; raise :class:`KeyFormatError`."""
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(f"malformed mlkem768x25519 recipient: {exc}") from None
        if hrp != RECIPIENT_HRP:
            raise KeyFormatError("not an mlkem768x25519 recipient (expected age1pq1…)")
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        return self._public

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.encrypt(file_key, self._key, _INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode(enc),), body)]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)

    def __repr__(self) -> str:
        text = str(self)
        return f"MLKEM768X25519Recipient({text[:16]}…{text[-8:]})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MLKEM768X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash((STANZA_TYPE, self._public))


class MLKEM768X25519Identity:
    """A hybrid identity: a 32-byte seed, written ``AGE-SECRET-KEY-PQ-1…``."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyFormatError(f"an mlkem768x25519 identity seed is {SEED_SIZE} bytes")
        self._seed = bytes(seed)
        expanded = hashlib.shake_256(self._seed).digest(96)
        mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem, self._x25519)
        self._public = (
            mlkem.public_key().public_bytes_raw() + self._x25519.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> MLKEM768X25519Identity:
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> MLKEM768X25519Identity:
        return cls(seed)

    @classmethod
    def parse(cls, text: str) -> MLKEM768X25519Identity:
        """Parse ``AGE-SECRET-KEY-PQ-1…``; raise :class:`KeyFormatError` (without the key)."""
        try:
            hrp, data = bech32.decode(text)
        except bech32.Bech32Error as exc:
            raise KeyFormatError(f"malformed mlkem768x25519 identity: {exc}") from None
        if hrp != IDENTITY_HRP:
            raise KeyFormatError("not an mlkem768x25519 identity (expected AGE-SECRET-KEY-PQ-1…)")
        if len(data) != SEED_SIZE:
            raise KeyFormatError("malformed mlkem768x25519 identity: wrong length")
        return cls(data)

    @property
    def seed(self) -> bytes:
        return self._seed

    def recipient(self) -> MLKEM768X25519Recipient:
        return MLKEM768X25519Recipient(self._public)

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        mine = [(s, check_stanza(s)) for s in stanzas if s.type == STANZA_TYPE]
        for stanza, enc in mine:
            # HPKE reports an all-zero X25519 secret like a wrong key; it is a malformed
            # stanza, so look for it first with a plain exchange.
            share = X25519PublicKey.from_public_bytes(enc[_MLKEM_CIPHERTEXT_SIZE:])
            try:
                self._x25519.exchange(share)
            except ValueError:
                raise HeaderError("invalid mlkem768x25519 stanza: low-order X25519 share") from None
            try:
                return _SUITE.decrypt(enc + stanza.body, self._key, _INFO)
            except InvalidTag:
                continue
        return None

    def __str__(self) -> str:
        return bech32.encode(IDENTITY_HRP, self._seed)

    def __repr__(self) -> str:
        return f"MLKEM768X25519Identity(recipient={self.recipient()!r})"
