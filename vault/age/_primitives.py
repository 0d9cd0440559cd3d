"""Small building blocks shared by the recipient types: HKDF and file-key wrapping."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_ZERO_NONCE = bytes(12)
WRAPPED_KEY_SIZE = 32  # 16-byte file key + 16-byte Poly1305 tag


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (extract then expand) with a 32-byte output."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def wrap_file_key(wrap_key: bytes, file_key: bytes) -> bytes:
    """ChaCha20-Poly1305 with the all-zero nonce (each wrap key is used once)."""
    return ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)


def unwrap_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """The file key in ``body``, or None when it does not authenticate under ``wrap_key``."""
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None
