"""The scrypt (passphrase) recipient type.

Protects: *a file sealed with a passphrase opens only with that passphrase*, and a hostile
file cannot make the reader burn unbounded CPU and memory: the work factor (log2 N) is
capped by the identity (default 22, i.e. 4 GiB of scrypt memory at r=8). An scrypt stanza
must be the only stanza of its file, so a passphrase-encrypted file cannot also be
readable by someone else. An identity may take a function instead of the passphrase: it is
called only once a well-formed scrypt stanza within the cap is found, so a reader is asked
for a passphrase only for a file that needs one and can be opened.

Stanza: ``-> scrypt <base64 16-byte salt> <log2 N in decimal>`` and a 32-byte body,
``wrap key = scrypt(N, r=8, p=1, dkLen=32, S="age-encryption.org/v1/scrypt" || salt)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import ClassVar

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vault.age._primitives import WRAPPED_KEY_SIZE, unwrap_file_key, wrap_file_key
from vault.age.errors import HeaderError
from vault.age.format import Stanza, b64decode, b64encode

STANZA_TYPE = "scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18
DEFAULT_MAX_WORK_FACTOR = 22
_LABEL = b"age-encryption.org/v1/scrypt"
_WORK_FACTOR = re.compile(r"[1-9][0-9]?")


def check_stanza(stanza: Stanza) -> tuple[bytes, int]:
    """Validate an ``scrypt`` stanza; return ``(salt, log2 N)``. Raises HeaderError."""
    if len(stanza.args) != 2:
        raise HeaderError("invalid scrypt stanza: wrong number of arguments")
    try:
        salt = b64decode(stanza.args[0])
    except ValueError:
        raise HeaderError("invalid scrypt stanza: salt is not canonical base64") from None
    if len(salt) != SALT_SIZE:
        raise HeaderError("invalid scrypt stanza: salt has the wrong length")
    if not _WORK_FACTOR.fullmatch(stanza.args[1]):
        raise HeaderError("invalid scrypt stanza: work factor is not a small decimal number")
    if len(stanza.body) != WRAPPED_KEY_SIZE:
        raise HeaderError("invalid scrypt stanza: body has the wrong length")
    return salt, int(stanza.args[1])


def _wrap_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


class ScryptRecipient:
    """Encrypts to a passphrase. Must be the only recipient of a file."""

    post_quantum: ClassVar[bool] = False
    only_recipient: ClassVar[bool] = True

    def __init__(self, passphrase: bytes, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not passphrase:
            raise ValueError("the passphrase is empty")
        if not 1 <= work_factor <= 30:
            raise ValueError("the scrypt work factor must be between 1 and 30")
        self._passphrase = bytes(passphrase)
        self._work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(SALT_SIZE)
        wrap_key = _wrap_key(self._passphrase, salt, self._work_factor)
        args = (b64encode(salt), str(self._work_factor))
        return [Stanza(STANZA_TYPE, args, wrap_file_key(wrap_key, file_key))]

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"


class ScryptIdentity:
    """Decrypts files encrypted to a passphrase, refusing work factors above the cap.

    ``passphrase`` is the passphrase, or a function returning it, called at most once and
    only when a file turns out to be passphrase-encrypted within the cap (a prompt).
    """

    def __init__(
        self,
        passphrase: bytes | Callable[[], bytes],
        max_work_factor: int = DEFAULT_MAX_WORK_FACTOR,
    ) -> None:
        self._passphrase: bytes | Callable[[], bytes] = (
            passphrase if callable(passphrase) else bytes(passphrase)
        )
        self._max_work_factor = max_work_factor

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        if any(s.type == STANZA_TYPE for s in stanzas) and len(stanzas) != 1:
            raise HeaderError("an scrypt stanza must be the only stanza in the header")
        if len(stanzas) != 1 or stanzas[0].type != STANZA_TYPE:
            return None
        salt, work_factor = check_stanza(stanzas[0])
        if work_factor > self._max_work_factor:
            raise HeaderError(
                f"the scrypt work factor {work_factor} is above the limit of "
                f"{self._max_work_factor}: opening the file would take too much time and memory"
            )
        if callable(self._passphrase):
            self._passphrase = bytes(self._passphrase())
        wrap_key = _wrap_key(self._passphrase, salt, work_factor)
        return unwrap_file_key(wrap_key, stanzas[0].body)

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max_work_factor})"
