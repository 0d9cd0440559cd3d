"""``amanat migrate``: a vault that ran on the embedded store (real uvicorn, SQLite and the
blob directory) moved to a real PostgreSQL server, its sealed files left in the data
directory or copied to a bucket (moto's S3 EMULATOR, tests/store/s3emulator.py: it proves
the protocol, not a real server's durability).

The vault holds submissions (one by a resumable upload), a deleted submission, a reply, a
second roster, a cosignature line and a resumable upload left unfinished. After the
migration a server started with ``--store`` serves the same latest checkpoint (so the same
root), lists the same ids in the same order, and every submission decrypts with the dev
investigator's identity; the reply reaches its witness; ``amanat fsck --store`` passes. A
running source, a second migration into the same database, and a password in the address
reaching any output are each refused or checked.
"""

from __future__ import annotations

import io
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ROOT, start_server
from tests.store.s3emulator import EMULATOR_ENV, S3Emulator
from tests.store.test_s3_server import blobs_args
from vault import age
from vault.client import VaultClient
from vault.service.mailbox import mailbox_id
from vault.service.migration import MIGRATED_DIR
from vault.service.setup import load_or_create_log_key, open_vault
from vault.store import new_id, s3blobs
from vault.store.auditlog import AuditLog
from vault.store.pglog import PostgresAuditLog
from vault.store.postgres import safe_dsn

PASSWORD = "never-printed-" + secrets.token_hex(4)


def amanat(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *argv], cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **EMULATOR_ENV},
        capture_output=True, text=True, timeout=180)


def with_password(dsn: str) -> str:
    """The test cluster trusts local connections: a password in the address is carried,
    never needed, so any output quoting it would show."""
    return dsn.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def table_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        (tables,) = conn.execute("SELECT COUNT(*) FROM information_schema.tables"
                                 " WHERE table_schema = current_schema()").fetchone() or (0,)
    return int(tables)


@dataclass
class Before:
    checkpoint: str
    size: int
    cosigned: str
    submissions: dict[str, bytes]  # id -> plaintext, in listing order
    deleted: str
    secret: bytes
    reply: bytes
    reply_identity: age.X25519Identity
    roster_text: str  # the second roster, as published


def populate(tmp_path: Path, data: Path, dsn: str, extra: tuple[str, ...] = (),
             env: dict[str, str] | None = None) -> Before:
    """Run an embedded server on ``data`` and fill it; the server is stopped on return.
    Before stopping it, a migration of its running data directory is refused."""
    tmp_path.mkdir()
    server = start_server(tmp_path, data_dir=data, extra_args=extra, env=env)
    try:
        dev = read_dev_keys(data)
        roster = dev.roster()
        texts = [b"Taken from Kashgar in 2017.\n", b"My father, in Aksu.\n" * 3000,
                 b"To be deleted.\n"]
        ids: list[str] = []
        with VaultClient(server.url) as witness:
            ids.append(witness.submit(age.encrypt_bytes(texts[0], roster.recipients())).id)
            sealed = age.encrypt_bytes(texts[1], roster.recipients())
            ids.append(witness.upload(io.BytesIO(sealed), chunk_bytes=32 * 1024).id)
            ids.append(witness.submit(age.encrypt_bytes(texts[2], roster.recipients())).id)
            unfinished = witness.create_upload()
            witness.append(unfinished, 0, b"x" * 1000, 5000)
        secret = secrets.token_bytes(32)
        reply_identity = age.X25519Identity.generate()
        reply = b"We have your account. Thank you."
        with VaultClient(server.url) as investigator:
            investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
            investigator.delete_submission(ids[2])
            investigator.post_reply(mailbox_id(secret),
                                    age.encrypt_bytes(reply, [reply_identity.recipient()]))
            text, _ = dev.add_reader(investigator.roster_text())
            assert investigator.publish_roster(text) == 3

        running = amanat("migrate", "--from", str(data), "--to", dsn)
        assert running.returncode == 2
        assert "in use by a running server: stop it first" in running.stderr
        assert table_count(dsn) == 0
    finally:
        server.stop()

    signer, _ = load_or_create_log_key(data)
    with AuditLog(data / "auditlog.sqlite3", signer, signer.name) as log:
        return Before(log.latest_checkpoint(), log.size(), log.cosigned_checkpoint_at(log.size()),
                      dict(zip(ids[:2], texts[:2], strict=True)), ids[2], secret, reply,
                      reply_identity, text)


def check_migrated(tmp_path: Path, data: Path, dsn: str, before: Before,
                   extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
    """The migrated vault served by ``serve --store``: the same log, ids and contents."""
    signer, _ = load_or_create_log_key(data)
    with PostgresAuditLog(dsn, signer, signer.name) as log:
        assert log.latest_checkpoint() == before.checkpoint
        # Cosignatures live in memory only: the new servers gather them again.
        assert log.cosigned_checkpoint_at(before.size) == before.checkpoint
    assert (data / "store.url").is_file()
    assert not (data / "vault.sqlite3").exists()
    assert (data / MIGRATED_DIR / "vault.sqlite3").is_file()
    home = tmp_path / "after"
    home.mkdir()
    server = start_server(home, data_dir=data, dev=False,
                          extra_args=("--store", dsn, *extra), env=env)
    try:
        dev = read_dev_keys(data)
        with VaultClient(server.url) as investigator:
            assert investigator.checkpoint() == before.cosigned  # with its cosignature
            investigator.login(dev.investigator.key_id, dev.sign, dev.roster().log_vkey or "")
            listed = [s.id for s in investigator.iter_submissions()]
            assert listed == list(before.submissions)
            for submission_id, plaintext in before.submissions.items():
                out = io.BytesIO()
                investigator.download(submission_id, out)
                assert age.decrypt_bytes(out.getvalue(),
                                         [dev.investigator.age_identity()]) == plaintext
            assert before.deleted not in listed
            assert investigator.roster_text() == before.roster_text
        with VaultClient(server.url) as witness:
            (info,) = witness.replies(before.secret)
            got = io.BytesIO()
            witness.fetch_reply(before.secret, info.id, got)
            assert age.decrypt_bytes(got.getvalue(), [before.reply_identity]) == before.reply
        assert PASSWORD not in server.output_text()
    finally:
        server.stop()
    checked = amanat("fsck", "--data", str(data), "--store", dsn, *extra)
    assert checked.returncode == 0, checked.stderr
    assert f"{len(before.submissions)} submissions held" in checked.stdout
    # The server logged the reads since; the migrated history is still its prefix.
    with PostgresAuditLog(dsn, signer, signer.name) as log:
        assert log.size() > before.size
        assert log.checkpoint_at(before.size) == before.checkpoint


@pytest.mark.timeout(300)
def test_migrate_to_postgresql_keeps_the_log_ids_and_contents(
        postgres_dsn: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = populate(tmp_path / "run", data, postgres_dsn)
    dsn = with_password(postgres_dsn)
    moved = amanat("migrate", "--from", str(data), "--to", dsn)
    assert moved.returncode == 0, moved.stderr
    assert "1 resumable uploads in progress were not copied" in moved.stdout
    assert "login tokens were not copied: investigators log in again" in moved.stdout
    assert PASSWORD not in moved.stdout + moved.stderr
    assert (data / "store.url").read_text() == safe_dsn(dsn) + "\n"
    assert PASSWORD not in (data / "store.url").read_text()
    check_migrated(tmp_path, data, dsn, before)

    # The same database again, from another (fresh) vault: refused, that vault untouched.
    other = tmp_path / "other"
    open_vault(other, dev=True).close()
    again = amanat("migrate", "--from", str(other), "--to", dsn)
    assert again.returncode == 2
    assert "is not empty" in again.stderr and "never merged" in again.stderr
    assert PASSWORD not in again.stdout + again.stderr
    assert (other / "vault.sqlite3").is_file() and not (other / "store.url").exists()
    # The migrated directory itself: nothing left to migrate, and no embedded start.
    twice = amanat("migrate", "--from", str(data), "--to", dsn)
    assert twice.returncode == 2 and "nothing to migrate" in twice.stderr
    embedded = amanat("fsck", "--data", str(data))
    assert embedded.returncode == 2 and "give --store" in embedded.stderr


@pytest.mark.timeout(300)
def test_migrate_to_postgresql_and_a_bucket(s3_emulator: S3Emulator, postgres_dsn: str,
                                            tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = populate(tmp_path / "run", data, postgres_dsn)
    # A sealed file with no row (a crash before its commit): the source's check moves it to
    # quarantine, which is kept beside the old databases, not copied, and counted.
    orphan = new_id()
    (data / "blobs" / "submissions" / orphan).write_bytes(b"age-encryption.org/v1 orphan")
    options = s3_emulator.options(prefix="org/vault")
    flags = blobs_args(s3_emulator, options.url)
    moved = amanat("migrate", "--from", str(data), "--to", postgres_dsn, *flags)
    assert moved.returncode == 0, moved.stderr
    assert "copied 3 sealed files to" in moved.stdout  # two submissions and the reply
    assert "1 files kept in quarantine were not copied to the bucket" in moved.stdout
    assert [p.name[:32] for p in (data / MIGRATED_DIR / "quarantine" / "submissions").iterdir()
            ] == [orphan]
    for value in EMULATOR_ENV.values():
        if "key" in value:
            assert value not in moved.stdout + moved.stderr
    backend = s3blobs.connect(options)
    try:
        assert sorted(backend.blob_ids("submissions")) == sorted(before.submissions)
        assert len(backend.blob_ids("replies")) == 1
        assert backend.staged_ids() == []
    finally:
        backend.close()
    assert (data / "blobs.url").read_text() == options.url + "\n"
    assert not (data / "blobs").exists()
    check_migrated(tmp_path, data, postgres_dsn, before, flags, dict(EMULATOR_ENV))


def test_a_damaged_sealed_file_stops_the_migration(postgres_dsn: str, tmp_path: Path) -> None:
    """A sealed file that no longer matches its record: nothing is copied, nothing switched."""
    data = tmp_path / "data"
    opened = open_vault(data, dev=True)
    try:
        dev = read_dev_keys(data)
        upload = opened.service.create_upload()
        appender = opened.service.begin_append(upload.id, 0)
        appender.write(dev.seal(b"testimony"))
        appender.commit()
        submission_id = opened.service.finish_submission(upload.id).id
    finally:
        opened.close()
    blob = data / "blobs" / "submissions" / submission_id
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    refused = amanat("migrate", "--from", str(data), "--to", postgres_dsn)
    assert refused.returncode == 2, refused.stdout
    assert submission_id in refused.stderr
    assert not (data / "store.url").exists() and (data / "vault.sqlite3").is_file()
    assert table_count(postgres_dsn) == 0


@pytest.mark.timeout(300)
def test_a_vault_already_on_a_bucket_keeps_it(s3_emulator: S3Emulator, postgres_dsn: str,
                                              tmp_path: Path) -> None:
    """An embedded vault whose sealed files are already in a bucket: they stay there (nothing
    copied), another bucket is refused, and the workers then use the same one."""
    options = s3_emulator.options(prefix="org/vault")
    flags = blobs_args(s3_emulator, options.url)
    data = tmp_path / "data"
    before = populate(tmp_path / "run", data, postgres_dsn, flags, dict(EMULATOR_ENV))
    elsewhere = blobs_args(s3_emulator, s3_emulator.options(prefix="other").url)
    refused = amanat("migrate", "--from", str(data), "--to", postgres_dsn, *elsewhere)
    assert refused.returncode == 2
    assert f"already kept at {options.url}: they stay there" in refused.stderr
    assert table_count(postgres_dsn) == 0
    moved = amanat("migrate", "--from", str(data), "--to", postgres_dsn, *flags)
    assert moved.returncode == 0, moved.stderr
    assert "sealed files to" not in moved.stdout  # nothing copied
    assert (data / "blobs.url").read_text() == options.url + "\n"
    check_migrated(tmp_path, data, postgres_dsn, before, flags, dict(EMULATOR_ENV))


def test_an_unreachable_database_is_named_without_its_password(postgres_dsn: str,
                                                                tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_vault(data, dev=True).close()
    missing = with_password(postgres_dsn).replace("/amanat_test_", "/absent_")
    refused = amanat("migrate", "--from", str(data), "--to", missing)
    assert refused.returncode == 2
    assert "cannot connect to postgresql://postgres@" in refused.stderr
    assert PASSWORD not in refused.stdout + refused.stderr
    assert (data / "vault.sqlite3").is_file() and not (data / "store.url").exists()
