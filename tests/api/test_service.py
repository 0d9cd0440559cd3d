"""The service without HTTP: crash recovery, upload expiry, restarts, pinned org key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import TestClient
from tests.api.vaultkit import DevKeys
from vault import events
from vault.service.service import Investigator, NoOrgKeyError, VaultService
from vault.service.setup import SetupError, open_vault
from vault.service.uploads import OffsetError, plausible_payload_length
from vault.store import SubmissionRecord, new_id
from vault.tlog import note


def test_recover_logs_what_a_crash_left_unlogged(service: VaultService, dev: DevKeys,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    sealed = dev.seal(b"x")
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(sealed)
    appender.commit()
    record = SubmissionRecord(new_id(), "ab" * 32, len(sealed), events.hour_text(), -1)
    service.store.promote_submission(upload.id, record)  # ...and the process died here
    orphan = service.store.blobs.root / "blobs" / "submissions" / new_id()  # type: ignore[attr-defined]
    orphan.write_bytes(b"renamed, never recorded")
    size = service.log_size()
    assert service.recover() == 1
    assert service.log_size() == size + 1
    entry = service.audit_log.entries(size, size + 1)[0]
    assert entry == events.submission_event(
        record.id, record.sha256, record.size, moment=events.parse_hour(record.received)).encode()
    assert service.store.get_submission(record.id).log_index == size
    assert orphan.exists()  # recover() logs; reconcile() sets the orphan aside
    assert service.recover() == 0
    with caplog.at_level("WARNING", logger="amanat.store"):
        report = service.reconcile()
    assert report.consistent
    kept = orphan.parents[2] / "quarantine" / "submissions" / orphan.name
    assert not orphan.exists() and kept.read_bytes() == b"renamed, never recorded"
    assert (f"the sealed file blobs/submissions/{orphan.name} has no database row: moved to "
            f"quarantine/submissions/{orphan.name} and kept") in caplog.text


def test_sweep_removes_idle_uploads_only(service: VaultService) -> None:
    idle = service.create_upload()
    active = service.create_upload()
    busy = service.create_upload()
    old = (datetime.now(UTC) - timedelta(hours=30)).strftime("%Y-%m-%dT%H:00Z")
    db = service.store._db  # type: ignore[attr-defined]
    for upload_id in (idle.id, busy.id):
        db.execute("UPDATE uploads SET touched = ? WHERE id = ?", (old, upload_id))
    appender = service.begin_append(busy.id, 0)
    assert service.sweep() == 1
    ids = {r[0] for r in db.execute("SELECT id FROM uploads")}
    assert ids == {active.id, busy.id}
    with pytest.raises(OffsetError):
        service.begin_append(busy.id, 0)  # one writer at a time
    appender.abort()
    assert service.sweep(datetime.now(UTC) + timedelta(hours=25)) == 2


def test_periodic_sweep_runs_in_the_app(opened: object, data_dir: Path,
                                        service: VaultService) -> None:
    upload = service.create_upload()
    service.store._db.execute(  # type: ignore[attr-defined]
        "UPDATE uploads SET touched = '2000-01-01T00:00Z' WHERE id = ?", (upload.id,))
    settings = Settings(data_dir=data_dir, sweep_interval_seconds=0.05)
    with TestClient(create_app(settings, service)):
        deadline = time.monotonic() + 5
        while (data_dir / "uploads" / f"{upload.id}.part").exists():
            assert time.monotonic() < deadline, "the sweep never ran"
            time.sleep(0.05)


def test_restart_keeps_roster_log_and_org(opened: object, data_dir: Path,
                                          service: VaultService, dev: DevKeys) -> None:
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(dev.seal(b"x"))
    appender.commit()
    receipt = service.finish_submission(upload.id)
    log_vkey, size = service.log_vkey, service.log_size()
    service.close()
    again = open_vault(data_dir, dev=True)
    try:
        assert again.service.log_vkey == log_vkey
        assert again.service.log_size() == size
        assert again.service.roster_text() == dev.roster_text
        assert again.service.store.get_submission(receipt.id).log_index == receipt.log_index
        assert not again.log_signer_created
    finally:
        again.service.close()
    stranger = note.Signer.generate("another-org").vkey()
    with pytest.raises(SetupError):
        open_vault(data_dir, org_vkey=stranger)
    with pytest.raises(SetupError):
        open_vault(data_dir, dev=True, org_vkey=stranger)
    with pytest.raises(SetupError):
        open_vault(data_dir, org_vkey="not a vkey")
    (data_dir / "log.key").chmod(0o644)
    with pytest.raises(SetupError):
        open_vault(data_dir)


def test_without_org_key_rosters_are_refused(tmp_path: Path) -> None:
    vault = open_vault(tmp_path / "plain")
    try:
        assert vault.log_signer_created and vault.dev is None
        with pytest.raises(NoOrgKeyError):
            vault.service.publish_roster("anything")
    finally:
        vault.service.close()


@pytest.mark.parametrize(("length", "plausible"), [
    (0, False), (31, False), (32, True), (33, True), (16 + 65552, True),
    (16 + 65552 + 16, False), (16 + 65552 + 17, True), (16 + 2 * 65552, True),
    (16 + 65552 + 5, False),
])
def test_payload_length_plausibility(length: int, plausible: bool) -> None:
    assert plausible_payload_length(length) is plausible


@pytest.mark.parametrize("later_entries", [0, 5000])
def test_recover_finds_entries_logged_just_before_a_crash(service: VaultService, dev: DevKeys,
                                                          later_entries: int) -> None:
    """Also an older database restored with a row still pending: its entry, however far back
    (5000 entries), is found by id and never logged twice."""
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(dev.seal(b"x"))
    appender.commit()
    record = SubmissionRecord(new_id(), "ab" * 32, 10, events.hour_text(), -1)
    service.store.promote_submission(upload.id, record)
    event = events.submission_event(record.id, record.sha256, record.size,
                                    moment=events.parse_hour(record.received))
    index = service.audit_log.append([event.encode()])[0]  # ...and the process died here
    if later_entries:
        service.audit_log.append([events.access_event(record.id, "0" * 16).encode()]
                                 * later_entries)
    size = service.log_size()
    assert service.recover() == 0
    assert service.log_size() == size  # not logged twice
    assert service.store.get_submission(record.id).log_index == index


def test_recover_pending_replies(service: VaultService, dev: DevKeys) -> None:
    from vault.store import ReplyRecord

    logged_id, unlogged_id = new_id(), new_id()
    for reply_id in (logged_id, unlogged_id):
        upload_id, appender = service.begin_reply(None)
        appender.write(dev.seal(b"r"))
        appender.commit()
        service.store.promote_reply(upload_id, ReplyRecord(
            reply_id, "cd" * 32, "ef" * 32, 5, events.hour_text(), -1))
    entry = events.reply_event(logged_id, "ef" * 32, 5).encode()
    index = service.audit_log.append([entry])[0]
    size = service.log_size()
    assert service.recover() == 1
    assert service.log_size() == size + 1
    replies = {r.id: r.log_index for r in service.store.list_replies("cd" * 32)}
    assert replies == {logged_id: index, unlogged_id: size}


def test_open_uploads_are_capped(service: VaultService) -> None:
    from dataclasses import replace

    from vault.service.service import BusyUploadsError

    service.limits = replace(service.limits, max_open_uploads=2)
    first = service.create_upload()
    service.create_upload()
    with pytest.raises(BusyUploadsError):
        service.create_upload()
    reply_id, reply = service.begin_reply(None)  # an investigator's reply is not held up
    reply.abort()
    service.discard_upload(reply_id)
    service.abandon_upload(first.id)
    service.create_upload()


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stalled_uploads_give_way(service: VaultService) -> None:
    """Full of uploads that receive nothing: the longest-waiting one gives way to a new one
    after the eviction wait; all idle ones are dropped after the idle limit."""
    from dataclasses import replace

    from vault.service.service import BusyUploadsError

    clock = Ticks()
    service.staging._clock = clock
    service.limits = replace(service.limits, max_open_uploads=3, upload_idle_seconds=600,
                             upload_evict_seconds=60)
    first = service.create_upload()
    clock.now += 10
    second = service.create_upload()
    appender = service.begin_append(second.id, 0)  # busy: never given away
    clock.now += 10
    third = service.create_upload()
    with pytest.raises(BusyUploadsError) as refused:
        service.create_upload()
    assert refused.value.retry_after == 61
    clock.now += 51
    fourth = service.create_upload()  # takes the place of the first
    ids = {u for u, _ in service.store.staged_files()}
    assert ids == {second.id, third.id, fourth.id} and first.id not in ids
    appender.write(b"x")
    appender.commit()
    clock.now += 500
    appender = service.begin_append(second.id, 1)  # the second keeps receiving bytes
    appender.write(b"y")
    appender.commit()
    clock.now += 100
    assert service.sweep() == 2  # the third and the fourth
    assert {u for u, _ in service.store.staged_files()} == {second.id}


def test_staged_bytes_are_capped_as_they_arrive(service: VaultService) -> None:
    from dataclasses import replace

    from vault.service.service import StorageFullError

    service.limits = replace(service.limits, max_staged_bytes=1000)
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(b"a" * 600)
    with pytest.raises(StorageFullError) as refused:
        appender.write(b"b" * 401)  # refused before it is written; the request's bytes go
    assert refused.value.retry_after > 0
    assert service.upload_status(upload.id).offset == 0
    appender = service.begin_append(upload.id, 0)
    appender.write(b"a" * 1000)
    appender.commit()
    with pytest.raises(StorageFullError):
        service.create_upload()
    reply_id, reply = service.begin_reply(None)  # an investigator's reply still goes through
    reply.write(b"r" * 100)
    reply.abort()
    service.discard_upload(reply_id)
    service.abandon_upload(upload.id)
    service.create_upload()


def _submitted(service: VaultService, dev: DevKeys) -> str:
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(dev.seal(b"testimony"))
    appender.commit()
    return service.finish_submission(upload.id).id


def test_reconcile_finishes_only_logged_deletions(service: VaultService, dev: DevKeys,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """A crash between a logged deletion and its removal: the leftovers go, with a line."""
    row_left, file_left = _submitted(service, dev), _submitted(service, dev)
    blobs = service.store.blobs.root / "blobs" / "submissions"  # type: ignore[attr-defined]
    for submission_id in (row_left, file_left):
        service.audit_log.append([events.deletion_event(submission_id, "0" * 16).encode()])
    db = service.store._db  # type: ignore[attr-defined]
    db.execute("DELETE FROM submissions WHERE id = ?", (file_left,))  # died before unlink
    with caplog.at_level("WARNING", logger="amanat.store"):
        report = service.reconcile()
    assert report.consistent and report.logged == 0
    assert not (blobs / row_left).exists() and not (blobs / file_left).exists()
    assert f"finished the logged deletion of submission {row_left} (log entry" in caplog.text
    assert (f"finished the logged deletion of submission {file_left} (log entry "
            in caplog.text)


def test_reconcile_names_lost_replies_rosters_and_rows_the_log_lacks(
        service: VaultService, dev: DevKeys) -> None:
    from vault.store import ReplyRecord

    kept = _submitted(service, dev)
    upload_id, appender = service.begin_reply(None)
    appender.write(dev.seal(b"reply"))
    appender.commit()
    reply = ReplyRecord(new_id(), "cd" * 32, "ef" * 32, 5, events.hour_text(), -1)
    service.store.promote_reply(upload_id, reply)
    service.recover()
    db = service.store._db  # type: ignore[attr-defined]
    db.execute("DELETE FROM replies WHERE id = ?", (reply.id,))
    db.execute("UPDATE submissions SET log_index = 99 WHERE id = ?", (kept,))
    version = service.roster().version
    db.execute("DELETE FROM rosters")
    report = service.reconcile()
    assert report.missing == [] and len(report.problems) == 3
    text = "\n".join(report.problems)
    assert f"reply {reply.id} (log entry " in text and ") has no database row" in text
    assert f"submission {kept} (log entry" not in text  # its row is there, at another index
    assert (f"the database records submission {kept} at log entry 99, which the log (size "
            f"{service.log_size()}) does not record: was an older auditlog.sqlite3 restored?"
            ) in text
    assert (f"the database's roster is version 0 but the log records version {version}: "
            "publish the newest roster again") in text
    assert report.refusal().startswith("3 differences with the log (listed above): was an ")



def test_a_staging_file_holding_a_logged_submission_is_kept_not_swept(
        service: VaultService, dev: DevKeys, caplog: pytest.LogCaptureFixture) -> None:
    """Staging files are swept because none was acknowledged; bytes that the log records as
    a submission the store lacks (copies of different days restored) are kept instead."""
    import hashlib

    sealed, other = dev.seal(b"acknowledged once"), dev.seal(b"never finished")
    uploads = []
    for data in (sealed, other):
        upload = service.create_upload()
        appender = service.begin_append(upload.id, 0)
        appender.write(data)
        appender.commit()
        uploads.append(upload.id)
    logged_id = new_id()
    service.audit_log.append([events.submission_event(
        logged_id, hashlib.sha256(sealed).hexdigest(), len(sealed)).encode()])
    with caplog.at_level("WARNING", logger="amanat.store"):
        report = service.reconcile()
    assert [item.id for item in report.missing] == [logged_id]
    assert f"its sealed file is kept in quarantine/submissions/{logged_id}" in report.problems[0]
    assert (f"the unfinished upload {uploads[0]} holds the sealed file of submission "
            f"{logged_id} (log entry") in caplog.text
    assert service.reinstate()[0].endswith("reinstated from the log (its sealed file matches "
                                           "the logged SHA-256 and size)")
    assert service.reconcile().consistent
    assert service.sweep(datetime.now(UTC) + timedelta(hours=25)) == 1  # only the other
    with service.open_submission(Investigator("k", "n", ("reader",)), logged_id)[1] as src:
        assert src.read() == sealed


def test_anonymous_writes_stop_at_the_storage_reserve(service: VaultService,
                                                      dev: DevKeys) -> None:
    """Below the reserve an anonymous byte is refused (507), while an investigator still
    reads (its access logged), replies and deletes."""
    from dataclasses import replace

    from vault.service.service import StorageFullError

    who = Investigator(dev.investigator.key_id, "Reader", ("reader",))
    submitted = _submitted(service, dev)
    free = {"bytes": 1200}
    service.staging._free = lambda: free["bytes"]
    service.limits = replace(service.limits, reserve_bytes=1000)
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(b"a" * 200)  # leaves the reserve whole
    with pytest.raises(StorageFullError, match="no room"):
        appender.write(b"b" * 201)
    free["bytes"] = 1000
    with pytest.raises(StorageFullError):
        service.create_upload()
    size = service.audit_log.size()
    _, src = service.open_submission(who, submitted)
    src.close()
    assert service.audit_log.size() == size + 1
    reply_id, reply = service.begin_reply(None)
    reply.write(b"r" * 500)
    reply.abort()
    service.discard_upload(reply_id)
    service.delete_submission(Investigator(who.key_id, who.name, ("admin",)), submitted)
    free["bytes"] = 10_000
    service.create_upload()


def test_the_stored_bytes_quota_counts_stored_and_staged(service: VaultService,
                                                        dev: DevKeys) -> None:
    from dataclasses import replace

    from vault.service.service import StorageFullError

    _submitted(service, dev)
    stored = service.store.stored_bytes()
    assert stored > 0
    service.limits = replace(service.limits, max_stored_bytes=stored + 10)
    upload = service.create_upload()
    appender = service.begin_append(upload.id, 0)
    appender.write(b"a" * 10)
    with pytest.raises(StorageFullError):
        appender.write(b"b")


class _SlowLog:
    """The service's audit log, with appends that take a while (as a busy disk's fsync
    does) and that fail whenever a batch holds the entry ``poison``."""

    def __init__(self, log: object, poison: bytes | None = None) -> None:
        self._log = log
        self.poison = poison
        self.batches: list[int] = []

    def append(self, entries: list[bytes]) -> list[int]:
        self.batches.append(len(entries))
        time.sleep(0.05)
        if self.poison is not None and self.poison in entries:
            raise OSError("the disk refused this entry")
        return self._log.append(entries)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._log, name)


def _log_at_once(service: VaultService, entries: list[events.Event]
                 ) -> list[int | BaseException]:
    import threading

    results: list[int | BaseException] = [0] * len(entries)
    start = threading.Barrier(len(entries))

    def one(position: int) -> None:
        start.wait()
        try:
            results[position] = service._log(entries[position])
        except BaseException as exc:
            results[position] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(entries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_entries_logged_at_once_share_a_commit_and_each_gets_its_own_index(
        service: VaultService) -> None:
    slow = _SlowLog(service.audit_log)
    service.audit_log = slow
    size = service.log_size()
    entries = [events.access_event(new_id(), "0123456789abcdef") for _ in range(12)]
    results = _log_at_once(service, entries)
    assert sorted(results) == list(range(size, size + 12))  # type: ignore[type-var]
    assert len(slow.batches) < 12 and sum(slow.batches) == 12  # group commits happened
    for entry, index in zip(entries, results, strict=True):
        assert service.log_entries(index, index + 1) == [entry.encode()]  # type: ignore[arg-type]


def test_a_failed_entry_in_a_group_commit_fails_only_its_own_request(
        service: VaultService) -> None:
    entries = [events.access_event(new_id(), "0123456789abcdef") for _ in range(8)]
    slow = _SlowLog(service.audit_log, poison=entries[3].encode())
    service.audit_log = slow
    size = service.log_size()
    results = _log_at_once(service, entries)
    assert isinstance(results[3], OSError)
    logged = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(logged) == list(range(size, size + 7))  # type: ignore[type-var]
    for entry, index in zip(entries, results, strict=True):
        if not isinstance(index, BaseException):
            assert service.log_entries(index, index + 1) == [entry.encode()]


def test_finding_the_newest_cosigned_checkpoint_is_bounded_and_never_holds_the_log_lock(
        service: VaultService, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the cosigners change, no checkpoint of the long history qualifies: a receipt
    request must not verify them all (a cost an anonymous client could ask for again and
    again), nor hold the log lock while it verifies."""
    from vault.service.service import COSIGN_SCAN

    qualifying: set[int] = set()

    class Policy:
        quorum = 2

        def __init__(self) -> None:
            self.checked: list[int] = []

        def is_cosigned(self, text: str) -> bool:
            assert not service._log_lock.locked()
            self.checked.append(int(text))
            return int(text) in qualifying

    policy = Policy()
    history = 100_000
    asked: list[tuple[int, int | None]] = []

    def cosigned_sizes(min_lines: int = 1, *, above: int = -1,
                       limit: int | None = None) -> list[int]:
        asked.append((above, limit))
        return list(range(history, above, -1))[:limit]

    monkeypatch.setattr(service, "cosigning_policy", lambda: policy)
    monkeypatch.setattr(service.audit_log, "cosigned_sizes", cosigned_sizes)
    monkeypatch.setattr(service.audit_log, "cosigned_checkpoint_at", str)
    assert service._cosigned_size(1) is None
    assert len(policy.checked) == COSIGN_SCAN and asked == [(-1, COSIGN_SCAN)]
    assert service._cosigned_size(1) is None
    assert len(policy.checked) == COSIGN_SCAN  # remembered, not verified again
    history += 1
    qualifying.add(history)  # the new cosigners cosign the next checkpoint
    assert service._cosigned_size(1) == history
    assert service._cosigned_size(history) == history
    assert service._cosigned_size(history + 1) is None
    assert asked[-1] == (history, COSIGN_SCAN)  # only newer ones are looked at now
