"""``add-checkpoint`` of C2SP tlog-witness: check a new checkpoint against the last one this
cosigner cosigned for its log, and cosign it only if it extends it.

Request body (c2sp.org/tlog-witness)::

    old <size of the latest checkpoint this cosigner cosigned, decimal>
    <zero to 63 consistency proof hashes, base64, one a line>
    <empty line>
    <the signed checkpoint note>

Answers, each a ``Refusal`` with its HTTP status except the last:

* 400: a malformed body or checkpoint, or an old size above the checkpoint's size;
* 404: a checkpoint of a log (origin) this cosigner is not configured for;
* 403: no signature by a configured log key verifies (or one that claims to be such a key
  is forged);
* 409 ``text/x.tlog.size``: the old size is not the size this cosigner last cosigned (the
  answer says which it is, so the log can send the right proof), or the sizes match but the
  root hash differs (two histories of one log);
* 422: the consistency proof does not prove that the checkpoint extends what was cosigned;
* otherwise the state is replaced by the new checkpoint (committed to disk), and the answer is
  one cosignature line per key of the cosigner (Ed25519, then ML-DSA-44), all with the same
  time.

Checking the old state and replacing it are one step under a lock and one SQLite
transaction, so two requests for one log cannot both extend the same old state (the
race described in the spec). Correctly signed checkpoints refused as inconsistent are kept
as evidence (bounded in number): with the checkpoint cosigned before, they prove a fork.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vault.cosigner.store import CosignerStore, Latest
from vault.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from vault.tlog.cosignature import CosignerSigner, MLDSACosignerSigner
from vault.tlog.merkle import HASH_SIZE, InvalidProofError, verify_consistency
from vault.tlog.note import HybridVerifier, NoteError, UnverifiedNoteError

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024
"""The largest request body accepted (a checkpoint note with many signatures and a full
proof is a few KiB)."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"


class Refusal(Exception):
    """A request refused with ``status`` and a message for the log's operator."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(Refusal):
    status = 400


class UnknownLog(Refusal):
    status = 404


class NotSignedByLog(Refusal):
    status = 403


class BadProof(Refusal):
    status = 422


class SizeConflict(Refusal):
    """409: the answer body is ``<latest cosigned size>\\n`` (``text/x.tlog.size``)."""

    status = 409

    def __init__(self, message: str, latest_size: int) -> None:
        super().__init__(message)
        self.latest_size = latest_size

    def body(self) -> str:
        return f"{self.latest_size}\n"


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def _parse_decimal(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise BadRequest("the old size line is 'old ' and a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise BadRequest("the old size has a leading zero")
    if len(text) > 20 or int(text) > 2**64 - 1:
        raise BadRequest("the old size is not an unsigned 64-bit integer")
    return int(text)


def _parse_hash(line: str, number: int) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise BadRequest(f"consistency proof line {number} is not base64") from None
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != line:
        raise BadRequest(f"consistency proof line {number} is not one 32-byte hash in base64")
    return raw


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; BadRequest says what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    first, newline, rest = text.partition("\n")
    if not newline or not first.startswith("old "):
        raise BadRequest("the body starts with a line 'old <size>'")
    old_size = _parse_decimal(first[len("old "):])
    proof: list[bytes] = []
    while True:
        line, newline, rest = rest.partition("\n")
        if not newline:
            raise BadRequest("the proof lines end with an empty line, then the checkpoint")
        if line == "":
            break
        if len(proof) == MAX_PROOF_LINES:
            raise BadRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof.append(_parse_hash(line, len(proof) + 1))
    if not rest:
        raise BadRequest("the checkpoint is missing after the empty line")
    return AddCheckpoint(old_size, tuple(proof), rest)


def _origin_of(note: str) -> str:
    split = note.rfind("\n\n")
    if split < 0:
        raise BadRequest("the checkpoint has no signature lines")
    try:
        return Checkpoint.parse(note[: split + 1]).origin
    except CheckpointError as exc:
        raise BadRequest(f"malformed checkpoint: {exc}") from None


def _open_by_any(note: str, keys: Sequence[HybridVerifier], origin: str) -> Checkpoint:
    """The checkpoint ``note`` opened under the first of ``keys`` that signed it, with every
    half of that key (both for a hybrid key). UnverifiedNoteError when none did."""
    unverified = UnverifiedNoteError("no log key is configured")
    for key in keys:
        try:
            return open_checkpoint(note, key, origin)
        except UnverifiedNoteError as exc:
            unverified = exc
    raise unverified


class Cosigner:
    """Checks and cosigns checkpoints of the configured logs. Thread-safe: every state
    change happens under one lock, inside one SQLite transaction."""

    def __init__(self, store: CosignerStore,
                 signers: Sequence[CosignerSigner | MLDSACosignerSigner],
                 clock: Callable[[], float] = time.time) -> None:
        if not signers:
            raise ValueError("a cosigner needs at least one key")
        self.store = store
        self.signers = tuple(signers)
        self._clock = clock
        self._lock = threading.Lock()

    def add_checkpoint(self, body: bytes) -> str:
        """Handle one add-checkpoint request; return the cosignature line(s) or raise a
        Refusal."""
        request = parse_add_checkpoint(body)
        origin = _origin_of(request.note)
        with self._lock:
            keys = self.store.log_keys(origin)
        if not keys:
            raise UnknownLog(f"this cosigner does not cosign the log {origin!r}")
        try:
            checkpoint = _open_by_any(request.note, keys, origin)
        except UnverifiedNoteError:
            raise NotSignedByLog(
                f"the checkpoint is not signed by a key this cosigner trusts for {origin!r}"
            ) from None
        except (NoteError, CheckpointError) as exc:
            raise BadRequest(f"malformed checkpoint: {exc}") from None
        if request.old_size > checkpoint.size:
            raise BadRequest(
                f"the old size {request.old_size} is above the checkpoint's size "
                f"{checkpoint.size}"
            )
        body_text = checkpoint.format()
        with self._lock, self.store.transaction():
            latest = self.store.latest(origin)
            refusal = self._check(origin, request, checkpoint, latest)
            if refusal is None:
                # Never earlier than the last cosignature of this log, even if the clock
                # stepped back: each says "the largest tree as of this time".
                timestamp = max(int(self._clock()), latest.time)
                lines = "".join(s.sign(body_text, timestamp).line() for s in self.signers)
                self.store.set_latest(origin, checkpoint.size, checkpoint.root_hash,
                                      request.note, timestamp)
        if refusal is not None:
            raise refusal
        return lines

    def _check(self, origin: str, request: AddCheckpoint, checkpoint: Checkpoint,
               latest: Latest) -> Refusal | None:
        """Why the checkpoint cannot be cosigned now, or None. Runs inside the transaction;
        evidence of a fork is recorded there too."""
        if request.old_size != latest.size:
            return SizeConflict(
                f"the latest checkpoint cosigned for {origin!r} has size {latest.size}, "
                f"not {request.old_size}", latest.size)
        if checkpoint.size == latest.size and checkpoint.root_hash != latest.root:
            self.store.keep_evidence(origin, "same size, another root", request.note)
            return SizeConflict(
                f"the log signed two different roots for size {latest.size}: a fork",
                latest.size)
        try:
            verify_consistency(latest.size, checkpoint.size, latest.root,
                               checkpoint.root_hash, request.proof)
        except InvalidProofError as exc:
            self.store.keep_evidence(origin, "inconsistent", request.note)
            return BadProof(
                f"the consistency proof from size {latest.size} to {checkpoint.size} does "
                f"not verify ({exc}): the checkpoint does not extend what was cosigned"
            )
        return None
