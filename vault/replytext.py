"""The plaintext of a sealed reply: the message, padded so its length stays hidden.

A reply's sealed size is in the public audit log, and the server sees it. Unpadded, it gives
the exact length of what an investigator wrote to a witness. So, like a testimony bundle, a
reply is padded inside the encryption to its PADMÉ length (vault/padding.py), and the
witness's reader strips the padding unambiguously (docs/FORMAT.md, "Reply"):

    amanat/reply/v2 LF  message (UTF-8)  0x80  0x00 ...   (total: padme_length)

The 0x80 marker ends the message whatever its bytes are (ISO/IEC 7816-4 padding): the
reader drops the trailing zeros, then exactly one 0x80. A plaintext without the version line
is a v1 reply (before padding): the message itself, read as it is.
"""

from __future__ import annotations

from typing import Final

from vault.padding import padme_length

__all__ = ["REPLY_HEADER", "ReplyFormatError", "pad_reply", "read_reply"]

REPLY_HEADER: Final = b"amanat/reply/v2\n"
_MARKER: Final = 0x80


class ReplyFormatError(ValueError):
    """A v2 reply plaintext whose padding is not a 0x80 marker followed by zeros."""


def pad_reply(message: str) -> bytes:
    """The v2 plaintext of ``message``: version line, UTF-8 text, 0x80, zeros up to the
    PADMÉ length of the whole."""
    body = REPLY_HEADER + message.encode("utf-8") + bytes([_MARKER])
    return body + bytes(padme_length(len(body)) - len(body))


def read_reply(plaintext: bytes) -> str:
    """The message of a decrypted reply (v2 padded, or v1 unpadded). Text that is not UTF-8
    is shown with replacement characters. Raises ReplyFormatError for a v2 plaintext whose
    padding is broken."""
    if not plaintext.startswith(REPLY_HEADER):
        return plaintext.decode("utf-8", errors="replace")
    body = plaintext[len(REPLY_HEADER):].rstrip(b"\x00")
    if not body.endswith(bytes([_MARKER])):
        raise ReplyFormatError("its padding has no end marker")
    return body[:-1].decode("utf-8", errors="replace")
