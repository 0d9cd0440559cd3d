"""A cosigner's key: the Ed25519 key a partner organization signs cosignatures with.

Protects: a cosignature says "this checkpoint is consistent with everything I have cosigned
of this log"; whoever holds this key can say it falsely, so the key is made offline
(``amanat cosigner init``) and kept in a passphrase-protected key file of kind
``amanat.cosigner-key/v1`` (``keys.keyfile``), unlocked only in the memory of a running
``amanat cosigner serve``.

Plaintext inside the key file (binary, authenticated)::

    Ed25519 seed (32 bytes) || cosigner name (ASCII, rules of keys._text.origin_problem)

The public form is a C2SP vkey of type 0x04 (``vault.tlog.cosignature``).
"""

from __future__ import annotations

import os

import nacl.signing

from keys._text import origin_problem
from keys.errors import InvalidNameError, KeyFileError
from keys.keyfile import DEFAULT_KDF, KdfParams, open_key_file, seal_key_file
from vault.tlog.cosignature import CosignerSigner

COSIGNER_KEY_KIND = "amanat.cosigner-key/v1"
SEED_BYTES = 32


class CosignerKey:
    """A cosigner's name (e.g. ``partner.example/amanat-cosigner``) and Ed25519 seed.
    ``repr()`` hides the seed."""

    __slots__ = ("_seed", "name")

    def __init__(self, name: str, seed: bytes) -> None:
        problem = origin_problem(name)
        if problem is not None:
            raise InvalidNameError(problem.replace("origin", "cosigner name"))
        if len(seed) != SEED_BYTES:
            raise KeyFileError("the cosigner key seed must be 32 bytes")
        self.name = name
        self._seed = bytes(seed)

    @classmethod
    def generate(cls, name: str) -> CosignerKey:
        return cls(name, os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"CosignerKey(name={self.name!r}, vkey={self.vkey()!r})"

    def signer(self) -> CosignerSigner:
        """The cosignature/v1 signer (key id of type 0x04)."""
        return CosignerSigner(self.name, nacl.signing.SigningKey(self._seed))

    def vkey(self) -> str:
        """``name+hexid+base64(0x04 || public key)``: what a roster will name."""
        return self.signer().vkey()

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The key file's bytes, encrypted under ``passphrase``."""
        return seal_key_file(
            COSIGNER_KEY_KIND, self._seed + self.name.encode("ascii"), passphrase, params
        )

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> CosignerKey:
        """Open a cosigner key file; ``KeyFileError``/``UnlockError`` on any problem."""
        plaintext = open_key_file(data, COSIGNER_KEY_KIND, passphrase)
        try:
            name = plaintext[SEED_BYTES:].decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError("the cosigner key file's name is not ASCII") from None
        return cls(name, plaintext[:SEED_BYTES])
