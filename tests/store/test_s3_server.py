"""A real server with its sealed files in object storage: ``amanat serve --blobs s3://…``.

uvicorn on 127.0.0.1, the S3 EMULATOR (moto, tests/store/s3emulator.py) standing for an
S3-compatible server. A witness submits in one request and by a resumable upload cut off
half way and resumed; the investigator lists and downloads both and replies; the witness
reads the reply. Every sealed file is an object in the bucket, nothing sealed is in the
data directory, and the keys given in the environment appear in no output. A restart
without ``--blobs``, or with another bucket, is refused in words; with it, a sealed file
the database does not record is moved to the bucket's quarantine and named, and
``amanat fsck`` reads every sealed file in the bucket against the log.
"""

from __future__ import annotations

import io
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess, start_server
from tests.store.s3emulator import EMULATOR_ENV, S3Emulator
from vault import age
from vault.client import VaultClient
from vault.service.mailbox import mailbox_id
from vault.store import new_id, s3blobs


def run_amanat(*argv: str) -> subprocess.CompletedProcess[str]:
    """An ``amanat`` command with the emulator's stand-in keys and nothing else from here."""
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *argv], cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **EMULATOR_ENV},
        capture_output=True, text=True, timeout=120)


def blobs_args(emulator: S3Emulator, url: str) -> tuple[str, ...]:
    return ("--blobs", url, "--s3-endpoint", emulator.endpoint, "--s3-path-style",
            "--s3-region", "us-east-1")


@pytest.mark.timeout(180)
def test_the_loop_with_sealed_files_in_object_storage(s3_emulator: S3Emulator,
                                                      tmp_path: Path) -> None:
    options = s3_emulator.options(prefix="org/vault")
    server = start_server(tmp_path, extra_args=blobs_args(s3_emulator, options.url),
                          env=dict(EMULATOR_ENV))
    try:
        dev = read_dev_keys(server.data_dir)
        roster = dev.roster()
        statement = b"My brother was taken from Ghulja in spring 2018.\n"
        with VaultClient(server.url) as witness:
            receipt = witness.submit(age.encrypt_bytes(statement, roster.recipients()))
            sealed = age.encrypt_bytes(statement * 4000, roster.recipients())
            upload_id = witness.create_upload()
            half = len(sealed) // 2
            witness.append(upload_id, 0, sealed[:half], len(sealed))
            assert witness.upload_offset(upload_id) == half
            resumed = witness.upload(io.BytesIO(sealed), upload_id=upload_id,
                                     chunk_bytes=64 * 1024)
            secret = secrets.token_bytes(32)
        with VaultClient(server.url) as investigator:
            investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
            listed = [s.id for s in investigator.iter_submissions()]
            assert listed == [receipt.id, resumed.id]
            for sid, expected in ((receipt.id, statement), (resumed.id, statement * 4000)):
                out = io.BytesIO()
                investigator.download(sid, out)
                assert age.decrypt_bytes(out.getvalue(),
                                         [dev.investigator.age_identity()]) == expected
            reply_identity = age.X25519Identity.generate()
            reply = age.encrypt_bytes(b"thank you", [reply_identity.recipient()])
            investigator.post_reply(mailbox_id(secret), reply)
        with VaultClient(server.url) as witness:
            (info,) = witness.replies(secret)
            got = io.BytesIO()
            witness.fetch_reply(secret, info.id, got)
            assert age.decrypt_bytes(got.getvalue(), [reply_identity]) == b"thank you"

        # The sealed files are objects in the bucket, and only there.
        backend = s3blobs.connect(options)
        assert sorted(backend.blob_ids("submissions")) == sorted(listed)
        assert backend.blob_ids("replies") == [info.id]
        assert backend.staged_ids() == []
        assert backend.blob_size("submissions", resumed.id) == len(sealed)
        assert not [p for p in server.data_dir.rglob("*")
                    if p.is_file() and p.parent.name in ("submissions", "replies", "uploads")]
        assert (server.data_dir / "blobs.url").read_text() == options.url + "\n"
        output = server.output_text()
        for value in EMULATOR_ENV.values():
            if "key" in value:
                assert value not in output
    finally:
        server.stop()

    # The data directory remembers its bucket: without it, or with another, no start.
    for extra in ((), blobs_args(s3_emulator, s3_emulator.options(prefix="other").url)):
        refused = run_amanat("serve", "--data", str(server.data_dir), "--dev", "--port", "0",
                             *extra)
        assert refused.returncode != 0
        assert f"kept at {options.url}" in refused.stderr, refused.stderr
    # A sealed file in the bucket with no row (a crash between the PUT and the database
    # commit): the next start moves it to the bucket's quarantine, keeps it and names it.
    orphan = new_id()
    upload = new_id()
    backend.create_staged(upload)
    writer = backend.append_staged(upload, 0)
    writer.write(b"a sealed file nothing records")
    writer.commit()
    backend.promote(upload, "submissions", orphan)
    # With its bucket, the server starts again on what it holds.
    again = start_server(tmp_path, extra_args=blobs_args(s3_emulator, options.url),
                         env=dict(EMULATOR_ENV), data_dir=server.data_dir)
    try:
        with VaultClient(again.url) as investigator:
            investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
            assert [s.id for s in investigator.iter_submissions()] == listed
        assert f"moved to {options.url}/quarantine/submissions/{orphan}" in again.output_text()
        assert backend.quarantined_ids("submissions") == [orphan]
        assert orphan not in backend.blob_ids("submissions")
    finally:
        again.stop()
    # fsck reads every sealed file in the bucket the data directory remembers.
    checked = run_amanat("fsck", "--data", str(server.data_dir),
                         "--s3-endpoint", s3_emulator.endpoint, "--s3-path-style")
    assert checked.returncode == 0, checked.stderr
    assert "ok: the database and the sealed files agree with the log" in checked.stdout
    assert f"kept: {options.url}/quarantine/submissions/{orphan}" in checked.stdout
    # An object replaced behind the server's back (removed, then written again with other
    # bytes of the same size) is named as damaged.
    key = f"blobs/submissions/{resumed.id}"
    altered = bytearray(sealed)
    altered[-1] ^= 1
    backend.delete_keys([key])
    backend.put_once(key, bytes(altered))
    checked = run_amanat("fsck", "--data", str(server.data_dir),
                         "--s3-endpoint", s3_emulator.endpoint, "--s3-path-style")
    assert checked.returncode == 1, checked.stderr
    assert f"damaged: submission {resumed.id}" in checked.stderr


def test_a_directory_with_sealed_files_does_not_switch_to_a_bucket(
        s3_emulator: S3Emulator, tmp_path: Path) -> None:
    server: ServerProcess = start_server(tmp_path)
    dev = read_dev_keys(server.data_dir)
    with VaultClient(server.url) as witness:
        witness.submit(age.encrypt_bytes(b"kept in the directory", dev.roster().recipients()))
    server.stop()
    refused = run_amanat("serve", "--data", str(server.data_dir), "--dev", "--port", "0",
                         *blobs_args(s3_emulator, s3_emulator.options().url))
    assert refused.returncode != 0
    assert "cannot switch to --blobs" in refused.stderr, refused.stderr
    assert not (server.data_dir / "blobs.url").exists()
