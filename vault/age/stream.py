"""The age payload: STREAM with ChaCha20-Poly1305 in 64 KiB chunks.

Protects: *integrity and completeness of the plaintext in constant memory*. Each chunk is
authenticated under a nonce made of its index and a last-chunk flag, so chunks cannot be
reordered, dropped, truncated at a chunk boundary, or extended. Decryption releases a
chunk's plaintext only after that chunk and every earlier chunk have authenticated, and
fails (after releasing only authenticated chunks) on truncation, trailing data or a bad tag.

Layout: a 16-byte nonce, then chunks of ``CHUNK_SIZE`` plaintext bytes plus a 16-byte tag;
``payload key = HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``; chunk nonce =
11-byte big-endian counter || 0x01 for the final chunk, 0x00 otherwise. The final chunk is
non-empty unless the whole plaintext is empty.

Speed: chunks are independent once their counter and last flag are known, and
ChaCha20-Poly1305 releases the GIL, so the streaming functions seal and open batches of
``batch_chunks`` chunks on a few worker threads while the calling thread reads the next
batch and writes the previous one. Memory stays constant: two input and two output batch
buffers, about ``4 * batch_chunks * 64 KiB`` (8 MiB with the default 32-chunk batch),
whatever the size of the data. Output order is the chunk order. With one thread (or an
input that fits in one batch) no thread is started.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.age._io import Reader, Writer, fill, readinto_of
from vault.age.errors import PayloadError

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

NONCE_SIZE = 16
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
BATCH_CHUNKS = 32  # chunks per batch handed to the worker threads (2 MiB of plaintext)
MAX_THREADS = 2  # beyond two, the calling thread's reads and writes are the limit

_AEADInto = Callable[[bytes, memoryview, None, memoryview], int]
# How a chunk that did not open as a middle chunk went: opened as the final one, or why not.
_Outcome = Literal["final", "bad tag", "short", "empty"]
_AUTH_FAILED = "a payload chunk failed authentication (corrupted or tampered)"
_NO_FINAL = "the payload is truncated (no final chunk)"
_TRAILING = "trailing data after the end of the payload"
_FAILURES: dict[_Outcome, str] = {
    "bad tag": _AUTH_FAILED,
    "short": "the payload is truncated (short final chunk)",
    "empty": "the final chunk is empty",
}


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The ChaCha20-Poly1305 key of the payload."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload").derive(file_key)


def default_threads() -> int:
    """How many threads seal and open a stream by default: ``min(2, CPUs available)``."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        available = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, available))


def _thread_count(threads: int | None) -> int:
    if threads is None:
        return default_threads()
    if threads < 1:
        raise ValueError("threads must be at least 1")
    return threads


def _pool(threads: int, name: str) -> ThreadPoolExecutor:
    # Imported here: concurrent.futures costs a command's start-up ~10 ms (it loads logging),
    # and small inputs never need it.
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(threads, thread_name_prefix=name)


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


def _split(count: int, parts: int) -> list[tuple[int, int]]:
    """``range(count)`` cut into at most ``parts`` contiguous, non-empty (start, stop)."""
    parts = max(1, min(parts, count))
    return [(count * i // parts, count * (i + 1) // parts) for i in range(parts)]


def encrypt_payload(
    file_key: bytes,
    nonce: bytes,
    src: Reader,
    dst: Writer,
    *,
    threads: int | None = None,
    batch_chunks: int = BATCH_CHUNKS,
) -> None:
    """Encrypt everything ``src`` yields into ``dst`` (nonce first), chunk by chunk.

    ``threads`` (default :func:`default_threads`) seal batches of ``batch_chunks`` chunks
    in parallel; the ciphertext is the same for any thread count and batch size.
    """
    threads = _thread_count(threads)
    if batch_chunks < 1:
        raise ValueError("batch_chunks must be at least 1")
    key = payload_key(file_key, nonce)
    if threads == 1:
        _encrypt_serial(ChaCha20Poly1305(key).encrypt_into, nonce, src, dst)
    else:
        _encrypt_batched(key, nonce, src, dst, threads, batch_chunks)


def _encrypt_serial(encrypt_into: _AEADInto, nonce: bytes, src: Reader, dst: Writer) -> None:
    # Two plaintext buffers alternate: a full chunk is sealed as final only once reading
    # the next one finds the end of the input.
    readinto = readinto_of(src)
    write = dst.write
    write(nonce)
    buffers = (bytearray(CHUNK_SIZE), bytearray(CHUNK_SIZE))
    views = (memoryview(buffers[0]), memoryview(buffers[1]))
    out = memoryview(bytearray(ENCRYPTED_CHUNK_SIZE))
    current = 0
    filled = fill(readinto, views[0])
    counter = 0
    while filled == CHUNK_SIZE:
        ahead = fill(readinto, views[current ^ 1])
        if not ahead:
            break
        encrypt_into((counter << 8).to_bytes(12, "big"), views[current], None, out)
        write(out)
        counter += 1
        current ^= 1
        filled = ahead
    out_view = out[: filled + TAG_SIZE]
    encrypt_into(_chunk_nonce(counter, 1), views[current][:filled], None, out_view)
    write(out_view)


def _seal_chunks(
    key: bytes,
    plain: memoryview,
    sealed: memoryview,
    counter: int,
    start: int,
    stop: int,
    final: bool,
) -> None:
    """Seal chunks ``start..stop-1`` of a batch (``plain`` holds exactly the batch's
    plaintext); ``final`` marks chunk ``stop - 1`` as the last of the stream.

    Each call has its own cipher object: no cipher state is shared between threads.
    """
    encrypt_into = ChaCha20Poly1305(key).encrypt_into
    size = len(plain)
    for index in range(start, stop):
        begin = index * CHUNK_SIZE
        end = min(begin + CHUNK_SIZE, size)
        at = index * ENCRYPTED_CHUNK_SIZE
        last = final and index == stop - 1
        encrypt_into(
            (((counter + index) << 8) | last).to_bytes(12, "big"),
            plain[begin:end],
            None,
            sealed[at : at + end - begin + TAG_SIZE],
        )


def _encrypt_batched(
    key: bytes,
    nonce: bytes,
    src: Reader,
    dst: Writer,
    threads: int,
    batch_chunks: int,
) -> None:
    readinto = readinto_of(src)
    write = dst.write
    write(nonce)
    batch_size = batch_chunks * CHUNK_SIZE
    plain = (memoryview(bytearray(batch_size)), memoryview(bytearray(batch_size)))
    sealed_size = batch_chunks * ENCRYPTED_CHUNK_SIZE
    sealed = (memoryview(bytearray(sealed_size)), memoryview(bytearray(sealed_size)))
    filled = fill(readinto, plain[0])
    if filled < batch_size:  # the whole input fits in one batch: no thread is worth it
        chunks = max(1, -(-filled // CHUNK_SIZE))
        _seal_chunks(key, plain[0][:filled], sealed[0], 0, 0, chunks, True)
        write(sealed[0][: filled + chunks * TAG_SIZE])
        return
    with _pool(threads, "age-seal") as pool:
        current = 0
        counter = 0
        pending: memoryview | None = None  # the previous batch's ciphertext, not yet written
        more = True
        while more:
            ahead = plain[current ^ 1]
            # A full batch ends the stream only if not one more byte follows it.
            more = filled == batch_size and fill(readinto, ahead[:1]) == 1
            chunks = -(-filled // CHUNK_SIZE)
            jobs = [
                pool.submit(
                    _seal_chunks,
                    key,
                    plain[current][:filled],
                    sealed[current],
                    counter,
                    start,
                    stop,
                    not more and stop == chunks,
                )
                for start, stop in _split(chunks, threads)
            ]
            # While the workers seal this batch: write the last one, read the next one.
            if pending is not None:
                write(pending)
            sealed_length = filled + chunks * TAG_SIZE
            if more:
                filled = 1 + fill(readinto, ahead[1:])
            for job in jobs:
                job.result()
            pending = sealed[current][:sealed_length]
            counter += chunks
            current ^= 1
        assert pending is not None
        write(pending)


def encrypt_payload_into(
    file_key: bytes,
    nonce: bytes,
    plaintext: memoryview,
    out: memoryview,
    *,
    threads: int | None = None,
) -> None:
    """Encrypt ``plaintext`` into ``out`` (exactly ``encrypted_size`` bytes, nonce first).

    Plaintexts of more than ``BATCH_CHUNKS`` chunks are sealed by ``threads`` threads,
    each taking a contiguous run of chunks.
    """
    threads = _thread_count(threads)
    key = payload_key(file_key, nonce)
    out[:NONCE_SIZE] = nonce
    size = len(plaintext)
    chunks = max(1, -(-size // CHUNK_SIZE))
    body = out[NONCE_SIZE:]
    if threads == 1 or chunks <= BATCH_CHUNKS:
        _seal_chunks(key, plaintext, body, 0, 0, chunks, True)
        return
    with _pool(threads, "age-seal") as pool:
        jobs = [
            pool.submit(_seal_chunks, key, plaintext, body, 0, start, stop, stop == chunks)
            for start, stop in _split(chunks, threads)
        ]
        for job in jobs:
            job.result()


def decrypt_payload(
    file_key: bytes,
    nonce: bytes,
    src: Reader,
    dst: Writer,
    *,
    threads: int | None = None,
    batch_chunks: int = BATCH_CHUNKS,
) -> None:
    """Decrypt the chunks that follow the nonce, writing them once they authenticate.

    A chunk reaches ``dst`` only after it and every earlier chunk have authenticated.
    Raises :class:`PayloadError` on a bad tag, a missing final chunk, an empty final chunk
    after other chunks, or data after the final chunk, having written exactly the chunks
    before the failing one (for trailing data: every chunk up to the final one). A
    full-size chunk is tried as a middle chunk first, then as the final one. ``threads``
    and ``batch_chunks`` as for :func:`encrypt_payload`.
    """
    threads = _thread_count(threads)
    if batch_chunks < 1:
        raise ValueError("batch_chunks must be at least 1")
    key = payload_key(file_key, nonce)
    if threads == 1:
        _decrypt_serial(ChaCha20Poly1305(key), src, dst)
    else:
        _decrypt_batched(key, src, dst, threads, batch_chunks)


def _decrypt_serial(aead: ChaCha20Poly1305, src: Reader, dst: Writer) -> None:
    decrypt_into = aead.decrypt_into
    readinto = readinto_of(src)
    write = dst.write
    in_view = memoryview(bytearray(ENCRYPTED_CHUNK_SIZE))
    out_view = memoryview(bytearray(CHUNK_SIZE))
    counter = 0
    while True:
        n = fill(readinto, in_view)
        if n == ENCRYPTED_CHUNK_SIZE:
            try:
                decrypt_into((counter << 8).to_bytes(12, "big"), in_view, None, out_view)
            except InvalidTag:
                _open(aead, _chunk_nonce(counter, 1), in_view, out_view)
                write(out_view)
                break
            write(out_view)
            counter += 1
            continue
        if n == 0:
            raise PayloadError(_NO_FINAL)
        if n < TAG_SIZE:
            raise PayloadError(_FAILURES["short"])
        if counter and n == TAG_SIZE:
            raise PayloadError(_FAILURES["empty"])
        _open(aead, _chunk_nonce(counter, 1), in_view[:n], out_view[: n - TAG_SIZE])
        write(out_view[: n - TAG_SIZE])
        break
    if src.read(1):
        raise PayloadError(_TRAILING)


def _open_chunks(
    key: bytes,
    sealed: memoryview,
    plain: memoryview,
    counter: int,
    start: int,
    stop: int,
) -> tuple[int, _Outcome | None]:
    """Open chunks ``start..stop-1`` of a batch (``sealed`` holds exactly the batch's
    ciphertext) until one is not a middle chunk.

    Returns ``(stop, None)`` when all opened as middle chunks, else the index of the first
    that did not and how it went: opened as the final chunk, or the failure. A chunk
    shorter than a full one can only be the last of the stream and is opened as final.
    Each call has its own cipher object: no cipher state is shared between threads.
    """
    decrypt_into = ChaCha20Poly1305(key).decrypt_into
    size = len(sealed)
    for index in range(start, stop):
        begin = index * ENCRYPTED_CHUNK_SIZE
        end = min(begin + ENCRYPTED_CHUNK_SIZE, size)
        chunk = sealed[begin:end]
        out = plain[index * CHUNK_SIZE : index * CHUNK_SIZE + end - begin - TAG_SIZE]
        if end - begin == ENCRYPTED_CHUNK_SIZE:
            try:
                decrypt_into(((counter + index) << 8).to_bytes(12, "big"), chunk, None, out)
                continue
            except InvalidTag:
                pass
        elif end - begin < TAG_SIZE:
            return index, "short"
        elif end - begin == TAG_SIZE and counter + index:
            return index, "empty"
        try:
            decrypt_into((((counter + index) << 8) | 1).to_bytes(12, "big"), chunk, None, out)
        except InvalidTag:
            return index, "bad tag"
        return index, "final"
    return stop, None


def _decrypt_batched(key: bytes, src: Reader, dst: Writer, threads: int, batch_chunks: int) -> None:
    readinto = readinto_of(src)
    write = dst.write
    batch_size = batch_chunks * ENCRYPTED_CHUNK_SIZE
    sealed = (memoryview(bytearray(batch_size)), memoryview(bytearray(batch_size)))
    plain_size = batch_chunks * CHUNK_SIZE
    plain = (memoryview(bytearray(plain_size)), memoryview(bytearray(plain_size)))
    filled = fill(readinto, sealed[0])
    if filled < batch_size:  # the whole payload fits in one batch: no thread is worth it
        chunks = -(-filled // ENCRYPTED_CHUNK_SIZE)
        released, outcome = _open_chunks(key, sealed[0][:filled], plain[0], 0, 0, chunks)
        _finish(src, write, plain[0], filled, released, outcome, trailing=released + 1 < chunks)
        return
    with _pool(threads, "age-open") as pool:
        current = 0
        counter = 0
        pending: memoryview | None = None  # the previous batch's plaintext, all authentic
        while True:
            chunks = -(-filled // ENCRYPTED_CHUNK_SIZE)
            jobs = [
                pool.submit(
                    _open_chunks,
                    key,
                    sealed[current][:filled],
                    plain[current],
                    counter,
                    start,
                    stop,
                )
                for start, stop in _split(chunks, threads)
            ]
            # While the workers open this batch: write the last one, read the next one.
            if pending is not None:
                write(pending)
                pending = None
            full = filled == batch_size
            ahead = 0
            read_error: Exception | None = None
            if full:
                try:
                    ahead = fill(readinto, sealed[current ^ 1])
                except Exception as exc:  # raised below, unless this batch fails first
                    read_error = exc
            released, outcome = chunks, None
            for job in jobs:
                released, outcome = job.result()
                if outcome is not None:
                    break
            if outcome is None and full:
                if read_error is not None:
                    write(plain[current][: released * CHUNK_SIZE])
                    raise read_error
                if ahead:
                    pending = plain[current][: released * CHUNK_SIZE]
                    counter += chunks
                    current ^= 1
                    filled = ahead
                    continue
            if outcome == "final" and read_error is not None and released + 1 == chunks:
                write(_released(plain[current], filled, released, outcome))
                raise read_error
            trailing = released + 1 < chunks or ahead > 0
            _finish(src, write, plain[current], filled, released, outcome, trailing=trailing)
            return


def _released(
    plain: memoryview, filled: int, released: int, outcome: _Outcome | None
) -> memoryview:
    """The authenticated plaintext of a batch: chunks before ``released``, and that chunk
    too when it opened as the final one."""
    if outcome != "final":
        return plain[: released * CHUNK_SIZE]
    end = min((released + 1) * ENCRYPTED_CHUNK_SIZE, filled)
    return plain[: released * CHUNK_SIZE + end - released * ENCRYPTED_CHUNK_SIZE - TAG_SIZE]


def _finish(
    src: Reader,
    write: Callable[[memoryview], object],
    plain: memoryview,
    filled: int,
    released: int,
    outcome: _Outcome | None,
    *,
    trailing: bool,
) -> None:
    """Write the authenticated part of the stream's last batch, then raise if the stream
    did not end with a final chunk followed by nothing."""
    authentic = _released(plain, filled, released, outcome)
    if authentic:
        write(authentic)
    if outcome is None:
        raise PayloadError(_NO_FINAL)
    if outcome != "final":
        raise PayloadError(_FAILURES[outcome])
    if trailing or src.read(1):
        raise PayloadError(_TRAILING)


def decrypt_payload_into(
    file_key: bytes,
    nonce: bytes,
    payload: memoryview,
    out: memoryview,
    *,
    threads: int | None = None,
) -> None:
    """Decrypt a whole payload held in memory (nonce excluded) into ``out``.

    ``out`` must be ``plaintext_size(len(payload) + NONCE_SIZE)`` bytes; on error it may
    hold unauthenticated data and must be discarded. Payloads of more than
    ``BATCH_CHUNKS`` chunks are opened by ``threads`` threads; the error raised is the one
    of the first failing chunk, as in a serial pass.
    """
    threads = _thread_count(threads)
    key = payload_key(file_key, nonce)
    chunks = max(1, -(-len(payload) // ENCRYPTED_CHUNK_SIZE))
    if threads == 1 or chunks <= BATCH_CHUNKS:
        outcomes = [_open_whole(key, payload, out, 0, chunks, chunks)]
    else:
        with _pool(threads, "age-open") as pool:
            jobs = [
                pool.submit(_open_whole, key, payload, out, start, stop, chunks)
                for start, stop in _split(chunks, threads)
            ]
            outcomes = [job.result() for job in jobs]
    failure = next((message for message in outcomes if message is not None), None)
    if failure is not None:
        raise PayloadError(failure)


def _open_whole(
    key: bytes,
    payload: memoryview,
    out: memoryview,
    start: int,
    stop: int,
    chunks: int,
) -> str | None:
    """Open chunks ``start..stop-1`` of a whole in-memory payload of ``chunks`` chunks;
    the last one must be final. Returns the failure of the first bad chunk, or None."""
    decrypt_into = ChaCha20Poly1305(key).decrypt_into
    size = len(payload)
    for index in range(start, stop):
        begin = index * ENCRYPTED_CHUNK_SIZE
        end = min(begin + ENCRYPTED_CHUNK_SIZE, size)
        chunk = payload[begin:end]
        target = out[index * CHUNK_SIZE : index * CHUNK_SIZE + end - begin - TAG_SIZE]
        last = index == chunks - 1
        try:
            decrypt_into(_chunk_nonce(index, last), chunk, None, target)
        except InvalidTag:
            if last and end - begin == ENCRYPTED_CHUNK_SIZE:
                # A valid full-size chunk at the very end that is not final: truncated.
                return _NO_FINAL
            return _AUTH_FAILED
    return None


def _open(aead: ChaCha20Poly1305, nonce: bytes, chunk: memoryview, out: memoryview) -> int:
    try:
        return aead.decrypt_into(nonce, chunk, None, out)
    except InvalidTag:
        raise PayloadError(_AUTH_FAILED) from None
