"""Codenames: the witness's only secret, a 12-word BIP39 phrase kept in their head.

A witness must not carry key files: a phone search at a checkpoint would find them. Instead
the witness is shown a codename once, twelve words from the BIP39 English list, and derives
everything from it whenever needed:

* ``reply_identity`` — an age ``mlkem768x25519`` identity. Investigators seal replies to its
  recipient (``age1pq1…``), which the manifest carries; only the codename opens them.
* ``mailbox_secret`` — 32 bytes the witness presents to fetch replies; the server stores only
  ``mailbox_id`` = hex SHA-256 of it, so a seized server cannot read or impersonate a mailbox.

Derivation (version 1; any change needs a new salt constant and a new manifest schema)::

    entropy  = the 16 bytes the 12 words encode (BIP39: 11 bits a word, 4-bit checksum)
    okm      = Argon2id(password=entropy, salt=b"amanat/codename/v1",
                        t=3, m=65536 KiB, p=4, length=64)      # RFC 9106 §4, 2nd option
    reply identity seed = okm[0:32]
    mailbox secret      = okm[32:64]

Why the salt is a fixed constant. A salt defeats precomputation over *guessable* secrets
and stops one guess from testing many users at once. A codename is not guessable: the words
encode 128 uniformly random bits, so even an attacker holding every mailbox id on the server
(say 2**20 of them, a 2**20 multi-target gain) faces 2**108 Argon2id evaluations. A per-witness
salt would also have to be stored somewhere: on the witness's device (the very thing we
avoid) or on the server (where fetching it would identify the mailbox). The constant still
separates this use of the phrase from every other (e.g. a BIP39 wallet seed uses PBKDF2 with
salt "mnemonic"), and Argon2id's memory cost makes bulk guessing expensive all the same.

Why halves. Argon2id's 64-byte output is one BLAKE2b-512 output (RFC 9106 §3.3, H' with
T = 64), so its two halves are independent pseudorandom strings; no further KDF is needed.

The entropy, not the typed text, is hashed, so spacing and letter case never change the keys.
Measured on a 2-vCPU machine: one derivation ≈ 0.1 s.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field

from argon2.low_level import Type, hash_secret_raw
from mnemonic import Mnemonic

from vault import age

__all__ = [
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "CODENAME_SALT",
    "CODENAME_WORDS",
    "CodenameError",
    "CodenameKeys",
    "check_codename",
    "derive",
    "mailbox_id_for",
    "new_codename",
]

CODENAME_WORDS = 12
CODENAME_SALT = b"amanat/codename/v1"
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 4
_ENTROPY_BITS = 128

_BIP39 = Mnemonic("english")
_WORDS = frozenset(_BIP39.wordlist)


class CodenameError(ValueError):
    """The text is not a valid codename; the message says which word to fix."""


@dataclass(frozen=True)
class CodenameKeys:
    """Everything a codename unlocks. ``repr`` never shows the secrets."""

    reply_identity: age.MLKEM768X25519Identity = field(repr=False)
    mailbox_secret: bytes = field(repr=False)
    mailbox_id: str


def new_codename() -> str:
    """Return a fresh codename: 12 lowercase BIP39 English words separated by single spaces."""
    return _BIP39.generate(strength=_ENTROPY_BITS)



def check_codename(text: str) -> str:
    """Return the canonical form of a typed codename, or raise CodenameError.

    Letter case, surrounding whitespace and the kind and amount of whitespace between words
    do not matter. The canonical form is the 12 words in lowercase, separated by one space.
    """
    normalized = unicodedata.normalize("NFKD", text).lower()
    words = normalized.split()
    if len(words) != CODENAME_WORDS:
        raise CodenameError(
            f"a codename has {CODENAME_WORDS} words; this has {len(words)}"
        )
    for position, word in enumerate(words, start=1):
        if word not in _WORDS:
            # The word itself is never echoed: error text ends up on screens, in
            # screenshots and in terminal scrollback, and each word is part of the secret.
            raise CodenameError(f"word {position} is not in the word list")
    canonical = " ".join(words)
    if not _BIP39.check(canonical):
        raise CodenameError("checksum failed: a word is mistyped or out of order")
    return canonical


def mailbox_id_for(mailbox_secret: bytes) -> str:
    """The public name of a mailbox: hex SHA-256 of its secret (what the server stores)."""
    return hashlib.sha256(mailbox_secret).hexdigest()


def derive(codename: str) -> CodenameKeys:
    """Derive the reply identity and mailbox secret from a codename (checked first)."""
    canonical = check_codename(codename)
    entropy = bytes(_BIP39.to_entropy(canonical))
    okm = hash_secret_raw(
        secret=entropy,
        salt=CODENAME_SALT,
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=64,
        type=Type.ID,
    )
    identity_seed, mailbox_secret = okm[:32], okm[32:]
    return CodenameKeys(
        reply_identity=age.MLKEM768X25519Identity.from_seed(identity_seed),
        mailbox_secret=mailbox_secret,
        mailbox_id=mailbox_id_for(mailbox_secret),
    )
