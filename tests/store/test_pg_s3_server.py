"""Both scaled-out pieces at once: two `amanat serve` workers with their records in
PostgreSQL and their sealed files in object storage (moto's S3 emulator, an emulator: it
proves the protocol, not a real server's durability). A submission made through one worker
is listed and opens through the other; a resumable upload begun on one is finished on the
other; the data directory holds no sealed file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import free_port, start_server
from tests.store.s3emulator import EMULATOR_ENV, S3Emulator
from tests.store.test_s3_server import blobs_args
from vault import age
from vault.client import VaultClient


@pytest.mark.timeout(180)
def test_two_workers_on_postgresql_and_a_bucket(s3_emulator: S3Emulator, postgres_dsn: str,
                                                tmp_path: Path) -> None:
    options = s3_emulator.options(prefix="org/vault")
    data = tmp_path / "shared"
    ports = [free_port(), free_port()]
    public = [arg for port in ports for arg in ("--public-url", f"http://127.0.0.1:{port}")]
    workers = []
    try:
        for number, port in enumerate(ports):
            home = tmp_path / f"worker{number}"
            home.mkdir()
            workers.append(start_server(
                home, data_dir=data, port=port, env=dict(EMULATOR_ENV),
                extra_args=("--store", postgres_dsn, *blobs_args(s3_emulator, options.url),
                            *public)))
        dev = read_dev_keys(data)
        roster = dev.roster()
        sealed = age.encrypt_bytes(b"Taken from Kashgar, 2017.\n" * 5000, roster.recipients())
        with VaultClient(workers[0].url) as first, VaultClient(workers[1].url) as second:
            receipt = first.submit(age.encrypt_bytes(b"one request\n", roster.recipients()))
            upload_id = first.create_upload()
            half = len(sealed) // 2
            first.append(upload_id, 0, sealed[:half], len(sealed))
            assert second.upload_offset(upload_id) == half
            second.append(upload_id, half, sealed[half:], len(sealed))
            resumed = second.finish_upload(upload_id)
            second.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
            assert [s.id for s in second.iter_submissions()] == [receipt.id, resumed.id]
            out = io.BytesIO()
            second.download(resumed.id, out)
            assert out.getvalue() == sealed
        kept_here = [p for p in data.rglob("*") if p.is_file()
                     and p.parent.name in ("submissions", "replies", "uploads")]
        assert kept_here == []  # every sealed file is in the bucket
    finally:
        for worker in workers:
            worker.stop()
