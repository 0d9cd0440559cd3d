"""Investigator identities: the private keys an investigator holds, in one protected file.

Protects: only the investigator can read testimony sealed to them (the age identity) and
authenticate to the server as them (the auth keys: Ed25519 and ML-DSA-44, both signing every
login, so a forger of one scheme alone, such as a future quantum computer against Ed25519,
cannot log in). The file is a key file (see ``keys.keyfile``: Argon2id + XChaCha20-Poly1305);
a wrong passphrase, a truncated file or any changed byte is refused.

Plaintext inside the key file (binary, authenticated)::

    amanat.identity/v2: age seed (32) || Ed25519 seed (32) || ML-DSA-44 seed (32) || name
    amanat.identity/v1: age seed (32) || Ed25519 seed (32) || name     (older, Ed25519 only)

The ML-DSA-44 seed is the 32-byte ``ξ`` of FIPS 204 ``ML-DSA.KeyGen_internal``, as for the
organization key; the name is UTF-8 (rules of keys._text). A v1 identity still opens; ``amanat
keys upgrade`` gives it an ML-DSA-44 half (``with_post_quantum_half``), keeping the age and
Ed25519 seeds, so the age recipient and all testimony sealed to it stay the same.

The age identity is ``mlkem768x25519`` (ML-KEM-768 + X25519) built from the 32-byte seed, so
``export-age`` gives an ``AGE-SECRET-KEY-PQ-1...`` line the stock ``age`` tool (v1.3+) reads.
The name is inside the ciphertext: a seized file does not say whose it is.
"""

from __future__ import annotations

import os

import nacl.signing
from cryptography.hazmat.primitives.asymmetric import mldsa

from keys._text import name_problem
from keys.card import PublicCard
from keys.errors import InvalidNameError, KeyFileError
from keys.keyfile import DEFAULT_KDF, KdfParams, key_file_kind, open_key_file, seal_key_file
from vault import age

IDENTITY_KIND = "amanat.identity/v2"
CLASSICAL_IDENTITY_KIND = "amanat.identity/v1"
IDENTITY_KINDS = (IDENTITY_KIND, CLASSICAL_IDENTITY_KIND)
SEED_BYTES = 32


class InvestigatorIdentity:
    """An investigator's name, post-quantum age identity and auth keys (Ed25519 and, unless
    the identity is an older classical one, ML-DSA-44).

    ``repr()`` shows the name and key id only; the seeds are never printed.
    """

    __slots__ = ("_age_seed", "_auth_seed", "_card", "_mldsa_seed", "name")

    def __init__(self, name: str, age_seed: bytes, auth_seed: bytes,
                 mldsa_seed: bytes | None = None) -> None:
        problem = name_problem(name)
        if problem is not None:
            raise InvalidNameError(problem)
        seeds = (age_seed, auth_seed) + (() if mldsa_seed is None else (mldsa_seed,))
        if any(len(seed) != SEED_BYTES for seed in seeds):
            raise KeyFileError("identity seeds must be 32 bytes each")
        self.name = name
        self._age_seed = bytes(age_seed)
        self._auth_seed = bytes(auth_seed)
        self._mldsa_seed = None if mldsa_seed is None else bytes(mldsa_seed)
        self._card: PublicCard | None = None

    @classmethod
    def generate(cls, name: str) -> InvestigatorIdentity:
        """A new hybrid identity with fresh random seeds."""
        return cls(name, os.urandom(SEED_BYTES), os.urandom(SEED_BYTES), os.urandom(SEED_BYTES))

    def with_post_quantum_half(self) -> InvestigatorIdentity:
        """This identity with a new ML-DSA-44 auth key (a classical identity made hybrid).
        The age and Ed25519 seeds are kept: the age recipient does not change, so testimony
        sealed to it still opens; the key id does (it covers the new key)."""
        if self._mldsa_seed is not None:
            raise KeyFileError("the identity already has an ML-DSA-44 auth key")
        return InvestigatorIdentity(self.name, self._age_seed, self._auth_seed,
                                    os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"InvestigatorIdentity(name={self.name!r}, key_id={self.key_id!r})"

    @property
    def is_hybrid(self) -> bool:
        """Whether this identity has an ML-DSA-44 auth key (v2)."""
        return self._mldsa_seed is not None

    def age_identity(self) -> age.MLKEM768X25519Identity:
        """The age identity that decrypts testimony sealed to this investigator."""
        return age.MLKEM768X25519Identity.from_seed(self._age_seed)

    def auth_signing_key(self) -> nacl.signing.SigningKey:
        """The Ed25519 key that authenticates this investigator to the server."""
        return nacl.signing.SigningKey(self._auth_seed)

    def auth_mldsa_key(self) -> mldsa.MLDSA44PrivateKey | None:
        """The ML-DSA-44 key that authenticates this investigator beside the Ed25519 key
        (None for a classical identity)."""
        if self._mldsa_seed is None:
            return None
        return mldsa.MLDSA44PrivateKey.from_seed_bytes(self._mldsa_seed)

    def sign_login(self, message: bytes) -> tuple[bytes, bytes | None]:
        """Sign a login message: the Ed25519 signature (64 bytes) and the ML-DSA-44 one
        (2420 bytes; pure ML-DSA, empty context, hedged), None for a classical identity."""
        classical = bytes(self.auth_signing_key().sign(message).signature)
        post_quantum = self.auth_mldsa_key()
        return classical, None if post_quantum is None else post_quantum.sign(message)

    def card(self) -> PublicCard:
        """The public card (name, key id, age recipient, auth keys)."""
        if self._card is None:
            post_quantum = self.auth_mldsa_key()
            self._card = PublicCard(
                name=self.name,
                recipient=str(self.age_identity().recipient()),
                auth_key=bytes(self.auth_signing_key().verify_key),
                auth_pq=None if post_quantum is None
                else post_quantum.public_key().public_bytes_raw(),
            )
        return self._card

    @property
    def key_id(self) -> str:
        return self.card().key_id

    def export_age(self) -> str:
        """The raw ``AGE-SECRET-KEY-PQ-1...`` line, for the stock ``age`` tool."""
        return str(self.age_identity())

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The identity file's bytes, encrypted under ``passphrase`` (v2 for a hybrid
        identity, v1 for a classical one)."""
        name = self.name.encode("utf-8")
        if self._mldsa_seed is None:
            return seal_key_file(CLASSICAL_IDENTITY_KIND, self._age_seed + self._auth_seed + name,
                                 passphrase, params)
        return seal_key_file(IDENTITY_KIND, self._age_seed + self._auth_seed + self._mldsa_seed
                             + name, passphrase, params)

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> InvestigatorIdentity:
        """Open an identity file (either kind); ``KeyFileError``/``UnlockError`` on any
        problem."""
        kind = identity_file_kind(data)
        plaintext = open_key_file(data, kind, passphrase)
        return _from_plaintext(plaintext, 2 if kind == CLASSICAL_IDENTITY_KIND else 3)


def identity_file_kind(data: bytes) -> str:
    """The kind of identity file ``data`` claims to be (v1 or v2), else the current kind, so
    that opening a file of another kind says what it is (no decryption attempted)."""
    found = key_file_kind(data)
    return CLASSICAL_IDENTITY_KIND if found == CLASSICAL_IDENTITY_KIND else IDENTITY_KIND


def _from_plaintext(plaintext: bytes, seeds: int) -> InvestigatorIdentity:
    # Authenticated, so only a file written by another program could fail these checks.
    if len(plaintext) <= seeds * SEED_BYTES:
        raise KeyFileError("the identity file holds no name")
    try:
        name = plaintext[seeds * SEED_BYTES :].decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError("the identity file's name is not UTF-8") from None
    chunks = [plaintext[i * SEED_BYTES : (i + 1) * SEED_BYTES] for i in range(seeds)]
    return InvestigatorIdentity(name, chunks[0], chunks[1], chunks[2] if seeds == 3 else None)


def is_identity_file(data: bytes) -> bool:
    """Whether ``data`` starts like an identity file of either kind (no decryption)."""
    return any(data.startswith(kind.encode("ascii") + b"\n") for kind in IDENTITY_KINDS)
