"""The PostgreSQL store as several workers share it: what one process holds, the others see.

A record a live worker promoted and is about to log is left to it (another worker's
start-up recovery would log it twice); once that worker is gone, exactly one other adopts
it. A login challenge and a proof-of-work seed are spent once across workers, and the
proof-of-work gate counts the writes of every worker. A database of a newer schema is refused
before anything is written. A DSN's password never reaches an error message. A data
directory is tied to the kind of store its records are in.
"""

from __future__ import annotations

import base64
import contextlib
import time
from pathlib import Path

import psycopg
import pytest

from tests.support import create_database, database_dsn, drop_database
from vault.service.setup import SetupError, check_data_dir, open_vault
from vault.service.work import WorkError, WorkGate, solve
from vault.store import STORE_URL_FILE, StoreError, SubmissionRecord, new_id, open_store
from vault.store.postgres import (
    PostgresStore,
    PostgresUnavailableError,
    safe_dsn,
)
from vault.store.sqlite import SchemaVersionError

HOUR = "2026-11-21T05:00Z"


def opened(dsn: str, blobs: object) -> PostgresStore:
    store = open_store(dsn, blobs=str(blobs))
    assert isinstance(store, PostgresStore)
    return store


def promoted(store: PostgresStore) -> SubmissionRecord:
    upload_id = new_id()
    store.create_upload(upload_id, HOUR)
    writer = store.append_upload(upload_id, 0, HOUR)
    writer.write(b"sealed")
    writer.commit()
    record = SubmissionRecord(new_id(), "ab" * 32, 6, HOUR, -1)
    store.promote_submission(upload_id, record)
    return record


def test_a_record_a_live_worker_is_finishing_is_left_to_it(postgres_dsn: str,
                                                           tmp_path: object) -> None:
    first, second, third = (opened(postgres_dsn, tmp_path) for _ in range(3))
    try:
        record = promoted(first)
        assert second.pending_submissions() == []  # first is alive: it may be logging it
        assert first.pending_submissions() == [record]  # its own
        first.close()  # the worker dies before logging it
        deadline = time.monotonic() + 10
        while (adopted := second.pending_submissions()) == []:
            assert time.monotonic() < deadline, "a dead worker's record was never adopted"
            time.sleep(0.05)
        assert adopted == [record]
        assert third.pending_submissions() == []  # adopted once: second is alive
        second.set_submission_log_index(record.id, 0)
        assert second.pending_submissions() == third.pending_submissions() == []
    finally:
        for store in (first, second, third):
            store.close()


def test_a_challenge_is_spent_once_across_workers(postgres_dsn: str, tmp_path: object) -> None:
    first, second = opened(postgres_dsn, tmp_path), opened(postgres_dsn, tmp_path)
    try:
        digest = bytes(range(32))
        assert first.spend_challenge(digest, 1000)
        assert not second.spend_challenge(digest, 1000)
        assert not first.spend_challenge(digest, 1000)
        assert second.delete_tokens_expired(999) == 0  # not expired yet: still spent
        assert not second.spend_challenge(digest, 1000)
        assert second.delete_tokens_expired(1000) == 1  # forgotten once it expired
    finally:
        first.close()
        second.close()


def test_a_newer_schema_is_refused_and_left_alone(postgres_dsn: str, tmp_path: object) -> None:
    opened(postgres_dsn, tmp_path).close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE amanat_meta SET value = '99' WHERE key = 'schema'")
        conn.execute("DROP TABLE tokens")  # a newer release might have done so
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        opened(postgres_dsn, tmp_path)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT value FROM amanat_meta WHERE key = 'schema'").fetchone()
        assert row == ("99",)
        assert conn.execute("SELECT to_regclass('tokens')").fetchone() == (None,)


def test_the_password_never_reaches_a_message(postgres_server: str, tmp_path: object) -> None:
    dsn = "postgresql://amanat:s3cret-pass@127.0.0.1:1/vault"
    with pytest.raises(PostgresUnavailableError) as refused:
        opened(dsn, tmp_path)
    assert "s3cret-pass" not in str(refused.value)
    assert "postgresql://amanat@127.0.0.1:1/vault" in str(refused.value)
    assert safe_dsn(dsn) == "postgresql://amanat@127.0.0.1:1/vault"
    # A refused login on the real server: its message says why, without the password.
    database = create_database(postgres_server)
    try:
        wrong_user = database.replace("postgresql://postgres@",
                                      "postgresql://nobody:s3cret-pass@")
        with pytest.raises(PostgresUnavailableError) as refused:
            opened(wrong_user, tmp_path)
        assert "s3cret-pass" not in str(refused.value) and "nobody" in str(refused.value)
    finally:
        drop_database(postgres_server, database)


def test_the_work_gate_counts_every_workers_writes_and_spends_a_seed_once(
        postgres_dsn: str, tmp_path: object) -> None:
    first, second = opened(postgres_dsn, tmp_path), opened(postgres_dsn, tmp_path)
    key = bytes(32)
    try:
        gates = [WorkGate(key, quiet_rate=1.0, shared=store) for store in (first, second)]
        assert gates[1].bits() == 0
        admitted = 0
        with contextlib.suppress(WorkError):  # until the first hears its own writes
            while admitted < 100:  # more than one a second over the 10 s window
                gates[0].admit(None)  # all through the first worker
                admitted += 1
        assert admitted > 10
        deadline = time.monotonic() + 10
        # The second hears them too: its difficulty rises to the first's.
        while gates[1].bits() != gates[0].bits() or gates[1].bits() < 2:
            assert time.monotonic() < deadline, "the second worker never heard the writes"
            time.sleep(0.05)
        seed, bits = gates[1].seed()
        header = base64.b64encode(seed).decode() + "." + solve(seed, bits)
        gates[0].admit(header)  # a seed from one worker is good on another (same key) ...
        with pytest.raises(WorkError, match="used already"):
            gates[1].admit(header)  # ... and spent on all
    finally:
        first.close()
        second.close()


def test_a_data_directory_is_tied_to_its_store(postgres_dsn: str, tmp_path: Path) -> None:
    """A data directory served from PostgreSQL is refused as an embedded one (an empty
    SQLite database would make every sealed file look unrecorded and send it to
    quarantine), and an embedded vault's directory is refused with --store."""
    shared = tmp_path / "shared"
    open_vault(shared, store_dsn=postgres_dsn).close()
    assert (shared / STORE_URL_FILE).read_text().strip() == safe_dsn(postgres_dsn)
    for opening in (lambda: open_vault(shared), lambda: check_data_dir(shared)):
        with pytest.raises((StoreError, SetupError), match="give --store"):
            opening()
    assert not (shared / "vault.sqlite3").exists() and not (shared / "quarantine").exists()
    other = database_dsn(postgres_dsn, "another_database")
    with pytest.raises(SetupError, match="keeps its records in"):
        open_vault(shared, store_dsn=other)
    embedded = tmp_path / "embedded"
    open_vault(embedded).close()
    with pytest.raises(SetupError, match="holds an embedded vault"):
        open_vault(embedded, store_dsn=postgres_dsn)
    done, report = check_data_dir(shared, store_dsn=postgres_dsn)  # fsck --store
    assert report.consistent and done == []


def test_a_sealed_file_being_promoted_is_no_orphan_to_a_starting_worker(
        postgres_dsn: str, tmp_path: object) -> None:
    """Between a sealed file's write and its row's commit, another worker starting up
    (which quarantines sealed files with no row) must leave it alone: the submission is
    about to be receipted. A file whose promotion died with its worker is an orphan."""
    first, second = opened(postgres_dsn, tmp_path), opened(postgres_dsn, tmp_path)
    seen: list[list[tuple[str, str]]] = []
    real = first.blobs.promote

    def promote_then_look(upload_id: str, namespace: str, blob_id: str) -> None:
        real(upload_id, namespace, blob_id)
        seen.append(second.orphaned_blobs())  # the file is written, its row not yet

    try:
        first.blobs.promote = promote_then_look  # type: ignore[method-assign]
        record = promoted(first)
        assert seen == [[]]
        assert second.orphaned_blobs() == []  # its row is there now
        # A promotion that died after writing the file: no lock, no row.
        first.blobs.promote = real  # type: ignore[method-assign]
        upload_id = new_id()
        first.create_upload(upload_id, HOUR)
        writer = first.append_upload(upload_id, 0, HOUR)
        writer.write(b"sealed")
        writer.commit()
        lost = new_id()
        first.blobs.promote(upload_id, "submissions", lost)
        assert second.orphaned_blobs() == [("submissions", lost)]
        assert record.id not in {i for _, i in second.orphaned_blobs()}
    finally:
        first.close()
        second.close()
