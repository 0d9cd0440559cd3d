"""Passphrase-protected key files: the one at-rest format for every private key in ``keys``.

Protects: a stolen or seized key file is useless without its passphrase, and a damaged or
altered file is refused, never opened into a different key.

Format (ASCII text, exactly four lines, each ending in ``\\n``, nothing else)::

    <kind>                                          e.g. amanat.identity/v2, amanat.org-key/v2
    $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>
    <nonce>
    <ciphertext>

* line 2 is a PHC-style string: Argon2id version 0x13 (RFC 9106) with memory ``m`` in KiB,
  ``t`` passes and ``p`` lanes, and a 16-to-64-byte salt in standard base64 without padding.
  The parameters live in the file so they can be raised later (``amanat keys passwd``
  re-encrypts with the current defaults);
* line 3 is the 24-byte XChaCha20-Poly1305 nonce, standard base64 with padding;
* line 4 is ``XChaCha20-Poly1305(key, nonce, plaintext, aad=header)`` in standard base64 with
  padding, where ``key = Argon2id(NFC(passphrase) as UTF-8, salt, t, m, p, 32 bytes)`` and
  ``header`` is the exact bytes of lines 1 to 3 including their newlines.

Every field is parsed strictly (decimal numbers without leading zeros, canonical base64), so
any change to the header either fails to parse or changes the associated data, and any change
to the ciphertext fails authentication: a modified file never opens.

Parameters read from a file are bounded (m ≤ 4 GiB, t ≤ 100, p ≤ 64) so a crafted file cannot
make a machine spend unbounded memory or time; new files use :data:`DEFAULT_KDF`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw

from keys._text import b64decode_strict, b64encode
from keys.errors import KeyFileError, KeysError, UnlockError

KEY_BYTES = 32
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
SALT_BYTES = 16
MIN_SALT_BYTES = 16
MAX_SALT_BYTES = 64
MAX_MEMORY_KIB = 4 * 1024 * 1024
MAX_ITERATIONS = 100
MAX_PARALLELISM = 64
# Largest file accepted by ``open_key_file`` (a real key file is well under 1 KiB).
MAX_FILE_BYTES = 64 * 1024

_PHC = re.compile(
    r"\$argon2id\$v=19\$m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,9})"
    r"\$([A-Za-z0-9+/]+)"
)
_KIND = re.compile(r"amanat\.[a-z0-9-]+/v[1-9][0-9]*")
# What the key file kinds amanat writes are called in messages.
_KIND_NAMES = {
    "amanat.identity/v1": "an investigator identity file",
    "amanat.identity/v2": "an investigator identity file",
    "amanat.org-key/v1": "an organization key file",
    "amanat.org-key/v2": "an organization key file",
    "amanat.cosigner-key/v1": "a cosigner key file",
}
# First lines of other files that are given where a key file is expected.
_OTHER_FILES = (
    ("amanat.card/", "an investigator's public card, which holds no private key"),
    ("amanat.roster/", "a roster"),
    ("age-encryption.org/", "an age-encrypted file"),
    ("-----BEGIN AGE ENCRYPTED FILE-----", "an age-encrypted file"),
    ("AGE-SECRET-KEY-", "a raw age identity, which amanat keeps only inside key files"),
    ("# created: ", "a raw age identity, which amanat keeps only inside key files"),
)


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters: memory in KiB, passes, lanes (RFC 9106 §3.1)."""

    memory_kib: int
    iterations: int
    parallelism: int

    def __post_init__(self) -> None:
        if not 1 <= self.parallelism <= MAX_PARALLELISM:
            raise KeyFileError(f"Argon2 parallelism must be between 1 and {MAX_PARALLELISM}")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise KeyFileError(f"Argon2 passes must be between 1 and {MAX_ITERATIONS}")
        if not 8 * self.parallelism <= self.memory_kib <= MAX_MEMORY_KIB:
            raise KeyFileError(
                f"Argon2 memory must be between 8 KiB per lane and {MAX_MEMORY_KIB} KiB"
            )

    def phc(self, salt: bytes) -> str:
        """The PHC-style parameter string recorded on line 2 of a key file."""
        return (
            f"$argon2id$v=19$m={self.memory_kib},t={self.iterations},p={self.parallelism}"
            f"${b64encode(salt, padded=False)}"
        )


# RFC 9106 §4 second recommended option is m=64 MiB, t=3, p=4. These defaults keep t=3 and
# p=4 and spend four times that memory, which still unlocks in about half a second on two
# cores (bench/keys_bench.py measures it).
DEFAULT_KDF = KdfParams(memory_kib=256 * 1024, iterations=3, parallelism=4)


def derive_file_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id(NFC(passphrase), salt) -> 32-byte key. The passphrase is never logged."""
    try:
        secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes from a terminal or the environment
        # The codec's message would quote the offending character and its position.
        raise KeyFileError("the passphrase is not valid UTF-8 text") from None
    try:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=params.iterations,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=KEY_BYTES,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError as exc:  # e.g. not enough memory for the recorded parameters
        raise KeyFileError(
            f"Argon2id failed with m={params.memory_kib} KiB, t={params.iterations}, "
            f"p={params.parallelism}: {exc}"
        ) from None


def seal_key_file(kind: str, plaintext: bytes, passphrase: str, params: KdfParams) -> bytes:
    """Encrypt ``plaintext`` under ``passphrase`` into a key file of the given kind."""
    if not _KIND.fullmatch(kind):
        raise KeyFileError(f"invalid key file kind {kind!r}")
    if not passphrase:
        raise KeysError("the passphrase is empty")
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    header = f"{kind}\n{params.phc(salt)}\n{b64encode(nonce)}\n".encode("ascii")
    key = derive_file_key(passphrase, salt, params)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, header, nonce, key
    )
    return header + b64encode(ciphertext).encode("ascii") + b"\n"


def key_file_kind(data: bytes) -> str | None:
    """The first line of ``data`` if it names a key file kind, else None (no decryption)."""
    first, _, _ = data[:128].partition(b"\n")
    try:
        text = first.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _KIND.fullmatch(text) else None


@dataclass(frozen=True)
class _ParsedKeyFile:
    header: bytes
    params: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _kind_name(kind: str) -> str:
    return f"{_KIND_NAMES.get(kind, 'a key file')} ({kind})"


def describe_amanat_file(data: bytes) -> str | None:
    """What ``data`` is, in words, if it is a file amanat writes (a key file, a card, a
    roster), else None: for messages when such a file is given where another is expected."""
    kind = key_file_kind(data)
    if kind in _KIND_NAMES:
        return _kind_name(kind)
    return _other_file(data) if data.startswith(b"amanat.") else None


def _other_file(data: bytes) -> str | None:
    """What ``data`` is, if it is one of the other files amanat or age writes."""
    first = data[:128].partition(b"\n")[0].decode("utf-8", "replace")
    for prefix, what in _OTHER_FILES:
        if first.startswith(prefix):
            return what
    return None


def _parse(data: bytes, kind: str) -> _ParsedKeyFile:
    if len(data) > MAX_FILE_BYTES:
        raise KeyFileError("not a key file: too large")
    # Named before anything else: a public card whose name is in any script but Latin is
    # UTF-8, and would otherwise be called a malformed key file.
    other = _other_file(data)
    if other is not None:
        raise KeyFileError(f"not a key file: this is {other}; expected {_kind_name(kind)}")
    found = key_file_kind(data)
    if found is None:
        raise KeyFileError(f"not a key file: expected {_kind_name(kind)}")
    if found != kind:
        raise KeyFileError(
            f"wrong kind of key file: this is {_kind_name(found)}; expected {_kind_name(kind)}"
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError("malformed key file: not ASCII text") from None
    lines = text.split("\n")
    if len(lines) != 5 or lines[4] != "":
        raise KeyFileError("malformed key file: expected exactly four lines (truncated?)")
    phc = _PHC.fullmatch(lines[1])
    if phc is None:
        raise KeyFileError("malformed key file: line 2 is not an Argon2id parameter string")
    salt = b64decode_strict(phc.group(4), padded=False)
    if salt is None or not MIN_SALT_BYTES <= len(salt) <= MAX_SALT_BYTES:
        raise KeyFileError("malformed key file: bad Argon2 salt")
    memory, iterations, parallelism = (int(phc.group(i)) for i in (1, 2, 3))
    try:
        params = KdfParams(memory, iterations, parallelism)
    except KeyFileError as exc:
        raise KeyFileError(f"unsupported key file parameters: {exc}") from None
    nonce = b64decode_strict(lines[2])
    if nonce is None or len(nonce) != NONCE_BYTES:
        raise KeyFileError("malformed key file: bad nonce on line 3")
    ciphertext = b64decode_strict(lines[3])
    if (
        ciphertext is None
        or len(ciphertext) < nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
    ):
        raise KeyFileError("malformed key file: bad ciphertext on line 4 (truncated?)")
    header = "\n".join(lines[:3]).encode("ascii") + b"\n"
    return _ParsedKeyFile(header, params, salt, nonce, ciphertext)


def key_file_params(data: bytes, kind: str) -> KdfParams:
    """The Argon2id parameters recorded in a key file (parsed strictly, not decrypted)."""
    return _parse(data, kind).params


def open_key_file(data: bytes, kind: str, passphrase: str) -> bytes:
    """Decrypt a key file of the given kind and return its plaintext.

    Raises ``KeyFileError`` when the file is malformed, truncated or of another kind, and
    ``UnlockError`` when it is well formed but the passphrase is wrong or the file was altered
    (the two cannot be told apart, by design of authenticated encryption).
    """
    parsed = _parse(data, kind)
    key = derive_file_key(passphrase, parsed.salt, parsed.params)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            parsed.ciphertext, parsed.header, parsed.nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise UnlockError(
            "cannot unlock the key file: wrong passphrase, or the file was altered"
        ) from None
