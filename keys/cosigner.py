"""A cosigner's keys: the Ed25519 and ML-DSA-44 keys a partner organization cosigns with.

Protects: a cosignature says "this checkpoint is consistent with everything I have cosigned
of this log"; whoever holds this key can say it falsely, so the key is made offline
(``amanat cosigner init``) and kept in a passphrase-protected key file of kind
``amanat.cosigner-key/v1`` (``keys.keyfile``), unlocked only in the memory of a running
``amanat cosigner serve``.

Plaintext inside the key file (binary, authenticated)::

    Ed25519 seed (32 bytes) || ML-DSA-44 seed (32 bytes, FIPS 204 key generation)
        || cosigner name (ASCII, rules of keys._text.origin_problem)

The public forms are two C2SP vkeys under the one name, of type 0x04 (Ed25519) and 0x06
(ML-DSA-44) (``vault.tlog.cosignature``); every checkpoint is cosigned with both.
"""

from __future__ import annotations

import os

import nacl.signing

from keys._text import origin_problem
from keys.errors import InvalidNameError, KeyFileError
from keys.keyfile import DEFAULT_KDF, KdfParams, open_key_file, seal_key_file
from vault.tlog.cosignature import CosignerSigner, MLDSACosignerSigner

COSIGNER_KEY_KIND = "amanat.cosigner-key/v1"
SEED_BYTES = 32


class CosignerKey:
    """A cosigner's name (e.g. ``partner.example/amanat-cosigner``) and its Ed25519 and
    ML-DSA-44 seeds. ``repr()`` hides the seeds."""

    __slots__ = ("_mldsa_seed", "_seed", "name")

    def __init__(self, name: str, seed: bytes, mldsa_seed: bytes) -> None:
        problem = origin_problem(name)
        if problem is not None:
            raise InvalidNameError(problem.replace("origin", "cosigner name"))
        if len(seed) != SEED_BYTES or len(mldsa_seed) != SEED_BYTES:
            raise KeyFileError("the cosigner key seeds must be 32 bytes each")
        self.name = name
        self._seed = bytes(seed)
        self._mldsa_seed = bytes(mldsa_seed)

    @classmethod
    def generate(cls, name: str) -> CosignerKey:
        return cls(name, os.urandom(SEED_BYTES), os.urandom(SEED_BYTES))

    def __repr__(self) -> str:
        return f"CosignerKey(name={self.name!r}, vkey={self.vkey()!r})"

    def signer(self) -> CosignerSigner:
        """The Ed25519 cosignature/v1 signer (key id of type 0x04)."""
        return CosignerSigner(self.name, nacl.signing.SigningKey(self._seed))

    def mldsa_signer(self) -> MLDSACosignerSigner:
        """The ML-DSA-44 signer (key id of type 0x06)."""
        return MLDSACosignerSigner(self.name, self._mldsa_seed)

    def signers(self) -> tuple[CosignerSigner, MLDSACosignerSigner]:
        """Both signers, Ed25519 first: every checkpoint is cosigned with both."""
        return self.signer(), self.mldsa_signer()

    def vkey(self) -> str:
        """The Ed25519 vkey ``name+hexid+base64(0x04 || public key)``."""
        return self.signer().vkey()

    def vkeys(self) -> tuple[str, str]:
        """The Ed25519 (0x04) and ML-DSA-44 (0x06) vkeys: what a roster will name."""
        return self.vkey(), self.mldsa_signer().vkey()

    def seal(self, passphrase: str, params: KdfParams = DEFAULT_KDF) -> bytes:
        """The key file's bytes, encrypted under ``passphrase``."""
        plaintext = self._seed + self._mldsa_seed + self.name.encode("ascii")
        return seal_key_file(COSIGNER_KEY_KIND, plaintext, passphrase, params)

    @classmethod
    def unseal(cls, data: bytes, passphrase: str) -> CosignerKey:
        """Open a cosigner key file; ``KeyFileError``/``UnlockError`` on any problem."""
        plaintext = open_key_file(data, COSIGNER_KEY_KIND, passphrase)
        try:
            name = plaintext[2 * SEED_BYTES:].decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError("the cosigner key file's name is not ASCII") from None
        return cls(name, plaintext[:SEED_BYTES], plaintext[SEED_BYTES:2 * SEED_BYTES])
