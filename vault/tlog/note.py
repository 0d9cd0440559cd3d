"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures.

One signature format for everything amanat signs: the organization's roster and the log's
checkpoints. The property protected is authenticity: `open_note` returns a text only if at
least one signature by a key the caller already trusts verifies over exactly that text, and it
rejects the whole note if any signature that claims to come from a trusted key is forged.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature lines::

    — <key name> base64(4-byte key id || 64-byte Ed25519 signature)

The text is separated from the signatures at the *last* blank line. Signatures from unknown
keys (a name and key id that match no given verifier) are ignored, never trusted. Key ids are
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; verifier keys are written
``name+hexid+base64(0x01 || public key)`` and private keys, as in Go's
``golang.org/x/mod/sumdb/note``, ``PRIVATE+KEY+name+hexid+base64(0x01 || seed)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

__all__ = [
    "MAX_SIGNATURES",
    "InvalidSignatureError",
    "KeyIdMismatchError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "key_id",
    "open_note",
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


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """Return the 4-byte key id ``SHA-256(name || 0x0A || alg || public_key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:KEY_ID_SIZE]


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
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key has the form name+hexid+base64key")
        name, id_hex, key_b64 = parts
        _check_name(name)
        claimed_id = _parse_key_id_hex(id_hex, "verifier key")
        key = _b64decode_canonical(key_b64, "verifier key")
        if len(key) != 1 + ED25519_PUBLIC_KEY_SIZE or key[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        verifier = cls(name, key[1:])
        if verifier.key_id != claimed_id:
            # The right id is not named: copying it in would pin the mistyped key.
            raise KeyIdMismatchError(
                f"verifier key id {id_hex} does not match its name and public key "
                "(a character is wrong, missing or extra)"
            )
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


def sign_note(text: str, *signers: Signer) -> str:
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


def _index_verifiers(verifiers: Sequence[Verifier]) -> dict[tuple[str, bytes], Verifier]:
    known: dict[tuple[str, bytes], Verifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        previous = known.get(slot)
        if previous is not None and previous.public_key != verifier.public_key:
            raise NoteError(
                f"two different trusted keys share the name {verifier.name!r} and key id "
                f"{verifier.key_id.hex()}"
            )
        known[slot] = verifier
    return known


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> Note:
    """Check a signed note against trusted verifiers and return its text and signatures.

    Raises NoteError if the note is malformed, InvalidSignatureError if a signature claiming a
    trusted key is forged, and UnverifiedNoteError if no trusted key signed it.
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
