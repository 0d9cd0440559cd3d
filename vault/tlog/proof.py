"""C2SP tlog-proof receipts: offline evidence that an entry is in the log.

A witness who submits testimony may keep a receipt. With only the log's verifier key (from the
organization's signed roster) they can later show, without contacting anyone, that the log
signed a tree containing their entry, so the log cannot silently drop it. The format
(``c2sp.org/tlog-proof@v1``, C2SP main) is::

    c2sp.org/tlog-proof@v1
    [extra <base64 opaque data, unauthenticated>]
    index <decimal, no leading zeroes>
    <inclusion proof hashes, base64, one per line, from the leaf's sibling up>

    <signed checkpoint, verbatim>

Parsing is strict: one receipt has one textual form.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field

from vault.tlog.checkpoint import Checkpoint, open_checkpoint
from vault.tlog.merkle import HASH_SIZE, InvalidProofError, leaf_hash, verify_inclusion
from vault.tlog.note import AnyVerifier, HybridVerifier, Verifier

__all__ = [
    "RECEIPT_HEADER",
    "LeafHash",
    "Receipt",
    "ReceiptError",
    "VerifiedReceipt",
    "verify_receipt",
]

RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64
"""An inclusion proof in a tree of at most 2**64 - 1 leaves has at most 64 hashes."""
_MAX_INDEX = 2**64 - 2


class ReceiptError(ValueError):
    """A receipt whose text is malformed (not its signature or its proof: see verify_receipt)."""


class LeafHash(bytes):
    """Marks bytes as an already computed RFC 9162 leaf hash rather than entry data."""


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ReceiptError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ReceiptError(f"{what} is not canonical base64")
    return raw


def _parse_index(text: str) -> int:
    if not text or any(ch not in "0123456789" for ch in text):
        raise ReceiptError(f"receipt index {text!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise ReceiptError(f"receipt index {text!r} has a leading zero")
    if len(text) > 20 or int(text) > _MAX_INDEX:
        raise ReceiptError("receipt index is beyond any possible tree")
    return int(text)


@dataclass(frozen=True)
class Receipt:
    """A parsed tlog-proof: entry index, inclusion proof, signed checkpoint, optional extra."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = field(default=None)

    def __post_init__(self) -> None:
        if not 0 <= self.index <= _MAX_INDEX:
            raise ReceiptError(f"receipt index {self.index} is beyond any possible tree")
        if len(self.proof) > MAX_PROOF_HASHES:
            raise ReceiptError(f"an inclusion proof has at most {MAX_PROOF_HASHES} hashes")
        for position, value in enumerate(self.proof):
            if len(value) != HASH_SIZE:
                raise ReceiptError(f"inclusion proof hash {position} is not {HASH_SIZE} bytes")
        if self.extra is not None and not self.extra:
            raise ReceiptError("extra data, when present, must not be empty")
        if not self.checkpoint or self.checkpoint.startswith("\n"):
            raise ReceiptError("receipt has no checkpoint after its inclusion proof")

    def format(self) -> str:
        """Return the receipt text."""
        lines = [RECEIPT_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(value).decode("ascii") for value in self.proof)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> Receipt:
        """Parse a receipt strictly; the checkpoint is kept verbatim and checked later."""
        head, separator, checkpoint = text.partition("\n\n")
        if not separator:
            raise ReceiptError("receipt has no blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != RECEIPT_HEADER:
            raise ReceiptError(f"not a receipt: the first line must be {RECEIPT_HEADER}")
        position = 1
        extra = None
        if position < len(lines) and lines[position].startswith("extra "):
            extra = _b64(lines[position][len("extra ") :], "receipt extra data")
            if not extra:
                raise ReceiptError("receipt extra line is empty")
            position += 1
        if position >= len(lines) or not lines[position].startswith("index "):
            raise ReceiptError("receipt lacks its 'index N' line")
        index = _parse_index(lines[position][len("index ") :])
        hash_lines = lines[position + 1 :]
        if len(hash_lines) > MAX_PROOF_HASHES:
            raise ReceiptError(f"an inclusion proof has at most {MAX_PROOF_HASHES} hashes")
        proof = tuple(
            _b64(line, f"inclusion proof line {number}")
            for number, line in enumerate(hash_lines, start=1)
        )
        return cls(index, proof, checkpoint, extra)


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a receipt proves: the entry at ``index`` is in the tree of ``checkpoint``."""

    index: int
    checkpoint: Checkpoint
    extra: bytes | None


def verify_receipt(
    receipt_text: str,
    entry: bytes,
    verifier: Verifier | HybridVerifier | Sequence[AnyVerifier],
    origin: str,
) -> VerifiedReceipt:
    """Check a receipt for ``entry`` against the log key ``verifier`` of log ``origin``.

    ``entry`` is the entry's data, or its leaf hash wrapped in `LeafHash`. Raises, by cause:
    ReceiptError (malformed receipt), NoteError / UnverifiedNoteError / InvalidSignatureError
    (checkpoint not signed by the log), CheckpointError (malformed checkpoint or other log),
    InvalidProofError (the entry is not at that index in that tree). All are ValueErrors.
    The extra data is returned as is: nothing authenticates it.
    """
    receipt = Receipt.parse(receipt_text)
    checkpoint = open_checkpoint(receipt.checkpoint, verifier, origin)
    leaf = bytes(entry) if isinstance(entry, LeafHash) else leaf_hash(entry)
    if receipt.index >= checkpoint.size:
        raise InvalidProofError(
            f"receipt index {receipt.index} is outside the checkpoint's tree of size "
            f"{checkpoint.size}"
        )
    verify_inclusion(leaf, receipt.index, checkpoint.size, receipt.proof, checkpoint.root_hash)
    return VerifiedReceipt(receipt.index, checkpoint, receipt.extra)
