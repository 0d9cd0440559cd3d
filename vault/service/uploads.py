"""Incoming sealed files: the resumable-upload state machine and the checks at the door.

Protects "the server stores only well-formed sealed testimony for the current roster, and
never more than the configured size": bytes are counted as they arrive and refused past the
limit; a finished upload must be an age v1 file whose recipient stanzas are all
``mlkem768x25519`` and as many as the roster has investigators. The server cannot decrypt
anything, so these checks are all it can do, and they are done before anything is
acknowledged or logged.

States of an upload: created (offset 0) → appended at the current offset, any number of
times, possibly by interrupted requests whose received bytes are kept → finished (checked,
promoted to a blob, logged) or expired (no append for ``upload_ttl_hours``, removed by the
sweep) or abandoned (deleted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from vault import age
from vault.store import StagedWriter

PQ_STANZA_TYPE = "mlkem768x25519"
_NONCE_BYTES = 16
_TAG_BYTES = 16
_CHUNK_BYTES = 64 * 1024
_SEALED_CHUNK_BYTES = _CHUNK_BYTES + _TAG_BYTES
_READ_BYTES = 1024 * 1024


class UploadError(ValueError):
    """Base class of refusals of incoming data (each maps to a 4xx answer)."""


class TooLargeError(UploadError):
    """The body is larger than the configured limit."""


class OffsetError(UploadError):
    """An append did not start at the upload's current offset."""


class NotSealedError(UploadError):
    """The data is not a well-formed age v1 file, or not sealed as the roster requires."""


class Appender:
    """Counts and writes one request body into a staged upload."""

    def __init__(self, writer: StagedWriter, offset: int, limit: int,
                 hasher: hashlib._Hash | None = None,
                 on_close: Callable[[bool], None] | None = None,
                 on_write: Callable[[int], None] | None = None) -> None:
        self._writer = writer
        self.offset = offset
        self._limit = limit
        self._hasher = hasher
        self._on_close = on_close
        # Counts bytes against a global budget before they are written; may refuse them.
        self._on_write = on_write
        self._closed = False

    def _close(self, committed: bool) -> None:
        """``on_close(committed)``: whether the bytes counted by ``on_write`` are now all
        on disk (a commit), or some were dropped (an abort or a failed commit)."""
        self._closed = True
        if self._on_close is not None:
            self._on_close(committed)

    def write(self, data: bytes) -> None:
        """Append ``data``; TooLargeError (and nothing kept) past the limit, and whatever
        ``on_write`` raises (nothing kept) when the global budget refuses it."""
        if self.offset + len(data) > self._limit:
            self.abort()
            raise TooLargeError(f"larger than the limit of {self._limit} bytes")
        if self._on_write is not None:
            try:
                self._on_write(len(data))
            except BaseException:
                self.abort()
                raise
        self._writer.write(data)
        if self._hasher is not None:
            self._hasher.update(data)
        self.offset += len(data)

    def commit(self) -> int:
        """Make what was written durable; return the new offset."""
        if not self._closed:
            committed = False
            try:
                self.offset = self._writer.commit()
                committed = True
            finally:
                self._close(committed)
        return self.offset

    def abort(self) -> None:
        """Drop everything written by this appender."""
        if not self._closed:
            try:
                self._writer.abort()
            finally:
                self._close(False)

    def sha256(self) -> str | None:
        """SHA-256 of everything written, when the appender started at offset 0."""
        return None if self._hasher is None else self._hasher.hexdigest()


@dataclass(frozen=True)
class SealedFileInfo:
    """What the server can know about a sealed file: size, digest and stanza types."""

    size: int
    sha256: str
    stanza_types: tuple[str, ...]


def plausible_payload_length(payload: int) -> bool:
    """Whether ``payload`` bytes (after the header) can be an age STREAM payload:
    a 16-byte nonce, then full 64 KiB chunks plus tags, then a final chunk that is
    non-empty unless it is the only one."""
    body = payload - _NONCE_BYTES
    if body < _TAG_BYTES:
        return False
    full, last = divmod(body, _SEALED_CHUNK_BYTES)
    if last == 0:
        return True  # the final chunk is full
    if last < _TAG_BYTES:
        return False
    return not (full > 0 and last == _TAG_BYTES)


def inspect_sealed_file(src: BinaryIO, size: int, known_sha256: str | None = None,
                        ) -> SealedFileInfo:
    """Parse the age header of ``src`` and digest the whole file in bounded memory.

    NotSealedError when the header is malformed or the length cannot be an age payload.
    """
    try:
        header = age.inspect_header(src)
    except age.AgeError:
        raise NotSealedError("not a well-formed age v1 file") from None
    if not plausible_payload_length(size - header.length):
        raise NotSealedError("the age payload is truncated or malformed")
    digest = known_sha256
    if digest is None:
        src.seek(0)
        hasher = hashlib.sha256()
        while chunk := src.read(_READ_BYTES):
            hasher.update(chunk)
        digest = hasher.hexdigest()
    return SealedFileInfo(size, digest, tuple(s.type for s in header.stanzas))


def check_sealed_to_roster(info: SealedFileInfo, readers: int,
                           stanza_type: str = PQ_STANZA_TYPE) -> None:
    """Refuse a file not sealed with exactly one ``stanza_type`` stanza per roster reader
    (``mlkem768x25519`` unless the roster's readers are all classical)."""
    if any(t != stanza_type for t in info.stanza_types):
        raise NotSealedError(
            f"every recipient must be of type {stanza_type}: seal to the roster's recipients"
        )
    if len(info.stanza_types) != readers:
        raise NotSealedError(
            f"sealed to {len(info.stanza_types)} recipients but the roster lists "
            f"{readers} readers: fetch the current roster and seal again"
        )

