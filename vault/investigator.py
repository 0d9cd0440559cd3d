"""Investigator workflows: list the inbox, open a submission into a case folder, reply.

Every investigator front end (``amanat inbox / open / reply``, later a web page and its API)
calls these functions. What they protect:

* **Only roster investigators read testimony** (guarantee 1). The sealed file is decrypted
  on the investigator's machine with their own identity; the plaintext goes from the
  decryptor to the safe extractor through memory (`PlaintextStream`), never into a file
  other than those of the case folder.
* **Nobody can silently alter or swap a testimony** (guarantee 4). Before a byte is
  decrypted, the downloaded ciphertext's SHA-256 must equal the one in its submission entry,
  and that entry must be included in a checkpoint signed by the log key of the roster; with
  an `AuditState` that checkpoint must also extend the last one seen (no rewritten history).
  With the organization key pinned (``org_vkey``) the roster, and so the log key, are
  verified; without it they are the server's word, and the custody record says so.
* **A hostile bundle writes nothing outside the case folder.** Extraction is
  `vault.bundle.extract_bundle` (no absolute paths, ``..``, links or devices; everything
  created is removed on error); the case files this module adds are created with
  ``O_EXCL | O_NOFOLLOW`` relative to the case folder's descriptor.
* **A chain of custody.** ``custody.json`` records the ciphertext's SHA-256, the manifest's
  hashes of every attachment before and after metadata cleaning, the log index and the
  checkpoint that proved it, and who opened it and when (UTC, this machine's clock).

Errors: `InvestigatorError` (a ValueError) with a one-line message; `NotSealedToYouError`
when the submission was not sealed to this identity.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, cast

from keys.errors import RosterError
from keys.identity import InvestigatorIdentity
from keys.roster import Roster, RosterState, read_roster_unverified, verify_roster
from vault import age
from vault.audit import AuditState, LogMismatchError, read_log
from vault.bundle import BundleError, extract_bundle, open_bundle
from vault.client import MAX_REPLY_BYTES, ClientError, ReplyInfo, SubmissionInfo, VaultClient
from vault.events import (
    KIND_DELETION,
    Event,
    EventError,
    parse_event,
    parse_hour,
    submission_event,
)
from vault.holdings import LoggedItem
from vault.replytext import pad_reply
from vault.testimony import Manifest, ManifestError
from vault.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from vault.tlog.cosignature import CosignatureError
from vault.tlog.merkle import MerkleError, leaf_hash, verify_consistency, verify_inclusion
from vault.tlog.note import HybridVerifier, NoteError

__all__ = [
    "CUSTODY_FORMAT",
    "CaseRecord",
    "Deletion",
    "InvestigatorError",
    "LogEvidence",
    "NotSealedToYouError",
    "PlaintextStream",
    "Session",
    "connect",
    "delete_submission",
    "find_submission",
    "list_inbox",
    "open_submission",
    "read_case",
    "read_manifest",
    "send_reply",
    "unlisted_submissions",
    "verify_submission_entry",
]

CUSTODY_FORMAT: Final = "amanat/custody/v1"
STATEMENT_FILE: Final = "statement.txt"
ANSWERS_FILE: Final = "answers.json"
CUSTODY_FILE: Final = "custody.json"
_FILE_FLAGS: Final = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                      | getattr(os, "O_CLOEXEC", 0))
_DIR_FLAGS: Final = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))


class InvestigatorError(ValueError):
    """An investigator workflow cannot go on; the message (one line) says why."""


class NotSealedToYouError(InvestigatorError):
    """The submission was not sealed to this identity (no recipient stanza matches)."""


# --- session --------------------------------------------------------------------------------


@dataclass
class Session:
    """A logged-in investigator: the client, the identity and the roster it trusted."""

    client: VaultClient
    identity: InvestigatorIdentity
    roster: Roster
    roster_text: str
    org_vkey: str | None

    @property
    def log_vkey(self) -> str:
        if self.roster.log_vkey is None:
            raise InvestigatorError("the roster names no audit log key; the admin must set it "
                                    "(`amanat roster set-log`) and publish the roster again")
        return self.roster.log_vkey


def connect(client: VaultClient, identity: InvestigatorIdentity, *,
            org_vkey: str | None = None, roster_state: RosterState | None = None) -> Session:
    """Fetch the roster (verified under ``org_vkey`` when given) and log in with the
    identity's auth key. Raises InvestigatorError if the roster is refused or the identity
    is not on it."""
    roster_text = client.roster_text()
    try:
        if org_vkey is not None:
            roster = verify_roster(roster_text, org_vkey, state=roster_state)
        else:
            roster = read_roster_unverified(roster_text)
    except RosterError as exc:
        raise InvestigatorError(f"refusing the server's roster: {exc}") from None
    if roster.find(identity.key_id) is None:
        recipient = identity.card().recipient
        earlier = [p for p in roster.investigators if p.recipient == recipient]
        hint = (f": it still lists this identity's card from before `amanat keys upgrade` "
                f"({earlier[0].key_id}); send the new card (`amanat keys card`) to the "
                "organization's admin") if earlier else ""
        raise InvestigatorError(
            f"{identity.name} ({identity.key_id}) is not on the current roster "
            f"(version {roster.version}) of {roster.origin}{hint}"
        )
    session = Session(client, identity, roster, roster_text, org_vkey)
    client.login(identity.key_id, identity.sign_login, session.log_vkey)
    return session


def list_inbox(session: Session) -> list[SubmissionInfo]:
    """Every submission on the server, oldest first."""
    return list(session.client.iter_submissions())


def unlisted_submissions(session: Session, listed: Sequence[SubmissionInfo]
                         ) -> list[LoggedItem]:
    """Submissions the log records with no deletion that ``listed`` (the server's listing)
    omits or lists at another log index: dropped without a logged event. Reads the whole log
    and checks it against the latest signed checkpoint. Raises InvestigatorError."""
    signed = session.client.checkpoint()
    checkpoint = _open_signed(signed, HybridVerifier.from_vkey(session.log_vkey),
                              "the log's checkpoint")
    try:
        holdings = read_log(session.client, checkpoint)
    except LogMismatchError as exc:
        raise InvestigatorError(f"the log does not match its signed checkpoint: {exc}") from None
    indices = {info.id: info.log_index for info in listed}
    missing = [item for item in holdings.live() if indices.get(item.id) != item.index]
    if missing:  # listed before the checkpoint was read: list again before accusing
        indices = {info.id: info.log_index for info in session.client.iter_submissions()}
        missing = [item for item in missing if indices.get(item.id) != item.index]
    return missing


def find_submission(session: Session, submission_id: str) -> SubmissionInfo:
    for info in session.client.iter_submissions():
        if info.id == submission_id:
            return info
    raise InvestigatorError(f"no submission {submission_id} on the server (run `amanat inbox`)")


# --- the log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEvidence:
    """What proved a submission's entry: its index, the signed checkpoint that includes it,
    and (with remembered state) the size of the earlier checkpoint it extends."""

    index: int
    entry: bytes
    log_vkey: str
    log_key_pinned: bool
    signed_checkpoint: str
    checkpoint: Checkpoint
    consistent_with_size: int | None


def _open_signed(text: str, verifier: HybridVerifier, what: str) -> Checkpoint:
    try:
        return open_checkpoint(text, verifier, verifier.name)
    except (NoteError, CheckpointError) as exc:
        raise InvestigatorError(f"{what} does not verify under the roster's log key: {exc}") \
            from None


def verify_submission_entry(session: Session, info: SubmissionInfo, *,
                            state: AuditState | None = None) -> LogEvidence:
    """Check that the log holds ``info``'s submission entry under a signed checkpoint.

    The entry is rebuilt from the listing (id, SHA-256, size, hour), compared with the
    entry the log serves at its index, and proved included in the latest checkpoint. With
    ``state`` (needs the organization key), the checkpoint must extend the one remembered
    for this log, and the roster must be no older than the one remembered; both are then
    remembered. Raises InvestigatorError.
    """
    client = session.client
    try:
        entry = submission_event(info.id, info.sha256, info.size,
                                 moment=parse_hour(info.received)).encode()
    except EventError as exc:
        raise InvestigatorError(f"the server lists submission {info.id} oddly: {exc}") from None
    log_vkey = session.log_vkey
    verifier = HybridVerifier.from_vkey(log_vkey)
    served = client.entries(info.log_index, info.log_index + 1)
    if served != [entry]:
        raise InvestigatorError(
            f"log entry {info.log_index} is not the submission the server lists "
            f"({info.id}, sha256 {info.sha256}): the server or its log is inconsistent"
        )
    signed, checkpoint = _prove_included(session, info.log_index, entry)
    previous_size: int | None = None
    if state is not None:
        previous_size = _check_against_state(session, state, log_vkey, verifier, checkpoint,
                                             signed)
    return LogEvidence(info.log_index, entry, log_vkey, session.org_vkey is not None, signed,
                       checkpoint, previous_size)


def _prove_included(session: Session, index: int, entry: bytes) -> tuple[str, Checkpoint]:
    """The latest signed checkpoint (the newest cosigned one when the roster names
    cosigners), text and parsed, once the log proved ``entry`` is at ``index`` in its tree.
    Raises InvestigatorError."""
    signed = _relied_checkpoint(session)
    checkpoint = _open_signed(signed, HybridVerifier.from_vkey(session.log_vkey),
                              "the log's checkpoint")
    if index >= checkpoint.size:
        if session.roster.cosigning is not None:
            raise InvestigatorError(
                f"log entry {index} is not yet in a cosigned checkpoint (the newest is of "
                f"size {checkpoint.size}); fetch again later")
        raise InvestigatorError(
            f"log entry {index} is outside the signed tree of size {checkpoint.size}")
    proof = session.client.inclusion_proof(index, checkpoint.size)
    try:
        verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root_hash)
    except MerkleError as exc:
        raise InvestigatorError(
            f"the log cannot prove entry {index} is in its signed tree: {exc}") from None
    return signed, checkpoint


def _relied_checkpoint(session: Session) -> str:
    """The checkpoint to rely on: the latest, or when the roster names cosigners, the latest
    if it is cosigned as the policy requires, else the newest that is. No state is needed:
    a fork cannot gather the cosignatures. Raises InvestigatorError ("not yet cosigned")."""
    signed = session.client.checkpoint()
    policy = session.roster.cosigning
    if policy is None or policy.is_cosigned(signed):
        return signed
    try:
        signed = session.client.cosigned_checkpoint()
    except ClientError as exc:
        if exc.status != 404:
            raise
    try:
        policy.check(signed)
    except CosignatureError as exc:
        raise InvestigatorError(f"the log's checkpoint: {exc}") from None
    return signed


def _check_against_state(session: Session, state: AuditState, log_vkey: str,
                         verifier: HybridVerifier, checkpoint: Checkpoint,
                         signed: str) -> int | None:
    org_vkey = session.org_vkey
    if org_vkey is None:
        raise InvestigatorError("--state needs --org: remembered checkpoints are kept per "
                                "organization key")
    seen_roster = state.roster_seen(org_vkey)
    if seen_roster is not None and session.roster.version < seen_roster[0]:
        raise InvestigatorError(
            f"roster version {session.roster.version} is older than version {seen_roster[0]} "
            "seen before: refusing a rollback")
    previous_size: int | None = None
    previous_text = state.checkpoint_seen(org_vkey, log_vkey)
    if previous_text is not None:
        previous = _open_signed(previous_text, verifier, "the remembered checkpoint")
        previous_size = previous.size
        if checkpoint.size < previous.size:
            raise InvestigatorError(
                f"the log shows {checkpoint.size} entries, fewer than the {previous.size} "
                "seen before: the log was rolled back")
        if checkpoint.size == previous.size and checkpoint.root_hash != previous.root_hash:
            raise InvestigatorError(
                f"the log signed two different trees of size {previous.size}: a fork")
        if previous.size not in (0, checkpoint.size):
            proof = session.client.consistency_proof(previous.size, checkpoint.size)
            try:
                verify_consistency(previous.size, checkpoint.size, previous.root_hash,
                                   checkpoint.root_hash, proof)
            except MerkleError as exc:
                raise InvestigatorError(
                    f"the log at size {checkpoint.size} does not extend the checkpoint of size "
                    f"{previous.size} seen before (history rewritten): {exc}") from None
    digest = hashlib.sha256(session.roster.format().encode("utf-8")).digest()
    version = session.roster.version
    if seen_roster is not None and seen_roster[0] > version:  # pragma: no cover - refused above
        version, digest = seen_roster
    state.record(org_vkey, version, digest, log_vkey, signed)
    return previous_size


# --- deletion (admin) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    """A deletion the log proved: its entry (kind deletion, hour, id, admin's key id), at
    ``index`` in the signed tree of ``tree_size`` entries."""

    index: int
    event: Event
    tree_size: int


def delete_submission(session: Session, submission_id: str) -> Deletion:
    """Delete a submission (needs the admin role), then check that the log holds the
    deletion entry naming it and this admin, under a signed checkpoint.

    Raises InvestigatorError: no such submission, the admin role missing, or a log that
    does not show the deletion as it must.
    """
    me = session.identity
    try:
        index = session.client.delete_submission(submission_id)
    except ClientError as exc:
        if exc.status == 403:
            raise InvestigatorError(
                f"{me.name} ({me.key_id}) is not an admin on the roster: only an admin may "
                "delete a submission") from None
        if exc.status == 404:
            raise InvestigatorError(f"no submission {submission_id} on the server") from None
        raise
    served = session.client.entries(index, index + 1)
    try:
        event = parse_event(served[0]) if len(served) == 1 else None
    except EventError:
        event = None
    if (event is None or event.kind != KIND_DELETION or event.get("id") != submission_id
            or event.get("investigator") != me.key_id):
        raise InvestigatorError(
            f"the server says it deleted {submission_id}, but log entry {index} is not its "
            f"deletion by {me.key_id}: the server or its log is inconsistent")
    _, checkpoint = _prove_included(session, index, served[0])
    return Deletion(index, event, checkpoint.size)


# --- decryption into memory -----------------------------------------------------------------


class _Cancelled(Exception):
    pass


class PlaintextStream:
    """A readable stream of the plaintext of an age file, decrypted by a worker thread.

    ``age.decrypt`` pushes authenticated plaintext (64 KiB chunks, or batches of up to
    2 MiB when it decrypts on several threads); this turns it into a ``read()`` the bundle
    reader pulls from, through a small bounded queue in memory (at most ``_QUEUE_CHUNKS``
    writes, so about 16 MiB), so no plaintext is ever written to a file. A decryption error
    (no matching identity, a damaged chunk) is raised from ``read`` in the reading thread.
    Use as a context manager.
    """

    _QUEUE_CHUNKS = 8

    def __init__(self, sealed: BinaryIO, identities: Sequence[age.Identity]) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(self._QUEUE_CHUNKS)
        self._cancelled = threading.Event()
        self._pending = memoryview(b"")
        self._finished = False
        self._thread = threading.Thread(target=self._run, args=(sealed, list(identities)),
                                        name="amanat-decrypt", daemon=True)
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._put(bytes(data))
        return len(data)

    def _run(self, sealed: BinaryIO, identities: list[age.Identity]) -> None:
        try:
            age.decrypt(sealed, self, identities, armored=False)  # type: ignore[arg-type]
        except _Cancelled:
            return
        except BaseException as exc:  # handed to the reader, raised there
            with contextlib.suppress(_Cancelled):
                self._put(exc)
            return
        with contextlib.suppress(_Cancelled):
            self._put(None)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        while not self._pending and not self._finished:
            item = self._queue.get()
            if item is None:
                self._finished = True
            elif isinstance(item, BaseException):
                self._finished = True
                raise item
            else:
                self._pending = memoryview(item)
        out = bytes(self._pending[:size])
        self._pending = self._pending[size:]
        return out

    def close(self) -> None:
        self._cancelled.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        self._thread.join(timeout=10)

    def __enter__(self) -> PlaintextStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _decrypt_error(exc: age.AgeError, identity: InvestigatorIdentity, what: str) -> Exception:
    if isinstance(exc, age.NoMatchError):
        return NotSealedToYouError(
            f"{what} was not sealed to {identity.name} ({identity.key_id}): no recipient "
            "matches this identity (were you on the roster when it was sealed?)")
    return InvestigatorError(f"{what} cannot be decrypted: {exc}")


def read_manifest(sealed: BinaryIO, identity: InvestigatorIdentity,
                  what: str = "the submission") -> Manifest:
    """Decrypt just enough of a sealed bundle to read and validate its manifest."""
    try:
        with PlaintextStream(sealed, [identity.age_identity()]) as plaintext:
            return open_bundle(plaintext).manifest
    except age.AgeError as exc:
        raise _decrypt_error(exc, identity, what) from None
    except BundleError as exc:
        raise InvestigatorError(f"{what} is refused: {exc}") from None


# --- opening a submission -------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRecord:
    """The result of opening a submission: where it went and what custody.json says."""

    case_dir: Path
    manifest: Manifest
    custody: dict[str, object]


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _custody(info: SubmissionInfo, evidence: LogEvidence | None, session: Session,
             manifest_json: bytes, manifest: Manifest, opened_at: str) -> dict[str, object]:
    log: dict[str, object] | None = None
    if evidence is not None:
        log = {
            "key": evidence.log_vkey,
            "key_verified_by_organization": evidence.log_key_pinned,
            "index": evidence.index,
            "entry": evidence.entry.decode("ascii"),
            "checkpoint": evidence.signed_checkpoint,
            "tree_size": evidence.checkpoint.size,
            "root_hash": _b64(evidence.checkpoint.root_hash),
            "extends_remembered_size": evidence.consistent_with_size,
        }
    return {
        "format": CUSTODY_FORMAT,
        "submission": {
            "id": info.id,
            "ciphertext_sha256": info.sha256,
            "ciphertext_size": info.size,
            "received_hour": info.received,
            "log_index": info.log_index,
        },
        "log": log,
        "roster": {
            "organization": session.roster.origin,
            "organization_key": session.org_vkey,
            "version": session.roster.version,
        },
        "manifest": {
            "sha256": hashlib.sha256(manifest_json).hexdigest(),
            "schema": manifest.schema,
            "language": manifest.language,
            "publication_consent": manifest.publication_consent,
            "reply_possible": manifest.reply is not None,
        },
        "attachments": [
            {
                "file": f"attachments/{a.name}",
                "media_type": a.media_type,
                "size": a.size,
                "sha256_before_cleaning": a.sha256_before_cleaning,
                "sha256_after_cleaning": a.sha256_after_cleaning,
                "metadata_kept": a.metadata_kept,
            }
            for a in manifest.attachments
        ],
        "opened_by": {"key_id": session.identity.key_id, "name": session.identity.name},
        "opened_at": opened_at,
    }


def _write_new(dir_fd: int, name: str, data: bytes) -> None:
    fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _read_at(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _answers(manifest: Manifest) -> dict[str, object]:
    data = manifest.to_dict()
    return {key: data[key] for key in ("language", "publication_consent", "persons")}


class _Counted:
    """A write-only stream passing everything to ``dst`` and the running count to
    ``progress(done, total)`` (what `VaultClient.download` needs of its destination)."""

    def __init__(self, dst: BinaryIO, total: int, progress: Callable[[int, int], None]) -> None:
        self._dst = dst
        self._total = total
        self._progress = progress
        self._done = 0
        progress(0, total)  # the download starts now

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        written = self._dst.write(data)
        self._done += written
        self._progress(self._done, self._total)
        return written


@contextlib.contextmanager
def _ciphertext_file(directory: Path) -> Iterator[BinaryIO]:
    """An unnamed temporary file in ``directory`` for the downloaded ciphertext."""
    try:
        with tempfile.TemporaryFile(dir=directory) as f:
            yield f
    except OSError as exc:
        raise InvestigatorError(f"cannot store the download in {directory}: {exc.strerror}") \
            from None


def open_submission(session: Session, submission_id: str, case_dir: str | os.PathLike[str], *,
                    state: AuditState | None = None, verify_log: bool = True,
                    progress: Callable[[int, int], None] | None = None) -> CaseRecord:
    """Download, check, decrypt and extract a submission into the case folder ``case_dir``.

    ``case_dir`` must not exist or be empty. Result: ``manifest.json``, ``attachments/``,
    ``statement.txt``, ``answers.json`` and ``custody.json``. The ciphertext is kept in an
    unnamed temporary file next to ``case_dir`` while it is checked; plaintext goes only into
    ``case_dir``, in pieces as it is decrypted (memory does not grow with the submission),
    each file synced and named only once complete and matching the manifest.
    ``progress(done, total)`` is called as the download goes. Raises NotSealedToYouError,
    InvestigatorError (log checks, a refused bundle: nothing is left behind).
    """
    target = Path(case_dir)
    info = find_submission(session, submission_id)
    evidence = verify_submission_entry(session, info, state=state) if verify_log else None
    parent = target.parent if str(target.parent) else Path(".")
    with _ciphertext_file(parent) as sealed:
        sink = sealed if progress is None else cast(BinaryIO, _Counted(sealed, info.size,
                                                                         progress))
        digest = session.client.download(info.id, sink, info.size)
        if digest != info.sha256:
            raise InvestigatorError(
                f"the downloaded file's SHA-256 {digest} is not the {info.sha256} in its log "
                "entry: refusing to open it")
        sealed.seek(0)
        try:
            with PlaintextStream(sealed, [session.identity.age_identity()]) as plaintext:
                manifest = extract_bundle(plaintext, target)
        except age.AgeError as exc:
            raise _decrypt_error(exc, session.identity, f"submission {info.id}") from None
        except BundleError as exc:
            raise InvestigatorError(
                f"submission {info.id} is refused, nothing was extracted: {exc}") from None
    dir_fd = os.open(target, _DIR_FLAGS)
    try:
        manifest_json = _read_at(dir_fd, "manifest.json")
        custody = _custody(info, evidence, session, manifest_json, manifest, _utc_now())
        statement = manifest.statement
        if statement and not statement.endswith("\n"):
            statement += "\n"
        _write_new(dir_fd, STATEMENT_FILE, statement.encode("utf-8"))
        _write_new(dir_fd, ANSWERS_FILE, _json_bytes(_answers(manifest)))
        _write_new(dir_fd, CUSTODY_FILE, _json_bytes(custody))
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return CaseRecord(target, manifest, custody)


def read_case(case_dir: str | os.PathLike[str]) -> tuple[str, Manifest]:
    """The submission id (from custody.json) and manifest of an opened case folder."""
    folder = Path(case_dir)
    try:
        custody = json.loads((folder / CUSTODY_FILE).read_bytes())
        manifest = Manifest.from_json((folder / "manifest.json").read_bytes())
        submission_id = custody["submission"]["id"]
    except OSError as exc:
        raise InvestigatorError(f"{folder} is not an opened case folder: {exc.strerror}") \
            from None
    except (ValueError, KeyError, TypeError, ManifestError) as exc:
        raise InvestigatorError(f"{folder} is not a valid case folder: {exc}") from None
    if not isinstance(submission_id, str):
        raise InvestigatorError(f"{folder}/{CUSTODY_FILE} names no submission id")
    return submission_id, manifest


# --- replies --------------------------------------------------------------------------------


def seal_reply(manifest: Manifest, message: str) -> tuple[str, bytes]:
    """(mailbox id, sealed reply): ``message`` sealed to the witness's reply recipient,
    padded inside the encryption (`vault.replytext`), so its logged size hides its length."""
    if manifest.reply is None:
        raise InvestigatorError("the witness asked for no replies: the testimony names no "
                                "reply address")
    if not message.strip():
        raise InvestigatorError("the reply is empty")
    recipient = age.parse_recipient(manifest.reply.recipient)
    if not age.is_post_quantum(recipient):  # pragma: no cover - the manifest schema refuses it
        raise InvestigatorError("the reply recipient is not post-quantum")
    sealed = age.encrypt_bytes(pad_reply(message), [recipient])
    if len(sealed) > MAX_REPLY_BYTES:
        raise InvestigatorError(f"the reply is too long: sealed, it would pass the "
                                f"{MAX_REPLY_BYTES} bytes a witness's client accepts")
    return manifest.reply.mailbox_id, sealed


def send_reply(session: Session, manifest: Manifest, message: str) -> ReplyInfo:
    """Seal ``message`` to the witness of ``manifest`` and leave it in their mailbox."""
    mailbox_id, sealed = seal_reply(manifest, message)
    return session.client.post_reply(mailbox_id, sealed)
