"""C2SP tlog-checkpoint: the signed statement of a log's tree size and root hash.

A checkpoint is what a log commits to: "my tree of N entries has this root". Signed by the log
key as a C2SP signed note, it lets anyone hold the log to its history (a later checkpoint must
be provably consistent with every earlier one). Parsing is strict so that one checkpoint has
exactly one textual form and nothing unsigned slips in::

    <origin>
    <tree size, decimal, no leading zeroes>
    <root hash, base64>
    [extension lines, non-empty, opaque]

See c2sp.org/tlog-checkpoint. Opening checks the signature (`vault.tlog.note`) and that the
origin is the log the caller expects, so a checkpoint of one log cannot pass for another's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from vault.tlog.merkle import EMPTY_ROOT, HASH_SIZE
from vault.tlog.note import (
    AnySigner,
    AnyVerifier,
    HybridVerifier,
    Verifier,
    open_note,
    sign_note,
)

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "CheckpointError", "open_checkpoint", "sign_checkpoint"]

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are unsigned 64-bit integers."""


class CheckpointError(ValueError):
    """A checkpoint body that is malformed, or from another log than the one expected."""


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointError(f"checkpoint {what} must not be empty")
    if any(ord(ch) < 0x20 for ch in value):
        raise CheckpointError(f"checkpoint {what} must be one line without control characters")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size} is not an unsigned 64-bit integer")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}")
        if self.size == 0 and self.root_hash != EMPTY_ROOT:
            raise CheckpointError("an empty tree's root hash must be SHA-256 of the empty string")
        for extension in self.extensions:
            _check_line(extension, "extension line")

    def format(self) -> str:
        """Return the checkpoint body (the note text), ending in a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body strictly; raise CheckpointError saying what is wrong."""
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                "checkpoint body needs at least three lines: origin, tree size, root hash"
            )
        origin, size_text, root_text, *extensions = lines
        return cls(origin, _parse_size(size_text), _parse_root(root_text), tuple(extensions))


def _parse_size(text: str) -> int:
    if not text or any(ch not in "0123456789" for ch in text):
        raise CheckpointError(f"tree size {text!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise CheckpointError(f"tree size {text!r} has a leading zero")
    if len(text) > len(str(MAX_TREE_SIZE)):
        raise CheckpointError("tree size is not an unsigned 64-bit integer")
    return int(text)


def _parse_root(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise CheckpointError("root hash is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError("root hash is not canonical base64")
    return raw


def sign_checkpoint(checkpoint: Checkpoint, *signers: AnySigner) -> str:
    """Return the checkpoint as a note signed by the log's key (both halves of a hybrid
    key, Ed25519 first)."""
    return sign_note(checkpoint.format(), *signers)


def open_checkpoint(
    text: str | bytes,
    verifier: Verifier | HybridVerifier | Sequence[AnyVerifier],
    origin: str,
    *,
    require_all: bool = False,
) -> Checkpoint:
    """Verify a signed checkpoint from the log ``origin`` and return it.

    Raises NoteError (or its subclasses UnverifiedNoteError, InvalidSignatureError,
    MissingSignatureError) when the signatures do not check out, and CheckpointError when
    the body is malformed or names another origin. Signatures by other keys (witness
    cosignatures) are ignored. ``require_all``: every verifier given must have signed; a
    ``HybridVerifier`` always requires every half it has.
    """
    if isinstance(verifier, HybridVerifier):
        verifiers, require_all = verifier.verifiers(), True
    else:
        verifiers = [verifier] if isinstance(verifier, Verifier) else list(verifier)
    opened = open_note(text, verifiers, require_all=require_all)
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != origin:
        raise CheckpointError(
            f"checkpoint is from the log {checkpoint.origin!r}, expected {origin!r}"
        )
    return checkpoint
