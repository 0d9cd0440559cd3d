"""Checking the audit log and witness receipts from outside the server.

Protects DESIGN guarantee 4 ("nobody can silently drop, alter or read a testimony") against
the server itself. Everything here trusts only the organization's verifier key, pinned out of
band: the log's verifier key is taken from the roster that key signed, and every claim the
server makes (checkpoints, proofs, entries) is checked against it. What can be caught:

* **bad signature**: a checkpoint not signed by the log key the roster names;
* **rollback**: the log now claims fewer entries than a checkpoint seen before;
* **fork**: two signed checkpoints of the same size with different roots;
* **rewritten history**: a later checkpoint that cannot be proved to extend an earlier one;
* **entries do not match the checkpoint**: the entries served, re-hashed, do not give the
  signed root (an entry edited, deleted, inserted or reordered), and with the server's own
  consistency proofs, which entry is the first to differ;
* **malformed entry**: a signed entry that is not canonical event text (``vault.events``);
* **tiles do not match the checkpoint** (with ``tiles``, C2SP tlog-tiles): a tile that does
  not hash to its place in the tile above it, or tiles whose tree is not the signed root,
  naming the tile; entries read from the bundles are then checked against the tiles'
  level-0 hashes, which locates the first entry that differs;
* **missing submissions** (with ``--full``): a submission the log records, with no deletion
  entry, that the server no longer holds (asked page by page from ``held``, which answers
  only for ids the public log already shows); one line per submission, naming its id and
  log index;
* for a witness receipt: a receipt that does not prove its submission entry in a tree signed
  by the log key, and (online) a log that no longer extends the receipt's tree, or a server
  that no longer holds the submission (deleted with a logged entry, or missing without one);
* **not cosigned**: when the roster names cosigners and a policy k of n
  (``vault.tlog.cosigning``), a checkpoint relied on (the receipt's, or the newest cosigned
  one the log serves, which its latest must extend) that lacks valid cosignatures from k of
  them. This needs no state: a forked or rolled-back history cannot gather them, since each
  cosigner refuses a checkpoint that does not extend what it cosigned before.

An auditor remembers, per organization, the highest roster seen and, per log key, the last
signed checkpoint (`AuditState`, a JSON file written atomically, mode 0600). The remembered
checkpoint is replaced only after a newer one has been proved consistent with it, so after a
failure it is still there, signed by the log, as evidence next to the new one.

Receipt file (what ``amanat submit --receipt`` writes and ``amanat receipt verify`` reads): a
C2SP tlog-proof (``vault.tlog.proof``) whose ``extra`` line carries the submission's log entry,
its canonical event text. The extra data is unauthenticated by itself, but the inclusion proof
binds its hash to the signed tree, so a verified receipt names exactly one submission (its id,
ciphertext SHA-256 and size). Build it with `receipt_file_text`.

The server is reached only through `LogSource`, the small part of ``vault.client.VaultClient``
used here; errors raised by the source (unreachable server, refused request) propagate.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import fcntl
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from keys._files import write_private_file
from keys.errors import RosterError, RosterRollbackError
from keys.roster import Roster, RosterState, verify_roster
from vault.events import (
    EVENT_FIELDS,
    KIND_ACCESS,
    KIND_DELETION,
    KIND_REPLY,
    KIND_SUBMISSION,
    Event,
    EventError,
    parse_event,
)
from vault.holdings import LoggedItem, LogHoldings, missing_line
from vault.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from vault.tlog.cosignature import CosignatureError
from vault.tlog.merkle import (
    HASH_SIZE,
    MerkleError,
    consistency_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from vault.tlog.note import HybridVerifier, MissingSignatureError, NoteError, UnverifiedNoteError
from vault.tlog.proof import Receipt, ReceiptError, verify_receipt
from vault.tlog.tiles import (
    Tile,
    TiledTree,
    TileError,
    TileMismatchError,
    entry_bundles,
    parse_entry_bundle,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "AuditState",
    "AuditStateError",
    "AuditVerdict",
    "Finding",
    "LogMismatchError",
    "LogSource",
    "ReceiptVerdict",
    "TileReader",
    "check_consistent",
    "read_log",
    "receipt_file_text",
    "verify_log",
    "verify_submission_receipt",
]

DEFAULT_PAGE_SIZE = 1000
DEFAULT_MAX_COSIGNED_AGE = 24 * 3600.0
"""How old (seconds) the cosignatures on the checkpoint an audit relies on may be: a day,
against the vault's hourly refresh (``vault.service.cosigning.REFRESH_SECONDS``), so
cosigners down for most of a day still leave audits passing."""
"""Entries asked for per request (the server answers at most this many)."""

STATE_FORMAT = "amanat.audit-state/v1"


class LogSource(Protocol):
    """Where the log is read from: ``vault.client.VaultClient``, or a fake in tests."""

    def roster_text(self) -> str: ...

    def checkpoint(self) -> str: ...

    def entries(self, start: int, end: int) -> list[bytes]: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...

    def held(self, start: int, end: int) -> tuple[int, set[str]]:
        """(end of the range answered for, ids of the submissions logged in entries
        ``start`` to that end which the server still holds)."""
        ...

    def cosigned_checkpoint(self) -> str | None:
        """The newest checkpoint the log says is cosigned as its roster requires, with its
        cosignature lines; None when it has none yet."""
        ...


TileReader = Callable[[Tile], bytes]
"""Fetches the bytes of a C2SP tlog-tiles tile or entry bundle (``VaultClient.tile``)."""


class Finding(enum.Enum):
    """What a check found; the value is the name printed for people."""

    OK = "ok"
    BAD_ROSTER = "bad roster"
    ROSTER_ROLLBACK = "roster rollback"
    NO_LOG_KEY = "no log key"
    BAD_SIGNATURE = "bad signature"
    MALFORMED_CHECKPOINT = "malformed checkpoint"
    ROLLBACK = "rollback"
    FORK = "fork"
    REWRITTEN_HISTORY = "rewritten history"
    ENTRIES_MISMATCH = "entries do not match the checkpoint"
    TILES_MISMATCH = "tiles do not match the checkpoint"
    MALFORMED_ENTRY = "malformed entry"
    MALFORMED_RECEIPT = "malformed receipt"
    NOT_A_SUBMISSION = "not a submission receipt"
    NOT_INCLUDED = "entry not in the log"
    MISSING = "missing"
    DELETED = "deleted"
    NOT_COSIGNED = "not cosigned"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of `verify_log`.

    ``checkpoint`` / ``signed_checkpoint``: the latest checkpoint, once its signature verified,
    and its text as served. ``previous``: the signed checkpoint remembered from an earlier run
    (with ``signed_checkpoint``, the evidence of a rollback, fork or rewrite). ``first_bad_entry``:
    with a mismatch found by a full check, the first entry index whose prefix of the log the
    signed tree does not contain (located with the server's consistency proofs).
    """

    finding: Finding
    reason: str
    log_vkey: str | None = None
    roster_version: int | None = None
    checkpoint: Checkpoint | None = None
    signed_checkpoint: str | None = None
    previous: str | None = None
    previous_size: int | None = None
    entries_checked: int | None = None
    first_bad_entry: int | None = None
    missing: tuple[LoggedItem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.finding is Finding.OK

    def missing_lines(self) -> list[str]:
        """One line per missing submission, naming its id and log index."""
        return [f"{Finding.MISSING.value}: {missing_line(item)}" for item in self.missing]

    def summary(self) -> str:
        """One line: ``ok: size N, root ...`` (with what was compared), or the finding."""
        if not self.ok or self.checkpoint is None:
            return f"{self.finding.value}: {self.reason}"
        line = f"ok: size {self.checkpoint.size}, root {_b64(self.checkpoint.root_hash)}"
        return f"{line}; {self.reason}" if self.reason else line


@dataclass(frozen=True)
class ReceiptVerdict:
    """The outcome of `verify_submission_receipt`.

    On success ``event`` is the submission the receipt proves (``event.get("id")``, ``sha256``,
    ``size``), at ``index`` in the tree of ``checkpoint``; ``latest`` is the server's current
    checkpoint when the check was online.
    """

    finding: Finding
    reason: str
    index: int | None = None
    event: Event | None = None
    checkpoint: Checkpoint | None = None
    latest: Checkpoint | None = None
    signed_latest: str | None = None
    cosigned_by: tuple[str, ...] = ()
    cosigned_later: bool = False

    @property
    def ok(self) -> bool:
        return self.finding is Finding.OK

    def summary(self) -> str:
        """One line saying what the receipt proves, or why it was refused."""
        if not self.ok or self.event is None or self.checkpoint is None:
            return f"{self.finding.value}: {self.reason}"
        event = self.event
        line = (
            f"ok: submission {event.get('id')} (sha256 {event.get('sha256')}, "
            f"{event.get('size')} bytes, {event.time}) is entry {self.index} of the log "
            f"at size {self.checkpoint.size}, root {_b64(self.checkpoint.root_hash)}"
        )
        if self.cosigned_by:
            line += f", cosigned by {', '.join(self.cosigned_by)}"
        if self.cosigned_later:
            line += " (a checkpoint cosigned since the receipt was issued, fetched from the server)"
        if self.latest is not None:
            line += (f"; the log at size {self.latest.size} still contains it, and the server "
                     "still holds it")
        return line


# --- remembered state ---------------------------------------------------------------------------


class AuditStateError(ValueError):
    """The audit state file cannot be read or written, or holds something that does not verify."""


@dataclass
class _OrgRecord:
    roster_version: int
    roster_sha256: bytes
    checkpoints: dict[str, str] = field(default_factory=dict)


class AuditState:
    """What an auditor has seen, per organization (keyed by its verifier key): the highest
    roster version and its SHA-256, and per log verifier key the last signed checkpoint.

    In memory (``AuditState()``) or in a JSON file (`AuditState.open`, which holds a lock for
    the whole check so two runs never interleave). File format::

        {"format": "amanat.audit-state/v1",
         "organizations": {"<org vkey>": {
             "roster": {"version": N, "sha256": "<hex of the roster text>"},
             "logs": {"<log vkey>": {"checkpoint": "<signed checkpoint>"}}}}}
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._organizations: dict[str, _OrgRecord] = {}

    def __repr__(self) -> str:
        return f"AuditState(path={self.path!r}, organizations={len(self._organizations)})"

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path | str) -> Iterator[AuditState]:
        """Lock ``path`` (a sibling ``.lock`` file), load it (absent: empty) and yield it."""
        file_path = Path(path)
        state = cls(file_path)
        lock_path = file_path.with_name(file_path.name + ".lock")
        try:
            file_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditStateError(f"cannot lock the audit state {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state._organizations = _read_state(file_path)
            yield state
        finally:
            os.close(fd)

    def roster_seen(self, org_vkey: str) -> tuple[int, bytes] | None:
        """The highest roster version seen for this organization and its text's SHA-256."""
        record = self._organizations.get(org_vkey)
        return None if record is None else (record.roster_version, record.roster_sha256)

    def checkpoint_seen(self, org_vkey: str, log_vkey: str) -> str | None:
        """The last signed checkpoint seen from this organization's log ``log_vkey``."""
        record = self._organizations.get(org_vkey)
        return None if record is None else record.checkpoints.get(log_vkey)

    def record(
        self,
        org_vkey: str,
        roster_version: int,
        roster_sha256: bytes,
        log_vkey: str,
        signed_checkpoint: str,
    ) -> None:
        """Remember a verified roster and checkpoint (and write the file, if any).

        Callers record only what they checked: a roster no older than the one seen, and a
        checkpoint proved consistent with the one seen.
        """
        record = self._organizations.get(org_vkey)
        if record is None:
            record = _OrgRecord(roster_version, roster_sha256)
            self._organizations[org_vkey] = record
        record.roster_version, record.roster_sha256 = roster_version, roster_sha256
        record.checkpoints[log_vkey] = signed_checkpoint
        self.save()

    def save(self) -> None:
        """Write the state file atomically, mode 0600 (no-op for an in-memory state)."""
        if self.path is None:
            return
        document = {
            "format": STATE_FORMAT,
            "organizations": {
                org: {
                    "roster": {
                        "version": record.roster_version,
                        "sha256": record.roster_sha256.hex(),
                    },
                    "logs": {
                        log: {"checkpoint": text}
                        for log, text in sorted(record.checkpoints.items())
                    },
                }
                for org, record in sorted(self._organizations.items())
            },
        }
        data = (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()
        try:
            write_private_file(self.path, data)
        except OSError as exc:
            raise AuditStateError(
                f"cannot write the audit state {self.path}: {exc.strerror}"
            ) from None


def _read_state(path: Path) -> dict[str, _OrgRecord]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AuditStateError(f"cannot read the audit state {path}: {exc.strerror}") from None
    damaged = AuditStateError(
        f"the audit state {path} is damaged; keep it as evidence and start a new one only if "
        "you trust the log's history"
    )
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise damaged from None
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise damaged
    organizations = document.get("organizations")
    if not isinstance(organizations, dict):
        raise damaged
    result: dict[str, _OrgRecord] = {}
    for org, entry in organizations.items():
        if not isinstance(entry, dict):
            raise damaged
        roster, logs = entry.get("roster"), entry.get("logs")
        if not isinstance(roster, dict) or not isinstance(logs, dict):
            raise damaged
        version, digest = roster.get("version"), roster.get("sha256")
        if type(version) is not int or version < 1:
            raise damaged
        if not isinstance(digest, str) or len(digest) != 64:
            raise damaged
        try:
            digest_bytes = bytes.fromhex(digest)
        except ValueError:
            raise damaged from None
        checkpoints: dict[str, str] = {}
        for log, item in logs.items():
            if not isinstance(item, dict) or not isinstance(item.get("checkpoint"), str):
                raise damaged
            checkpoints[log] = item["checkpoint"]
        result[org] = _OrgRecord(version, digest_bytes, checkpoints)
    return result


# --- shared checks ------------------------------------------------------------------------------


class _Refused(Exception):
    """Internal: a check failed with this finding and one-line reason."""

    def __init__(self, finding: Finding, reason: str, first_bad: int | None = None,
                 missing: tuple[LoggedItem, ...] = ()) -> None:
        super().__init__(reason)
        self.finding = finding
        self.reason = reason
        self.first_bad = first_bad
        self.missing = missing


def _verified_roster(
    roster_text: str, org_vkey: str, state: RosterState | None, *, check_dates: bool = True
) -> Roster:
    try:
        return verify_roster(roster_text, org_vkey, state=state, check_dates=check_dates)
    except RosterRollbackError as exc:
        raise _Refused(Finding.ROSTER_ROLLBACK, str(exc)) from None
    except RosterError as exc:
        raise _Refused(Finding.BAD_ROSTER, str(exc)) from None


def _log_verifier(roster: Roster) -> tuple[str, HybridVerifier]:
    if roster.log_vkey is None:
        raise _Refused(
            Finding.NO_LOG_KEY,
            f"roster version {roster.version} names no audit log key, so no checkpoint can "
            "be trusted",
        )
    return roster.log_vkey, HybridVerifier.from_vkey(roster.log_vkey)


def _open_signed(text: str, verifier: HybridVerifier, what: str) -> Checkpoint:
    try:
        return open_checkpoint(text, verifier, verifier.name)
    except MissingSignatureError as exc:
        raise _Refused(
            Finding.BAD_SIGNATURE,
            f"{what} is not signed by both halves of the log key the roster names: {exc}",
        ) from None
    except UnverifiedNoteError:
        raise _Refused(
            Finding.BAD_SIGNATURE,
            f"{what} is not signed by the log key {verifier.name} "
            f"({verifier.classical.key_id.hex()}) that the roster names",
        ) from None
    except (NoteError, CheckpointError) as exc:
        raise _Refused(Finding.MALFORMED_CHECKPOINT, f"{what}: {exc}") from None


class _Proofs(Protocol):
    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...


class _TileProofs:
    """Consistency proofs computed from a tree rebuilt from tiles (already checked against
    the latest checkpoint), instead of asked from the server."""

    def __init__(self, tree: TiledTree) -> None:
        self._tree = tree

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(self._tree, old, new)


def _cosigned_by(roster: Roster, signed: str, what: str) -> tuple[str, ...]:
    """The cosigners (at least k) whose cosignatures on ``signed`` verify, when the roster
    names cosigners (else nothing is required); NOT_COSIGNED otherwise."""
    if roster.cosigning is None:
        return ()
    try:
        return tuple(roster.cosigning.check(signed))
    except CosignatureError as exc:
        raise _Refused(Finding.NOT_COSIGNED, f"{what}: {exc}") from None


def _check_extends(source: _Proofs, old: Checkpoint, new: Checkpoint, seen: str) -> None:
    """Refuse unless the tree of ``new`` provably extends the tree of ``old``."""
    if new.size < old.size:
        raise _Refused(
            Finding.ROLLBACK,
            f"the log now shows {new.size} entries, fewer than the {old.size} of the "
            f"checkpoint {seen}",
        )
    if new.size == old.size:
        if new.root_hash != old.root_hash:
            raise _Refused(
                Finding.FORK,
                f"the log signed two different roots for size {new.size}: "
                f"{_b64(old.root_hash)} ({seen}) and {_b64(new.root_hash)} (now)",
            )
        return
    if old.size == 0:
        return  # every tree extends the empty tree
    proof = source.consistency_proof(old.size, new.size)
    try:
        verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
    except MerkleError as exc:
        raise _Refused(
            Finding.REWRITTEN_HISTORY,
            f"the log at size {new.size} cannot prove it extends the checkpoint {seen} "
            f"at size {old.size}: {exc}",
        ) from None


def check_consistent(
    source: LogSource, previous: Checkpoint, latest: Checkpoint
) -> tuple[Finding, str] | None:
    """Whether ``latest`` provably extends ``previous`` (both already verified): None if it
    does, else the finding (ROLLBACK, FORK or REWRITTEN_HISTORY) and a one-line reason.

    Asks ``source`` for a consistency proof only when one is needed; its errors propagate.
    """
    try:
        _check_extends(source, previous, latest, "seen before")
    except _Refused as refused:
        return refused.finding, refused.reason
    return None


# --- the whole log ------------------------------------------------------------------------------


def verify_log(
    source: LogSource,
    org_vkey: str,
    *,
    state: AuditState | None = None,
    full: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    tiles: TileReader | None = None,
    max_cosigned_age: float | None = DEFAULT_MAX_COSIGNED_AGE,
    clock: Callable[[], float] = time.time,
) -> AuditVerdict:
    """Check the log behind ``source`` against the pinned organization key ``org_vkey``.

    Fetches and verifies the roster (no rollback below what ``state`` remembers), takes the
    log key from it, verifies the latest checkpoint's signature and its consistency with the
    checkpoint ``state`` remembers for that log; with ``full``, fetches every entry (in pages
    of ``page_size``), recomputes the root and parses every entry as canonical event text.
    With ``tiles`` the whole log is read as C2SP tlog-tiles instead (and ``full`` is
    implied): the tree is rebuilt from its tiles and checked against the checkpoint, the
    consistency with the remembered checkpoint is computed from it, and every entry is read
    from the bundles and checked against the tiles' leaf hashes.
    When the roster names cosigners, the checkpoint relied upon must carry k cosignatures
    and k of them must be at most ``max_cosigned_age`` seconds old by ``clock`` (None: any
    age): the vault has each cosigner cosign its newest checkpoint again every
    ``REFRESH_SECONDS`` (``vault.service.cosigning``), so an older one is a view the log
    stopped showing the cosigners, perhaps shown to this auditor alone.
    On success ``state`` (if given) remembers the new roster and checkpoint; on failure it
    keeps what it had. Errors raised by ``source`` propagate; AuditStateError when the state
    holds a checkpoint that no longer verifies under the roster's log key.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    progress = _Progress()
    try:
        notes = _audit(source, org_vkey, state, full or tiles is not None, page_size, progress,
                       tiles, _Freshness(max_cosigned_age, clock))
    except _Refused as refused:
        return AuditVerdict(
            refused.finding,
            refused.reason,
            progress.log_vkey,
            progress.roster_version,
            progress.latest,
            progress.signed,
            progress.previous,
            progress.previous_size,
            None,
            refused.first_bad,
            refused.missing,
        )
    return AuditVerdict(
        Finding.OK,
        "; ".join(notes),
        progress.log_vkey,
        progress.roster_version,
        progress.latest,
        progress.signed,
        progress.previous,
        progress.previous_size,
        progress.latest.size if full and progress.latest is not None else None,
    )


@dataclass
class _Progress:
    """What `verify_log` established before it stopped, for the verdict."""

    log_vkey: str | None = None
    roster_version: int | None = None
    latest: Checkpoint | None = None
    signed: str | None = None
    previous: str | None = None
    previous_size: int | None = None


def _audit(
    source: LogSource,
    org_vkey: str,
    state: AuditState | None,
    full: bool,
    page_size: int,
    progress: _Progress,
    tiles: TileReader | None,
    freshness: _Freshness,
) -> list[str]:
    roster_state = RosterState()
    seen_roster = None if state is None else state.roster_seen(org_vkey)
    if seen_roster is not None:
        roster_state.check_and_update(org_vkey, seen_roster[0], text_sha256=seen_roster[1])
    roster = _verified_roster(source.roster_text(), org_vkey, roster_state)
    progress.roster_version = roster.version
    log_vkey, verifier = _log_verifier(roster)
    progress.log_vkey = log_vkey
    signed = source.checkpoint()
    progress.signed = signed
    latest = _open_signed(signed, verifier, "the latest checkpoint")
    progress.latest = latest
    notes: list[str] = []
    if roster.cosigning is not None:
        # What is audited from here on is the checkpoint relied upon: the latest when it is
        # cosigned, else the newest one that is (the rest of the log is not yet cosigned
        # and could be a view shown to this auditor alone).
        note, signed, latest = _check_cosigned_latest(source, roster, verifier, signed,
                                                      latest, freshness)
        progress.signed, progress.latest = signed, latest
        notes.append(note)
    proofs: _Proofs = source
    tree: TiledTree | None = None
    if tiles is not None:
        tree, count = _read_tiles(tiles, latest)
        proofs = _TileProofs(tree)
        notes.append(f"tree rebuilt from its {_tiles(count)}")
    previous = None if state is None else state.checkpoint_seen(org_vkey, log_vkey)
    if previous is not None:
        try:
            seen = open_checkpoint(previous, verifier, verifier.name)
        except (NoteError, CheckpointError) as exc:
            raise AuditStateError(
                f"the audit state holds a checkpoint of {verifier.name} that does not "
                f"verify: {exc}"
            ) from None
        progress.previous, progress.previous_size = previous, seen.size
        _check_extends(proofs, seen, latest, "seen before")
        notes.append(f"consistent with size {seen.size} seen before")
    elif state is not None:
        notes.append("first checkpoint seen from this log")
    if full:
        holdings = (_check_entries(source, latest, page_size) if tiles is None or tree is None
                    else _check_bundles(tiles, tree))
        notes.append(f"all {latest.size} entries re-hashed{_tally(holdings.kinds)}")
        missing = _missing_submissions(source, holdings, page_size)
        if missing:
            raise _Refused(
                Finding.MISSING,
                f"{len(missing)} of the {len(holdings.live())} submissions the log records "
                "with no deletion are not held by the server",
                missing=tuple(missing),
            )
        notes.append(f"all {len(holdings.live())} undeleted submissions held")
    if state is not None:
        digest = hashlib.sha256(roster.format().encode("utf-8")).digest()
        state.record(org_vkey, roster.version, digest, log_vkey, signed)
    return notes


@dataclass(frozen=True)
class _Freshness:
    """How old the cosignatures relied upon may be (seconds; None: any age), by ``clock``."""

    max_age: float | None
    clock: Callable[[], float]

    def check(self, roster: Roster, signed: str, what: str) -> str:
        """Refuse (NOT_COSIGNED) a checkpoint whose k cosigners vouch for it only as of
        longer ago than ``max_age``; else say how long ago, for the verdict."""
        assert roster.cosigning is not None
        age = self.clock() - roster.cosigning.cosigned_as_of(signed)
        if self.max_age is not None and age > self.max_age:
            raise _Refused(
                Finding.NOT_COSIGNED,
                f"{what} was last cosigned {_duration(age)} ago, more than "
                f"{_duration(self.max_age)}: the vault has its cosigners cosign its newest "
                "checkpoint again every hour, so this may be an old view of the log shown to "
                "you alone; fetch again later, or audit with --state")
        return f"{_duration(max(age, 0.0))} ago"


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5 h``, ``3 days`` (rounded down)."""
    if seconds >= 2 * 86400:
        return f"{int(seconds // 86400)} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60:
        return f"{int(seconds // 60)} min"
    return f"{int(seconds)} s"


def _check_cosigned_latest(source: LogSource, roster: Roster, verifier: HybridVerifier,
                           signed: str, latest: Checkpoint, freshness: _Freshness
                           ) -> tuple[str, str, Checkpoint]:
    """Hold the latest checkpoint to the cosigning policy: it is cosigned itself, or it
    provably extends the newest checkpoint that is, which is then the one relied upon (an
    auditor with no state cannot tell an uncosigned tail shown to it alone from the one
    everybody sees); and k of its cosignatures are recent (``freshness``). Returns a note
    for the verdict, and the checkpoint relied upon (its signed text and itself)."""
    assert roster.cosigning is not None
    policy = roster.cosigning
    if policy.is_cosigned(signed):
        names = _cosigned_by(roster, signed, "the latest checkpoint")
        when = freshness.check(roster, signed, f"the latest checkpoint (size {latest.size})")
        return f"cosigned by {', '.join(names)} {when}", signed, latest
    other = source.cosigned_checkpoint()
    if other is None:
        _cosigned_by(roster, signed, f"the latest checkpoint (size {latest.size})")
    assert other is not None  # _cosigned_by refused, or the latest was cosigned after all
    cosigned = _open_signed(other, verifier, "the cosigned checkpoint")
    what = f"the newest cosigned checkpoint (size {cosigned.size})"
    names = _cosigned_by(roster, other, what)
    when = freshness.check(roster, other, what)
    _check_extends(source, cosigned, latest, "cosigned")
    return (f"relies on the checkpoint at size {cosigned.size}, cosigned by "
            f"{', '.join(names)} {when}, which the latest extends; the "
            f"{latest.size - cosigned.size} entries after it are not yet cosigned and not "
            f"audited (size {latest.size})",
            other, cosigned)


_PLURALS = {KIND_ACCESS: "accesses", KIND_REPLY: "replies"}


def _tally(kinds: Counter[str]) -> str:
    """``: 1 roster, 3 submissions, 1 deletion`` (kinds in their canonical order)."""
    parts = [f"{kinds[kind]} {kind if kinds[kind] == 1 else _PLURALS.get(kind, kind + 's')}"
             for kind in EVENT_FIELDS if kinds[kind]]
    return ": " + ", ".join(parts) if parts else ""


@dataclass
class _Served(LogHoldings):
    """What the server served for a full check: leaf hashes, in order, what the entries say
    must be held, and what went wrong."""

    leaves: bytearray = field(default_factory=bytearray)
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    first_malformed: int | None = None
    short: str | None = None


def _fetch_leaf_hashes(source: LogSource, size: int, page_size: int) -> _Served:
    """Fetch entries ``[0, size)`` page by page, keeping only their leaf hashes."""
    served = _Served()
    while served.count < size:
        end = min(size, served.count + page_size)
        page = source.entries(served.count, end)
        if len(page) > end - served.count:
            raise _Refused(
                Finding.ENTRIES_MISMATCH,
                f"the server returned {len(page)} entries for the {end - served.count} from "
                f"index {served.count}",
            )
        if not page:
            served.short = (
                f"the server returned no entries from index {served.count}, but the "
                f"checkpoint has {size}"
            )
            break
        for entry in page:
            served.leaves += leaf_hash(entry)
            event = served.add(entry)
            if event is not None:
                served.kinds[event.kind] += 1
            elif served.first_malformed is None:
                served.first_malformed = served.count
            served.count += 1
    return served


def _prefix_root(leaves: bytearray, size: int) -> bytes:
    return root_hash(bytes(leaves[i * HASH_SIZE : (i + 1) * HASH_SIZE]) for i in range(size))


def _first_divergence(source: LogSource, served: _Served, checkpoint: Checkpoint) -> int | None:
    """The first index where the entries served leave the signed tree, or None if unknown.

    A prefix of the entries that is in the signed tree has a consistency proof to it; one that
    is not has none (unless SHA-256 collides). Prefixes are monotone, so bisect: O(log n)
    proofs. The whole of what was served is known not to match; if it was cut short, the first
    entry not served counts as the first that differs. This only locates a mismatch already
    established, so a server that refuses a proof leaves the place unknown rather than failing
    the check.
    """
    # The first `low` entries are in the tree; the first `high` are not.
    low = 0
    high = served.count + 1 if served.count < checkpoint.size else checkpoint.size
    while high - low > 1:
        middle = (low + high) // 2
        try:
            proof = source.consistency_proof(middle, checkpoint.size)
        except Exception:
            return None
        prefix_root = _prefix_root(served.leaves, middle)
        try:
            verify_consistency(middle, checkpoint.size, prefix_root, checkpoint.root_hash, proof)
        except MerkleError:
            high = middle
        else:
            low = middle
    return high - 1


def _check_entries(source: LogSource, checkpoint: Checkpoint, page_size: int) -> _Served:
    """Re-hash every entry against the signed root; returns what the entries say (how many
    of each kind, which submissions must be held)."""
    served = _fetch_leaf_hashes(source, checkpoint.size, page_size)
    if served.short is not None or (
        _prefix_root(served.leaves, checkpoint.size) != checkpoint.root_hash
    ):
        first_bad = _first_divergence(source, served, checkpoint)
        problem = served.short or (
            f"the {checkpoint.size} entries served do not hash to the signed root "
            f"{_b64(checkpoint.root_hash)}"
        )
        if first_bad is not None:
            problem += f"; entry {first_bad} is the first that the signed tree does not contain"
        raise _Refused(Finding.ENTRIES_MISMATCH, problem, first_bad)
    if served.first_malformed is not None:
        raise _Refused(
            Finding.MALFORMED_ENTRY,
            f"entry {served.first_malformed} is in the signed tree but is not canonical event "
            "text",
            served.first_malformed,
        )
    return served


def _tiles(count: int) -> str:
    return f"{count} tile" if count == 1 else f"{count} tiles"


def _read_tiles(tiles: TileReader, checkpoint: Checkpoint) -> tuple[TiledTree, int]:
    """The tree of the checkpoint's size rebuilt from its hash tiles, each checked against
    the tile above it, and its root against the signed one; and how many tiles it took."""
    tree = TiledTree(checkpoint.size)
    count = 0
    while tree.next_tile is not None:
        tile = tree.next_tile
        try:
            tree.add(tile, tiles(tile))
        except TileMismatchError as exc:
            raise _Refused(Finding.TILES_MISMATCH, str(exc)) from None
        except TileError as exc:
            raise _Refused(Finding.TILES_MISMATCH, f"{tile.path()}: {exc}") from None
        count += 1
    if tree.root() != checkpoint.root_hash:
        raise _Refused(
            Finding.TILES_MISMATCH,
            f"the tree rebuilt from its {_tiles(count)} does not have the signed root "
            f"{_b64(checkpoint.root_hash)}",
        )
    return tree, count


def _check_bundles(tiles: TileReader, tree: TiledTree) -> _Served:
    """Every entry, read from the entry bundles, against the leaf hashes of a tree already
    checked against the signed root; returns what the entries say, as `_check_entries`."""
    served = _Served()
    for bundle in entry_bundles(tree.size):
        try:
            entries = parse_entry_bundle(tiles(bundle), bundle.width)
        except TileError as exc:
            raise _Refused(Finding.ENTRIES_MISMATCH, f"{bundle.path()}: {exc}",
                           bundle.start) from None
        for entry, expected in zip(entries, tree.leaf_hashes(bundle), strict=True):
            if leaf_hash(entry) != expected:
                raise _Refused(
                    Finding.ENTRIES_MISMATCH,
                    f"entry {served.count} in {bundle.path()} is not the entry the signed "
                    "tree holds there",
                    served.count,
                )
            event = served.add(entry)
            if event is None:
                raise _Refused(
                    Finding.MALFORMED_ENTRY,
                    f"entry {served.count} is in the signed tree but is not canonical event "
                    "text",
                    served.count,
                )
            served.kinds[event.kind] += 1
            served.count += 1
    return served


class LogMismatchError(ValueError):
    """The entries served do not give the signed checkpoint's root (message: the finding)."""


def read_log(source: LogSource, checkpoint: Checkpoint, *,
             page_size: int = DEFAULT_PAGE_SIZE) -> LogHoldings:
    """Every entry up to ``checkpoint`` (already verified), re-hashed against its signed root:
    what the log says the server must hold. Raises LogMismatchError."""
    try:
        return _check_entries(source, checkpoint, page_size)
    except _Refused as refused:
        raise LogMismatchError(f"{refused.finding.value}: {refused.reason}") from None


def _missing_submissions(source: LogSource, holdings: LogHoldings, page_size: int
                         ) -> list[LoggedItem]:
    """The live submissions (logged, not deleted) that the server says it does not hold.

    Asks ``held`` only for pages of entries that hold a live submission."""
    live = holdings.live()
    missing: list[LoggedItem] = []
    position = 0
    while position < len(live):
        start = live[position].index
        answered, held = source.held(start, min(holdings.size, start + page_size))
        if answered <= start:
            raise _Refused(Finding.MISSING,
                           f"the server answered for no entry from index {start}")
        while position < len(live) and live[position].index < answered:
            if live[position].id not in held:
                missing.append(live[position])
            position += 1
    # A submission being stored right now is logged a moment before it is listed as held:
    # ask once more for each one before calling it missing.
    return [item for item in missing
            if item.id not in source.held(item.index, item.index + 1)[1]]


# --- witness receipts ---------------------------------------------------------------------------


def receipt_file_text(entry: str | bytes, receipt: str) -> str:
    """The receipt file for a submission: the server's tlog-proof ``receipt`` with the
    submission's log ``entry`` (canonical event text) in its ``extra`` line.

    Raises ReceiptError if ``receipt`` is malformed or already carries other extra data, and
    EventError if ``entry`` is not a submission event. Nothing is verified here: call
    `verify_submission_receipt` before relying on it.
    """
    data = entry.encode("utf-8") if isinstance(entry, str) else bytes(entry)
    event = parse_event(data)
    if event.kind != KIND_SUBMISSION:
        raise EventError(f"a receipt is for a submission, not an event of kind {event.kind}")
    parsed = Receipt.parse(receipt)
    if parsed.extra is not None and parsed.extra != data:
        raise ReceiptError("the receipt already carries other extra data")
    return Receipt(parsed.index, parsed.proof, parsed.checkpoint, data).format()


def verify_submission_receipt(
    receipt_text: str,
    org_vkey: str,
    roster_text: str,
    *,
    source: LogSource | None = None,
    require_cosigned: bool = True,
    roster_is_current: bool = False,
) -> ReceiptVerdict:
    """Check a receipt file (see the module docstring) for a submission.

    ``roster_is_current``: the roster is the one the server serves now (not a file the
    witness kept), so its dates are checked: a server could otherwise answer with any
    roster the organization ever signed, such as one from before it named cosigners, and
    so escape the cosigning requirement forever.

    Offline: the roster verifies under ``org_vkey`` (no state is kept: a witness keeps no
    trace; an expired roster is accepted, since a receipt outlives it); the receipt carries a
    canonical submission entry, which its inclusion proof puts at its index in a checkpoint
    signed by the log key the roster names. Online (``source``): also the log's latest
    checkpoint verifies and provably extends the receipt's checkpoint.
    When the roster names cosigners, the receipt's checkpoint must carry valid cosignatures
    from k of them; online, a receipt issued before it was cosigned is also accepted once the
    log's newest cosigned checkpoint is proved to contain its entry and extend its tree
    (``cosigned_later``). ``require_cosigned=False`` skips that requirement: only for a
    witness told, right after submitting, that the receipt is not yet cosigned.
    Errors raised by ``source`` propagate.
    """
    index: int | None = None
    event: Event | None = None
    checkpoint: Checkpoint | None = None
    latest: Checkpoint | None = None
    signed_latest: str | None = None
    cosigned_by: tuple[str, ...] = ()
    cosigned_later = False
    try:
        # A receipt speaks of the past and must verify for years: the roster only says which
        # log key the organization vouched for, so the expiry date of a kept roster is not
        # checked here; the one the server serves now must be in date.
        roster = _verified_roster(roster_text, org_vkey, None, check_dates=roster_is_current)
        _, verifier = _log_verifier(roster)
        try:
            parsed = Receipt.parse(receipt_text)
        except ReceiptError as exc:
            raise _Refused(Finding.MALFORMED_RECEIPT, str(exc)) from None
        index = parsed.index
        if parsed.extra is None:
            raise _Refused(
                Finding.MALFORMED_RECEIPT,
                "the receipt carries no log entry (no 'extra' line), so it proves nothing "
                "about a submission",
            )
        try:
            event = parse_event(parsed.extra)
        except EventError as exc:
            raise _Refused(Finding.NOT_A_SUBMISSION, f"the receipt's entry: {exc}") from None
        if event.kind != KIND_SUBMISSION:
            raise _Refused(
                Finding.NOT_A_SUBMISSION,
                f"the receipt's entry is an event of kind {event.kind}, not a submission",
            )
        checkpoint = _open_signed(parsed.checkpoint, verifier, "the receipt's checkpoint")
        try:
            verify_receipt(receipt_text, parsed.extra, verifier, verifier.name)
        except MerkleError as exc:
            raise _Refused(
                Finding.NOT_INCLUDED,
                f"the inclusion proof does not put this submission at index {index} of the "
                f"signed tree of size {checkpoint.size}: {exc}",
            ) from None
        if roster.cosigning is not None and require_cosigned:
            if source is not None and not roster.cosigning.is_cosigned(parsed.checkpoint):
                cosigned_later = True
                cosigned_by = _cosigned_since(source, roster, verifier, parsed.checkpoint,
                                              checkpoint, index, parsed.extra)
            else:
                cosigned_by = _cosigned_by(roster, parsed.checkpoint, "the receipt's checkpoint")
        if source is not None:
            signed_latest = source.checkpoint()
            latest = _open_signed(signed_latest, verifier, "the log's latest checkpoint")
            _check_extends(source, checkpoint, latest, "in the receipt")
            _check_still_held(source, event, index, latest)
    except _Refused as refused:
        return ReceiptVerdict(
            refused.finding, refused.reason, index, event, checkpoint, latest, signed_latest
        )
    return ReceiptVerdict(Finding.OK, "", index, event, checkpoint, latest, signed_latest,
                          cosigned_by, cosigned_later)


def _cosigned_since(source: LogSource, roster: Roster, verifier: HybridVerifier, signed: str,
                    checkpoint: Checkpoint, index: int, entry: bytes) -> tuple[str, ...]:
    """For a receipt whose checkpoint is not cosigned yet: the cosigners of the newest
    cosigned checkpoint the log serves, once it is proved to contain the receipt's entry and
    to extend the receipt's checkpoint; NOT_COSIGNED when there is none that covers it."""
    what = f"the receipt's checkpoint (size {checkpoint.size})"
    other = source.cosigned_checkpoint()
    if other is None:
        return _cosigned_by(roster, signed, what)  # refuses: not cosigned, none is
    cosigned = _open_signed(other, verifier, "the cosigned checkpoint")
    names = _cosigned_by(roster, other, f"the newest cosigned checkpoint (size {cosigned.size})")
    if cosigned.size < checkpoint.size:
        raise _Refused(
            Finding.NOT_COSIGNED,
            f"{what}: not yet cosigned; the newest cosigned checkpoint (size {cosigned.size}) "
            "does not cover it yet; fetch again later",
        )
    _check_extends(source, checkpoint, cosigned, "in the receipt")
    proof = source.inclusion_proof(index, cosigned.size)
    try:
        verify_inclusion(leaf_hash(entry), index, cosigned.size, proof, cosigned.root_hash)
    except MerkleError as exc:
        raise _Refused(
            Finding.NOT_INCLUDED,
            f"the log cannot prove entry {index} is in its cosigned tree of size "
            f"{cosigned.size}: {exc}",
        ) from None
    return names


def _check_still_held(source: LogSource, event: Event, index: int, latest: Checkpoint) -> None:
    """Refuse unless the server still holds the receipt's submission: DELETED when a deletion
    entry (proved in the latest tree) names it, MISSING when none does."""
    submission_id = event.get("id")
    _, held = source.held(index, index + 1)
    if submission_id in held:
        return
    start = index + 1
    while start < latest.size:
        page = source.entries(start, min(latest.size, start + DEFAULT_PAGE_SIZE))
        if not page:
            break
        for offset, entry in enumerate(page):
            try:
                found = parse_event(entry)
            except EventError:
                continue
            if found.kind == KIND_DELETION and found.get("id") == submission_id:
                proof = source.inclusion_proof(start + offset, latest.size)
                try:
                    verify_inclusion(leaf_hash(entry), start + offset, latest.size, proof,
                                     latest.root_hash)
                except MerkleError:
                    continue
                raise _Refused(
                    Finding.DELETED,
                    f"submission {submission_id} (log entry {index}) is no longer held: log "
                    f"entry {start + offset} ({found.time}) records its deletion by "
                    f"{found.get('investigator')}",
                )
        start += len(page)
    item = LoggedItem(submission_id, index, event.get("sha256"), int(event.get("size")),
                      event.time)
    raise _Refused(Finding.MISSING, missing_line(item), missing=(item,))
