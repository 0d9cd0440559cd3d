"""The organization's root key: the Ed25519 key that signs the roster.

Protects: a compromised server cannot redirect testimony to itself, because witnesses accept
recipient keys only inside a roster signed by this key, whose verifier key (C2SP vkey
``origin+hexid+base64``) they pin out of band. The key is kept offline in a key file of kind
``amanat.org-key/v1`` (see ``keys.keyfile``).

Plaintext inside the key file (binary, authenticated)::

    Ed25519 seed (32 bytes) || origin (ASCII, rules of keys._text.origin_problem)
"""

from __future__ import annotations

import os

import nacl.signing

from keys._text import origin_problem
from keys.errors import InvalidNameError, KeyFileError, VerifierKeyError
from keys.keyfile import DEFAULT_KDF, KdfParams, open_key_file, seal_key_file
from vault.tlog import note

ORG_KEY_KIND = "amanat.org-key/v1"
SEED_BYTES = 32


def parse_org_vkey(vkey: str) -> note.Verifier:
    """The organization's verifier key as given by a person (``--org``), or
    ``VerifierKeyError`` saying it is mistyped: its key id is a checksum over the name and
    the key, so one wrong character is caught here, before any roster is judged by it."""
    copy_again = "copy it again, whole, from where the organization published it"
    try:
        return note.Verifier.from_vkey(vkey)
    except note.KeyIdMismatchError:
        raise VerifierKeyError(
            "the organization key is mistyped: its checksum (the 8 hex digits after the "
            f"name) does not match the rest, so a character is wrong, missing or extra; "
            f"{copy_again}"
        ) from None
    except note.NoteError as exc:
        raise VerifierKeyError(
            f"the organization key is mistyped or incomplete ({exc}); {copy_again} "
            "(it looks like example.org/amanat+1a2b3c4d+AbC…=)"
        ) from None


class OrgKey:
    """The organization's origin name and Ed25519 signing key. ``repr()`` hides the seed."""

    __slots__ = ("_seed", "origin")

    def __init__(self, origin: str, seed: bytes) -> None:
        problem = origin_problem(origin)
        if problem is not None:
            raise InvalidNameError(problem)
        if len(seed) != SEED_BYTES:
            raise KeyFileError("the org key seed must be 32 bytes")
        self.origin = origin
        self._seed = bytes(seed)

    @classmethod
    def generate(cls, origin: str) -> OrgKey:
        return cls(origin, os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"OrgKey(origin={self.origin!r}, vkey={self.vkey()!r})"

    def signer(self) -> note.Signer:
        """The signed-note signer (name = origin) that signs rosters."""
        return note.Signer(self.origin, nacl.signing.SigningKey(self._seed))

    def vkey(self) -> str:
        """The verifier key witnesses pin: ``origin+hexid+base64(0x01||pubkey)``."""
        return self.signer().vkey()

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The org key file's bytes, encrypted under ``passphrase``."""
        return seal_key_file(
            ORG_KEY_KIND, self._seed + self.origin.encode("ascii"), passphrase, params
        )

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> OrgKey:
        """Open an org key file; ``KeyFileError``/``UnlockError`` on any problem."""
        plaintext = open_key_file(data, ORG_KEY_KIND, passphrase)
        try:
            origin = plaintext[SEED_BYTES:].decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError("the org key file's origin is not ASCII") from None
        return cls(origin, plaintext[:SEED_BYTES])
