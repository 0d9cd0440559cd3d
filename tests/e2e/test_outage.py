"""`amanat upload` of a 100 MiB sealed file through a server outage, with real processes.

The server is killed mid-upload (SIGKILL, as a crash or a power cut would) and restarted on
the same data directory and port: the same command waits with a countdown and finishes
with the right receipt. A command that gave up leaves a resume record beside the file, and
running it again goes on from the offset the server kept, not from byte 0.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess, start_server
from tests.e2e.test_large_upload import Zeros, sha256_file
from tests.workflows.conftest import base_env, receipt_entry
from vault import age
from vault.client import VaultClient

MIB = 1024 * 1024
SIZE = 100 * MIB
OUTAGE_SECONDS = 20.0


def serve(directory: Path, **kwargs: object) -> ServerProcess:
    directory.mkdir()
    return start_server(directory, **kwargs)  # type: ignore[arg-type]


def sealed_file(server: ServerProcess, path: Path) -> Path:
    with open(path, "wb") as dst:
        age.encrypt(io.BufferedReader(Zeros(SIZE), MIB), dst,
                    read_dev_keys(server.data_dir).recipients())
    return path


def staged_bytes(server: ServerProcess) -> int:
    return sum(p.stat().st_size for p in (server.data_dir / "uploads").glob("*"))


def start_upload(server: ServerProcess, sealed: Path, log: Path, *extra: str
                 ) -> subprocess.Popen[bytes]:
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "vault.cli", "upload", "--server", server.url, "--receipt", "-",
             *extra, str(sealed)],
            cwd=ROOT, env=base_env(), stdout=subprocess.PIPE, stderr=err)


def kill_midway(server: ServerProcess, upload: subprocess.Popen[bytes]) -> int:
    """SIGKILL the server once it holds some, but not all, of the upload; returns what it
    held then."""
    deadline = time.monotonic() + 30
    while (held := staged_bytes(server)) < 8 * MIB:
        assert upload.poll() is None, "the upload ended before the server was cut off"
        assert time.monotonic() < deadline, "the upload did not start"
        time.sleep(0.005)
    server.process.kill()
    server.process.wait(timeout=10)
    assert held < SIZE
    return held


def cut_off_upload(tmp_path: Path, log: Path, *extra: str
                   ) -> tuple[ServerProcess, Path, subprocess.Popen[bytes]]:
    """A server, a 100 MiB sealed file, its `amanat upload` (stderr to ``log``) under way,
    and the server killed midway."""
    server = serve(tmp_path / "before")
    sealed = sealed_file(server, tmp_path / "big.age")
    upload = start_upload(server, sealed, log, *extra)
    kill_midway(server, upload)
    return server, sealed, upload


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_upload_waits_out_a_server_outage(tmp_path: Path) -> None:
    log = tmp_path / "upload.stderr"
    server, sealed, upload = cut_off_upload(tmp_path, log)
    time.sleep(OUTAGE_SECONDS)
    assert upload.poll() is None, log.read_text()
    again = serve(tmp_path / "after", data_dir=server.data_dir, port=server.port)
    try:
        out, _ = upload.communicate(timeout=80)
    finally:
        again.stop()
    err = log.read_text()
    assert upload.returncode == 0, err
    assert re.search(r"amanat: server unreachable; retrying in \d+ s \(gives up in 9:\d\d\)",
                     err), err
    digest = sha256_file(sealed)
    assert "amanat: delivered " in err
    assert out.decode().startswith("c2sp.org/tlog-proof@v1\n")
    assert f"sha256 {digest}" in receipt_entry(out.decode()), out
    assert not (tmp_path / "big.age.amanat-upload").exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_rerun_after_giving_up_resumes_at_the_servers_offset(tmp_path: Path) -> None:
    log = tmp_path / "first.stderr"
    server, sealed, upload = cut_off_upload(tmp_path, log, "--retry-for", "3")
    upload.communicate(timeout=30)
    err = log.read_text()
    assert upload.returncode == 1, err
    last = err.splitlines()[-1]
    assert last.startswith(f"amanat: gave up after 0:03: cannot reach {server.url}: nothing "
                           "is listening there (connection refused); check the address, and "
                           "that the server is running; run the same command again"), err
    assert last.endswith("run the same command again to go on from where it stopped (the "
                         f"server keeps what it received for a day; {sealed}.amanat-upload "
                         "remembers where)"), err
    record = json.loads(Path(f"{sealed}.amanat-upload").read_text())
    assert record["size"] == sealed.stat().st_size
    assert set(record) == {"format", "server", "upload_id", "size", "sha256"}

    again = serve(tmp_path / "after", data_dir=server.data_dir, port=server.port)
    try:
        with VaultClient(again.url) as client:
            kept = client.upload_offset(record["upload_id"])
        assert 0 < kept < record["size"]
        log = tmp_path / "second.stderr"
        rerun = start_upload(again, sealed, log)
        out, _ = rerun.communicate(timeout=80)
    finally:
        again.stop()
    err = log.read_text()
    assert rerun.returncode == 0, err
    size = record["size"]
    assert (f"amanat: resuming at {kept / MIB:.1f} MiB of {size / MIB:.1f} MiB: the server "
            "kept what the last attempt sent\n") in err
    assert out.decode().startswith("c2sp.org/tlog-proof@v1\n")
    assert f"sha256 {hashlib.sha256(sealed.read_bytes()).hexdigest()}" in receipt_entry(
        out.decode())
    assert not Path(f"{sealed}.amanat-upload").exists()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_submit_waits_for_a_server_that_comes_back(tmp_path: Path) -> None:
    """`submit` keeps nothing on disk, so it rides out an outage in memory: it starts while
    the server is down and delivers once it is back."""
    server = serve(tmp_path / "before")
    org_vkey = read_dev_keys(server.data_dir).org_vkey
    server.stop()
    log = tmp_path / "submit.stderr"
    with open(log, "wb") as err:
        submit = subprocess.Popen(
            [sys.executable, "-m", "vault.cli", "submit", "--server", server.url, "--org",
             org_vkey, "--statement", "-", "--no-reply", "--receipt", "-"],
            cwd=tmp_path, env=base_env(PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=err)
    assert submit.stdin is not None
    submit.stdin.write(b"They took my brother in 2018.\n")
    submit.stdin.close()
    time.sleep(4)
    assert submit.poll() is None, log.read_text()
    again = serve(tmp_path / "after", data_dir=server.data_dir, port=server.port)
    try:
        assert submit.stdout is not None
        out = submit.stdout.read()
        submit.wait(timeout=60)
    finally:
        again.stop()
    err = log.read_text()
    assert submit.returncode == 0, err
    assert "amanat: server unreachable; retrying in " in err and "amanat: delivered " in err
    assert out.decode().startswith("c2sp.org/tlog-proof@v1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["after", "before", "submit.stderr"]
