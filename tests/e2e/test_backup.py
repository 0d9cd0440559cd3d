"""`amanat backup` against a real server taking a load of concurrent submissions, and the
health and metrics endpoints of a real server.

The backup runs in its own process while submitter threads keep submitting to the server on
127.0.0.1 (a bounded number each); the archive restores into a data directory that
`amanat fsck` passes and that holds every submission acknowledged before the backup
began, each with the SHA-256 its receipt names. A probe measures how long the server stops
answering while the snapshot is taken; the figures are printed (``pytest -s``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.routes.ops import ErrorCounter
from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess
from vault.client import SubmissionReceipt, VaultClient

SUBMITTERS = 4
MAX_EACH = 60
BEFORE_BACKUP = 8
NO_WORK = {"AMANAT_WORK_QUIET_RATE": "0"}


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "vault.cli", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_backup_under_load_restores_every_acknowledged_submission(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = server_factory(env=NO_WORK)  # the load is the point here, not the defences
    dev = read_dev_keys(server.data_dir)
    acked: list[tuple[float, SubmissionReceipt]] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    backed_up = threading.Event()

    def submitter(number: int) -> None:
        """Submits until two of its submissions were acknowledged after the backup ended
        (at most MAX_EACH)."""
        after = 0
        with VaultClient(server.url) as client:
            for i in range(MAX_EACH):
                if after >= 2:
                    return
                ended_before = backed_up.is_set()
                try:
                    receipt = client.submit(dev.seal(f"testimony {number}-{i}\n".encode()))
                except Exception as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    return
                with lock:
                    acked.append((time.monotonic(), receipt))
                after += ended_before

    probes: list[tuple[float, float]] = []

    def probe() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                start = time.monotonic()
                client.get("/api/v1/log/checkpoint").raise_for_status()
                probes.append((start, time.monotonic() - start))
                time.sleep(0.01)

    # An admin deletes acknowledged submissions, one after another, before, during and
    # after the backup: a deletion between the snapshot and the copy of its sealed file
    # must not leave the backup without it.
    deletions: dict[str, tuple[float, float]] = {}
    deleting = threading.Event()

    def deleter() -> None:
        with VaultClient(server.url) as admin:
            admin.login(dev.investigator.key_id, dev.sign, dev.roster().log_vkey or "")
            deleting.wait(timeout=120)
            while not stop.is_set():
                with lock:
                    candidates = [r.id for _, r in acked if r.id not in deletions]
                if len(candidates) > 2:
                    start = time.monotonic()
                    admin.delete_submission(candidates[0])
                    deletions[candidates[0]] = (start, time.monotonic())
                time.sleep(0.05)

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(SUBMITTERS)]
    prober = threading.Thread(target=probe)
    remover = threading.Thread(target=deleter)
    prober.start()
    remover.start()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(acked) < BEFORE_BACKUP and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    deleting.set()
    time.sleep(0.2)
    archive = tmp_path / "backup.tar"
    began = time.monotonic()
    with lock:
        before = [receipt for _, receipt in acked]
    done = cli("backup", "--data", str(server.data_dir), "-o", str(archive))
    ended = time.monotonic()
    backed_up.set()
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    prober.join(timeout=60)
    remover.join(timeout=60)
    assert errors == []
    assert done.returncode == 0, done.stderr
    after = [receipt for moment, receipt in acked if moment > ended]
    assert len(before) >= BEFORE_BACKUP
    assert after, "submissions must continue after the backup, or the load proves nothing"

    held = float(re.search(r"the server was held ([0-9.]+) ms", done.stdout).group(1))  # type: ignore[union-attr]
    during = [took for start, took in probes if began <= start <= ended]
    baseline = sorted(took for start, took in probes if start < began)
    print(f"\nbackup under load: {len(acked)} submissions by {SUBMITTERS} clients and "
          f"{len(deletions)} deletions, "
          f"{len(before)} acknowledged before the backup; backup took {ended - began:.2f} s, "
          f"server held {held:.1f} ms; probe latency during the backup: max "
          f"{max(during, default=0) * 1000:.0f} ms over {len(during)} probes "
          f"(before it: median {baseline[len(baseline) // 2] * 1000:.0f} ms)")
    assert held < 2000

    restored = tmp_path / "restored"
    checked = cli("restore", str(archive), "--data", str(restored))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok: the database and the sealed files agree with the log" in checked.stdout
    assert cli("fsck", "--data", str(restored)).returncode == 0

    conn = sqlite3.connect(restored / "vault.sqlite3")
    rows = {row[0]: (row[1], row[2], row[3]) for row in conn.execute(
        "SELECT id, sha256, size, log_index FROM submissions")}
    conn.close()
    assert deletions, "the deleter must have deleted something"
    for receipt in before:
        start, end = deletions.get(receipt.id, (float("inf"), float("inf")))
        if end < began:  # deleted (and logged) before the backup: not in it
            assert receipt.id not in rows
            continue
        if start <= ended and receipt.id not in rows:
            continue  # deleted while the backup ran: either, as fsck agrees
        assert receipt.id in rows, f"acknowledged before the backup, not in it: {receipt.id}"
        assert rows[receipt.id] == (receipt.sha256, receipt.size, receipt.log_index)
        blob = (restored / "blobs" / "submissions" / receipt.id).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == receipt.sha256
    assert not (server.data_dir / "snapshots").exists()  # released when the backup ended


def test_backup_refuses_what_is_not_a_data_directory(tmp_path: Path) -> None:
    done = cli("backup", "--data", str(tmp_path), "-o", str(tmp_path / "b.tar"))
    assert done.returncode == 2
    assert "is not a vault data directory" in done.stderr
    assert not (tmp_path / "b.tar").exists()


def test_health_and_metrics(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env=NO_WORK)
    dev = read_dev_keys(server.data_dir)
    with VaultClient(server.url) as client:
        client.submit(dev.seal(b"one\n"))
    with httpx.Client(base_url=server.url) as http:
        answer = http.get("/api/v1/health")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        not_found = http.get("/api/v1/no-such-thing")
        # No token file: metrics do not exist, as any other path.
        for headers in ({}, {"Authorization": "Bearer x"}):
            answer = http.get("/api/v1/metrics", headers=headers)
            assert (answer.status_code, answer.text) == (404, not_found.text)
        token = server.data_dir / "metrics.token"
        token.write_text("s3cret-metrics-token\n")
        token.chmod(0o600)
        assert http.get("/api/v1/metrics",
                        headers={"Authorization": "Bearer wrong"}).status_code == 404
        answer = http.get("/api/v1/metrics",
                          headers={"Authorization": "Bearer s3cret-metrics-token"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = dict(line.rsplit(" ", 1) for line in answer.text.splitlines()
                      if line and not line.startswith("#"))
        assert values["amanat_submissions_stored"] == "1"
        assert values["amanat_log_entries"] == "2"
        assert values["amanat_uploads_in_progress"] == "0"
        assert int(values["amanat_free_bytes"]) > 0
        assert int(values["amanat_reserve_bytes"]) > 0
        assert "127.0.0.1" not in answer.text
        token.chmod(0o644)  # readable by others: no longer a secret, so refused
        assert http.get("/api/v1/metrics",
                        headers={"Authorization": "Bearer s3cret-metrics-token"}
                        ).status_code == 404

    full = server_factory(env={"AMANAT_MIN_FREE_BYTES": str(2**62)})
    answer = httpx.get(full.url + "/api/v1/health")
    assert (answer.status_code, answer.json()) == (503, {"status": "failing",
                                                         "failing": ["storage"]})


def test_error_counter_counts_by_class_and_stays_bounded() -> None:
    counter = ErrorCounter()
    log = logging.getLogger("amanat.test-counter")
    log.addHandler(counter)
    log.propagate = False
    try:
        log.error("request failed: %s", "OSError")
        log.error("request failed: %s", "OSError")
        log.warning("something without a class")
        try:
            raise ValueError("secret input")
        except ValueError:
            log.exception("boom")
        for i in range(200):
            log.error("request failed: %s", f"Class{i}")
    finally:
        log.removeHandler(counter)
    counts = counter.counts()
    assert counts[("amanat.test-counter", "error", "OSError")] == 2
    assert counts[("amanat.test-counter", "warning", "")] == 1
    assert counts[("amanat.test-counter", "error", "ValueError")] == 1
    assert len(counts) <= 65
    assert not any("secret" in part for kind in counts for part in kind)
