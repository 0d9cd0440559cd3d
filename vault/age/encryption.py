"""Whole-file encryption and decryption: header, recipients, payload, optional armor.

Protects: *only the intended identities can read a file, and a reader either gets the
authentic plaintext or a classified error*. Decryption parses the header strictly,
validates every stanza of a native type (so a malformed stanza is a header failure no
matter which identity would match), tries each identity against all stanzas, verifies the
header MAC with the recovered file key, and only then streams the payload, releasing each
chunk after it authenticates. Encryption refuses an empty recipient list, mixing
post-quantum with classical recipients (the file would be only as strong as the weakest),
and a passphrase recipient next to any other.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from vault.age import pq, scrypt, x25519
from vault.age._io import PushbackReader, Reader, read_full
from vault.age.armor import ArmoredWriter, armored_reader
from vault.age.armor import armor as armor_bytes
from vault.age.errors import HeaderError, HMACError, NoMatchError, RecipientError
from vault.age.format import FILE_KEY_SIZE, Stanza, encode_header, parse_header
from vault.age.keys import is_post_quantum
from vault.age.recipient import Identity, Recipient
from vault.age.stream import (
    NONCE_SIZE,
    decrypt_payload,
    decrypt_payload_into,
    encrypt_payload,
    encrypt_payload_into,
    encrypted_size,
    plaintext_size,
)

_NATIVE_STANZA_CHECKS: dict[str, Callable[[Stanza], Any]] = {
    x25519.STANZA_TYPE: x25519.check_stanza,
    pq.STANZA_TYPE: pq.check_stanza,
    scrypt.STANZA_TYPE: scrypt.check_stanza,
}
_WHITESPACE = b" \t\r\n\x0b\x0c"


def _check_recipients(recipients: Sequence[Recipient]) -> None:
    if not recipients:
        raise RecipientError("no recipients given")
    if len(recipients) > 1 and any(getattr(r, "only_recipient", False) for r in recipients):
        raise RecipientError("a passphrase recipient must be the only recipient")
    kinds = {is_post_quantum(r) for r in recipients}
    if len(kinds) > 1:
        raise RecipientError(
            "refusing to mix post-quantum and classical recipients: the file would be only "
            "as strong as the classical ones"
        )


def _seal_header(recipients: Sequence[Recipient]) -> tuple[bytes, bytes]:
    _check_recipients(recipients)
    file_key = os.urandom(FILE_KEY_SIZE)
    stanzas = [stanza for recipient in recipients for stanza in recipient.wrap(file_key)]
    return file_key, encode_header(stanzas, file_key)


def encrypt(
    src: BinaryIO,
    dst: BinaryIO,
    recipients: Sequence[Recipient],
    *,
    armor: bool = False,
    threads: int | None = None,
) -> None:
    """Encrypt everything read from ``src`` to ``recipients``, writing the file to ``dst``.

    Streams in 64 KiB chunks (constant memory), sealed by ``threads`` threads (default
    ``min(2, CPUs)``; the file is the same for any count). Raises :class:`RecipientError`
    for an unusable recipient list.
    """
    file_key, header = _seal_header(recipients)
    nonce = os.urandom(NONCE_SIZE)
    if armor:
        armored = ArmoredWriter(dst)
        armored.write(header)
        encrypt_payload(file_key, nonce, src, armored, threads=threads)
        armored.close()
    else:
        dst.write(header)
        encrypt_payload(file_key, nonce, src, dst, threads=threads)


def encrypt_bytes(data: bytes, recipients: Sequence[Recipient], *, armor: bool = False) -> bytes:
    """The age file encrypting ``data`` to ``recipients`` (see :func:`encrypt`)."""
    file_key, header = _seal_header(recipients)
    out = bytearray(len(header) + encrypted_size(len(data)))
    view = memoryview(out)
    view[: len(header)] = header
    encrypt_payload_into(file_key, os.urandom(NONCE_SIZE), memoryview(data), view[len(header) :])
    return armor_bytes(bytes(out)) if armor else bytes(out)


def _binary_source(src: Reader, armored: bool | None) -> Reader:
    if armored is None:
        peek = getattr(src, "peek", None)
        seekable = getattr(src, "seekable", None)
        if peek is not None:
            first = peek(1)[:1]
        elif seekable is not None and seekable():
            first = src.read(1)
            src.seek(-len(first), io.SEEK_CUR)  # type: ignore[attr-defined]
        else:
            first = src.read(1)
            src = PushbackReader(first, src)
        armored = bool(first) and first in b"-" + _WHITESPACE
    return armored_reader(src) if armored else src


def _unwrap_file_key(stanzas: tuple[Stanza, ...], identities: Sequence[Identity]) -> bytes:
    for stanza in stanzas:
        check = _NATIVE_STANZA_CHECKS.get(stanza.type)
        if check is not None:
            check(stanza)
        if stanza.type == scrypt.STANZA_TYPE and len(stanzas) != 1:
            raise HeaderError("an scrypt stanza must be the only stanza in the header")
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            if len(file_key) != FILE_KEY_SIZE:
                raise HeaderError("the unwrapped file key has the wrong length")
            return file_key
    if not identities:
        raise NoMatchError("no identity given to decrypt with")
    raise NoMatchError("no identity matched: the file was not encrypted to these keys")


def _open_header(source: Reader, identities: Sequence[Identity]) -> tuple[bytes, int]:
    header = parse_header(source)
    file_key = _unwrap_file_key(header.stanzas, identities)
    if not header.verify_mac(file_key):
        raise HMACError("the header MAC does not verify: the header was altered")
    return file_key, header.length


def decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[Identity],
    *,
    armored: bool | None = None,
    threads: int | None = None,
) -> None:
    """Decrypt the age file read from ``src`` with ``identities``, writing to ``dst``.

    ``armored``: None detects the armor from the first byte (``-`` or whitespace), True
    requires it, False requires a binary file. A 64 KiB chunk is written to ``dst`` once
    it and every chunk before it have authenticated (``threads``, default ``min(2, CPUs)``,
    open batches of chunks in parallel); on :class:`PayloadError` exactly the chunks
    before the failing one have been written. Raises HeaderError, HMACError,
    NoMatchError, PayloadError or ArmorError.
    """
    source = _binary_source(src, armored)
    file_key, _ = _open_header(source, identities)
    nonce = bytearray(NONCE_SIZE)
    if read_full(source, memoryview(nonce)) != NONCE_SIZE:
        raise HeaderError("the payload nonce is missing or short (truncated file?)")
    decrypt_payload(file_key, bytes(nonce), source, dst, threads=threads)


def decrypt_bytes(
    data: bytes, identities: Sequence[Identity], *, armored: bool | None = None
) -> bytes:
    """The plaintext of the age file ``data`` (see :func:`decrypt`)."""
    if armored or (armored is None and data[:1] and data[:1] in b"-" + _WHITESPACE):
        out = io.BytesIO()
        decrypt(io.BytesIO(data), out, identities, armored=True)
        return out.getvalue()
    file_key, length = _open_header(io.BytesIO(data), identities)
    if len(data) - length < NONCE_SIZE:
        raise HeaderError("the payload nonce is missing or short (truncated file?)")
    payload = memoryview(data)[length + NONCE_SIZE :]
    plaintext = bytearray(plaintext_size(len(payload) + NONCE_SIZE))
    nonce = data[length : length + NONCE_SIZE]
    decrypt_payload_into(file_key, nonce, payload, memoryview(plaintext))
    return bytes(plaintext)
