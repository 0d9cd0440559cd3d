"""The cosigner's durable state: configured logs and the latest cosigned checkpoint of each.

One SQLite file, ``cosigner.db`` in the data directory, in WAL mode with
``synchronous=FULL``: a state change is on disk before the cosignature that depends on it
leaves the process, and a crash at any moment leaves the previous state or the new one,
never a mix. Reading the latest state and replacing it happen in one ``BEGIN IMMEDIATE``
transaction, so two requests (or two processes on one data directory) cannot both cosign
from the same old size.

Tables::

    logs(origin, vkey)                      the log keys trusted for each origin, in their
                                            public form: an Ed25519 vkey, a space and an
                                            ML-DSA-44 vkey (a hybrid key: a checkpoint must
                                            carry both signatures), or an Ed25519 vkey alone
                                            (a classical key, configured explicitly)
    latest(origin, size, root, checkpoint, time)
                                            the last cosigned checkpoint and the time of its
                                            cosignature (decimal text: tree sizes are
                                            unsigned 64-bit)
    evidence(origin, reason, checkpoint)    a bounded number of correctly signed checkpoints
                                            that were refused as inconsistent (a fork's proof)

Nothing about who sent a request is stored.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vault.tlog.merkle import EMPTY_ROOT
from vault.tlog.note import HybridVerifier, NoteError

DB_FILE = "cosigner.db"
CLASSICAL_PREFIX = "classical "
"""Written before an Ed25519-only log key, it accepts checkpoints signed by that key alone."""
KEY_FILE = "cosigner.key"
EVIDENCE_PER_LOG = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT NOT NULL,
    vkey TEXT NOT NULL,
    PRIMARY KEY (origin, vkey)
);
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size TEXT NOT NULL,
    root BLOB NOT NULL,
    checkpoint TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    checkpoint TEXT NOT NULL
);
"""


class CosignerStoreError(Exception):
    """The data directory cannot be used (or a configuration change is refused)."""


@dataclass(frozen=True)
class Latest:
    """The latest cosigned tree of one log and the time of its cosignature: size 0, the
    empty root and time 0 before any."""

    size: int
    root: bytes
    checkpoint: str | None
    time: int = 0


class CosignerStore:
    """The SQLite file of one cosigner data directory. Not thread-safe by itself: the
    cosigner serializes its use (``vault.cosigner.witness``)."""

    def __init__(self, data_dir: Path, *, create: bool = False) -> None:
        self.data_dir = data_dir
        if not data_dir.is_dir():
            if not create:
                raise CosignerStoreError(
                    f"{data_dir} is not a cosigner data folder (make one with "
                    "`amanat cosigner add-log --data DIR ...`)")
            try:
                data_dir.mkdir(mode=0o700, parents=True)
            except OSError as exc:
                raise CosignerStoreError(f"cannot create {data_dir}: {exc.strerror}") from None
        path = data_dir / DB_FILE
        if not create and not path.exists():
            raise CosignerStoreError(
                f"{data_dir} holds no cosigner state: configure a log first "
                "(`amanat cosigner add-log --data DIR ORIGIN LOG_VKEY`)")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CosignerStoreError(f"cannot open {path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction: committed if the block ends normally,
        rolled back on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def add_log(self, origin: str, public_form: str) -> bool:
        """Trust a log key for checkpoints of ``origin``; False if it already was.

        ``public_form`` is the log key as ``amanat serve`` prints it and the roster's ``log``
        line names it: its Ed25519 vkey, a space and its ML-DSA-44 vkey. Checkpoints are then
        accepted only with both signatures. An Ed25519-only key (a log whose key has no
        ML-DSA-44 half yet) is accepted only written ``classical <vkey>``, an explicit choice
        of the classical policy. Adding the hybrid form of a key configured classical
        replaces it: from then on both signatures are required."""
        classical = public_form.startswith(CLASSICAL_PREFIX)
        text = public_form[len(CLASSICAL_PREFIX):] if classical else public_form
        try:
            key = HybridVerifier.from_vkey(text)
        except NoteError as exc:
            raise CosignerStoreError(f"the log key is not a verifier key: {exc}") from None
        if key.is_hybrid and classical:
            raise CosignerStoreError(
                "`classical` is for an Ed25519-only log key; this key has an ML-DSA-44 half, "
                "so give it without `classical`")
        if not key.is_hybrid and not classical:
            raise CosignerStoreError(
                "this log key is Ed25519 only: give the log's whole public form (its Ed25519 "
                "vkey, a space, its ML-DSA-44 vkey, as `amanat serve` prints it), or write "
                f"'{CLASSICAL_PREFIX}<vkey>' to accept checkpoints signed by Ed25519 alone")
        if not origin or any(ord(ch) < 0x20 for ch in origin):
            raise CosignerStoreError("the origin must be one line of text")
        with self.transaction():
            known = self._db.execute(
                "SELECT 1 FROM logs WHERE origin = ? AND vkey = ?", (origin, key.vkey())
            ).fetchone()
            if known is None:
                self._db.execute("INSERT INTO logs (origin, vkey) VALUES (?, ?)",
                                 (origin, key.vkey()))
                if key.is_hybrid:  # its Ed25519 half alone is trusted no longer
                    self._db.execute("DELETE FROM logs WHERE origin = ? AND vkey = ?",
                                     (origin, key.classical.vkey()))
        return known is None

    def logs(self) -> dict[str, list[str]]:
        """Every configured origin with its trusted log keys (public forms)."""
        found: dict[str, list[str]] = {}
        for origin, vkey in self._db.execute("SELECT origin, vkey FROM logs ORDER BY origin, vkey"):
            found.setdefault(origin, []).append(vkey)
        return found

    def log_keys(self, origin: str) -> list[HybridVerifier]:
        """The keys trusted for ``origin``: a checkpoint must open under one of them, with a
        signature by each of its halves."""
        rows = self._db.execute("SELECT vkey FROM logs WHERE origin = ? ORDER BY vkey", (origin,))
        return [HybridVerifier.from_vkey(vkey) for (vkey,) in rows]

    def latest(self, origin: str) -> Latest:
        row = self._db.execute(
            "SELECT size, root, checkpoint, time FROM latest WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return Latest(0, EMPTY_ROOT, None)
        return Latest(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))

    def set_latest(self, origin: str, size: int, root: bytes, checkpoint: str,
                   time: int) -> None:
        self._db.execute(
            "INSERT INTO latest (origin, size, root, checkpoint, time) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "checkpoint = excluded.checkpoint, time = excluded.time",
            (origin, str(size), root, checkpoint, str(time)),
        )

    def keep_evidence(self, origin: str, reason: str, checkpoint: str) -> None:
        """Keep a correctly signed but refused checkpoint, up to EVIDENCE_PER_LOG per log."""
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM evidence WHERE origin = ?", (origin,)).fetchone()
        if count < EVIDENCE_PER_LOG:
            self._db.execute("INSERT INTO evidence (origin, reason, checkpoint) VALUES (?, ?, ?)",
                             (origin, reason, checkpoint))

    def evidence(self, origin: str) -> list[tuple[str, str]]:
        return [(str(r), str(c)) for r, c in self._db.execute(
            "SELECT reason, checkpoint FROM evidence WHERE origin = ? ORDER BY id", (origin,))]
