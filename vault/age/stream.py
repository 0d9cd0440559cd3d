"""The age payload: STREAM with ChaCha20-Poly1305 in 64 KiB chunks.

Protects: *integrity and completeness of the plaintext in constant memory*. Each chunk is
authenticated under a nonce made of its index and a last-chunk flag, so chunks cannot be
reordered, dropped, truncated at a chunk boundary, or extended. Decryption releases a
chunk's plaintext only after that chunk has authenticated, and fails (after releasing only
authenticated chunks) on truncation, trailing data or a bad tag.

Layout: a 16-byte nonce, then chunks of ``CHUNK_SIZE`` plaintext bytes plus a 16-byte tag;
``payload key = HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``; chunk nonce =
11-byte big-endian counter || 0x01 for the final chunk, 0x00 otherwise. The final chunk is
non-empty unless the whole plaintext is empty.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.age._io import Reader, Writer, fill, readinto_of
from vault.age.errors import PayloadError

NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The ChaCha20-Poly1305 key of the payload."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload").derive(file_key)


def _chunk_nonce(counter: int, last: int) -> bytes:
    # int.to_bytes raises OverflowError past 2**88 chunks, far beyond any real file.
    return ((counter << 8) | last).to_bytes(12, "big")


def encrypted_size(plaintext_size: int) -> int:
    """The payload size (nonce included) for a plaintext of ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return NONCE_SIZE + plaintext_size + chunks * TAG_SIZE


def plaintext_size(payload_size: int) -> int:
    """The plaintext size of a well-formed payload of ``payload_size`` bytes (nonce included).

    Raises :class:`PayloadError` when no well-formed payload has that size.
    """
    body = payload_size - NONCE_SIZE
    full, rest = divmod(body, ENCRYPTED_CHUNK_SIZE)
    if body < TAG_SIZE or (full and 0 < rest <= TAG_SIZE):
        raise PayloadError("the payload is truncated or has trailing data")
    return body - (full + (1 if rest else 0)) * TAG_SIZE


def encrypt_payload(file_key: bytes, nonce: bytes, src: Reader, dst: Writer) -> None:
    """Encrypt everything ``src`` yields into ``dst`` (nonce first), chunk by chunk.

    Two plaintext buffers alternate: a full chunk is sealed as final only once reading
    the next one finds the end of the input.
    """
    encrypt_into = ChaCha20Poly1305(payload_key(file_key, nonce)).encrypt_into
    readinto = readinto_of(src)
    write = dst.write
    write(nonce)
    buffers = (bytearray(CHUNK_SIZE), bytearray(CHUNK_SIZE))
    views = (memoryview(buffers[0]), memoryview(buffers[1]))
    out = bytearray(ENCRYPTED_CHUNK_SIZE)
    current = 0
    filled = fill(readinto, views[0])
    counter = 0
    while filled == CHUNK_SIZE:
        ahead = fill(readinto, views[current ^ 1])
        if not ahead:
            break
        encrypt_into((counter << 8).to_bytes(12, "big"), buffers[current], None, out)
        write(out)
        counter += 1
        current ^= 1
        filled = ahead
    out_view = memoryview(out)[: filled + TAG_SIZE]
    encrypt_into(_chunk_nonce(counter, 1), views[current][:filled], None, out_view)
    write(out_view)


def encrypt_payload_into(
    file_key: bytes, nonce: bytes, plaintext: memoryview, out: memoryview
) -> None:
    """Encrypt ``plaintext`` into ``out`` (exactly ``encrypted_size`` bytes, nonce first)."""
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    out[:NONCE_SIZE] = nonce
    size = len(plaintext)
    pos_in = 0
    pos_out = NONCE_SIZE
    counter = 0
    while True:
        end = min(pos_in + CHUNK_SIZE, size)
        last = end == size
        pos_out += aead.encrypt_into(
            _chunk_nonce(counter, last),
            plaintext[pos_in:end],
            None,
            out[pos_out : pos_out + end - pos_in + TAG_SIZE],
        )
        if last:
            return
        pos_in = end
        counter += 1


def decrypt_payload(file_key: bytes, nonce: bytes, src: Reader, dst: Writer) -> None:
    """Decrypt the chunks that follow the nonce, writing each one once it authenticates.

    Raises :class:`PayloadError` on a bad tag, a missing final chunk, an empty final chunk
    after other chunks, or data after the final chunk. A full-size chunk is tried as a
    middle chunk first, then as the final one.
    """
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    decrypt_into = aead.decrypt_into
    readinto = readinto_of(src)
    write = dst.write
    inbuf = bytearray(ENCRYPTED_CHUNK_SIZE)
    in_view = memoryview(inbuf)
    outbuf = bytearray(CHUNK_SIZE)
    counter = 0
    while True:
        n = fill(readinto, in_view)
        if n == ENCRYPTED_CHUNK_SIZE:
            try:
                decrypt_into((counter << 8).to_bytes(12, "big"), inbuf, None, outbuf)
            except InvalidTag:
                _open(aead, _chunk_nonce(counter, 1), inbuf, outbuf)
                write(outbuf)
                break
            write(outbuf)
            counter += 1
            continue
        if n == 0:
            raise PayloadError("the payload is truncated (no final chunk)")
        if n < TAG_SIZE:
            raise PayloadError("the payload is truncated (short final chunk)")
        if counter and n == TAG_SIZE:
            raise PayloadError("the final chunk is empty")
        out_view = memoryview(outbuf)[: n - TAG_SIZE]
        _open(aead, _chunk_nonce(counter, 1), in_view[:n], out_view)
        write(out_view)
        break
    if src.read(1):
        raise PayloadError("trailing data after the end of the payload")


def decrypt_payload_into(
    file_key: bytes, nonce: bytes, payload: memoryview, out: memoryview
) -> None:
    """Decrypt a whole payload held in memory (nonce excluded) into ``out``.

    ``out`` must be ``plaintext_size(len(payload) + NONCE_SIZE)`` bytes; on error it may
    hold unauthenticated data and must be discarded.
    """
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    size = len(payload)
    pos_in = 0
    pos_out = 0
    counter = 0
    while True:
        end = min(pos_in + ENCRYPTED_CHUNK_SIZE, size)
        chunk = payload[pos_in:end]
        target = out[pos_out : pos_out + end - pos_in - TAG_SIZE]
        if end < size:
            pos_out += _open(aead, _chunk_nonce(counter, 0), chunk, target)
        elif end - pos_in < ENCRYPTED_CHUNK_SIZE:
            pos_out += _open(aead, _chunk_nonce(counter, 1), chunk, target)
            return
        else:
            try:
                aead.decrypt_into(_chunk_nonce(counter, 1), chunk, None, target)
            except InvalidTag:
                # A valid full-size chunk at the very end that is not final: truncated.
                raise PayloadError("the payload is truncated (no final chunk)") from None
            return
        pos_in = end
        counter += 1


def _open(
    aead: ChaCha20Poly1305, nonce: bytes, chunk: memoryview | bytearray, out: memoryview | bytearray
) -> int:
    try:
        return aead.decrypt_into(nonce, chunk, None, out)
    except InvalidTag:
        raise PayloadError(
            "a payload chunk failed authentication (corrupted or tampered)"
        ) from None
