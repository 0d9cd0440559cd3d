"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 and ML-DSA-44 signatures.

One signature format for everything amanat signs: the organization's roster and the log's
checkpoints. The property protected is authenticity: `open_note` returns a text only if at
least one signature by a key the caller already trusts verifies over exactly that text (or,
with ``require_all``, a signature by *every* trusted key: how a hybrid key's two halves are
both required), and it rejects the whole note if any signature that claims to come from a
trusted key is forged.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines::

    — <key name> base64(4-byte key id || 64-byte Ed25519 signature)

The text is separated from the signatures at the *last* blank line. Signatures from unknown
keys (a name and key id that match no given verifier) are ignored, never trusted. Key ids are
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; verifier keys are written
``name+hexid+base64(0x01 || public key)`` and private keys, as in Go's
``golang.org/x/mod/sumdb/note``, ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)``.

The post-quantum half of a key is ML-DSA-44 (FIPS 204, pure, empty context) over the same
note text. signed-note assigns it no type byte, so it takes the spec's escape for such types:
``0xFF`` followed by the identifier ``amanat/ml-dsa-44``. Key id
``SHA-256(name || 0x0A || 0xFF || "amanat/ml-dsa-44" || public key)[:4]``, verifier key
``name+hexid+base64(0xFF || "amanat/ml-dsa-44" || 1312-byte public key)``, signature line
``— <name> base64(key id || 2420-byte signature)``. A hybrid key is an Ed25519 key and an
ML-DSA-44 key under one name; its public form is the two verifier keys, Ed25519 first,
separated by one space (`HybridVerifier`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

__all__ = [
    "MAX_SIGNATURES",
    "AnySigner",
    "AnyVerifier",
    "HybridSigner",
    "HybridVerifier",
    "InvalidSignatureError",
    "KeyIdMismatchError",
    "MLDSASigner",
    "MLDSAVerifier",
    "MissingSignatureError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type byte for Ed25519 in key ids, verifier keys and private keys."""

MAX_SIGNATURES = 100
"""A note with more signature lines than this is rejected (the spec requires at least 16)."""

KEY_ID_SIZE = 4
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SEED_SIZE = 32
ED25519_SIGNATURE_SIZE = 64

MLDSA44_TYPE = b"\xffamanat/ml-dsa-44"
"""Signature type of ML-DSA-44 note signatures: 0xFF, then an identifier (signed-note)."""
MLDSA44_PUBLIC_KEY_SIZE = 1312
MLDSA44_SIGNATURE_SIZE = 2420
MLDSA44_SEED_SIZE = 32

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A malformed note, key, key name or signature line."""


class KeyIdMismatchError(NoteError):
    """A verifier key's key id does not match its name and public key: a typo, a damaged
    copy or a substituted key."""


class UnverifiedNoteError(NoteError):
    """No signature by any of the trusted verifiers verifies over the note text."""


class InvalidSignatureError(UnverifiedNoteError):
    """A signature that names a trusted key (name and key id) does not verify: a forgery."""


class MissingSignatureError(UnverifiedNoteError):
    """A trusted key that must have signed (``require_all``) has no signature on the note:
    for a hybrid key, a note signed by only one of its two halves."""


def _is_valid_name(name: str) -> bool:
    return (
        name != ""
        and "+" not in name
        and not any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
        and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in name)  # not encodable as UTF-8
    )


def _check_name(name: str) -> None:
    if not _is_valid_name(name):
        raise NoteError(
            f"invalid key name {name!r}: it must be non-empty, without spaces, '+' or control "
            "characters"
        )


def key_id(name: str, alg: int | bytes, public_key: bytes) -> bytes:
    """Return the 4-byte key id ``SHA-256(name || 0x0A || alg || public_key)[:4]`` (``alg``
    a type byte, or the bytes of a longer type such as :data:`MLDSA44_TYPE`)."""
    kind = bytes([alg]) if isinstance(alg, int) else alg
    return hashlib.sha256(name.encode() + b"\n" + kind + public_key).digest()[:KEY_ID_SIZE]


def _b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard padded base64, rejecting anything that does not re-encode identically."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _parse_key_id_hex(text: str, what: str) -> bytes:
    if len(text) != 2 * KEY_ID_SIZE or any(ch not in "0123456789abcdef" for ch in text):
        raise NoteError(f"{what}: the key id must be 8 lowercase hexadecimal digits")
    return bytes.fromhex(text)


def _split_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """A verifier key's name, claimed key id and decoded key (type and public key)."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key has the form name+hexid+base64key")
    name, id_hex, key_b64 = parts
    _check_name(name)
    claimed_id = _parse_key_id_hex(id_hex, "verifier key")
    return name, claimed_id, _b64decode_canonical(key_b64, "verifier key")


def _check_key_id(key_id_: bytes, claimed_id: bytes) -> None:
    if key_id_ != claimed_id:
        # The right id is not named: copying it in would pin the mistyped key.
        raise KeyIdMismatchError(
            f"verifier key id {claimed_id.hex()} does not match its name and public key "
            "(a character is wrong, missing or extra)"
        )


class Verifier:
    """A trusted Ed25519 public key with its name and key id."""

    __slots__ = ("_verify_key", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise NoteError(
                f"an Ed25519 public key is {ED25519_PUBLIC_KEY_SIZE} bytes, not {len(public_key)}"
            )
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, ALG_ED25519, self.public_key)
        self._verify_key = nacl.signing.VerifyKey(self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse a verifier key ``name+hexid+base64(0x01 || public key)``.

        Raises NoteError if the form is wrong or the type is not Ed25519, and
        KeyIdMismatchError (a NoteError) if the key id does not match the name and key (a
        typo or a substituted key).
        """
        name, claimed_id, key = _split_vkey(vkey)
        if len(key) != 1 + ED25519_PUBLIC_KEY_SIZE or key[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        verifier = cls(name, key[1:])
        _check_key_id(verifier.key_id, claimed_id)
        return verifier

    def vkey(self) -> str:
        """Return the verifier key string ``name+hexid+base64(0x01 || public key)``."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid Ed25519 signature of ``text``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._verify_key.verify(text, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return self.name == other.name and self.public_key == other.public_key

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))

    def __repr__(self) -> str:
        return f"Verifier({self.vkey()!r})"


def _split_private_key(text: str) -> tuple[str, bytes, bytes]:
    """A private key string's name, claimed key id and decoded key; messages never hold
    the key material."""
    if not text.startswith(_PRIVATE_KEY_PREFIX):
        raise NoteError("a private key string starts with PRIVATE+KEY+")
    parts = text[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise NoteError("a private key string has the form PRIVATE+KEY+name+hexid+base64key")
    name, id_hex, key_b64 = parts
    _check_name(name)
    claimed_id = _parse_key_id_hex(id_hex, "private key")
    try:
        raw = base64.b64decode(key_b64.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError("private key is not valid base64") from None
    return name, claimed_id, raw


class Signer:
    """An Ed25519 signing key with its name and key id."""

    __slots__ = ("_signing_key", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, signing_key: nacl.signing.SigningKey) -> None:
        _check_name(name)
        self.name = name
        self._signing_key = signing_key
        self.public_key = bytes(signing_key.verify_key)
        self.key_id = key_id(name, ALG_ED25519, self.public_key)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Create a signer with a fresh random key."""
        return cls(name, nacl.signing.SigningKey.generate())

    @classmethod
    def from_private_key_string(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)`` (Go note format).

        The error messages never contain the key material.
        """
        name, claimed_id, raw = _split_private_key(text)
        if len(raw) != 1 + ED25519_SEED_SIZE or raw[0] != ALG_ED25519:
            raise NoteError("private key is not an Ed25519 key (type 0x01, 32-byte seed)")
        signer = cls(name, nacl.signing.SigningKey(raw[1:]))
        if signer.key_id != claimed_id:
            raise NoteError("private key id does not match its name and key")
        return signer

    def private_key_string(self) -> str:
        """Return ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)``. This is a secret."""
        seed = bytes(self._signing_key)
        encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> Verifier:
        """Return the matching verifier."""
        return Verifier(self.name, self.public_key)

    def vkey(self) -> str:
        """Return the verifier key string ``name+hexid+base64(0x01 || public key)``."""
        return self.verifier().vkey()

    def sign(self, text: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``text``."""
        return bytes(self._signing_key.sign(text).signature)

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, key_id={self.key_id.hex()})"


class MLDSAVerifier:
    """A trusted ML-DSA-44 public key with its name and key id (the post-quantum half of a
    hybrid key)."""

    __slots__ = ("_public_key", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != MLDSA44_PUBLIC_KEY_SIZE:
            raise NoteError(
                f"an ML-DSA-44 public key is {MLDSA44_PUBLIC_KEY_SIZE} bytes, not "
                f"{len(public_key)}"
            )
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, MLDSA44_TYPE, self.public_key)
        self._public_key = mldsa.MLDSA44PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> MLDSAVerifier:
        """Parse ``name+hexid+base64(0xFF || "amanat/ml-dsa-44" || public key)``."""
        name, claimed_id, key = _split_vkey(vkey)
        if len(key) != len(MLDSA44_TYPE) + MLDSA44_PUBLIC_KEY_SIZE or not key.startswith(
            MLDSA44_TYPE
        ):
            raise NoteError("verifier key is not an ML-DSA-44 key (type 0xFF amanat/ml-dsa-44)")
        verifier = cls(name, key[len(MLDSA44_TYPE) :])
        _check_key_id(verifier.key_id, claimed_id)
        return verifier

    def vkey(self) -> str:
        """Return ``name+hexid+base64(0xFF || "amanat/ml-dsa-44" || public key)``."""
        encoded = base64.b64encode(MLDSA44_TYPE + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid ML-DSA-44 signature of ``text``."""
        if len(signature) != MLDSA44_SIGNATURE_SIZE:
            return False
        try:
            self._public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MLDSAVerifier):
            return NotImplemented
        return self.name == other.name and self.public_key == other.public_key

    def __hash__(self) -> int:
        return hash((self.name, self.public_key, MLDSA44_TYPE))

    def __repr__(self) -> str:
        return f"MLDSAVerifier({self.name!r}, key_id={self.key_id.hex()})"


class MLDSASigner:
    """An ML-DSA-44 signing key (from its 32-byte FIPS 204 seed) with its name and key id.
    ``repr()`` hides the key."""

    __slots__ = ("_private_key", "_seed", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != MLDSA44_SEED_SIZE:
            raise NoteError(f"an ML-DSA-44 seed is {MLDSA44_SEED_SIZE} bytes")
        self.name = name
        self._seed = bytes(seed)
        self._private_key = mldsa.MLDSA44PrivateKey.from_seed_bytes(seed)
        self.public_key = self._private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, MLDSA44_TYPE, self.public_key)

    def verifier(self) -> MLDSAVerifier:
        return MLDSAVerifier(self.name, self.public_key)

    def vkey(self) -> str:
        return self.verifier().vkey()

    def sign(self, text: bytes) -> bytes:
        """Return the 2420-byte ML-DSA-44 signature of ``text`` (hedged, empty context)."""
        return self._private_key.sign(text)

    def private_key_string(self) -> str:
        """``PRIVATE+KEY+name+hexid+base64(0xFF || "amanat/ml-dsa-44" || seed)``. A secret."""
        encoded = base64.b64encode(MLDSA44_TYPE + self._seed).decode("ascii")
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"MLDSASigner({self.name!r}, key_id={self.key_id.hex()})"


AnyVerifier = Verifier | MLDSAVerifier
AnySigner = Signer | MLDSASigner


def parse_vkey(vkey: str) -> AnyVerifier:
    """Parse a verifier key of either type (Ed25519 or ML-DSA-44)."""
    _, _, key = _split_vkey(vkey)
    if key.startswith(MLDSA44_TYPE):
        return MLDSAVerifier.from_vkey(vkey)
    return Verifier.from_vkey(vkey)


class HybridVerifier:
    """One key's public form: its Ed25519 half and, for a hybrid key, its ML-DSA-44 half
    (same name). Opening a note or checkpoint with it requires a signature by every half it
    has, so a hybrid key's note signed by one half only is refused."""

    __slots__ = ("classical", "post_quantum")

    classical: Verifier
    post_quantum: MLDSAVerifier | None

    def __init__(self, classical: Verifier, post_quantum: MLDSAVerifier | None = None) -> None:
        if post_quantum is not None and post_quantum.name != classical.name:
            raise NoteError(
                f"the two halves of a key have different names ({classical.name!r} and "
                f"{post_quantum.name!r})"
            )
        self.classical = classical
        self.post_quantum = post_quantum

    @classmethod
    def from_vkey(cls, text: str) -> HybridVerifier:
        """Parse an Ed25519 verifier key, optionally followed by one space and the ML-DSA-44
        verifier key of the same name."""
        parts = text.split(" ")
        if len(parts) > 2:
            raise NoteError(
                "a key's public form is one Ed25519 verifier key, or it and an ML-DSA-44 "
                "verifier key separated by one space"
            )
        classical = Verifier.from_vkey(parts[0])
        return cls(classical, MLDSAVerifier.from_vkey(parts[1]) if len(parts) == 2 else None)

    @property
    def name(self) -> str:
        return self.classical.name

    @property
    def is_hybrid(self) -> bool:
        return self.post_quantum is not None

    def verifiers(self) -> list[AnyVerifier]:
        """Every half, Ed25519 first."""
        halves: list[AnyVerifier] = [self.classical]
        if self.post_quantum is not None:
            halves.append(self.post_quantum)
        return halves

    def vkey(self) -> str:
        """The public form: the Ed25519 vkey, then (hybrid) a space and the ML-DSA-44 vkey."""
        return " ".join(v.vkey() for v in self.verifiers())

    def open(self, note: str | bytes) -> Note:
        """``open_note`` requiring a signature by every half of this key."""
        return open_note(note, self.verifiers(), require_all=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HybridVerifier):
            return NotImplemented
        return (self.classical, self.post_quantum) == (other.classical, other.post_quantum)

    def __hash__(self) -> int:
        return hash((self.classical, self.post_quantum))

    def __repr__(self) -> str:
        return f"HybridVerifier({self.name!r}, hybrid={self.is_hybrid})"


class HybridSigner:
    """A key's Ed25519 signer and (hybrid) its ML-DSA-44 signer, under one name: what signs
    the log's checkpoints. Its private form is one private key string per half, one a line,
    Ed25519 first; a file with the Ed25519 line alone is an older, classical key."""

    __slots__ = ("classical", "post_quantum")

    classical: Signer
    post_quantum: MLDSASigner | None

    def __init__(self, classical: Signer, post_quantum: MLDSASigner | None = None) -> None:
        if post_quantum is not None and post_quantum.name != classical.name:
            raise NoteError("the two halves of a key have different names")
        self.classical = classical
        self.post_quantum = post_quantum

    @classmethod
    def generate(cls, name: str) -> HybridSigner:
        """A new hybrid key."""
        return cls(Signer.generate(name), MLDSASigner(name, os.urandom(MLDSA44_SEED_SIZE)))

    @classmethod
    def from_private_key_string(cls, text: str) -> HybridSigner:
        """Parse one or two private key strings, one a line (Ed25519, then ML-DSA-44)."""
        lines = text.split("\n")
        if len(lines) > 2:
            raise NoteError("a key has at most two private key lines")
        classical = Signer.from_private_key_string(lines[0])
        if len(lines) == 1:
            return cls(classical)
        name, claimed_id, raw = _split_private_key(lines[1])
        if len(raw) != len(MLDSA44_TYPE) + MLDSA44_SEED_SIZE or not raw.startswith(MLDSA44_TYPE):
            raise NoteError("the second private key is not an ML-DSA-44 key")
        post_quantum = MLDSASigner(name, raw[len(MLDSA44_TYPE) :])
        if post_quantum.key_id != claimed_id:
            raise NoteError("private key id does not match its name and key")
        return cls(classical, post_quantum)

    def private_key_string(self) -> str:
        """The private key lines (no final newline). This is a secret."""
        return "\n".join(signer.private_key_string() for signer in self.signers())

    def with_post_quantum_half(self) -> HybridSigner:
        """This key with a new ML-DSA-44 half (the Ed25519 half kept)."""
        if self.post_quantum is not None:
            raise NoteError("the key already has an ML-DSA-44 half")
        name = self.classical.name
        return HybridSigner(self.classical, MLDSASigner(name, os.urandom(MLDSA44_SEED_SIZE)))

    @classmethod
    def of(cls, signer: Signer | HybridSigner) -> HybridSigner:
        """``signer`` as a HybridSigner (an Ed25519 signer alone: a classical key)."""
        return signer if isinstance(signer, HybridSigner) else cls(signer)

    @property
    def name(self) -> str:
        return self.classical.name

    def signers(self) -> tuple[AnySigner, ...]:
        """Every half's signer, Ed25519 first."""
        if self.post_quantum is None:
            return (self.classical,)
        return self.classical, self.post_quantum

    def verifier(self) -> HybridVerifier:
        return HybridVerifier(self.classical.verifier(),
                              None if self.post_quantum is None else self.post_quantum.verifier())

    def vkey(self) -> str:
        """The public form: the Ed25519 vkey, then (hybrid) a space and the ML-DSA-44 vkey."""
        return self.verifier().vkey()

    def __repr__(self) -> str:
        return f"HybridSigner({self.name!r}, hybrid={self.post_quantum is not None})"


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and id, and the signature bytes after the id."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """Return the signature line, with its final newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text and which signatures verified or came from unknown keys."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def _check_note_characters(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8") from exc
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"{what} contains the control character U+{ord(ch):04X}")
    return text


def sign_note(text: str, *signers: AnySigner) -> str:
    """Sign ``text`` with each signer and return the signed note.

    ``text`` must be UTF-8 encodable, end in a newline and contain no control characters other
    than newline; it may contain blank lines.
    """
    if not signers:
        raise NoteError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note can carry at most {MAX_SIGNATURES} signatures")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError("note text is not valid Unicode") from exc
    _check_note_characters(data, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    lines = [Signature(s.name, s.key_id, s.sign(data)).line() for s in signers]
    return text + "\n" + "".join(lines)


def _index_verifiers(
    verifiers: Sequence[AnyVerifier],
) -> dict[tuple[str, bytes], AnyVerifier]:
    known: dict[tuple[str, bytes], AnyVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        previous = known.get(slot)
        if previous is not None and previous != verifier:
            raise NoteError(
                f"two different trusted keys share the name {verifier.name!r} and key id "
                f"{verifier.key_id.hex()}"
            )
        known[slot] = verifier
    return known


def open_note(
    note: str | bytes, verifiers: Sequence[AnyVerifier], *, require_all: bool = False
) -> Note:
    """Check a signed note against trusted verifiers and return its text and signatures.

    Raises NoteError if the note is malformed, InvalidSignatureError if a signature claiming a
    trusted key is forged, and UnverifiedNoteError if no trusted key signed it. With
    ``require_all``, every verifier must have signed (MissingSignatureError names the first
    that did not): the default policy for a hybrid key's two halves.
    """
    if isinstance(note, str):
        try:
            data = note.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise NoteError("note is not valid Unicode") from exc
    else:
        data = bytes(note)
    _check_note_characters(data, "note")
    known = _index_verifiers(verifiers)

    split = data.rfind(b"\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text_bytes, signature_block = data[: split + 1], data[split + 2 :]
    if not signature_block.endswith(b"\n"):
        raise NoteError("note has no signature lines, or its last line lacks a newline")

    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen_known: set[tuple[str, bytes]] = set()
    seen_unknown: set[Signature] = set()
    lines = signature_block.decode("utf-8").split("\n")[:-1]
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signature lines; at most {MAX_SIGNATURES}")
    for number, line in enumerate(lines, start=1):
        signature = _parse_signature_line(line, number)
        slot = (signature.name, signature.key_id)
        verifier = known.get(slot)
        if verifier is None:
            if signature not in seen_unknown:
                seen_unknown.add(signature)
                unverified.append(signature)
            continue
        if slot in seen_known:
            continue
        seen_known.add(slot)
        if not verifier.verify(text_bytes, signature.signature):
            raise InvalidSignatureError(
                f"the signature by trusted key {signature.name} ({signature.key_id.hex()}) "
                "does not verify: the note was altered or forged"
            )
        verified.append(signature)

    if not verified:
        names = ", ".join(sorted({v.name for v in known.values()})) or "none given"
        raise UnverifiedNoteError(f"note is not signed by any trusted key (trusted: {names})")
    if require_all:
        for slot, verifier in known.items():
            if slot not in seen_known:
                kind = "ML-DSA-44" if isinstance(verifier, MLDSAVerifier) else "Ed25519"
                raise MissingSignatureError(
                    f"the note lacks the {kind} signature of {verifier.name} "
                    f"({verifier.key_id.hex()}): both halves of the key must sign"
                )
    return Note(text_bytes.decode("utf-8"), tuple(verified), tuple(unverified))


def _parse_signature_line(line: str, number: int) -> Signature:
    where = f"signature line {number}"
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"{where} does not start with an em dash and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or not encoded:
        raise NoteError(f"{where} lacks a signature after the key name")
    if not _is_valid_name(name):
        raise NoteError(f"{where} has an invalid key name")
    raw = _b64decode_canonical(encoded, where)
    if len(raw) <= KEY_ID_SIZE:
        raise NoteError(f"{where} is too short to hold a key id and a signature")
    return Signature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])
