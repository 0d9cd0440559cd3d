"""The two interfaces every recipient type implements.

A :class:`Recipient` wraps a file key into stanzas; an :class:`Identity` recognises the
stanzas addressed to it and unwraps the file key. Adding a recipient type means adding one
module with one class of each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from vault.age.format import Stanza


@runtime_checkable
class Recipient(Protocol):
    """Something a file can be encrypted to."""

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Stanzas that let the matching identity recover ``file_key``."""
        ...


@runtime_checkable
class Identity(Protocol):
    """Something that can decrypt files encrypted to its recipient."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key, or None when no stanza is addressed to this identity.

        Raises :class:`vault.age.HeaderError` for a malformed stanza of its own type.
        """
        ...
