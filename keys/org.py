"""The organization's root key: the hybrid Ed25519 + ML-DSA-44 key that signs the roster.

Protects: a compromised server cannot redirect testimony to itself, because witnesses accept
recipient keys only inside a roster signed by this key, whose public form they pin out of
band: the C2SP vkey of its Ed25519 half (``origin+hexid+base64``), a space, and the vkey of
its ML-DSA-44 half (``vault.tlog.note``). Under the default policy a roster must carry both
signatures, so neither a forger of Ed25519 (a future quantum computer) nor of ML-DSA-44 alone
can sign one. An older Ed25519-only key (and the rosters it signed) is accepted only under
the explicit classical policy: the pinned key written ``classical <vkey>``.

The key is kept offline in a key file (see ``keys.keyfile``); plaintext (binary,
authenticated)::

    amanat.org-key/v2: Ed25519 seed (32) || ML-DSA-44 seed (32, FIPS 204) || origin (ASCII)
    amanat.org-key/v1: Ed25519 seed (32) || origin (ASCII)          (older, Ed25519 only)

The origin follows the rules of keys._text.origin_problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import nacl.signing

from keys._text import origin_problem
from keys.errors import InvalidNameError, KeyFileError, VerifierKeyError
from keys.keyfile import DEFAULT_KDF, KdfParams, key_file_kind, open_key_file, seal_key_file
from vault.tlog import note

ORG_KEY_KIND = "amanat.org-key/v2"
CLASSICAL_ORG_KEY_KIND = "amanat.org-key/v1"
ORG_KEY_KINDS = (ORG_KEY_KIND, CLASSICAL_ORG_KEY_KIND)
SEED_BYTES = 32
CLASSICAL_PREFIX = "classical "
"""Written before a pinned key, it accepts Ed25519-only signatures (the classical policy)."""


@dataclass(frozen=True)
class OrgPin:
    """A pinned organization key and the signature policy it was pinned under."""

    key: note.HybridVerifier
    classical: bool

    @property
    def name(self) -> str:
        return self.key.name

    @property
    def state_key(self) -> str:
        """What roster state is kept under: the key's public form, policy aside."""
        return self.key.vkey()


def parse_org_vkey(vkey: str) -> OrgPin:
    """The organization's key as given by a person (``--org``): the Ed25519 vkey and the
    ML-DSA-44 vkey separated by a space, or ``classical `` and a vkey for the classical
    policy. ``VerifierKeyError`` says it is mistyped: a key id is a checksum over the name
    and the key, so one wrong character is caught here, before any roster is judged by it."""
    copy_again = "copy it again, whole, from where the organization published it"
    classical = vkey.startswith(CLASSICAL_PREFIX)
    text = vkey[len(CLASSICAL_PREFIX) :] if classical else vkey
    try:
        key = note.HybridVerifier.from_vkey(text)
    except note.KeyIdMismatchError:
        raise VerifierKeyError(
            "the organization key is mistyped: its checksum (the 8 hex digits after the "
            f"name) does not match the rest, so a character is wrong, missing or extra; "
            f"{copy_again}"
        ) from None
    except note.NoteError as exc:
        raise VerifierKeyError(
            f"the organization key is mistyped or incomplete ({exc}); {copy_again} "
            "(it looks like example.org/amanat+1a2b3c4d+AbC…= example.org/amanat+5e6f7a8b+/2…=)"
        ) from None
    return OrgPin(key, classical)


class OrgKey:
    """The organization's origin name, Ed25519 seed and (hybrid keys) ML-DSA-44 seed.
    ``repr()`` hides the seeds."""

    __slots__ = ("_mldsa_seed", "_seed", "origin")

    def __init__(self, origin: str, seed: bytes, mldsa_seed: bytes | None = None) -> None:
        problem = origin_problem(origin)
        if problem is not None:
            raise InvalidNameError(problem)
        if len(seed) != SEED_BYTES or (mldsa_seed is not None and len(mldsa_seed) != SEED_BYTES):
            raise KeyFileError("the org key seeds must be 32 bytes each")
        self.origin = origin
        self._seed = bytes(seed)
        self._mldsa_seed = None if mldsa_seed is None else bytes(mldsa_seed)

    @classmethod
    def generate(cls, origin: str) -> OrgKey:
        """A new hybrid key."""
        return cls(origin, os.urandom(SEED_BYTES), os.urandom(SEED_BYTES))

    def with_post_quantum_half(self) -> OrgKey:
        """This key with a new ML-DSA-44 half (an Ed25519-only key made hybrid; the Ed25519
        half is kept, so pins of it still hold under the classical policy)."""
        if self._mldsa_seed is not None:
            raise KeyFileError("the organization key already has an ML-DSA-44 half")
        return OrgKey(self.origin, self._seed, os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"OrgKey(origin={self.origin!r}, hybrid={self.is_hybrid})"

    @property
    def is_hybrid(self) -> bool:
        return self._mldsa_seed is not None

    def signer(self) -> note.Signer:
        """The Ed25519 signed-note signer (name = origin)."""
        return note.Signer(self.origin, nacl.signing.SigningKey(self._seed))

    def signers(self) -> tuple[note.AnySigner, ...]:
        """Every half's signer, Ed25519 first: what signs a roster."""
        if self._mldsa_seed is None:
            return (self.signer(),)
        return self.signer(), note.MLDSASigner(self.origin, self._mldsa_seed)

    def verifier(self) -> note.HybridVerifier:
        halves = self.signers()
        classical = note.Verifier(self.origin, halves[0].public_key)
        post_quantum = None if len(halves) == 1 else note.MLDSAVerifier(
            self.origin, halves[1].public_key)
        return note.HybridVerifier(classical, post_quantum)

    def vkey(self) -> str:
        """The public form witnesses pin: the Ed25519 vkey, then (hybrid) a space and the
        ML-DSA-44 vkey."""
        return self.verifier().vkey()

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The org key file's bytes, encrypted under ``passphrase``."""
        if self._mldsa_seed is None:
            return seal_key_file(CLASSICAL_ORG_KEY_KIND, self._seed + self.origin.encode("ascii"),
                                 passphrase, params)
        return seal_key_file(ORG_KEY_KIND, self._seed + self._mldsa_seed
                             + self.origin.encode("ascii"), passphrase, params)

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> OrgKey:
        """Open an org key file (either kind); ``KeyFileError``/``UnlockError`` on any
        problem."""
        kind = CLASSICAL_ORG_KEY_KIND if key_file_kind(data) == CLASSICAL_ORG_KEY_KIND \
            else ORG_KEY_KIND
        plaintext = open_key_file(data, kind, passphrase)
        seeds = 1 if kind == CLASSICAL_ORG_KEY_KIND else 2
        try:
            origin = plaintext[seeds * SEED_BYTES :].decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError("the org key file's origin is not ASCII") from None
        mldsa_seed = None if seeds == 1 else plaintext[SEED_BYTES : 2 * SEED_BYTES]
        return cls(origin, plaintext[:SEED_BYTES], mldsa_seed)
