"""Holding the store to the audit log at every start: the log is the record of truth.

Protects DESIGN guarantee 4 ("nobody can silently drop a testimony") against the operator's
own tools. The metadata database (vault.sqlite3) and the log (auditlog.sqlite3) are separate
files, so they can diverge: a row deleted by hand, an older vault.sqlite3 restored, a blob
directory copied from another day. ``reconcile`` compares them and

* never removes a stored file without a logged event: a sealed file with no row is moved to
  ``quarantine/<namespace>/<id>`` and named in the server's output; only a submission whose
  deletion the log records has its leftovers (row or file) removed, and that is printed too;
* names every difference that loses something: a logged submission (not deleted) or reply
  whose row or sealed file is missing, a row the log does not record at its index (an older
  log), a roster older than the newest one the log records. The server refuses to start over
  such a store (vault/service/setup.py) unless the operator asks to serve anyway, and every
  client that compares the log with what is served names the same ids (vault/holdings.py).

Lines go to the ``amanat.store`` logger, which ``amanat serve`` prints as
``amanat: WARNING ...``; they name ids and log indices, which the public log already shows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from vault.holdings import LoggedItem, LogHoldings
from vault.store import NAMESPACE_REPLIES, NAMESPACE_SUBMISSIONS, Store, SubmissionRecord

__all__ = ["Reconciliation", "read_holdings", "reconcile", "reinstate", "verify_contents"]

logger = logging.getLogger("amanat.store")

_CHUNK = 4096
_NAMED = 10  # ids named in the one-line refusal; every one is on its own line before it


class _EntrySource(Protocol):
    """The part of the audit log read here."""

    def size(self) -> int: ...

    def entries(self, start: int, end: int) -> list[bytes]: ...


def read_holdings(audit_log: _EntrySource) -> LogHoldings:
    """Every entry of the log, read in chunks (O(n) at start-up, a few MB per 10,000 entries)."""
    holdings = LogHoldings()
    size = audit_log.size()
    while holdings.size < size:
        for entry in audit_log.entries(holdings.size, min(size, holdings.size + _CHUNK)):
            holdings.add(entry)
    return holdings


@dataclass
class Reconciliation:
    """What ``reconcile`` found. ``problems``: one line per difference that loses something."""

    log_size: int
    rows: int
    logged: int
    missing: list[LoggedItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Found by ``amanat fsck`` only (it reads every byte): sealed files that differ from
    # their log entry, a log whose tree or checkpoints do not hold.
    damaged: list[str] = field(default_factory=list)
    # Sealed files kept in quarantine: not served, named so an operator decides.
    kept: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.problems and not self.damaged

    def refusal(self) -> str:
        """One sentence for the refusal to start: what differs and what to do."""
        parts: list[str] = []
        if self.missing:
            named = ", ".join(f"{item.id} (log entry {item.index})"
                              for item in self.missing[:_NAMED])
            more = len(self.missing) - _NAMED
            named += f" and {more} more" if more > 0 else ""
            parts.append(f"the database has {self.rows} submissions but the log records "
                         f"{self.logged}; missing: {named}")
        if self.damaged:
            parts.append(f"{len(self.damaged)} damaged (listed above)")
        others = len(self.problems) - len(self.missing)
        if others:
            other = " other" if self.missing else ""
            parts.append(f"{others}{other} difference{'s' if others > 1 else ''} with the "
                         "log (listed above)")
        return ("; ".join(parts) + ": was an older vault.sqlite3 restored, or a row deleted? "
                "Nothing was removed; see DEPLOY.md §7: restore the newer database or the "
                "missing files; `amanat fsck --repair` records again those whose sealed file "
                "is kept; --allow-missing serves anyway")


def reconcile(store: Store, holdings: LogHoldings, roster_version: int | None) -> Reconciliation:
    """Bring ``store`` in line with the log where the log allows it, report the rest.

    ``roster_version``: the store's current roster version (None: no roster).
    """
    _set_aside_orphans(store, holdings)
    rows = store.record_indices(NAMESPACE_SUBMISSIONS)
    for submission_id in [i for i in rows if i in holdings.deletions]:
        store.delete_submission(submission_id)
        del rows[submission_id]
        logger.warning("finished the logged deletion of submission %s (log entry %d): "
                       "removed its row and sealed file", submission_id,
                       holdings.deletions[submission_id])
    live = holdings.live()
    report = Reconciliation(holdings.size, sum(1 for i in rows.values() if i >= 0), len(live))
    _keep_staged_matches(store, [item for item in live if _absence(
        store, NAMESPACE_SUBMISSIONS, item, rows) is not None])
    for item in live:
        reason = _absence(store, NAMESPACE_SUBMISSIONS, item, rows)
        if reason is not None:
            report.missing.append(item)
            report.problems.append(
                f"submission {item.id} (log entry {item.index}, {item.time}) {reason}")
    replies = store.record_indices(NAMESPACE_REPLIES)
    for item in holdings.replies.values():
        reason = _absence(store, NAMESPACE_REPLIES, item, replies)
        if reason is not None:
            report.problems.append(
                f"reply {item.id} (log entry {item.index}, {item.time}) {reason}")
    for noun, records, logged in (("submission", rows, holdings.submissions),
                                  ("reply", replies, holdings.replies)):
        for record_id, index in records.items():
            entry = logged.get(record_id)
            if index >= 0 and (entry is None or entry.index != index):
                report.problems.append(
                    f"the database records {noun} {record_id} at log entry {index}, which the "
                    f"log (size {holdings.size}) does not record: was an older "
                    "auditlog.sqlite3 restored?")
    have = roster_version or 0
    if have != holdings.roster_version:
        report.problems.append(
            f"the database's roster is version {have} but the log records version "
            f"{holdings.roster_version}" + (
                ": publish the newest roster again" if have < holdings.roster_version else ""))
    return report


def verify_contents(store: Store, holdings: LogHoldings, report: Reconciliation) -> None:
    """What only ``amanat fsck`` checks, reading every sealed file: each logged, undeleted
    submission and each logged reply whose file is held has the SHA-256 and size its log
    entry records, and its row agrees; every file in quarantine is named (``report.kept``).
    Files that ``reconcile`` already named as missing or of the wrong size are not named
    again."""
    from vault.store import NAMESPACE_REPLIES as REPLIES

    for noun, namespace, items in (("submission", NAMESPACE_SUBMISSIONS, holdings.live()),
                                   ("reply", REPLIES, list(holdings.replies.values()))):
        rows = store.record_digests(namespace)
        for item in items:
            size = store.blob_size(namespace, item.id)
            if size is None or size != item.size:
                continue  # named by reconcile
            src = store.open_kept(namespace, item.id)
            if src is None:
                continue
            sha256, read = _digest(src)
            if read != item.size or sha256 != item.sha256:
                report.damaged.append(
                    f"{noun} {item.id} (log entry {item.index}): its sealed file "
                    f"blobs/{namespace}/{item.id} has SHA-256 {sha256} ({read} bytes) where "
                    f"the log records {item.sha256} ({item.size} bytes)")
            row = rows.get(item.id)
            if row is not None and row != (item.sha256, item.size):
                report.damaged.append(
                    f"{noun} {item.id} (log entry {item.index}): its database row records "
                    f"SHA-256 {row[0]} ({row[1]} bytes) where the log records {item.sha256} "
                    f"({item.size} bytes)")
        for blob_id in store.quarantined_ids(namespace):
            if any(blob_id in problem for problem in report.problems):
                continue  # already named, with where it is kept
            where = store.quarantined(namespace, blob_id)
            logged = (holdings.submissions if namespace == NAMESPACE_SUBMISSIONS
                      else holdings.replies).get(blob_id)
            what = (f"the sealed file of {noun} {blob_id} (log entry {logged.index})"
                    if logged else f"a sealed file no log entry records ({noun} id {blob_id})")
            report.kept.append(f"{where}: {what}; kept, not served")


def reinstate(store: Store, holdings: LogHoldings) -> list[str]:
    """Record again every logged, undeleted submission whose row or place in ``blobs/`` is
    lost but whose sealed file is kept (in ``blobs/`` or ``quarantine/``) and matches its log
    entry (SHA-256 and size); return one line per submission reinstated or refused.

    What the log records cannot be invented: a file that does not match stays where it is."""
    done: list[str] = []
    rows = store.record_indices(NAMESPACE_SUBMISSIONS)
    for item in holdings.live():
        if item.id in rows and store.blob_size(NAMESPACE_SUBMISSIONS, item.id) == item.size:
            continue
        kept = store.open_kept(NAMESPACE_SUBMISSIONS, item.id)
        if kept is None:
            continue
        if _digest(kept) != (item.sha256, item.size):
            done.append(f"submission {item.id} (log entry {item.index}): the kept sealed file "
                        "does not match its log entry; left where it is")
            continue
        store.reinstate_submission(
            SubmissionRecord(item.id, item.sha256, item.size, item.time, item.index))
        done.append(f"submission {item.id} (log entry {item.index}): reinstated from the log "
                    "(its sealed file matches the logged SHA-256 and size)")
    return done


def _absence(store: Store, namespace: str, item: LoggedItem, records: dict[str, int]
             ) -> str | None:
    """Why a logged record is not held (None: it is), naming where its file is kept."""
    size = store.blob_size(namespace, item.id)
    if item.id not in records:
        reason = "has no database row"
    elif size is None:
        reason = "has a database row but no sealed file"
    elif size != item.size:
        reason = f"has a sealed file of {size} bytes where the log records {item.size}"
    else:
        return None
    record_id = item.id
    kept = store.quarantined(namespace, record_id)
    return reason + (f"; its sealed file is kept in {kept}" if kept else "")


def _digest(src: BinaryIO) -> tuple[str, int]:
    with src:
        digest, size = hashlib.sha256(), 0
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _keep_staged_matches(store: Store, absent: list[LoggedItem]) -> None:
    """The sweep removes staging files because none was ever acknowledged: a receipt is
    sent only after the atomic rename out of ``uploads/`` and the log append. A staging file
    whose bytes are those of a logged submission the store lacks (a restore that mixed
    copies of different days) would break that rule, so it is kept in quarantine under the
    submission's id instead, before any sweep runs. Only files whose size matches a missing
    submission are hashed."""
    by_size: dict[int, list[LoggedItem]] = {}
    for item in absent:
        by_size.setdefault(item.size, []).append(item)
    if not by_size:
        return
    for upload_id, size in store.staged_files():
        if size not in by_size:
            continue
        sha256, _ = _digest(store.open_staged_file(upload_id))
        for item in by_size[size]:
            if item.sha256 == sha256 and store.quarantined(NAMESPACE_SUBMISSIONS, item.id) is None:
                kept = store.quarantine_staged(upload_id, item.id)
                logger.warning("the unfinished upload %s holds the sealed file of submission %s "
                               "(log entry %d): moved to %s and kept", upload_id, item.id,
                               item.index, kept)
                break


def _set_aside_orphans(store: Store, holdings: LogHoldings) -> None:
    for namespace, blob_id in store.orphaned_blobs():
        if namespace == NAMESPACE_SUBMISSIONS and blob_id in holdings.deletions:
            store.delete_orphan(namespace, blob_id)
            logger.warning("finished the logged deletion of submission %s (log entry %d): "
                           "removed its sealed file", blob_id, holdings.deletions[blob_id])
            continue
        kept = store.quarantine_orphan(namespace, blob_id)
        logger.warning("the sealed file blobs/%s/%s has no database row: moved to %s and "
                       "kept (nothing is removed without a logged event)",
                       namespace, blob_id, kept)
