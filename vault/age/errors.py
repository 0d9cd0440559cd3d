"""Error classes of the age implementation.

Each failure keeps its class so callers (and the conformance tests) can tell *why* a file
was refused without parsing messages: a malformed header, a header whose MAC does not
verify, a payload that fails authentication, no identity that can open the file, or a
malformed ASCII armor. Messages never contain key material or plaintext.
"""

from __future__ import annotations


class AgeError(Exception):
    """Base class of every error raised by :mod:`vault.age`."""


class HeaderError(AgeError):
    """The header is malformed, uses an unsupported version, or a stanza is invalid."""


class HMACError(AgeError):
    """The file key was recovered but the header MAC does not verify (tampered header)."""


class PayloadError(AgeError):
    """The payload is truncated, has trailing data, or a chunk fails authentication."""


class NoMatchError(AgeError):
    """None of the given identities can unwrap the file key."""


class ArmorError(AgeError):
    """The ASCII armor (PEM "AGE ENCRYPTED FILE") is malformed or not canonical."""


class RecipientError(AgeError, ValueError):
    """The recipients cannot be used together (none given, or mixed security levels)."""


class KeyFormatError(AgeError, ValueError):
    """A recipient or identity string, or a key file, is malformed."""
