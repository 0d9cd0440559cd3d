"""C2SP tlog-cosignature (Ed25519 ``cosignature/v1`` and ML-DSA-44 ``subtree/v1``): a
cosigner's word that a checkpoint is consistent with everything it has seen of that log.

A cosigner (a partner organization running ``amanat cosigner``) checks each new checkpoint
of the log against the last one it cosigned, with a consistency proof, and only then signs.
A client that requires cosignatures from cosigners it trusts cannot be shown a history the
log showed nobody else (a fork) without those cosigners refusing it. See
c2sp.org/tlog-cosignature and c2sp.org/tlog-witness.

Formats (all strict: one encoding for each value). Two key types, each with its own type
byte ``t`` (0x04 Ed25519, 0x06 ML-DSA-44, FIPS 204, empty context):

* key id: ``SHA-256(name || 0x0A || t || public key)[:4]``;
* verifier key (vkey): ``name+hexid+base64(t || public key)`` (32 or 1312 bytes of key);
* Ed25519 signed message: ``cosignature/v1\\ntime <T>\\n`` followed by the whole checkpoint
  body (with its extension lines and final newline, without signature lines), where ``T``
  is the timestamp in seconds since the Epoch, decimal, without leading zeroes;
* ML-DSA-44 signed message: ``"subtree/v1\\n\\0" || u8 len || cosigner name || u64 T ||
  u8 len || origin || u64 0 || u64 tree size || root hash`` (big-endian; extension lines are
  not signed);
* signature line: ``— <name> base64(key id || T as 8 bytes big-endian || signature)``, 76
  bytes (Ed25519) or 2432 bytes (ML-DSA-44) before base64.

A cosignature is an ordinary signed-note signature line: it is appended to the checkpoint
note, and ``vault.tlog.note.open_note`` ignores it (its key id is of another type).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from vault.tlog.checkpoint import Checkpoint, CheckpointError
from vault.tlog.note import (
    ED25519_PUBLIC_KEY_SIZE,
    ED25519_SIGNATURE_SIZE,
    KEY_ID_SIZE,
    MLDSA44_PUBLIC_KEY_SIZE,
    MLDSA44_SEED_SIZE,
    MLDSA44_SIGNATURE_SIZE,
    SIGNATURE_PREFIX,
    NoteError,
    _b64decode_canonical,
    _check_name,
    _is_valid_name,
    _parse_key_id_hex,
    key_id,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_MLDSA44",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureError",
    "CosignerSigner",
    "CosignerVerifier",
    "MLDSACosignerSigner",
    "cosign",
    "cosignatures_in_note",
    "mldsa_signed_message",
    "signed_message",
    "verify",
]

ALG_COSIGNATURE_V1 = 0x04
"""Signature type byte of Ed25519 ``cosignature/v1`` in key ids and verifier keys."""

ALG_MLDSA44 = 0x06
"""Signature type byte of ML-DSA-44 cosignatures (``subtree/v1`` messages)."""

SUBTREE_LABEL = b"subtree/v1\n\x00"

MAX_TIMESTAMP = 2**63 - 1
"""The largest timestamp tlog-cosignature allows."""

HEADER = "cosignature/v1\n"
TIMESTAMP_SIZE = 8
_PUBLIC_KEY_SIZES = {ALG_COSIGNATURE_V1: ED25519_PUBLIC_KEY_SIZE,
                     ALG_MLDSA44: MLDSA44_PUBLIC_KEY_SIZE}
_SIGNATURE_SIZES = {ALG_COSIGNATURE_V1: ED25519_SIGNATURE_SIZE,
                    ALG_MLDSA44: MLDSA44_SIGNATURE_SIZE}
_ALG_OF_SIGNATURE_SIZE = {size: alg for alg, size in _SIGNATURE_SIZES.items()}


class CosignatureError(NoteError):
    """A malformed or forged cosignature, cosigner key or cosigned body."""


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature time {timestamp} is not between 0 and 2^63 - 1")


def _checkpoint_body(body: str | bytes) -> bytes:
    """The checkpoint body as bytes, refused unless it is one strict checkpoint body."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise CosignatureError("the cosigned checkpoint is not UTF-8") from None
    else:
        text = body
    try:
        Checkpoint.parse(text)
    except CheckpointError as exc:
        raise CosignatureError(f"cosigned text is not a checkpoint body: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CosignatureError("the cosigned checkpoint is not valid Unicode") from None


def _short_field(value: bytes, what: str) -> bytes:
    if not 1 <= len(value) <= 255:
        raise CosignatureError(f"an ML-DSA-44 cosignature needs a {what} of 1 to 255 bytes")
    return bytes([len(value)]) + value


def mldsa_signed_message(cosigner_name: str, body: str | bytes, timestamp: int) -> bytes:
    """The ``subtree/v1`` message an ML-DSA-44 cosignature signs, for a whole checkpoint
    (start 0, end = tree size)."""
    _check_timestamp(timestamp)
    checkpoint = Checkpoint.parse(_checkpoint_body(body).decode("utf-8"))
    return (SUBTREE_LABEL + _short_field(cosigner_name.encode("utf-8"), "cosigner name")
            + struct.pack(">Q", timestamp)
            + _short_field(checkpoint.origin.encode("utf-8"), "log origin")
            + struct.pack(">QQ", 0, checkpoint.size) + checkpoint.root_hash)


def signed_message(body: str | bytes, timestamp: int) -> bytes:
    """The message a ``cosignature/v1`` signs: header, time line, then the checkpoint body."""
    _check_timestamp(timestamp)
    return f"{HEADER}time {timestamp}\n".encode("ascii") + _checkpoint_body(body)


@dataclass(frozen=True)
class Cosignature:
    """One ``cosignature/v1`` signature line: the cosigner's name and key id, the time it
    signed and the 64-byte Ed25519 signature."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.key_id) != KEY_ID_SIZE:
            raise CosignatureError(f"a key id is {KEY_ID_SIZE} bytes")
        _check_timestamp(self.timestamp)
        if len(self.signature) not in _ALG_OF_SIGNATURE_SIZE:
            raise CosignatureError(
                f"a cosignature is an Ed25519 signature ({ED25519_SIGNATURE_SIZE} bytes) or an "
                f"ML-DSA-44 signature ({MLDSA44_SIGNATURE_SIZE} bytes)")

    @property
    def alg(self) -> int:
        """The type byte its signature's length implies (0x04 or 0x06)."""
        return _ALG_OF_SIGNATURE_SIZE[len(self.signature)]

    def line(self) -> str:
        """The signature line, ending in a newline."""
        blob = self.key_id + struct.pack(">Q", self.timestamp) + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"

    @classmethod
    def parse_line(cls, line: str) -> Cosignature:
        """Parse one signature line (with or without its final newline), strictly."""
        text = line[:-1] if line.endswith("\n") else line
        if "\n" in text:
            raise CosignatureError("a cosignature is one line")
        if not text.startswith(SIGNATURE_PREFIX):
            raise CosignatureError("a cosignature line starts with an em dash and a space")
        name, space, encoded = text[len(SIGNATURE_PREFIX):].partition(" ")
        if not space or not _is_valid_name(name):
            raise CosignatureError("a cosignature line has a key name, a space, then base64")
        try:
            blob = _b64decode_canonical(encoded, "cosignature")
        except NoteError as exc:
            raise CosignatureError(str(exc)) from None
        if len(blob) - KEY_ID_SIZE - TIMESTAMP_SIZE not in _ALG_OF_SIGNATURE_SIZE:
            raise CosignatureError(
                "a cosignature is a key id, a time and an Ed25519 or ML-DSA-44 signature "
                f"(76 or 2432 bytes), not {len(blob)} bytes"
            )
        (timestamp,) = struct.unpack(">Q", blob[KEY_ID_SIZE:KEY_ID_SIZE + TIMESTAMP_SIZE])
        return cls(name, blob[:KEY_ID_SIZE], timestamp, blob[KEY_ID_SIZE + TIMESTAMP_SIZE:])


class CosignerVerifier:
    """A trusted cosigner: its name and public key (Ed25519, type 0x04, or ML-DSA-44, type
    0x06), with its key id."""

    __slots__ = ("_verify_key", "alg", "key_id", "name", "public_key")

    name: str
    alg: int
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, public_key: bytes, alg: int = ALG_COSIGNATURE_V1) -> None:
        _check_name(name)
        if alg not in _PUBLIC_KEY_SIZES:
            raise CosignatureError(f"unknown cosigner key type 0x{alg:02x}")
        if len(public_key) != _PUBLIC_KEY_SIZES[alg]:
            raise CosignatureError(
                f"a type 0x{alg:02x} public key is {_PUBLIC_KEY_SIZES[alg]} bytes, "
                f"not {len(public_key)}"
            )
        self.name = name
        self.alg = alg
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, alg, self.public_key)
        self._verify_key: nacl.signing.VerifyKey | mldsa.MLDSA44PublicKey
        if alg == ALG_COSIGNATURE_V1:
            self._verify_key = nacl.signing.VerifyKey(self.public_key)
        else:
            try:
                self._verify_key = mldsa.MLDSA44PublicKey.from_public_bytes(self.public_key)
            except ValueError:  # pragma: no cover - every 1312-byte string decodes today
                raise CosignatureError("not an ML-DSA-44 public key") from None

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignerVerifier:
        """Parse ``name+hexid+base64(type || public key)`` with type 0x04 (Ed25519) or 0x06
        (ML-DSA-44); the key id must match."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise CosignatureError("a cosigner key has the form name+hexid+base64key")
        name, id_hex, key_b64 = parts
        try:
            _check_name(name)
            claimed = _parse_key_id_hex(id_hex, "cosigner key")
            raw = _b64decode_canonical(key_b64, "cosigner key")
        except NoteError as exc:
            raise CosignatureError(str(exc)) from None
        if len(raw) < 1 or len(raw) - 1 != _PUBLIC_KEY_SIZES.get(raw[0]):
            raise CosignatureError(
                "not a cosigner key: a cosigner key is of type 0x04 with a 32-byte Ed25519 "
                "public key, or of type 0x06 with a 1312-byte ML-DSA-44 public key"
            )
        verifier = cls(name, raw[1:], raw[0])
        if verifier.key_id != claimed:
            raise CosignatureError(
                f"cosigner key id {id_hex} does not match its name and public key "
                "(a character is wrong, missing or extra)"
            )
        return verifier

    def vkey(self) -> str:
        """``name+hexid+base64(type || public key)``."""
        encoded = base64.b64encode(bytes([self.alg]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def matches(self, cosignature: Cosignature) -> bool:
        """Whether the cosignature claims to be by this key (same name and key id)."""
        return cosignature.name == self.name and cosignature.key_id == self.key_id

    def verify(self, body: str | bytes, cosignature: Cosignature) -> bool:
        """Whether ``cosignature`` is this cosigner's valid signature over ``body``."""
        if not self.matches(cosignature) or cosignature.alg != self.alg:
            return False
        if isinstance(self._verify_key, nacl.signing.VerifyKey):
            try:
                self._verify_key.verify(signed_message(body, cosignature.timestamp),
                                        cosignature.signature)
            except nacl.exceptions.BadSignatureError:
                return False
            return True
        message = mldsa_signed_message(self.name, body, cosignature.timestamp)
        try:
            self._verify_key.verify(cosignature.signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CosignerVerifier):
            return NotImplemented
        return (self.name, self.alg, self.public_key) == (other.name, other.alg, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.alg, self.public_key))

    def __repr__(self) -> str:
        return f"CosignerVerifier({self.name!r}, type=0x{self.alg:02x}, key_id={self.key_id.hex()})"


class CosignerSigner:
    """A cosigner's Ed25519 signing key and name. ``repr()`` hides the key."""

    __slots__ = ("_signing_key", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, signing_key: nacl.signing.SigningKey) -> None:
        _check_name(name)
        self.name = name
        self._signing_key = signing_key
        self.public_key = bytes(signing_key.verify_key)
        self.key_id = key_id(name, ALG_COSIGNATURE_V1, self.public_key)

    @classmethod
    def generate(cls, name: str) -> CosignerSigner:
        return cls(name, nacl.signing.SigningKey.generate())

    def verifier(self) -> CosignerVerifier:
        return CosignerVerifier(self.name, self.public_key)

    def vkey(self) -> str:
        return self.verifier().vkey()

    def sign(self, body: str | bytes, timestamp: int) -> Cosignature:
        """Cosign a checkpoint body at ``timestamp`` (seconds since the Epoch)."""
        message = signed_message(body, timestamp)
        signature = bytes(self._signing_key.sign(message).signature)
        return Cosignature(self.name, self.key_id, timestamp, signature)

    def __repr__(self) -> str:
        return f"CosignerSigner({self.name!r}, key_id={self.key_id.hex()})"


class MLDSACosignerSigner:
    """A cosigner's ML-DSA-44 key (from a 32-byte seed, FIPS 204) and name. ``repr()``
    hides the key."""

    __slots__ = ("_private_key", "key_id", "name", "public_key")

    name: str
    key_id: bytes
    public_key: bytes

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != MLDSA44_SEED_SIZE:
            raise CosignatureError(f"an ML-DSA-44 seed is {MLDSA44_SEED_SIZE} bytes")
        self.name = name
        self._private_key = mldsa.MLDSA44PrivateKey.from_seed_bytes(seed)
        self.public_key = self._private_key.public_key().public_bytes_raw()
        self.key_id = key_id(name, ALG_MLDSA44, self.public_key)

    def verifier(self) -> CosignerVerifier:
        return CosignerVerifier(self.name, self.public_key, ALG_MLDSA44)

    def vkey(self) -> str:
        return self.verifier().vkey()

    def sign(self, body: str | bytes, timestamp: int) -> Cosignature:
        """Cosign a checkpoint at ``timestamp`` (seconds since the Epoch)."""
        message = mldsa_signed_message(self.name, body, timestamp)
        return Cosignature(self.name, self.key_id, timestamp, self._private_key.sign(message))

    def __repr__(self) -> str:
        return f"MLDSACosignerSigner({self.name!r}, key_id={self.key_id.hex()})"


def cosign(body: str | bytes, signer: CosignerSigner | MLDSACosignerSigner,
           timestamp: int) -> str:
    """The cosignature line for a checkpoint body, signed at ``timestamp``."""
    return signer.sign(body, timestamp).line()


def verify(body: str | bytes, line: str, verifier: CosignerVerifier) -> Cosignature:
    """Check a cosignature line by ``verifier`` over a checkpoint body; return it parsed.

    Raises CosignatureError if the line is malformed, names another key, or does not verify.
    """
    cosignature = Cosignature.parse_line(line)
    if not verifier.matches(cosignature):
        raise CosignatureError(
            f"the cosignature is by {cosignature.name} ({cosignature.key_id.hex()}), not by "
            f"{verifier.name} ({verifier.key_id.hex()})"
        )
    if not verifier.verify(body, cosignature):
        raise CosignatureError(
            f"the cosignature by {verifier.name} does not verify: the checkpoint or the "
            "cosignature was altered"
        )
    return cosignature


def cosignatures_in_note(
    note: str | bytes, verifiers: Sequence[CosignerVerifier]
) -> list[Cosignature]:
    """The valid cosignatures by ``verifiers`` on a signed checkpoint note, one per cosigner.

    Other signature lines (the log's own, unknown keys) are ignored. A line that names a
    trusted cosigner (name and key id) but does not verify raises CosignatureError: a forgery
    is never silently skipped. The log's signature is not checked here
    (``vault.tlog.checkpoint.open_checkpoint`` does that).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise CosignatureError("the note is not UTF-8") from None
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CosignatureError("not a signed note: no blank line before signature lines")
    body, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    found: dict[CosignerVerifier, Cosignature] = {}
    for line in lines:
        for verifier in verifiers:
            if verifier in found or not line.startswith(f"{SIGNATURE_PREFIX}{verifier.name} "):
                continue
            try:
                cosignature = Cosignature.parse_line(line)
            except CosignatureError:
                continue  # another type of signature under the same name
            if not verifier.matches(cosignature):
                continue
            if not verifier.verify(body, cosignature):
                raise CosignatureError(
                    f"the cosignature by {verifier.name} does not verify: the checkpoint was "
                    "altered or the cosignature forged"
                )
            found[verifier] = cosignature
    return list(found.values())
