"""The vault service: every operation the server offers, independent of HTTP.

The HTTP API (api/) and the command line both call this class, so the rules live in one
place (DESIGN.md "What must be true"):

* 4 - every submission, access, deletion, reply and roster change is appended to the audit
  log before it is acknowledged or served; a submission's receipt proves its entry;
* 5 - rosters are accepted only when signed by the pinned organization key, naming this
  server's log key, newer than the current one and not expired (nor valid for too long);
* 2 - nothing stored or logged identifies a witness: ids are random, times are hours.

Crash safety: a sealed file is promoted to durable storage first (recorded with log index
-1), then logged, then its log index recorded; ``recover`` logs anything a crash left
between the last two steps, so nothing stored escapes the log. ``reconcile`` then holds the
store to the log (vault/service/consistency.py): nothing stored is removed without a logged
event, and what the log records but the store lost is named.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO, Protocol

from vault import events
from vault.events import Event, hour_text, parse_hour
from vault.service.auth import Authenticator, SignatureError, TokenError
from vault.service.consistency import Reconciliation, read_holdings, reconcile, reinstate
from vault.service.cosigning import CosignatureCollector
from vault.service.mailbox import mailbox_id
from vault.service.room import EmergencyRoom, disk_full
from vault.service.rosterview import RosterRejected, RosterView, read_roster
from vault.service.staging import (
    BusyUploadsError,
    RetryLaterError,
    Staging,
    StagingLimits,
    StorageFullError,
)
from vault.service.uploads import (
    Appender,
    NotSealedError,
    OffsetError,
    TooLargeError,
    check_sealed_to_roster,
    inspect_sealed_file,
)
from vault.service.work import WORK_DOMAIN, SharedWrites, WorkError, WorkGate
from vault.store import (
    NAMESPACE_SUBMISSIONS,
    ConflictError,
    NotFoundError,
    ReplyRecord,
    RosterRecord,
    Store,
    SubmissionRecord,
    UploadRecord,
    is_valid_mailbox_id,
    new_id,
    require_id,
)
from vault.tlog.cosigning import CosigningPolicy

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024
# Submissions that may wait for cosignatures at once (each holds a worker thread).
MAX_COSIGN_WAITERS = 8
MAX_COSIGNED_MEMO = 4096
# How many of the newest checkpoints with enough cosignature lines one request may check.
COSIGN_SCAN = 64
# How many stalled uploads one new upload may push out (when room, not places, is short).
EVICTIONS_PER_ADMISSION = 16


class AuditLogLike(Protocol):
    """The parts of vault.store.auditlog.AuditLog the service uses."""

    def append(self, entries: Sequence[bytes]) -> list[int]: ...

    def receipt(self, index: int, size: int | None = None) -> str: ...

    def latest_checkpoint(self) -> str: ...

    def cosigned_checkpoint_at(self, size: int) -> str: ...

    def cosigned_sizes(self, min_lines: int = 1, *, above: int = -1,
                       limit: int | None = None) -> list[int]: ...

    def add_cosignatures(self, size: int, lines: list[str]) -> None: ...

    def size(self) -> int: ...

    def entries(self, start: int, end: int) -> list[bytes]: ...

    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def subtree_hashes(self, level: int, start: int, end: int) -> list[bytes]: ...


class LogRangeError(ValueError):
    """A log query names entries or tree sizes outside the current log."""


class ServiceError(Exception):
    """Base class of refusals by the service that are not storage or upload errors."""


class NoRosterError(ServiceError):
    """No roster has been published yet, so nothing can be sealed or authenticated."""


class ForbiddenError(ServiceError):
    """The investigator lacks the role this operation needs."""


class RosterStaleError(RosterRejected):
    """A roster's version is not higher than the current one."""

    def __init__(self, message: str) -> None:
        super().__init__(message, signature=False)


class NotCosignedYetError(ServiceError):
    """No checkpoint has the cosignatures the roster's policy requires yet."""


class NoOrgKeyError(ServiceError):
    """The server was started without an organization key, so it cannot accept rosters."""


@dataclass(frozen=True)
class Limits:
    """Size and time limits; the defaults suit a small organization."""

    max_submission_bytes: int = 2 * GIB
    max_reply_bytes: int = 16 * MIB
    max_roster_bytes: int = 1 * MIB
    upload_ttl_hours: int = 24
    max_open_uploads: int = 1000
    max_staged_bytes: int = 16 * GIB
    upload_idle_seconds: float = 600.0
    upload_evict_seconds: float = 60.0
    reserve_bytes: int = 0
    max_stored_bytes: int = 0  # 0: no quota
    work_quiet_rate: float = 0.0  # 0: no proof of work asked (vault/service/work.py)
    work_min_bits: int = 0  # a floor for the proof of work's difficulty (0: none)
    max_page: int = 200
    # How long a submission's receipt waits for cosignatures on a checkpoint covering it
    # before it is given without (saying "not yet cosigned"); 0: never waits.
    cosign_wait_seconds: float = 2.0


@dataclass(frozen=True)
class Receipt:
    """What a witness gets back: the submission id, its log entry (canonical event text,
    which the receipt proves) and a C2SP tlog-proof receipt."""

    id: str
    sha256: str
    size: int
    received: str
    log_index: int
    entry: str
    receipt: str


@dataclass(frozen=True)
class Investigator:
    """An authenticated investigator, as listed in the current roster."""

    key_id: str
    name: str
    roles: tuple[str, ...] = field(default=())


ADMIN_ROLE = "admin"
READER_ROLE = "reader"


def require_role(who: Investigator, role: str, action: str) -> None:
    """Refuse ``action`` unless the investigator holds ``role`` on the current roster.

    Testimony is sealed to readers only; an admin who is not a reader administers the
    vault (deletion) but has no business listing, downloading or answering testimony.
    """
    if role not in who.roles:
        raise ForbiddenError(f"{action} needs the {role} role")


def _staging_limits(limits: Limits) -> StagingLimits:
    return StagingLimits(limits.max_open_uploads, limits.max_staged_bytes,
                         limits.upload_idle_seconds, limits.upload_evict_seconds,
                         limits.reserve_bytes, limits.max_stored_bytes)


@dataclass
class _Append:
    """An entry waiting in the group-commit queue, and what became of it."""

    data: bytes
    done: bool = False
    index: int | None = None
    error: Exception | None = None


class VaultService:
    """Storage, audit log, roster and authentication glued together under the rules above."""

    def __init__(
        self,
        store: Store,
        audit_log: AuditLogLike,
        log_vkey: str,
        org_vkey: str | None,
        *,
        limits: Limits | None = None,
        authenticator: Authenticator | None = None,
        room: EmergencyRoom | None = None,
        shared: SharedWrites | None = None,
    ) -> None:
        self.store = store
        # Space held back for investigators' log entries when the disk is full (room.py).
        self.room = room
        if room is not None:
            room.ensure()
        self.audit_log = audit_log
        self.log_vkey = log_vkey
        self.org_vkey = org_vkey
        self._limits = limits or Limits()
        self.auth = authenticator or Authenticator(log_vkey)
        self._log_lock = threading.Lock()
        # Entries waiting for the next group commit (``_log``).
        self._queue: list[_Append] = []
        self._queue_lock = threading.Lock()
        self._roster_lock = threading.Lock()
        self._roster: RosterView | None = None
        # Gathering cosignatures (vault/service/cosigning.py), started by the server.
        self._collector: CosignatureCollector | None = None
        self._cosigned = threading.Condition()
        self._cosign_waiters = 0
        # (policy, size) -> whether that checkpoint meets the policy (lines are only added).
        self._cosigned_memo: dict[tuple[CosigningPolicy, int], bool] = {}
        self._newest_cosigned: dict[CosigningPolicy, int] = {}
        self._cosign_state = threading.Lock()
        # Uploads with a request appending to them right now: one writer at a time.
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self.staging = Staging(_staging_limits(self._limits), free=store.free_bytes)
        self.work = WorkGate(self.auth.derive_key(WORK_DOMAIN),
                             quiet_rate=self._limits.work_quiet_rate,
                             min_bits=self._limits.work_min_bits,
                             places_used=self._places_used, shared=shared)
        self._resync()
        record = store.current_roster()
        if record is not None and org_vkey is not None:
            # The current roster stays current after it expires (clients refuse it; the
            # organization publishes a renewed one): only publishing checks dates.
            self._roster = read_roster(record.text, org_vkey, check_dates=False)

    @property
    def limits(self) -> Limits:
        return self._limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self._limits = limits
        self.staging.limits = _staging_limits(limits)
        self.work.quiet_rate = limits.work_quiet_rate
        self.work.min_bits = limits.work_min_bits

    def _places_used(self) -> float:
        return self.store.count_uploads() / self._limits.max_open_uploads

    def admit_anonymous_write(self, work: str | None) -> None:
        """Check the proof of work an anonymous write carries (none needed while the
        server is quiet); WorkError when it needs one (vault/service/work.py)."""
        self.work.admit(work)

    # --- audit log ---
    def _log(self, event: Event, *, investigator: bool = False) -> int:
        """Append ``event`` and return its index once it is durable.

        Group commit: requests that log at the same moment share one transaction, one fsync
        and one signed checkpoint. Each puts its entry in a queue; whoever then holds the
        log lock appends everything queued (in queue order), so a request waiting for the
        lock usually finds its entry already appended by the one before it. When a batch
        fails, its entries are appended one by one, so each request gets its own answer.
        For an investigator's read, deletion or reply, a full disk first gives up the room
        held back for them (room.py), then the append is tried once more."""
        ticket = _Append(event.encode())
        with self._queue_lock:
            self._queue.append(ticket)
        try:
            with self._log_lock:
                if not ticket.done:
                    with self._queue_lock:
                        batch, self._queue = self._queue, []
                    self._append_batch(batch)
                error = ticket.error
                if error is not None:
                    if not (investigator and self.room is not None and disk_full(error)
                            and self.room.release()):
                        raise error
                    ticket.index = self.audit_log.append([ticket.data])[0]
        finally:
            self.store.conceal_times()  # also after a failed append (a full disk)
        if self.room is not None:
            self.room.ensure()  # a stat while it is held; written again once there is room
        if self._collector is not None:
            self._collector.notify()
        assert ticket.index is not None
        return ticket.index

    def _append_batch(self, batch: list[_Append]) -> None:
        """Append ``batch`` in one transaction, or entry by entry if that fails (call with
        the log lock held)."""
        try:
            indices = self.audit_log.append([ticket.data for ticket in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done = True
                return
            for ticket in batch:
                try:
                    ticket.index = self.audit_log.append([ticket.data])[0]
                except Exception as single:
                    ticket.error = single
                ticket.done = True
            return
        for ticket, index in zip(batch, indices, strict=True):
            ticket.index = index
            ticket.done = True

    # --- cosignatures ---
    def cosigning_policy(self) -> CosigningPolicy | None:
        """The current roster's cosigning policy (None: no roster, or no cosigners)."""
        return None if self._roster is None else self._roster.roster.cosigning

    def start_cosigning(self, proxy: str | None = None) -> None:
        """Start sending new checkpoints to the roster's cosigners, in the background
        (through ``proxy``, e.g. ``socks5h://127.0.0.1:9050``, when given)."""
        if self._collector is None:
            self._collector = CosignatureCollector(
                self.audit_log, self.cosigning_policy, on_cosigned=self._note_cosigned,
                proxy=proxy)
            self._collector.start()

    def stop_cosigning(self) -> None:
        collector, self._collector = self._collector, None
        if collector is not None:
            collector.stop()

    def _note_cosigned(self) -> None:
        with self._cosigned:
            self._cosigned.notify_all()

    def _cosigned_size(self, covering: int) -> int | None:
        """The size of the newest checkpoint that meets the cosigning policy and covers
        entry ``covering - 1`` (every checkpoint does when there is no policy), or None."""
        policy = self.cosigning_policy()
        if policy is None:
            size = self.audit_log.size()
            return size if size >= covering else None
        # The newest qualifying checkpoint is remembered per policy, and only newer ones are
        # looked at, at most COSIGN_SCAN of them, newest first: an anonymous request never
        # walks the log's history (after the cosigners change, no old checkpoint qualifies
        # and each would be checked again). Verification runs without the log lock, so
        # appends go on meanwhile. Every older checkpoint is smaller than the newest
        # qualifying one, so that one covers the entry or none does.
        with self._cosign_state:
            newest = self._newest_cosigned.get(policy)
        # Only checkpoints with at least two lines per required cosigner can qualify.
        for size in self.audit_log.cosigned_sizes(
                2 * policy.quorum, above=-1 if newest is None else newest, limit=COSIGN_SCAN):
            key = (policy, size)
            with self._cosign_state:
                known = self._cosigned_memo.get(key)
            if known is None:
                known = policy.is_cosigned(self.audit_log.cosigned_checkpoint_at(size))
                with self._cosign_state:
                    if len(self._cosigned_memo) >= MAX_COSIGNED_MEMO:
                        self._cosigned_memo.clear()
                    self._cosigned_memo[key] = known
            if known:
                with self._cosign_state:
                    if len(self._newest_cosigned) >= MAX_COSIGNED_MEMO:
                        self._newest_cosigned.clear()
                    newest = max(size, self._newest_cosigned.get(policy, size))
                    self._newest_cosigned[policy] = newest
                break
        return newest if newest is not None and newest >= covering else None

    def _wait_cosigned(self, covering: int, seconds: float) -> int | None:
        """``_cosigned_size(covering)``, waiting up to ``seconds`` for it, but only while
        enough cosigners answer and at most MAX_COSIGN_WAITERS submissions wait at once: a
        waiting submission holds a worker thread, and cosigners that are down must never
        slow the vault (the receipt then says it is not yet cosigned)."""
        size = self._cosigned_size(covering)
        collector, policy = self._collector, self.cosigning_policy()
        if (size is not None or collector is None or policy is None or seconds <= 0
                or collector.answering() < policy.quorum):
            return size
        deadline = time.monotonic() + seconds
        with self._cosigned:  # checked under the lock that notifies: no wake-up is missed
            if self._cosign_waiters >= MAX_COSIGN_WAITERS:
                return size
            self._cosign_waiters += 1
            try:
                while True:
                    size = self._cosigned_size(covering)
                    left = deadline - time.monotonic()
                    if size is not None or left <= 0:
                        return size
                    self._cosigned.wait(left)
            finally:
                self._cosign_waiters -= 1

    def recover(self) -> int:
        """Finish what a crash interrupted; return how many entries were newly logged.

        A stored submission or reply without a log index was either logged before (a crash
        between the append and recording its index, or an older database restored): its
        entry is found by id in the whole log and its index recorded; or not at all: it is
        logged now. Blobs with no record are left to ``reconcile``.
        """
        # The pending records first, then the log: on a shared store a record is pending
        # only once the worker finishing it is gone, so whatever it logged is read below.
        submissions, replies = self.store.pending_submissions(), self.store.pending_replies()
        with self._log_lock:
            holdings = read_holdings(self.audit_log)
        logged = 0
        kinds = (
            (submissions, holdings.submissions, events.submission_event,
             self.store.set_submission_log_index),
            (replies, holdings.replies, events.reply_event, self.store.set_reply_log_index),
        )
        for pending, logged_ones, event_of, set_index in kinds:
            for record in pending:
                found = logged_ones.get(record.id)
                if found is None:
                    index = self._log(event_of(record.id, record.sha256, record.size,
                                               moment=parse_hour(record.received)))
                    logged += 1
                else:
                    index = found.index
                set_index(record.id, index)
        return logged

    def reconcile(self) -> Reconciliation:
        """Compare the store with the whole log (after ``recover``): quarantine sealed files
        with no row, finish logged deletions, and report what the log records but the store
        lost (vault/service/consistency.py)."""
        with self._log_lock:
            holdings = read_holdings(self.audit_log)
        roster = self.store.current_roster()
        return reconcile(self.store, holdings, None if roster is None else roster.version)

    def reinstate(self) -> list[str]:
        """``amanat fsck --repair``: record again the logged submissions whose sealed file is
        kept and matches its entry; then log, as new submissions under their own ids, the
        well-formed sealed files in quarantine that no entry records (acknowledged after
        the log's copy was taken, or left by a crash). One line per submission."""
        with self._log_lock:
            holdings = read_holdings(self.audit_log)
        done = reinstate(self.store, holdings)
        for blob_id in self.store.quarantined_ids(NAMESPACE_SUBMISSIONS):
            if blob_id in holdings.submissions:
                continue  # logged: reinstate() matched it, or named why not
            kept = self.store.open_kept(NAMESPACE_SUBMISSIONS, blob_id)
            if kept is None:
                continue
            try:
                with kept:
                    info = inspect_sealed_file(kept, os.fstat(kept.fileno()).st_size)
            except NotSealedError as exc:
                done.append(f"submission {blob_id}: {exc}; left in quarantine")
                continue
            hour = hour_text()
            self.store.reinstate_submission(
                SubmissionRecord(blob_id, info.sha256, info.size, hour, -1))
            index = self._log(events.submission_event(blob_id, info.sha256, info.size,
                                                      moment=parse_hour(hour)))
            self.store.set_submission_log_index(blob_id, index)
            done.append(f"submission {blob_id}: a sealed file no log entry records, logged "
                        f"now as entry {index} and served again")
        return done

    # --- roster ---
    def roster(self) -> RosterView:
        """The current roster; NoRosterError before the first one is published. Read again
        when the store holds a newer one (published by another worker on a shared store)."""
        record = self.store.current_roster()
        if (record is not None and self.org_vkey is not None
                and (self._roster is None or record.version != self._roster.version)):
            with self._roster_lock:
                self._roster = read_roster(record.text, self.org_vkey, check_dates=False)
        if self._roster is None:
            raise NoRosterError("no roster has been published yet")
        return self._roster

    def roster_text(self) -> str:
        record = self.store.current_roster()
        if record is None:
            raise NoRosterError("no roster has been published yet")
        return record.text

    def publish_roster(self, text: str, *, today: date | None = None) -> RosterView:
        """Verify and install a new roster (signed by the org key, newer, naming our log, not
        expired on ``today`` (default: UTC today) nor valid for longer than allowed)."""
        if self.org_vkey is None:
            raise NoOrgKeyError("this server has no organization key (start it with --org)")
        if len(text.encode("utf-8")) > self.limits.max_roster_bytes:
            raise TooLargeError(f"a roster is at most {self.limits.max_roster_bytes} bytes")
        view = read_roster(text, self.org_vkey, today=today)
        if view.log_vkey != self.log_vkey:
            raise RosterRejected(
                "the roster names another log key; set this server's log key "
                f"({self.log_vkey}) with `amanat roster set-log` and sign again",
                signature=False,
            )
        with self._roster_lock:
            current = self.store.current_roster()
            if current is not None and view.version <= current.version:
                raise RosterStaleError(
                    f"roster version {view.version} is not newer than {current.version}"
                )
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._log(events.roster_event(view.version, digest))
            try:
                self.store.put_roster(RosterRecord(view.version, text))
            except ConflictError as exc:
                raise RosterStaleError(str(exc)) from None
            self._roster = view
        if self._collector is not None:
            self._collector.notify()  # the new roster may name other cosigners
        return view

    # --- resumable uploads (witness) ---
    def create_upload(self, *, durable: bool = True) -> UploadRecord:
        """Start an upload; ``durable=False`` for one finished in the same request (see
        ``Store.create_upload``)."""
        self.roster()  # refuse early when nothing can be accepted
        self._admit()
        upload_id = new_id()
        self.staging.touch(upload_id)
        self.store.create_upload(upload_id, hour_text(), durable=durable)
        return self.store.get_upload(upload_id)

    def _resync(self) -> None:
        """Recount staged and stored bytes from the store (after anything that changes
        them), so the caps never drift from what is on disk."""
        self.staging.resync(self.store.staged_files(), self.store.stored_bytes())

    def _admit(self) -> None:
        """Refuse a new anonymous upload when the caps are reached, after dropping the
        uploads that went idle (they hold no place a genuine witness needs)."""
        try:
            self.staging.admit(self.store.count_uploads())
            return
        except RetryLaterError:
            if self.drop_idle_uploads():
                self.staging.admit(self.store.count_uploads())
                return
        passed: set[str] = set()  # written to by a request on another worker
        for _ in range(EVICTIONS_PER_ADMISSION):
            with self._busy_lock:
                busy = self._busy | passed
            waiting = self.staging.longest_waiting(busy)
            if waiting is None:
                break
            if not self._drop_unless_busy(waiting):
                passed.add(waiting)
                continue
            self._resync()
            try:
                self.staging.admit(self.store.count_uploads())
                return
            except RetryLaterError:
                continue
        self.staging.admit(self.store.count_uploads())

    def drop_idle_uploads(self) -> int:
        """Delete the uploads that received nothing for the idle limit; return how many."""
        self._resync()  # on a shared store: what grew on other workers is not idle
        with self._busy_lock:
            busy = set(self._busy)
        idle = self.staging.idle(busy)
        dropped = sum(1 for upload_id in idle if self._drop_unless_busy(upload_id))
        self._resync()
        return dropped

    def _drop_unless_busy(self, upload_id: str) -> bool:
        """Delete an upload unless a request (here, or on another worker sharing the store)
        is writing to it; whether it was deleted (or was gone already)."""
        with self._busy_lock:
            if upload_id in self._busy:
                return False
            self._busy.add(upload_id)
        try:
            if not self.store.claim_upload(upload_id):
                return False
            try:
                with contextlib.suppress(NotFoundError):
                    self.store.delete_upload(upload_id)
            finally:
                self.store.release_upload(upload_id)
            return True
        finally:
            with self._busy_lock:
                self._busy.discard(upload_id)

    def upload_status(self, upload_id: str) -> UploadRecord:
        return self.store.get_upload(require_id(upload_id))

    def begin_append(self, upload_id: str, offset: int, length: int | None = None,
                     *, limit: int | None = None, anonymous: bool = True,
                     durable: bool = True) -> Appender:
        """Start appending at ``offset``; OffsetError unless it is the current offset,
        TooLargeError when ``length`` (if known) would pass the limit. An ``anonymous``
        body's bytes count against the staging cap as they arrive (StorageFullError)."""
        limit = self.limits.max_submission_bytes if limit is None else limit
        record = self.store.get_upload(require_id(upload_id))
        if offset != record.offset:
            raise OffsetError(f"the upload is at offset {record.offset}, not {offset}")
        if length is not None and offset + length > limit:
            raise TooLargeError(f"larger than the limit of {limit} bytes")
        self._claim(upload_id)
        try:
            writer = self.store.append_upload(upload_id, offset, hour_text(), durable=durable)
        except ConflictError as exc:
            self._release(upload_id)
            raise OffsetError(str(exc)) from None
        except BaseException:
            self._release(upload_id)
            raise
        hasher = hashlib.sha256() if offset == 0 else None
        charge = (lambda size: self.staging.charge(upload_id, size)) if anonymous else None
        # A committed anonymous append leaves the staged bytes as counted as they arrived:
        # no recount needed.
        return Appender(writer, offset, limit, hasher,
                        lambda committed: self._release(
                            upload_id, recount=not (committed and anonymous)),
                        charge)

    def _claim(self, upload_id: str) -> None:
        with self._busy_lock:
            if upload_id in self._busy:
                raise OffsetError("another request is writing to this upload")
            self._busy.add(upload_id)
        claimed = False
        try:
            claimed = self.store.claim_upload(upload_id)  # other workers on a shared store
        finally:
            if not claimed:
                with self._busy_lock:
                    self._busy.discard(upload_id)
        if not claimed:
            raise OffsetError("another request is writing to this upload")
        self.staging.touch(upload_id)

    def _release(self, upload_id: str, *, recount: bool = True) -> None:
        with self._busy_lock:
            self._busy.discard(upload_id)
        self.store.release_upload(upload_id)
        self.staging.touch(upload_id)
        if recount:
            self._resync()
        # The recount reads the database, which stamps its files' access times to the second
        # (relatime): rounded again, whether the request succeeded or failed.
        self.store.conceal_times()

    def abandon_upload(self, upload_id: str) -> None:
        """Delete an upload the witness gave up on."""
        self._claim(require_id(upload_id))
        try:
            self.store.get_upload(upload_id)
            self.store.delete_upload(upload_id)
        finally:
            self._release(upload_id)

    def finish_submission(self, upload_id: str, known_sha256: str | None = None) -> Receipt:
        """Check a complete upload, store it durably, log it and return its receipt.

        A refused file is deleted: bad input stores nothing.
        """
        self._claim(require_id(upload_id))
        try:
            return self._finish_submission(upload_id, known_sha256)
        finally:
            self._release(upload_id)

    def _finish_submission(self, upload_id: str, known_sha256: str | None) -> Receipt:
        record = self.store.get_upload(upload_id)
        self.staging.require_headroom()
        try:
            roster = self.roster()
            with self.store.open_upload(upload_id) as src:
                info = inspect_sealed_file(src, record.offset, known_sha256)
            check_sealed_to_roster(info, roster.readers, roster.stanza_type)
        except (NotSealedError, NoRosterError):
            self.store.delete_upload(upload_id)
            raise
        hour = hour_text()
        submission = SubmissionRecord(new_id(), info.sha256, info.size, hour, -1)
        self.store.promote_submission(upload_id, submission)
        event = events.submission_event(
            submission.id, submission.sha256, submission.size, moment=parse_hour(hour))
        index = self._log(event)
        self.store.set_submission_log_index(submission.id, index)
        cosigned = self._wait_cosigned(index + 1, self.limits.cosign_wait_seconds)
        receipt = self.audit_log.receipt(index, cosigned)
        return Receipt(submission.id, info.sha256, info.size, hour, index,
                       event.encode().decode("ascii"), receipt)

    # --- authentication (investigator) ---
    def new_challenge(self, key_id: str) -> bytes:
        if key_id not in self.roster().investigators:
            raise NotFoundError("no investigator with this key id on the current roster")
        return self.auth.new_challenge(key_id)

    def login(self, key_id: str, challenge: bytes, signature: bytes, server: str | None,
              signature_mldsa: bytes | None = None) -> str:
        """A token for ``key_id``'s signatures of ``challenge`` (Ed25519, and ML-DSA-44 for a
        hybrid investigator), made for the address ``server`` (vault.service.auth)."""
        member = self.roster().investigators.get(key_id)
        if member is None:
            raise SignatureError("no investigator with this key id on the current roster")
        return self.auth.redeem(key_id, challenge, signature, member.auth_key, server,
                                signature_mldsa=signature_mldsa, auth_pq=member.auth_pq)

    def investigator(self, token: str) -> Investigator:
        """The investigator behind a bearer token; TokenError if invalid or off the roster."""
        session = self.auth.session(token)
        try:
            member = self.roster().investigators.get(session.key_id)
        except NoRosterError:
            member = None
        if member is None:
            self.auth.revoke(token)
            raise TokenError("invalid or expired token")
        return Investigator(member.key_id, member.name, member.roles)

    # --- submissions (investigator) ---
    def list_submissions(self, who: Investigator, cursor: str | None, limit: int
                         ) -> tuple[list[SubmissionRecord], str | None]:
        """A page of submissions in arrival order; the second value continues the listing."""
        require_role(who, READER_ROLE, "listing submissions")
        after = 0
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:
                raise NotFoundError("malformed cursor")
            after = int(cursor)
        limit = max(1, min(limit, self.limits.max_page))
        page, next_after = self.store.list_submissions(after, limit)
        # Only what can be served is listed: a record whose sealed file is gone is missing,
        # which investigators' clients then report against the log.
        held = [r for r in page if self.store.blob_size(NAMESPACE_SUBMISSIONS, r.id) == r.size]
        return held, (str(next_after) if len(page) == limit else None)

    def open_submission(self, who: Investigator, submission_id: str
                        ) -> tuple[SubmissionRecord, BinaryIO]:
        """Log the access, then open the sealed file for reading."""
        require_role(who, READER_ROLE, "downloading a submission")
        record = self.store.get_submission(require_id(submission_id))
        src = self.store.open_submission(submission_id)
        try:
            self._log(events.access_event(record.id, who.key_id), investigator=True)
        except BaseException:
            src.close()
            raise
        return record, src

    def delete_submission(self, who: Investigator, submission_id: str) -> int:
        """Delete a submission (admin role); the deletion is logged first. Returns log index."""
        require_role(who, ADMIN_ROLE, "deleting a submission")
        record = self.store.get_submission(require_id(submission_id))
        index = self._log(events.deletion_event(record.id, who.key_id), investigator=True)
        self.store.delete_submission(record.id)
        self._resync()
        return index

    # --- replies ---
    def begin_reply(self, length: int | None, mailbox: str | None = None
                    ) -> tuple[str, Appender]:
        """Stage a sealed reply body (single request, reply size limit). ``mailbox``, when
        given, is checked first so a malformed id is refused before any byte is read."""
        if mailbox is not None and not is_valid_mailbox_id(mailbox):
            raise NotFoundError("a mailbox id is 64 lowercase hex digits")
        # An investigator's reply is authenticated and small: the anonymous caps do not
        # apply, so a flood of anonymous uploads never blocks it.
        # Finished in the same request, so durable only once promoted (Store.create_upload).
        upload_id = new_id()
        self.store.create_upload(upload_id, hour_text(), durable=False)
        try:
            appender = self.begin_append(upload_id, 0, length, limit=self.limits.max_reply_bytes,
                                         anonymous=False, durable=False)
        except BaseException:
            self.store.delete_upload(upload_id)
            raise
        return upload_id, appender

    def finish_reply(self, who: Investigator, upload_id: str, mailbox: str,
                     known_sha256: str | None = None) -> ReplyRecord:
        record = self.store.get_upload(require_id(upload_id))
        try:
            require_role(who, READER_ROLE, "replying to a witness")
        except ForbiddenError:
            self.store.delete_upload(upload_id)
            raise
        try:
            if not is_valid_mailbox_id(mailbox):
                raise NotFoundError("a mailbox id is 64 lowercase hex digits")
            with self.store.open_upload(upload_id) as src:
                info = inspect_sealed_file(src, record.offset, known_sha256)
            if not info.stanza_types:
                raise NotSealedError("a reply must be sealed to the witness")
        except (NotSealedError, NotFoundError):
            self.store.delete_upload(upload_id)
            raise
        self.staging.require_headroom()
        hour = hour_text()
        reply = ReplyRecord(new_id(), mailbox, info.sha256, info.size, hour, -1)
        self.store.promote_reply(upload_id, reply)
        index = self._log(events.reply_event(reply.id, reply.sha256, reply.size,
                                             moment=parse_hour(hour)), investigator=True)
        self.store.set_reply_log_index(reply.id, index)
        self._resync()
        return ReplyRecord(reply.id, mailbox, reply.sha256, reply.size, hour, index)

    def discard_upload(self, upload_id: str) -> None:
        """Remove a staged body after a refused or failed request (never raises NotFound)."""
        with contextlib.suppress(NotFoundError):
            self.store.delete_upload(require_id(upload_id))
        self._resync()

    def replies(self, secret: bytes) -> list[ReplyRecord]:
        """Replies waiting in the mailbox of ``secret`` (empty when none)."""
        return self.store.list_replies(mailbox_id(secret))

    def open_reply(self, secret: bytes, reply_id: str) -> tuple[ReplyRecord, BinaryIO]:
        mailbox = mailbox_id(secret)
        for reply in self.store.list_replies(mailbox):
            if reply.id == reply_id:
                return reply, self.store.open_reply(mailbox, reply_id)
        raise NotFoundError("no such reply in this mailbox")

    # --- public audit log ---
    MAX_ENTRIES = 1000

    # The log's reads take no lock here: the audit log answers them from what it has
    # committed, without waiting for an append in progress (group commit holds _log_lock
    # through its fsync), and a size it gave never shrinks.
    def log_checkpoint(self) -> str:
        """The latest checkpoint, with the cosignatures gathered for it so far."""
        return self.audit_log.cosigned_checkpoint_at(self.audit_log.size())

    def log_cosigned_checkpoint(self) -> str:
        """The newest checkpoint with cosignatures from as many cosigners as the roster's
        policy requires (the latest one when the roster names none); NotCosignedYetError
        when none has them yet."""
        size = self._cosigned_size(0)
        if size is None:
            policy = self.cosigning_policy()
            quorum = 0 if policy is None else policy.quorum
            raise NotCosignedYetError(
                f"no checkpoint is cosigned by {quorum} of the roster's cosigners yet")
        return self.audit_log.cosigned_checkpoint_at(size)

    def log_size(self) -> int:
        return self.audit_log.size()

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``start`` (inclusive) to ``end`` (exclusive), at most MAX_ENTRIES."""
        size = self.audit_log.size()
        if not 0 <= start < end <= size:
            raise LogRangeError(f"need 0 <= start < end <= {size}")
        end = min(end, start + self.MAX_ENTRIES)
        return self.audit_log.entries(start, end)

    def log_held(self, start: int, end: int) -> tuple[int, list[str]]:
        """Ids of the submissions logged in entries ``start`` to ``end`` (exclusive, at most
        MAX_ENTRIES) whose record, at that log index, and sealed file, of the logged size,
        the server holds; and the end of the range answered for.

        Public, like the entries it answers for: it says only whether a logged submission is
        still here, which the log's deletion entries already say unless something went wrong.
        """
        held: list[str] = []
        served = self.log_entries(start, end)
        for offset, entry in enumerate(served):
            try:
                event = events.parse_event(entry)
            except events.EventError:
                continue
            if event.kind != events.KIND_SUBMISSION:
                continue
            try:
                record = self.store.get_submission(event.get("id"))
            except NotFoundError:
                continue
            if record.log_index == start + offset and self.store.blob_size(
                    NAMESPACE_SUBMISSIONS, record.id) == record.size:
                held.append(record.id)
        return start + len(served), held

    def log_inclusion_proof(self, index: int, size: int) -> list[bytes]:
        current = self.audit_log.size()
        if not 0 <= index < size <= current:
            raise LogRangeError(f"need 0 <= index < size <= {current}")
        return self.audit_log.inclusion_proof(index, size)

    def log_consistency_proof(self, old: int, new: int) -> list[bytes]:
        current = self.audit_log.size()
        if not 0 < old <= new <= current:
            raise LogRangeError(f"need 0 < old <= new <= {current}")
        return self.audit_log.consistency_proof(old, new)

    def log_receipt(self, index: int) -> str:
        """A receipt for entry ``index`` against the newest checkpoint that covers it and
        meets the cosigning policy, else against the latest (with what cosignatures it has)."""
        current = self.audit_log.size()
        if not 0 <= index < current:
            raise LogRangeError(f"need 0 <= index < {current}")
        cosigned = self._cosigned_size(index + 1)
        return self.audit_log.receipt(index, cosigned)

    def close(self) -> None:
        """Close the store and the audit log."""
        self.store.close()
        closer = getattr(self.audit_log, "close", None)
        if closer is not None:
            closer()
        self.store.conceal_times()  # closing checkpoints the WAL files

    # --- housekeeping ---
    def sweep(self, now: datetime | None = None) -> int:
        """Remove uploads idle longer than the limit and expired auth state."""
        moment = now or datetime.now(UTC)
        cutoff = hour_text(moment - timedelta(hours=self.limits.upload_ttl_hours))
        stale = [u for u in self.store.uploads_touched_before(cutoff)
                 if self._drop_unless_busy(u)]
        dropped = self.drop_idle_uploads()
        self.auth.sweep()
        if self.room is not None:
            self.room.ensure()  # held back again once there is space for it
        return len(stale) + dropped


__all__ = [
    "ADMIN_ROLE",
    "READER_ROLE",
    "BusyUploadsError",
    "ForbiddenError",
    "Investigator",
    "Limits",
    "LogRangeError",
    "NoOrgKeyError",
    "NoRosterError",
    "Receipt",
    "RosterRejected",
    "RosterStaleError",
    "ServiceError",
    "StorageFullError",
    "VaultService",
    "WorkError",
    "require_role",
]
