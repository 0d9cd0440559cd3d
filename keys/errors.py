"""Errors raised by the ``keys`` package.

Every error is a ``KeysError`` (a ``ValueError``), so callers can catch the whole family, and
each has a subclass a caller or a test can tell apart. Messages are written for the person at
the keyboard and never contain a passphrase or a private key.
"""

from __future__ import annotations


class KeysError(ValueError):
    """Base class of every error raised by ``keys``."""


class KeyFileError(KeysError):
    """A key file is malformed, truncated, of another kind, or uses unsupported parameters."""


class UnlockError(KeyFileError):
    """A well-formed key file did not open: wrong passphrase, or the file was altered."""


class WeakPassphraseError(KeysError):
    """A new passphrase is too easy to guess to protect a key file (``keys.passphrase``)."""


class VerifierKeyError(KeysError):
    """A verifier key given to check signatures (the organization's vkey, pinned by the user)
    is mistyped or malformed, so nothing could be checked against it."""


class InvalidNameError(KeysError):
    """An investigator name or an organization origin is not acceptable."""


class CardError(KeysError):
    """A public card is malformed or its key id does not match its keys."""


class RosterError(KeysError):
    """A roster is refused (base class of the more specific roster errors)."""


class RosterFormatError(RosterError):
    """A roster's text is not canonical: a malformed, misplaced or duplicate line."""


class RosterSignatureError(RosterError):
    """A roster is not signed by the pinned organization key (forged, missing or foreign)."""


class RosterPolicyError(RosterError):
    """A roster breaks its own policy (e.g. a classical recipient under ``pq-only``) or the
    format's limits (e.g. valid for longer than a roster may be)."""


class RosterExpiredError(RosterError):
    """A roster is past its signed expiry date: the organization must publish a renewed one."""


class RosterRollbackError(RosterError):
    """A roster is older than one already seen for this organization, or equivocates."""


class RosterStateError(KeysError):
    """The roster state file cannot be read or written."""
