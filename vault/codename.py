"""Codenames: the witness's only secret, a 12-word BIP39 phrase kept in their head.

A witness must not carry key files: a phone search at a checkpoint would find them. Instead
the witness is shown a codename once, twelve words from the BIP39 English list, and derives
everything from it whenever needed:

* ``reply_identity`` — an age ``mlkem768x25519`` identity. Investigators seal replies to its
  recipient (``age1pq1…``), which the manifest carries; only the codename opens them.
* ``mailbox_secret`` — 32 bytes the witness presents to fetch replies; the server stores only
  ``mailbox_id`` = hex SHA-256 of it, so a seized server cannot read or impersonate a mailbox.

Derivation, version 2 (what every new reply address uses; docs/FORMAT.md §8)::

    entropy  = the 16 bytes the 12 words encode (BIP39: 11 bits a word, 4-bit checksum)
    okm      = HKDF-SHA256(ikm=entropy, salt=b"amanat/codename/v2",
                           info=b"amanat/codename/v2 reply+mailbox", length=64)   # RFC 5869
    reply identity seed = okm[0:32]
    mailbox secret      = okm[32:64]

Version 1 (manifests of schema ``amanat/testimony/v1``) put Argon2id (t=3, m=64 MiB, p=4,
salt ``b"amanat/codename/v1"``) where HKDF is now. It is kept so that replies to reply
addresses derived with it can still be read (``derive(codename, version=1)``); nothing new
is derived with it.

Why no stretching. Key stretching helps only where a secret is guessable. A codename is not:
its words encode 128 uniformly random bits, so even an attacker holding every mailbox id on
a server (say 2**20 of them, a 2**20 multi-target gain) faces 2**108 derivations. Any
stretching a witness can afford (a factor of 2**20 at most) adds at most about 20 bits to a
search that is already out of reach, while Argon2id with 64 MiB took about 43 s in Tor
Browser at "Safer" (no JIT, no WebAssembly) and longer on a slow phone: a witness waiting
that long on a page about detention gives up, or is seen at it. HKDF-SHA256 takes
milliseconds in plain JavaScript.

Why HKDF, a fixed salt and info. HKDF (RFC 5869) is the standard way to turn a uniformly
random secret into several independent keys; ``cryptography`` provides it (nothing
hand-rolled) and WebCrypto has it too. The salt is a constant because a per-witness salt
would have to be stored: on the witness's device (the very thing avoided) or on the server
(where fetching it would identify the mailbox); with 128-bit random input a salt buys
nothing against precomputation. The salt and info strings name this use and this version,
so the phrase's keys are unrelated to those of any other use (a BIP39 wallet seed uses
PBKDF2 with salt "mnemonic") and to version 1's. The 64 bytes are one HKDF-Expand output,
whose two halves are independent pseudorandom strings.

The entropy, not the typed text, is hashed, so spacing and letter case never change the keys.
Measured on a 2-vCPU machine: HKDF takes about 25 µs; a whole version 2 derivation, whose
cost is the identity's ML-KEM key expansion, about 5 ms (natively) and 50–80 ms with the web
page's JavaScript libraries in node ``--jitless``; version 1 about 0.1 s natively.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mnemonic import Mnemonic

from vault import age

__all__ = [
    "ARGON2_MEMORY_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "CODENAME_SALT",
    "CODENAME_VERSIONS",
    "CODENAME_WORDS",
    "CURRENT_VERSION",
    "HKDF_INFO",
    "HKDF_SALT",
    "CodenameError",
    "CodenameKeys",
    "check_codename",
    "codename_entropy",
    "derive",
    "derive_all",
    "mailbox_id_for",
    "new_codename",
]

CODENAME_WORDS = 12
# Version 1 (Argon2id), kept for reading replies to reply addresses derived with it.
CODENAME_SALT = b"amanat/codename/v1"
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 4
# Version 2 (HKDF-SHA256), what every new reply address uses.
HKDF_SALT: Final = b"amanat/codename/v2"
HKDF_INFO: Final = b"amanat/codename/v2 reply+mailbox"
CURRENT_VERSION: Final = 2
CODENAME_VERSIONS: Final = (2, 1)  # newest first: the order readers ask mailboxes in
_ENTROPY_BITS = 128
_OKM_BYTES = 64

_BIP39 = Mnemonic("english")
_WORDS = frozenset(_BIP39.wordlist)


class CodenameError(ValueError):
    """The text is not a valid codename; the message says which word to fix.

    ``code`` is ``count`` (not 12 words), ``word`` (word ``position``, counted from 1, is not
    in the list) or ``checksum``; the web page maps the same codes to its own messages.
    """

    def __init__(self, message: str, code: str, position: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.position = position


@dataclass(frozen=True)
class CodenameKeys:
    """Everything a codename unlocks. ``repr`` never shows the secrets."""

    reply_identity: age.MLKEM768X25519Identity = field(repr=False)
    mailbox_secret: bytes = field(repr=False)
    mailbox_id: str
    version: int = CURRENT_VERSION


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
            f"a codename has {CODENAME_WORDS} words; this has {len(words)}", "count"
        )
    for position, word in enumerate(words, start=1):
        if word not in _WORDS:
            # The word itself is never echoed: error text ends up on screens, in
            # screenshots and in terminal scrollback, and each word is part of the secret.
            raise CodenameError(f"word {position} is not in the word list", "word", position)
    canonical = " ".join(words)
    if not _BIP39.check(canonical):
        raise CodenameError("checksum failed: a word is mistyped or out of order", "checksum")
    return canonical


def mailbox_id_for(mailbox_secret: bytes) -> str:
    """The public name of a mailbox: hex SHA-256 of its secret (what the server stores)."""
    return hashlib.sha256(mailbox_secret).hexdigest()


def codename_entropy(codename: str) -> bytes:
    """The 16 bytes of entropy a codename's words encode (the codename is checked first)."""
    return bytes(_BIP39.to_entropy(check_codename(codename)))


def _okm_v1(entropy: bytes) -> bytes:
    return hash_secret_raw(
        secret=entropy,
        salt=CODENAME_SALT,
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        hash_len=_OKM_BYTES,
        type=Type.ID,
    )


def _okm_v2(entropy: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_OKM_BYTES, salt=HKDF_SALT,
                info=HKDF_INFO).derive(entropy)


def derive(codename: str, version: int = CURRENT_VERSION) -> CodenameKeys:
    """Derive the reply identity and mailbox secret from a codename (checked first).

    ``version`` 2 (the default) is what new reply addresses use; version 1 only reads
    replies to reply addresses made before it. ValueError for any other version.
    """
    if version not in CODENAME_VERSIONS:
        raise ValueError(f"unknown codename derivation version {version}")
    entropy = codename_entropy(codename)
    okm = _okm_v2(entropy) if version == 2 else _okm_v1(entropy)
    identity_seed, mailbox_secret = okm[:32], okm[32:]
    return CodenameKeys(
        reply_identity=age.MLKEM768X25519Identity.from_seed(identity_seed),
        mailbox_secret=mailbox_secret,
        mailbox_id=mailbox_id_for(mailbox_secret),
        version=version,
    )


def derive_all(codename: str) -> list[CodenameKeys]:
    """The keys of every derivation version, newest first: what a reader of replies asks
    the server about, since a codename may have made reply addresses with either."""
    canonical = check_codename(codename)
    return [derive(canonical, version) for version in CODENAME_VERSIONS]
