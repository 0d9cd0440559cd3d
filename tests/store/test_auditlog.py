"""The persistent audit log: proofs that verify with vault.tlog, reopening, tampering, crashes.

Every test that is about the log's contract runs on both backends (``db`` is a SQLite file or
a fresh PostgreSQL database); the ones about SQLite itself take ``sqlite_db``."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import nacl.signing
import psycopg
import pytest

from tests.store.auditlog_crash_child import ORIGIN as CRASH_ORIGIN
from tests.store.auditlog_crash_child import entry as crash_entry
from tests.store.auditlog_crash_child import log_signer as crash_signer
from tests.store.auditlog_crash_child import open_log
from tests.support import ROOT
from vault.store.auditlog import (
    AuditLog,
    AuditLogError,
    LogCorruptedError,
    LogKeyMismatchError,
    LogRangeError,
)
from vault.store.cosigned import CosignatureMemory
from vault.store.pglog import PostgresAuditLog
from vault.tlog.checkpoint import CheckpointError, open_checkpoint, sign_checkpoint
from vault.tlog.merkle import (
    EMPTY_ROOT,
    InMemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from vault.tlog.note import Signer
from vault.tlog.proof import LeafHash, verify_receipt

ORIGIN = "audit.example/log"


def make_signer(seed: int = 1, name: str = ORIGIN) -> Signer:
    return Signer(name, nacl.signing.SigningKey(bytes([seed]) * 32))


SIGNER = make_signer()


Location = Path | str  # a SQLite file or a PostgreSQL DSN
Log = AuditLog | PostgresAuditLog


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    return tmp_path / "auditlog.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    if request.param == "sqlite":
        return tmp_path / "auditlog.sqlite3"
    return str(request.getfixturevalue("postgres_dsn"))


def entries_for(count: int, prefix: str = "e") -> list[bytes]:
    return [f"{prefix}{i}\n".encode() for i in range(count)]


def filled(path: Location, batches: tuple[int, ...] = (1, 4, 7, 1, 12, 12)) -> Log:
    log = open_log(path, SIGNER, ORIGIN)
    counter = 0
    for count in batches:
        log.append(entries_for(count, f"b{counter}-"))
        counter += count
    return log


def all_entries(log: Log) -> list[bytes]:
    return log.entries(0, log.size())


# --- basics -------------------------------------------------------------------------------------


def test_new_log_is_empty_with_signed_checkpoint(db: Location) -> None:
    with open_log(db, SIGNER, ORIGIN) as log:
        assert log.size() == 0
        checkpoint = open_checkpoint(log.latest_checkpoint(), SIGNER.verifier(), ORIGIN)
        assert (checkpoint.size, checkpoint.root_hash) == (0, EMPTY_ROOT)
        assert log.checkpoint_sizes() == [0]
        assert log.entries(0, 0) == []
        assert log.consistency_proof(0, 0) == []
        assert log.origin == ORIGIN
        assert log.verifier == SIGNER.verifier()
        log.verify_storage()


def test_append_returns_indices_and_signs_one_checkpoint_per_batch(db: Location) -> None:
    with open_log(db, SIGNER, ORIGIN) as log:
        assert log.append([b"a", b"b", b"c"]) == [0, 1, 2]
        assert log.append([bytearray(b"d"), memoryview(b"e")]) == [3, 4]
        assert log.append([]) == []
        assert log.checkpoint_sizes() == [0, 3, 5]
        assert log.entries(1, 4) == [b"b", b"c", b"d"]
        tree = InMemoryTree(leaf_hash(e) for e in [b"a", b"b", b"c", b"d", b"e"])
        for size in (0, 3, 5):
            checkpoint = open_checkpoint(log.checkpoint_at(size), SIGNER.verifier(), ORIGIN)
            assert checkpoint.size == size
            assert checkpoint.root_hash == tree.root(size)
        assert log.latest_checkpoint() == log.checkpoint_at(5)


def test_entries_are_opaque_bytes(db: Location) -> None:
    odd = [b"", b"\x00" * 100, b"\n\n", bytes(range(256)) * 10]
    with open_log(db, SIGNER, ORIGIN) as log:
        log.append(odd)
        assert all_entries(log) == odd
    with pytest.raises(TypeError, match="log entry 1 is str"):
        open_log(db, SIGNER, ORIGIN).append([b"ok", "text"])  # type: ignore[list-item]
    with open_log(db, SIGNER, ORIGIN) as log:
        assert log.size() == 4


def test_proofs_verify_with_tlog(db: Location) -> None:
    with filled(db) as log:
        data = all_entries(log)
        sizes = log.checkpoint_sizes()
        roots = {
            size: open_checkpoint(log.checkpoint_at(size), SIGNER.verifier(), ORIGIN).root_hash
            for size in sizes
        }
        reference = InMemoryTree(leaf_hash(e) for e in data)
        for size in range(1, log.size() + 1):
            root = reference.root(size)
            for index in range(size):
                proof = log.inclusion_proof(index, size)
                assert proof == reference.inclusion_proof(index, size)
                verify_inclusion(leaf_hash(data[index]), index, size, proof, root)
        for old in sizes:
            for new in sizes:
                if old <= new:
                    proof = log.consistency_proof(old, new)
                    verify_consistency(old, new, roots[old], roots[new], proof)
        for old in range(log.size() + 1):
            assert log.consistency_proof(old, log.size()) == reference.consistency_proof(old)


def test_receipts_verify(db: Location) -> None:
    with filled(db) as log:
        data = all_entries(log)
        for index, entry in enumerate(data):
            receipt = log.receipt(index)
            result = verify_receipt(receipt, entry, SIGNER.verifier(), ORIGIN)
            assert result.index == index and result.checkpoint.size == log.size()
            verify_receipt(receipt, LeafHash(leaf_hash(entry)), SIGNER.verifier(), ORIGIN)


def test_range_errors(db: Location) -> None:
    with filled(db, (5,)) as log:
        for call in (
            lambda: log.entries(-1, 2),
            lambda: log.entries(3, 2),
            lambda: log.entries(0, 6),
            lambda: log.inclusion_proof(5, 5),
            lambda: log.inclusion_proof(0, 6),
            lambda: log.inclusion_proof(-1, 5),
            lambda: log.consistency_proof(3, 2),
            lambda: log.consistency_proof(-1, 2),
            lambda: log.consistency_proof(1, 6),
            lambda: log.receipt(5),
            lambda: log.receipt(-1),
            lambda: log.checkpoint_at(4),
        ):
            with pytest.raises(LogRangeError):
                call()
        assert issubclass(LogRangeError, ValueError)


# --- reopening ----------------------------------------------------------------------------------


def test_reopen_after_close_continues_the_same_tree(db: Location) -> None:
    with filled(db) as log:
        before = log.latest_checkpoint()
        size = log.size()
        data = all_entries(log)
    with open_log(db, SIGNER, ORIGIN) as log:
        assert log.latest_checkpoint() == before
        assert log.size() == size
        log.append([b"after reopen"])
        old = open_checkpoint(before, SIGNER.verifier(), ORIGIN)
        new = open_checkpoint(log.latest_checkpoint(), SIGNER.verifier(), ORIGIN)
        verify_consistency(
            old.size, new.size, old.root_hash, new.root_hash, log.consistency_proof(size, size + 1)
        )
        assert new.root_hash == InMemoryTree(leaf_hash(e) for e in [*data, b"after reopen"]).root()
        log.verify_storage()


def test_database_is_wal_with_full_sync(sqlite_db: Path) -> None:
    with AuditLog(sqlite_db, SIGNER, ORIGIN) as log:
        connection = log._connection
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_other_key_or_origin_refused(db: Location) -> None:
    filled(db, (3,)).close()
    with pytest.raises(LogKeyMismatchError, match="signed by the key"):
        open_log(db, make_signer(2), ORIGIN)
    with pytest.raises(LogKeyMismatchError, match="belongs to the origin"):
        open_log(db, make_signer(1, "other.example/log"), "other.example/log")
    with pytest.raises(CheckpointError):
        open_log(db, SIGNER, "")


def test_unknown_schema_refused(db: Location) -> None:
    filled(db, (1,)).close()
    _tamper(db, "UPDATE log_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(AuditLogError, match="unknown audit log schema"):
        open_log(db, SIGNER, ORIGIN)


def test_shared_connection_is_used_not_closed() -> None:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    log = AuditLog(connection, SIGNER, ORIGIN)
    log.append([b"x", b"y"])
    log.close()
    assert connection.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0] == 2
    again = AuditLog(connection, SIGNER, ORIGIN)
    assert again.size() == 2
    connection.execute("BEGIN")
    with pytest.raises(AuditLogError, match="open transaction"):
        again.append([b"z"])
    connection.rollback()
    assert again.append([b"z"]) == [2]
    connection.close()


def test_database_that_cannot_use_wal_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditLogError, match="cannot use WAL"):
        AuditLog(":memory:", SIGNER, ORIGIN)
    with pytest.raises(sqlite3.Error):
        AuditLog(tmp_path, SIGNER, ORIGIN)  # a directory


def test_two_handles_on_one_database_stay_consistent(sqlite_db: Path) -> None:
    first = AuditLog(sqlite_db, SIGNER, ORIGIN)
    second = AuditLog(sqlite_db, SIGNER, ORIGIN)
    first.append(entries_for(3, "a"))
    second.append(entries_for(2, "b"))  # notices the first handle's batch
    first.append(entries_for(4, "c"))
    assert (first.size(), second.size()) == (9, 5)  # reads are served from each handle
    assert second.append([b"d"]) == [9]
    expected = [*entries_for(3, "a"), *entries_for(2, "b"), *entries_for(4, "c"), b"d"]
    assert all_entries(second) == expected
    second.verify_storage()
    second.close()
    first.close()


def test_concurrent_appends_from_threads(db: Location) -> None:
    log = open_log(db, SIGNER, ORIGIN)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                results.append(log.append([f"t{n}-{i}-{j}".encode() for j in range(3)]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    indices = sorted(i for batch in results for i in batch)
    assert indices == list(range(120))
    assert all(batch == list(range(batch[0], batch[0] + 3)) for batch in results)
    log.verify_storage()
    log.close()


class PausingSigner(Signer):
    """Signs; while ``pause`` is set, says so and waits for ``resume`` first (inside the
    append's write transaction, with the log's write lock held)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pause = False
        self.signing = threading.Event()
        self.resume = threading.Event()

    def sign(self, text: bytes) -> bytes:
        if self.pause:
            self.signing.set()
            assert self.resume.wait(30)
        return super().sign(text)


def test_reads_do_not_wait_for_an_append_in_progress(sqlite_db: Path) -> None:
    """Log reads go through their own connection: an append holding the write lock and an
    open write transaction (signing, then committing and its fsync) delays none of them,
    and none sees anything of that append until it has committed."""
    signer = PausingSigner(ORIGIN, nacl.signing.SigningKey(bytes([1]) * 32))
    log = AuditLog(sqlite_db, signer, ORIGIN)
    log.append(entries_for(5))
    before = log.latest_checkpoint()
    signer.pause = True
    appending = threading.Thread(target=log.append, args=([b"late\n"],))
    appending.start()
    assert signer.signing.wait(10)
    answers: list[Any] = []

    def read() -> None:
        answers.extend([log.size(), log.latest_checkpoint(), log.entries(0, 5),
                        log.inclusion_proof(2, 5), log.consistency_proof(3, 5),
                        log.receipt(4), log.cosigned_checkpoint_at(5),
                        log.checkpoint_sizes(), log.cosigned_sizes(0),
                        log.subtree_hashes(0, 0, 5)])

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(10)
    waited = reader.is_alive()
    signer.resume.set()
    appending.join()
    reader.join()
    assert not waited, "a read waited for the append in progress"
    size, latest, entries, inclusion, consistency, receipt, cosigned, sizes, _, leaves = answers
    assert (size, latest, entries, sizes[-1], cosigned) == (5, before, entries_for(5), 5, before)
    tree = InMemoryTree(leaf_hash(entry) for entry in entries_for(5))
    assert inclusion == tree.inclusion_proof(2, 5)
    assert consistency == tree.consistency_proof(3)
    assert leaves == [leaf_hash(entry) for entry in entries_for(5)]
    assert receipt == log.receipt(4, 5)
    assert log.size() == 6 and log.entries(5, 6) == [b"late\n"]
    log.close()


class FailingSigner(Signer):
    fail = False

    def sign(self, text: bytes) -> bytes:
        if self.fail:
            raise RuntimeError("signing device unavailable")
        return super().sign(text)


def test_failed_append_leaves_nothing_behind(db: Location) -> None:
    signer = FailingSigner(ORIGIN, nacl.signing.SigningKey(b"\x05" * 32))
    with open_log(db, signer, ORIGIN) as log:
        log.append([b"one"])
        before = log.latest_checkpoint()
        signer.fail = True
        with pytest.raises(RuntimeError, match="signing device"):
            log.append([b"two", b"three"])
        signer.fail = False
        assert log.size() == 1 and log.latest_checkpoint() == before
        assert log.append([b"four"]) == [1]
        assert all_entries(log) == [b"one", b"four"]
        log.verify_storage()


# --- tampering ----------------------------------------------------------------------------------


def _tamper(db: Location, *statements: str, params: tuple[object, ...] = ()) -> None:
    """Edit the log's tables behind its back (statements in SQLite's dialect; for
    PostgreSQL, its blob literals are translated)."""
    if isinstance(db, Path):
        with sqlite3.connect(db) as connection:
            for statement in statements:
                connection.execute(statement, params)
        return
    with psycopg.connect(db, autocommit=True) as conn:
        for statement in statements:
            statement = statement.replace("zeroblob(32)", "decode(repeat('00', 32), 'hex')")
            statement = re.sub(r"x'([0-9a-f]*)'", r"decode('\1', 'hex')", statement)
            conn.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        (["DELETE FROM log_checkpoints"], "no checkpoint"),
        (
            ["UPDATE log_checkpoints SET root = zeroblob(32) WHERE size = 37"],
            "disagrees with its row",
        ),
        (["UPDATE log_checkpoints SET note = 'x' WHERE size = 37"], "does not verify"),
        (["DELETE FROM log_entries WHERE idx = 36"], "last stored entry"),
        (["INSERT INTO log_entries VALUES (37, x'00')"], "last stored entry"),
        (["DELETE FROM log_tree WHERE level = 5 AND idx = 0"], "damaged: no stored subtree"),
        (["UPDATE log_tree SET hash = x'00' WHERE level = 0 AND idx = 36"], "damaged.*32 bytes"),
        (["UPDATE log_tree SET hash = zeroblob(32) WHERE level = 2 AND idx = 8"], "root"),
        (["UPDATE log_entries SET data = x'00' WHERE idx = 36"], "entry 36"),
        (
            # SQLite: the latest checkpoint is then 25's; PostgreSQL: the coordinator's 37.
            ["DELETE FROM log_checkpoints WHERE size = 37"],
            "last stored entry|no checkpoint was stored at that size",
        ),
    ],
)
def test_tampering_detected_on_open(db: Location, statements: list[str], reason: str) -> None:
    filled(db).close()  # 37 entries, checkpoints at 0, 1, 5, 12, 13, 25, 37
    _tamper(db, *statements)
    with pytest.raises(LogCorruptedError, match=reason):
        open_log(db, SIGNER, ORIGIN)


def test_checkpoint_signed_by_another_key_detected(db: Location) -> None:
    log = filled(db)
    forged = open_checkpoint(log.latest_checkpoint(), SIGNER.verifier(), ORIGIN)
    log.close()
    _tamper(db, "UPDATE log_checkpoints SET note = ? WHERE size = 37",
            params=(sign_checkpoint(forged, make_signer(9)),))
    with pytest.raises(LogCorruptedError, match="does not verify"):
        open_log(db, SIGNER, ORIGIN)


@pytest.mark.parametrize(
    ("statements", "reason"),
    [
        (["UPDATE log_entries SET data = x'00' WHERE idx = 3"], "level 0, index 3"),
        (["UPDATE log_tree SET hash = zeroblob(32) WHERE level = 1 AND idx = 3"], "level 1"),
        (["DELETE FROM log_tree WHERE level = 1 AND idx = 3"], "missing tree node"),
        (["INSERT INTO log_tree VALUES (7, 0, zeroblob(32))"], "nodes are stored where"),
        (["UPDATE log_checkpoints SET root = zeroblob(32) WHERE size = 12"], "size 12"),
        (["UPDATE log_checkpoints SET note = 'x' WHERE size = 5"], "size 5 does not verify"),
        (["DELETE FROM log_entries WHERE idx = 20"], "36 entries are stored"),
        (
            ["DELETE FROM log_entries WHERE idx = 20", "INSERT INTO log_entries VALUES (-1, x'')"],
            "not contiguous",
        ),
        (["INSERT INTO log_checkpoints VALUES (99, zeroblob(32), 'x')"], "beyond"),
    ],
)
def test_verify_storage_finds_any_edit(db: Location, statements: list[str], reason: str) -> None:
    log = filled(db)
    log.verify_storage()
    _tamper(db, *statements)
    with pytest.raises(LogCorruptedError, match=reason):
        log.verify_storage()
    log.close()


def test_verify_storage_finds_entries_beyond_the_checkpoint(db: Location) -> None:
    log = filled(db, (3,))
    _tamper(db, "INSERT INTO log_entries VALUES (3, x'00')")
    with pytest.raises(LogCorruptedError, match="4 entries are stored but"):
        log.verify_storage()
    log.close()


# --- crashes ------------------------------------------------------------------------------------

CRASH_ROUNDS = 6


def _run_and_kill(db: Location, run: int, rng: random.Random) -> list[dict[str, Any]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.auditlog_crash_child", str(db), str(run)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready.startswith(b'{"ready"'), child.stderr.read() if child.stderr else ready
    # Let it append for a while, then kill it wherever it is: often inside a transaction.
    time.sleep(rng.uniform(0.05, 0.4))
    os.kill(child.pid, signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    reports = []
    for line in out.split(b"\n"):
        try:
            reports.append(json.loads(line))
        except ValueError:
            continue  # the line being written when the kill landed
    return reports


@pytest.mark.slow
def test_killed_writer_leaves_a_consistent_log(db: Location) -> None:
    rng = random.Random(1)
    published: list[dict[str, Any]] = []
    for run in range(CRASH_ROUNDS):
        published.extend(_run_and_kill(db, run, rng))
    assert published, "the child never completed an append"

    with open_log(db, crash_signer(), CRASH_ORIGIN) as log:  # opening checks the latest state
        log.verify_storage()
        verifier = crash_signer().verifier()
        latest = open_checkpoint(log.latest_checkpoint(), verifier, CRASH_ORIGIN)
        # Every acknowledged entry is there, with its bytes.
        for report in published:
            start, count = int(report["start"]), int(report["count"])
            run, counter = int(report["run"]), int(report["counter"])
            expected = [crash_entry(run, counter + i) for i in range(count)]
            assert log.entries(start, start + count) == expected
        # Every checkpoint ever published, and every one stored, is consistent with the latest.
        notes = [str(report["checkpoint"]) for report in published]
        notes += [log.checkpoint_at(size) for size in log.checkpoint_sizes()]
        for text in notes:
            earlier = open_checkpoint(text, verifier, CRASH_ORIGIN)
            assert earlier.size <= latest.size
            verify_consistency(
                earlier.size,
                latest.size,
                earlier.root_hash,
                latest.root_hash,
                log.consistency_proof(earlier.size, latest.size),
            )


def test_pg_subtree_hashes_are_the_stored_nodes(postgres_dsn: str) -> None:
    """The PostgreSQL log serves the rows of a tile (complete subtrees) from its table."""
    with filled(postgres_dsn, (37,)) as log:
        reference = InMemoryTree(leaf_hash(e) for e in all_entries(log))
        assert isinstance(log, PostgresAuditLog)
        assert log.subtree_hashes(0, 0, 37) == [reference.get(0, i) for i in range(37)]
        assert log.subtree_hashes(2, 3, 9) == [reference.get(2, i) for i in range(3, 9)]
        assert log.subtree_hashes(5, 0, 1) == [reference.get(5, 0)]
        for bad in ((0, 0, 38), (2, 0, 10), (-1, 0, 1), (0, 5, 4), (6, 0, 1)):
            with pytest.raises(LogRangeError):
                log.subtree_hashes(*bad)
        _tamper(postgres_dsn, "DELETE FROM log_tree WHERE level = 1 AND idx = 4")
        with pytest.raises(LogCorruptedError, match="0 tree nodes are stored at level 1 from"):
            log.subtree_hashes(1, 4, 5)


def test_pg_handles_take_each_others_trees_checked(postgres_dsn: str) -> None:
    """Several processes on one PostgreSQL log: each append starts from the committed tree,
    whoever wrote it, after checking its right edge against the signed checkpoint."""
    first = open_log(postgres_dsn, SIGNER, ORIGIN)
    second = open_log(postgres_dsn, SIGNER, ORIGIN)
    try:
        assert first.append(entries_for(3, "a")) == [0, 1, 2]
        assert second.append(entries_for(2, "b")) == [3, 4]  # takes the first's tree
        assert first.append(entries_for(4, "c")) == [5, 6, 7, 8]
        assert first.size() == second.size() == 9  # read from the database, not a handle
        assert first.latest_checkpoint() == second.latest_checkpoint()
        second.verify_storage()
        # Another handle's tree whose right edge does not give the signed root: refused.
        _tamper(postgres_dsn, "UPDATE log_tree SET hash = zeroblob(32) WHERE level = 3 AND idx = 0")
        with pytest.raises(LogCorruptedError, match="not the latest checkpoint's root"):
            second.append([b"on a damaged tree"])
        _tamper(postgres_dsn, "DELETE FROM log_tree WHERE level = 3 AND idx = 0")
        with pytest.raises(LogCorruptedError, match="damaged at size 9"):
            second.append([b"on a damaged tree"])
        assert first.size() == 9  # nothing was signed on top of it
    finally:
        first.close()
        second.close()


def test_cosignatures_never_reach_the_disk(db: Location, tmp_path: Path) -> None:
    """A cosignature line carries its cosigner's time to the second, which would date the
    entry it follows: lines are kept in memory only. A reopened log has none, and no file of
    the database holds a line's bytes (SQLite: main file, WAL)."""
    line = "— witness.example/a " + "Q29zaWduZWQgYXQgMTI6MzQ6NTY" + "x" * 60
    with filled(db, (2, 3)) as log:
        log.add_cosignatures(5, [line])
        assert log.cosigned_sizes() == [5]
        log.append([b"after"])
    with open_log(db, SIGNER, ORIGIN) as log:
        assert log.cosigned_sizes() == [] and log.cosigned_checkpoint_at(5) == log.checkpoint_at(5)
    if isinstance(db, Path):
        for path in tmp_path.glob("auditlog.sqlite3*"):
            assert b"Q29zaWduZWQgYXQgMTI6MzQ6NTY" not in path.read_bytes(), path


def test_cosignature_memory_keeps_the_newest_sizes() -> None:
    memory = CosignatureMemory(max_sizes=3)
    for size in (4, 1, 9, 7):
        memory.add(size, [f"— c.example/x {size}", "— c.example/y same"])
    memory.add(9, ["— c.example/z 9"])
    assert memory.sizes() == [9, 7, 4]  # 1, the smallest, was forgotten
    assert memory.sizes(3) == [9] and memory.sizes(above=4) == [9, 7]
    assert memory.sizes(limit=1) == [9] and memory.lines(1) == []
    assert memory.lines(9) == ["— c.example/x 9", "— c.example/y same", "— c.example/z 9"]
    # A key's newer line (a checkpoint cosigned again) replaces its older one.
    older, newer = ("— c.example/w " + base64.b64encode(b"\x01\x02\x03\x04" + at).decode()
                    for at in (b"\x00" * 8, b"\x00" * 7 + b"\x01"))
    other = "— c.example/w " + base64.b64encode(b"\x09\x09\x09\x09" + b"\x00" * 8).decode()
    memory.add(9, [older, other])
    memory.add(9, [newer])
    assert newer in memory.lines(9) and older not in memory.lines(9) and other in memory.lines(9)


def test_an_older_releases_stored_cosignatures_are_erased(sqlite_db: Path) -> None:
    """A database from a release that kept cosignature lines in ``log_cosignatures``: the
    rows are overwritten and the table dropped when the log opens, WAL included."""
    marker = b"T2xkZXIgcmVsZWFzZSBjb3NpZ25hdHVyZQ"
    with filled(sqlite_db, (2,)):
        pass
    conn = sqlite3.connect(sqlite_db)
    conn.execute("CREATE TABLE log_cosignatures (size INTEGER NOT NULL, line TEXT NOT NULL, "
                 "PRIMARY KEY (size, line)) WITHOUT ROWID")
    conn.executemany("INSERT INTO log_cosignatures VALUES (2, ?)",
                     [(f"— w{n}.example/c {marker.decode()}{n}",) for n in range(50)])
    conn.commit()
    conn.close()
    assert marker in b"".join(p.read_bytes() for p in sqlite_db.parent.glob("auditlog.sqlite3*"))
    with open_log(sqlite_db, SIGNER, ORIGIN) as log:
        assert log.size() == 2 and log.cosigned_sizes() == []
        tables = {row[0] for row in log._connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "log_cosignatures" not in tables
    for path in sqlite_db.parent.glob("auditlog.sqlite3*"):
        assert marker not in path.read_bytes(), path


def test_cosignatures_are_kept_with_their_checkpoint(db: Location) -> None:
    """Cosignature lines gathered for a checkpoint are kept once, in one order, and served
    with it (and in receipts against it), on both backends."""
    with filled(db, (2, 3)) as log:
        lines = ["— witness.example/b AAAA", "— witness.example/a BBBB"]
        log.add_cosignatures(2, lines)
        log.add_cosignatures(2, lines[:1])  # already kept: ignored
        log.add_cosignatures(5, lines[1:])
        assert log.cosigned_checkpoint_at(2) == (
            log.checkpoint_at(2) + "— witness.example/a BBBB\n— witness.example/b AAAA\n")
        assert log.cosigned_sizes() == [5, 2] and log.cosigned_sizes(2) == [2]
        assert log.receipt(1, 2).endswith(log.cosigned_checkpoint_at(2))
        assert log.receipt(4).endswith(log.cosigned_checkpoint_at(5))
        for bad in (lambda: log.add_cosignatures(3, lines), lambda: log.receipt(2, 2),
                    lambda: log.receipt(0, 6), lambda: log.cosigned_checkpoint_at(4)):
            with pytest.raises(LogRangeError):
                bad()
