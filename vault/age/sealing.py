"""An age file of known size, produced piece by piece from any offset, never held whole.

Protects: *a long upload can resume after a drop without the sealed file ever existing as
a whole, in memory or on disk*. A :class:`SealedFile` seals the header once (a fresh file
key wrapped to every recipient, and the header MAC) and draws the payload nonce once; the
file key and the payload key stay in the object, in memory only. Given those, age
encryption is deterministic, so ``pieces(source, start)`` regenerates exactly the bytes of
the file from offset ``start`` to its end, every time, by reading the plaintext again from
its beginning: the same bytes :func:`vault.age.encrypt` writes for that file key and
nonce. STREAM chunks wholly before ``start`` are read but not sealed, so resuming costs
one read of the plaintext before the offset. Memory is one 64 KiB chunk at a time.

The plaintext length is declared up front, so the file's size (``size``) is known before
its first byte is sent; a source that turns out shorter or longer raises
:class:`PlaintextLengthError` rather than yield a different file (bytes already yielded
must then be discarded).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from vault.age._io import Reader, fill, readinto_of
from vault.age.encryption import _seal_header
from vault.age.recipient import Recipient
from vault.age.stream import (
    CHUNK_SIZE,
    ENCRYPTED_CHUNK_SIZE,
    NONCE_SIZE,
    encrypted_size,
    payload_key,
)


class PlaintextLengthError(ValueError):
    """The plaintext read is not the length the sealed file was declared for."""


class SealedFile:
    """The age file sealing ``plaintext_size`` bytes to ``recipients``, generated on demand.

    Raises :class:`~vault.age.RecipientError` for an unusable recipient list (as
    :func:`vault.age.encrypt`) and ValueError for a negative size.
    """

    def __init__(self, recipients: Sequence[Recipient], plaintext_size: int) -> None:
        if plaintext_size < 0:
            raise ValueError("the plaintext size cannot be negative")
        self._file_key, self.header = _seal_header(recipients)
        self._nonce = os.urandom(NONCE_SIZE)
        self._key = payload_key(self._file_key, self._nonce)
        self.plaintext_size = plaintext_size
        self.size = len(self.header) + encrypted_size(plaintext_size)

    def pieces(self, source: Reader, start: int = 0) -> Iterator[bytes]:
        """Yield the file's bytes from offset ``start`` to the end, in pieces of at most
        64 KiB + 16 bytes (none empty).

        ``source`` yields the whole plaintext from its first byte, whatever ``start`` is.
        Raises ValueError now if ``start`` is not within ``0..size``, and
        :class:`PlaintextLengthError` while iterating if ``source`` is not exactly
        ``plaintext_size`` bytes long.
        """
        if not 0 <= start <= self.size:
            raise ValueError(f"offset {start} is outside the sealed file (0..{self.size})")
        return self._generate(source, start)

    def _generate(self, source: Reader, start: int) -> Iterator[bytes]:
        header = self.header
        if start < len(header):
            yield header[start:]
        payload_start = max(0, start - len(header))
        if payload_start < NONCE_SIZE:
            yield self._nonce[payload_start:]
        body_start = max(0, payload_start - NONCE_SIZE)
        first, skip = divmod(body_start, ENCRYPTED_CHUNK_SIZE)
        size = self.plaintext_size
        chunks = max(1, -(-size // CHUNK_SIZE))
        encrypt = ChaCha20Poly1305(self._key).encrypt
        readinto = readinto_of(source)
        buffer = memoryview(bytearray(CHUNK_SIZE))
        for index in range(chunks):
            want = min(CHUNK_SIZE, size - index * CHUNK_SIZE)
            if fill(readinto, buffer[:want]) != want:
                raise PlaintextLengthError(
                    f"the plaintext ended before the {size} bytes it was sealed for"
                )
            if index < first:
                continue
            last = index == chunks - 1
            sealed = encrypt(((index << 8) | last).to_bytes(12, "big"), buffer[:want], None)
            if index == first and skip:
                sealed = sealed[skip:]
            if sealed:
                yield sealed
        if source.read(1):
            raise PlaintextLengthError(f"the plaintext is longer than the {size} bytes it "
                                       "was sealed for")
