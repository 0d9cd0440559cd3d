"""Investigator identities: the private keys an investigator holds, in one protected file.

Protects: only the investigator can read testimony sealed to them (the age identity) and
authenticate to the server as them (the Ed25519 auth key). The file is a key file of kind
``amanat.identity/v1`` (see ``keys.keyfile``: Argon2id + XChaCha20-Poly1305); a wrong
passphrase, a truncated file or any changed byte is refused.

Plaintext inside the key file (binary, authenticated)::

    age seed (32 bytes) || Ed25519 seed (32 bytes) || name (UTF-8, rules of keys._text)

The age identity is ``mlkem768x25519`` (ML-KEM-768 + X25519) built from the 32-byte seed, so
``export-age`` gives an ``AGE-SECRET-KEY-PQ-1...`` line the stock ``age`` tool (v1.3+) reads.
The name is inside the ciphertext: a seized file does not say whose it is.
"""

from __future__ import annotations

import os

import nacl.signing

from keys._text import name_problem
from keys.card import PublicCard
from keys.errors import InvalidNameError, KeyFileError
from keys.keyfile import DEFAULT_KDF, KdfParams, open_key_file, seal_key_file
from vault import age

IDENTITY_KIND = "amanat.identity/v1"
SEED_BYTES = 32


class InvestigatorIdentity:
    """An investigator's name, post-quantum age identity and Ed25519 auth key.

    ``repr()`` shows the name and key id only; the seeds are never printed.
    """

    __slots__ = ("_age_seed", "_auth_seed", "_card", "name")

    def __init__(self, name: str, age_seed: bytes, auth_seed: bytes) -> None:
        problem = name_problem(name)
        if problem is not None:
            raise InvalidNameError(problem)
        if len(age_seed) != SEED_BYTES or len(auth_seed) != SEED_BYTES:
            raise KeyFileError("identity seeds must be 32 bytes each")
        self.name = name
        self._age_seed = bytes(age_seed)
        self._auth_seed = bytes(auth_seed)
        self._card: PublicCard | None = None

    @classmethod
    def generate(cls, name: str) -> InvestigatorIdentity:
        """A new identity with fresh random seeds."""
        return cls(name, os.urandom(SEED_BYTES), os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"InvestigatorIdentity(name={self.name!r}, key_id={self.key_id!r})"

    def age_identity(self) -> age.MLKEM768X25519Identity:
        """The age identity that decrypts testimony sealed to this investigator."""
        return age.MLKEM768X25519Identity.from_seed(self._age_seed)

    def auth_signing_key(self) -> nacl.signing.SigningKey:
        """The Ed25519 key that authenticates this investigator to the server."""
        return nacl.signing.SigningKey(self._auth_seed)

    def card(self) -> PublicCard:
        """The public card (name, key id, age recipient, auth key)."""
        if self._card is None:
            self._card = PublicCard(
                name=self.name,
                recipient=str(self.age_identity().recipient()),
                auth_key=bytes(self.auth_signing_key().verify_key),
            )
        return self._card

    @property
    def key_id(self) -> str:
        return self.card().key_id

    def export_age(self) -> str:
        """The raw ``AGE-SECRET-KEY-PQ-1...`` line, for the stock ``age`` tool."""
        return str(self.age_identity())

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The identity file's bytes, encrypted under ``passphrase``."""
        plaintext = self._age_seed + self._auth_seed + self.name.encode("utf-8")
        return seal_key_file(IDENTITY_KIND, plaintext, passphrase, params)

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> InvestigatorIdentity:
        """Open an identity file; ``KeyFileError``/``UnlockError`` on any problem."""
        plaintext = open_key_file(data, IDENTITY_KIND, passphrase)
        return _from_plaintext(plaintext)


def _from_plaintext(plaintext: bytes) -> InvestigatorIdentity:
    # Authenticated, so only a file written by another program could fail these checks.
    if len(plaintext) <= 2 * SEED_BYTES:
        raise KeyFileError("the identity file holds no name")
    try:
        name = plaintext[2 * SEED_BYTES :].decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("the identity file's name is not UTF-8") from None
    return InvestigatorIdentity(
        name, plaintext[:SEED_BYTES], plaintext[SEED_BYTES : 2 * SEED_BYTES]
    )


def is_identity_file(data: bytes) -> bool:
    """Whether ``data`` starts like an identity file (no decryption attempted)."""
    return data.startswith(IDENTITY_KIND.encode("ascii") + b"\n")
