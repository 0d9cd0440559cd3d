"""One conformance suite for every blob backend: the data directory and S3 (on an EMULATOR).

What vault/store/blobs.py ``BlobBackend`` promises, held against both: a staged upload grows
only at its end and an abort drops what it wrote; a promoted blob is whole, durable and
never overwritten (promoting onto an id in use is refused and keeps both); quarantine keeps
every copy; hostile ids name nothing; listings and sizes agree with what was written; a
writer SIGKILLed during promotion leaves no blob or the whole one, and during an append a
prefix of what it wrote, never other bytes. The S3 backend runs against moto's S3 emulator
(tests/store/s3emulator.py), which stands for a real S3-compatible server here.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store.blob_crash_child import pattern
from tests.store.s3emulator import EMULATOR_ENV, S3Emulator
from tests.support import ROOT
from vault.store import (
    NAMESPACE_REPLIES,
    NAMESPACE_SUBMISSIONS,
    ConflictError,
    NotFoundError,
    new_id,
    s3blobs,
)
from vault.store.blobs import BlobBackend, BlobDirectory

SUB = NAMESPACE_SUBMISSIONS
BACKENDS = ("directory", "s3-emulator")
CRASH_ROUNDS = 4
SETTLE_SECONDS = 0.5


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    if request.param == "directory":
        return BlobDirectory(tmp_path / "data")
    emulator: S3Emulator = request.getfixturevalue("s3_emulator")
    return s3blobs.connect(emulator.options())


def stage(backend: BlobBackend, data: bytes, upload_id: str | None = None) -> str:
    upload_id = upload_id or new_id()
    backend.create_staged(upload_id)
    writer = backend.append_staged(upload_id, 0)
    writer.write(data)
    assert writer.commit() == len(data)
    return upload_id


def read(opened: object) -> bytes:
    with opened as f:  # type: ignore[attr-defined]
        return bytes(f.read())


def test_a_staged_upload_grows_only_at_its_end(backend: BlobBackend) -> None:
    upload_id = new_id()
    backend.create_staged(upload_id)
    assert backend.staged_size(upload_id) == 0
    with pytest.raises(ConflictError):
        backend.create_staged(upload_id)
    writer = backend.append_staged(upload_id, 0)
    writer.write(b"hello ")
    assert writer.commit() == 6
    with pytest.raises(ConflictError):
        backend.append_staged(upload_id, 5)
    with pytest.raises(ConflictError):
        backend.append_staged(upload_id, 7)
    writer = backend.append_staged(upload_id, 6)
    writer.write(b"junk")
    writer.abort()
    assert backend.staged_size(upload_id) == 6
    writer = backend.append_staged(upload_id, 6)
    writer.write(b"world")
    assert writer.commit() == 11
    with backend.open_staged(upload_id) as f:
        assert f.read() == b"hello world"
        f.seek(6)
        assert f.read(3) == b"wor"
    assert upload_id in backend.staged_ids()
    backend.delete_staged(upload_id)
    backend.delete_staged(upload_id)  # twice: nothing to do
    assert upload_id not in backend.staged_ids()
    with pytest.raises(NotFoundError):
        backend.staged_size(upload_id)
    with pytest.raises(NotFoundError):
        backend.append_staged(upload_id, 0)


def test_a_long_append_and_its_abort(backend: BlobBackend,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Small parts, so the S3 writer writes several objects during one append.
    monkeypatch.setattr(s3blobs, "PART_BYTES", 1000)
    data = pattern(5500)
    upload_id = stage(backend, data[:500])
    writer = backend.append_staged(upload_id, 500)
    for start in range(500, 5500, 700):
        writer.write(data[start:start + 700])
    writer.abort()
    assert backend.staged_size(upload_id) == 500
    writer = backend.append_staged(upload_id, 500)
    for start in range(500, 5500, 700):
        writer.write(data[start:start + 700])
    assert writer.commit() == 5500
    assert read(backend.open_staged(upload_id)) == data
    with backend.open_staged(upload_id) as f:  # reads that cross parts
        f.seek(999)
        assert f.read(1002) == data[999:2001]


def test_promotion_makes_the_whole_blob_and_removes_the_staged_upload(
        backend: BlobBackend) -> None:
    data = pattern(70_000)
    upload_id = stage(backend, data)
    blob_id = new_id()
    assert not backend.blob_present(SUB, blob_id)
    assert backend.blob_size(SUB, blob_id) is None
    backend.promote(upload_id, SUB, blob_id)
    assert backend.blob_present(SUB, blob_id)
    assert backend.blob_size(SUB, blob_id) == len(data)
    assert read(backend.open_blob(SUB, blob_id)) == data
    with backend.open_blob(SUB, blob_id) as f:
        f.seek(65_000)
        assert f.read() == data[65_000:]
        f.seek(10)
        assert f.read(5) == data[10:15]
    assert backend.blob_ids(SUB) == [blob_id]
    assert backend.blob_ids(NAMESPACE_REPLIES) == []
    assert upload_id not in backend.staged_ids()
    with pytest.raises(NotFoundError):
        backend.staged_size(upload_id)
    with pytest.raises(NotFoundError):
        backend.promote(upload_id, SUB, new_id())
    backend.delete_blob(SUB, blob_id)
    assert not backend.blob_present(SUB, blob_id)
    with pytest.raises(NotFoundError):
        backend.open_blob(SUB, blob_id)


def test_a_blob_is_written_once(backend: BlobBackend) -> None:
    blob_id = new_id()
    backend.promote(stage(backend, b"first sealed file"), SUB, blob_id)
    second = stage(backend, b"another file for the same id")
    with pytest.raises(ConflictError):
        backend.promote(second, SUB, blob_id)
    assert read(backend.open_blob(SUB, blob_id)) == b"first sealed file"
    assert read(backend.open_staged(second)) == b"another file for the same id"
    # The same id in the other namespace is another blob.
    backend.promote(second, NAMESPACE_REPLIES, blob_id)
    assert read(backend.open_blob(NAMESPACE_REPLIES, blob_id)) == b"another file for the same id"


def test_quarantine_keeps_every_copy(backend: BlobBackend) -> None:
    blob_id = new_id()
    backend.promote(stage(backend, b"copy one"), SUB, blob_id)
    first = backend.quarantine(SUB, blob_id)
    assert not backend.blob_present(SUB, blob_id)
    assert backend.quarantined_ids(SUB) == [blob_id]
    assert backend.quarantined(SUB, blob_id) == first
    assert read(backend.open_quarantined(SUB, blob_id)) == b"copy one"
    # A second blob of the same id goes to quarantine beside the first, not over it.
    backend.promote(stage(backend, b"copy two"), SUB, blob_id)
    second = backend.quarantine(SUB, blob_id)
    assert second != first and blob_id in second
    assert read(backend.open_quarantined(SUB, blob_id)) == b"copy one"
    backend.unquarantine(SUB, blob_id)
    assert read(backend.open_blob(SUB, blob_id)) == b"copy one"
    assert backend.quarantined(SUB, blob_id) is None
    assert backend.open_quarantined(SUB, blob_id) is None
    # Reinstating is never over a blob in place.
    backend.quarantine(SUB, blob_id)
    backend.promote(stage(backend, b"copy three"), SUB, blob_id)
    with pytest.raises(ConflictError):
        backend.unquarantine(SUB, blob_id)
    assert read(backend.open_blob(SUB, blob_id)) == b"copy three"
    assert read(backend.open_quarantined(SUB, blob_id)) == b"copy one"


def test_a_staged_upload_kept_as_a_logged_submission(backend: BlobBackend) -> None:
    upload_id = stage(backend, b"bytes a newer log records")
    submission_id = new_id()
    where = backend.quarantine_staged(upload_id, submission_id)
    assert submission_id in where
    assert upload_id not in backend.staged_ids()
    assert backend.quarantined_ids(SUB) == [submission_id]
    assert read(backend.open_quarantined(SUB, submission_id)) == b"bytes a newer log records"


HOSTILE = ("../" + "0" * 29, "0" * 31, "A" * 32, "0" * 32 + "/x", "", "..")


def test_hostile_ids_name_nothing(backend: BlobBackend) -> None:
    good = new_id()
    backend.promote(stage(backend, b"x"), SUB, good)
    calls: list[Callable[[str], object]] = [
        backend.create_staged, backend.staged_size, backend.open_staged,
        lambda i: backend.append_staged(i, 0), lambda i: backend.promote(i, SUB, new_id()),
        lambda i: backend.open_blob(SUB, i), lambda i: backend.blob_present(SUB, i),
        lambda i: backend.quarantine(SUB, i), lambda i: backend.quarantined(SUB, i),
        lambda i: backend.unquarantine(SUB, i), lambda i: backend.delete_blob(SUB, i),
    ]
    for bad in HOSTILE:
        for call in calls:
            with pytest.raises(NotFoundError):
                call(bad)
    for namespace in ("../blobs", "uploads", ""):
        with pytest.raises(NotFoundError):
            backend.open_blob(namespace, good)
        with pytest.raises(NotFoundError):
            backend.promote(stage(backend, b"y"), namespace, new_id())
        assert backend.quarantined_ids(namespace) == []
    assert backend.blob_ids(SUB) == [good]


# --- crashes ------------------------------------------------------------------------------


def _child_env(backend: BlobBackend, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOB_TEST_")}
    env["PYTHONPATH"] = str(ROOT)
    if isinstance(backend, BlobDirectory):
        env["BLOB_TEST_DIR"] = str(backend.root)
    else:
        assert isinstance(backend, s3blobs.S3Blobs)
        env.update(EMULATOR_ENV)
        env["BLOB_TEST_S3_URL"] = backend.location.rstrip("/")
        env["BLOB_TEST_S3_ENDPOINT"] = os.environ["BLOB_TEST_ENDPOINT"]
    env.update(extra)
    return env


def _run_child(mode: str, upload_id: str, env: dict[str, str], kill_after: float | None
               ) -> float:
    """Run the child; SIGKILL it ``kill_after`` seconds after it is ready (None: let it
    finish, and return the seconds its operation took)."""
    child = subprocess.Popen([sys.executable, "-m", "tests.store.blob_crash_child", mode,
                              upload_id], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        start = time.monotonic()
        if kill_after is None:
            assert child.stdout.readline() == b"done\n"
            took = time.monotonic() - start
            assert child.wait(timeout=60) == 0
            return took
        else:
            time.sleep(kill_after)
            child.kill()
            child.wait(timeout=10)
        return time.monotonic() - start
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def kill_delays(took: float, seed: int) -> list[float]:
    """One moment in each of CRASH_ROUNDS equal slices of the operation's time."""
    rng = random.Random(seed)
    return [took * (i + rng.random()) / CRASH_ROUNDS for i in range(CRASH_ROUNDS)]


@pytest.fixture
def crash_backend(backend: BlobBackend, request: pytest.FixtureRequest,
                  monkeypatch: pytest.MonkeyPatch) -> BlobBackend:
    if isinstance(backend, s3blobs.S3Blobs):
        emulator: S3Emulator = request.getfixturevalue("s3_emulator")
        monkeypatch.setenv("BLOB_TEST_ENDPOINT", emulator.endpoint)
    return backend


@pytest.mark.timeout(240)
def test_a_crash_during_promotion_leaves_no_blob_or_the_whole_one(
        crash_backend: BlobBackend) -> None:
    backend = crash_backend
    data = pattern(6 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    env = _child_env(backend)
    calibrate = stage(backend, data)
    took = _run_child("promote", calibrate, env, None)
    assert backend.blob_size(SUB, calibrate) == len(data)
    outcomes = set()
    for delay in kill_delays(took, 13):
        upload_id = stage(backend, data)
        _run_child("promote", upload_id, env, delay)
        # A PUT the object storage received whole may still land after its writer died
        # (the emulator finishes it in its own thread): give it a moment, as a restart would.
        time.sleep(SETTLE_SECONDS)
        size = backend.blob_size(SUB, upload_id)
        if size is None:
            outcomes.add("none")
            # Nothing promoted: the staged upload is whole, and can be promoted again.
            assert hashlib.sha256(read(backend.open_staged(upload_id))).hexdigest() == digest
            backend.promote(upload_id, SUB, upload_id)
        else:
            outcomes.add("whole")
        assert hashlib.sha256(read(backend.open_blob(SUB, upload_id))).hexdigest() == digest
    print(f"promotion took {took * 1000:.0f} ms; outcomes after SIGKILL: {sorted(outcomes)}")


@pytest.mark.timeout(240)
def test_a_crash_during_an_append_leaves_a_prefix_of_it(crash_backend: BlobBackend) -> None:
    backend = crash_backend
    size = 4 * 1024 * 1024
    data = pattern(size)
    env = _child_env(backend, BLOB_TEST_APPEND_BYTES=str(size),
                     BLOB_TEST_PART_BYTES=str(256 * 1024))
    calibrate = new_id()
    backend.create_staged(calibrate)
    took = _run_child("append", calibrate, env, None)
    assert read(backend.open_staged(calibrate)) == data
    kept = []
    for delay in kill_delays(took, 17):
        upload_id = new_id()
        backend.create_staged(upload_id)
        _run_child("append", upload_id, env, delay)
        time.sleep(SETTLE_SECONDS)  # a part received whole may still land
        held = backend.staged_size(upload_id)
        assert read(backend.open_staged(upload_id)) == data[:held]
        # The upload goes on from what was kept.
        writer = backend.append_staged(upload_id, held)
        writer.write(data[held:])
        assert writer.commit() == size
        assert read(backend.open_staged(upload_id)) == data
        kept.append(held)
    print(f"append took {took * 1000:.0f} ms; bytes kept after SIGKILL: {kept}")


# --- what only object storage has to prove --------------------------------------------------


@pytest.fixture
def s3(s3_emulator: S3Emulator) -> s3blobs.S3Blobs:
    return s3blobs.connect(s3_emulator.options())


def test_the_emulator_refuses_an_overwrite(s3: s3blobs.S3Blobs) -> None:
    """What every write-once promise here rests on: If-None-Match: * is honoured."""
    import obstore
    from obstore.exceptions import AlreadyExistsError

    obstore.put(s3.store, "blobs/submissions/x", b"one", mode="create")
    with pytest.raises(AlreadyExistsError):
        obstore.put(s3.store, "blobs/submissions/x", b"two", mode="create")
    assert bytes(obstore.get(s3.store, "blobs/submissions/x").bytes()) == b"one"


def test_a_store_that_overwrites_is_refused(s3: s3blobs.S3Blobs) -> None:
    class Overwriting(s3blobs.S3Blobs):
        """Answers as a server that ignores If-None-Match would."""

        def put_once(self, key: str, data: bytes) -> None:
            import obstore

            obstore.put(self.store, key, data, mode="overwrite")

    with pytest.raises(s3blobs.BlobStorageError, match="If-None-Match"):
        Overwriting(s3.store, s3.location).probe_write_once()
    assert not [key for key, _ in s3._list("probe/")]  # the probe removes its object


def test_two_writers_at_one_offset_one_wins(s3: s3blobs.S3Blobs) -> None:
    """Two servers appending to one upload at the same offset: the second write of the
    part is refused, and the upload holds one writer's bytes only."""
    upload_id = stage(s3, b"start:")
    first = s3.append_staged(upload_id, 6)
    second = s3.append_staged(upload_id, 6)
    first.write(b"AAAA")
    second.write(b"BBBBBB")
    assert first.commit() == 10
    with pytest.raises(ConflictError) as refused:
        second.commit()
    assert "s3://" not in str(refused.value) and "uploads/" not in str(refused.value)
    assert read(s3.open_staged(upload_id)) == b"start:AAAA"


def test_parts_past_a_gap_are_not_part_of_the_upload(s3: s3blobs.S3Blobs) -> None:
    upload_id = stage(s3, b"0123")
    s3.put_once(s3blobs._part_key(upload_id, 10), b"stray")  # a writer that lost its base
    assert s3.staged_size(upload_id) == 4
    writer = s3.append_staged(upload_id, 4)
    writer.write(b"456789abcdef")
    assert writer.commit() == 16
    assert read(s3.open_staged(upload_id)) == b"0123456789abcdef"


def test_the_bucket_operator_sees_no_metadata(s3_emulator: S3Emulator) -> None:
    """Objects carry no user metadata and no tags: only what S3 itself records (size,
    ETag, and the time of the write to the second, DEPLOY.md)."""
    import boto3

    options = s3_emulator.options()
    backend = s3blobs.connect(options)
    blob_id = new_id()
    backend.promote(stage(backend, b"sealed"), SUB, blob_id)
    bucket, prefix = s3blobs.parse_blobs_url(options.url)
    client = boto3.client("s3", endpoint_url=s3_emulator.endpoint, region_name="us-east-1")
    key = f"{prefix}/blobs/submissions/{blob_id}"
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Metadata"] == {}
    assert client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == []
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"] for o in listed) == [key]  # nothing staged or probed is left


SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_credentials_never_reach_a_message(tmp_path: Path) -> None:
    with pytest.raises(s3blobs.S3SettingsError) as refused:
        s3blobs.parse_blobs_url(f"s3://AKIAEXAMPLE:{SECRET}@bucket/prefix")
    assert SECRET not in str(refused.value) and "AKIAEXAMPLE" not in str(refused.value)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = AKIAEXAMPLE\n"
                           f"aws_secret_access_key = {SECRET}\n")
    credentials.chmod(0o644)
    with pytest.raises(s3blobs.S3SettingsError, match="chmod 600"):
        s3blobs.read_credentials_file(credentials, "default")
    credentials.chmod(0o600)
    assert s3blobs.read_credentials_file(credentials, "default")["secret_access_key"] == SECRET
    with pytest.raises(s3blobs.S3SettingsError, match=r"no \[other\] section"):
        s3blobs.read_credentials_file(credentials, "other")
    # A server that does not answer: the failure names the bucket, never the keys.
    options = s3blobs.S3Options("s3://unreachable-bucket/p", endpoint="http://127.0.0.1:9",
                                path_style=True, credentials_file=credentials)
    with pytest.raises(s3blobs.BlobStorageError) as failed:
        s3blobs.connect(options, env={})
    assert "unreachable-bucket" in str(failed.value)
    assert SECRET not in str(failed.value) and "AKIAEXAMPLE" not in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


@pytest.mark.parametrize(("url", "endpoint", "complaint"), [
    ("https://bucket/p", None, "only s3://"),
    ("s3://Bad_Bucket/p", None, "not an S3 bucket name"),
    ("s3://bucket/p/../q", None, "the prefix"),
    ("s3://bucket:9000/p", None, "no port"),
    ("s3://bucket/p", "http://storage.example:9000", "plain http is allowed only"),
    ("s3://bucket/p", "ftp://storage.example", "give https"),
])
def test_settings_refused_in_words(url: str, endpoint: str | None, complaint: str) -> None:
    with pytest.raises(s3blobs.S3SettingsError, match=complaint):
        s3blobs.connect(s3blobs.S3Options(url, endpoint=endpoint), env={})
