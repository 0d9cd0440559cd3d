"""Nobody silently drops a testimony (DESIGN guarantee 4), whatever happens to vault.sqlite3.

Real servers on 127.0.0.1: a `submissions` row deleted by hand, and an older vault.sqlite3
restored under a newer log. The server quarantines the sealed files it finds without a row
(and says so), refuses to start over a database that lost what its log records (naming the
ids), and, started anyway with --allow-missing, every client that compares the log with
what is served names each missing submission with its log index: `inbox`,
`audit verify --full` and the victim's `receipt verify --server`. `fsck --repair` records the
kept files again from the log.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.audit.serverkit import Servers, amanat, org_vkey, servers, submit
from tests.e2e.conftest import ROOT, ServerProcess, free_port
from vault.audit import receipt_file_text
from vault.client import SubmissionReceipt
from vault.service.setup import DEV_DIR
from vault.store.sqlite import DATABASE_NAME

__all__ = ["servers"]


def refused_start(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`amanat serve` on ``data_dir``, expected to stop at start-up by itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", "serve", "--data", str(data_dir), "--port",
         str(free_port()), "--dev", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def delete_row(data_dir: Path, submission_id: str) -> None:
    db = sqlite3.connect(data_dir / DATABASE_NAME)
    with db:
        assert db.execute("DELETE FROM submissions WHERE id = ?", (submission_id,)).rowcount == 1
    db.close()


def inbox(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
          server: ServerProcess) -> tuple[int, str, str]:
    monkeypatch.setenv("AMANAT_PASSPHRASE", read_dev_keys(server.data_dir).passphrase)
    identity = server.data_dir / DEV_DIR / "investigator.identity"
    return amanat(capsys, "inbox", "--server", server.url, "-i", str(identity),
                  "--org", org_vkey(server))


def missing_line(receipt: SubmissionReceipt) -> str:
    return (f"amanat: missing: submission {receipt.id} (log entry {receipt.log_index}, "
            f"{receipt.received}, {receipt.size} bytes) is in the log with no deletion, but "
            "the server does not hold it\n")


def check_clients_report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                         server: ServerProcess, kept: list[SubmissionReceipt],
                         lost: list[SubmissionReceipt], tmp_path: Path) -> None:
    """inbox, audit verify --full and receipt verify --server each name every lost one."""
    status, out, err = inbox(capsys, monkeypatch, server)
    assert status == 1
    assert [line.split()[0] for line in out.splitlines()] == [r.id for r in kept]
    assert err == "".join(missing_line(r) for r in lost) + (
        f"amanat: {len(lost)} submission(s) the log records with no deletion are not listed "
        "by the server (named above): tell the organization\n")

    org = org_vkey(server)
    status, out, err = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org)
    assert status == 0  # the signed log itself is intact: only --full looks at holdings
    status, out, err = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org,
                              "--full")
    assert (status, out) == (1, "")
    assert err == "".join(missing_line(r) for r in lost) + (
        f"amanat: missing: {len(lost)} of the {len(kept) + len(lost)} submissions the log "
        "records with no deletion are not held by the server\n")

    for receipt, held in [(r, False) for r in lost] + [(kept[0], True)]:
        path = tmp_path / f"receipt-{receipt.id}.txt"
        path.write_text(receipt_file_text(receipt.entry, receipt.receipt))
        status, out, err = amanat(capsys, "receipt", "verify", str(path), "--org", org,
                                  "--server", server.url)
        if held:
            assert status == 0 and out.endswith("and the server still holds it\n")
        else:
            assert (status, out, err) == (1, "", missing_line(receipt))


def test_a_deleted_row_is_refused_reported_and_repaired(
        servers: Servers, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = servers.start("vault")
    receipts = submit(server, 3)
    server.stop()
    victim = receipts[1]
    delete_row(server.data_dir, victim.id)

    refused = refused_start(server.data_dir)
    assert refused.returncode == 1
    blob = server.data_dir / "blobs" / "submissions" / victim.id
    kept = server.data_dir / "quarantine" / "submissions" / victim.id
    assert not blob.exists() and kept.is_file()  # moved, never removed
    assert (f"amanat: WARNING the sealed file blobs/submissions/{victim.id} has no database "
            f"row: moved to quarantine/submissions/{victim.id} and kept (nothing is removed "
            "without a logged event)\n") in refused.stderr
    assert (f"amanat: ERROR submission {victim.id} (log entry {victim.log_index}, "
            f"{victim.received}) has no database row; its sealed file is kept in "
            f"quarantine/submissions/{victim.id}\n") in refused.stderr
    assert refused.stderr.endswith(
        f": the database has 2 submissions but the log records 3; missing: {victim.id} "
        f"(log entry {victim.log_index}): was an older vault.sqlite3 restored, or a row "
        "deleted? Nothing was removed; see DEPLOY.md §7: restore the newer database or the "
        "missing files; `amanat fsck --repair` records again those whose sealed file is kept; "
        "--allow-missing serves anyway\n")
    assert "Traceback" not in refused.stderr
    assert refused_start(server.data_dir).returncode == 1  # every start, not only the first

    server = servers.start("vault", "--allow-missing")
    assert f"amanat: ERROR submission {victim.id} (log entry" in server.output_text()
    check_clients_report(capsys, monkeypatch, server, [receipts[0], receipts[2]], [victim],
                         tmp_path)
    server.stop()

    status, out, err = amanat(capsys, "fsck", "--data", str(server.data_dir), "--repair")
    assert (status, err) == (0, "")
    assert out == (
        f"amanat: submission {victim.id} (log entry {victim.log_index}): reinstated from the "
        "log (its sealed file matches the logged SHA-256 and size)\n"
        "ok: the database and the sealed files agree with the log (size 4): 3 submissions "
        "held\n")
    assert blob.is_file() and not kept.exists()
    server = servers.start("vault")
    status, out, err = inbox(capsys, monkeypatch, server)
    assert (status, err) == (0, "")
    assert sorted(line.split()[0] for line in out.splitlines()) == sorted(r.id for r in receipts)


def test_an_older_database_restored_is_refused_and_reported(
        servers: Servers, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = servers.start("vault")
    before = submit(server, 2)
    server.stop()
    backup = tmp_path / "vault.sqlite3.bak"
    shutil.copy2(server.data_dir / DATABASE_NAME, backup)
    server = servers.start("vault")
    after = submit(server, 2)
    server.stop()
    shutil.copy2(backup, server.data_dir / DATABASE_NAME)  # a routine restore

    refused = refused_start(server.data_dir)
    assert refused.returncode == 1
    named = ", ".join(f"{r.id} (log entry {r.log_index})" for r in after)
    assert (f": the database has 2 submissions but the log records 4; missing: {named}: was "
            "an older vault.sqlite3 restored") in refused.stderr
    for receipt in after:
        assert (server.data_dir / "quarantine" / "submissions" / receipt.id).is_file()

    server = servers.start("vault", "--allow-missing")
    check_clients_report(capsys, monkeypatch, server, before, after, tmp_path)
    server.stop()
    status, out, _ = amanat(capsys, "fsck", "--data", str(server.data_dir), "--repair")
    assert status == 0 and out.count("reinstated from the log") == 2


def test_fsck_refuses_a_running_server_and_names_what_cannot_be_repaired(
        servers: Servers, capsys: pytest.CaptureFixture[str]) -> None:
    server = servers.start("vault")
    receipts = submit(server, 2)
    status, out, err = amanat(capsys, "fsck", "--data", str(server.data_dir))
    assert (status, out) == (2, "")
    assert err == f"amanat: {server.data_dir} is in use: stop the server first\n"
    server.stop()
    delete_row(server.data_dir, receipts[0].id)
    (server.data_dir / "blobs" / "submissions" / receipts[0].id).write_bytes(b"not the file")
    status, out, err = amanat(capsys, "fsck", "--data", str(server.data_dir), "--repair")
    assert status == 1
    assert out == (f"amanat: submission {receipts[0].id} (log entry {receipts[0].log_index}): "
                   "the kept sealed file does not match its log entry; left where it is\n")
    assert (f"amanat: missing: submission {receipts[0].id} (log entry "
            f"{receipts[0].log_index}, {receipts[0].received}) has no database row; its sealed "
            f"file is kept in quarantine/submissions/{receipts[0].id}\n") in err
    assert err.endswith("--allow-missing serves anyway\n")


@pytest.mark.parametrize("harm", ["removed", "truncated"])
def test_a_sealed_file_removed_under_a_running_server_is_reported(
        servers: Servers, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, harm: str) -> None:
    server = servers.start("vault")
    receipts = submit(server, 3)
    victim = receipts[2]
    blob = server.data_dir / "blobs" / "submissions" / victim.id
    if harm == "removed":
        blob.unlink()  # rm by hand
        reason = "has a database row but no sealed file"
    else:
        blob.write_bytes(blob.read_bytes()[:100])  # a torn copy put back
        reason = f"has a sealed file of 100 bytes where the log records {victim.size}"
    check_clients_report(capsys, monkeypatch, server, receipts[:2], [victim], tmp_path)
    server.stop()
    refused = refused_start(server.data_dir)
    assert (f"amanat: ERROR submission {victim.id} (log entry {victim.log_index}, "
            f"{victim.received}) {reason}\n") in refused.stderr
    assert refused.returncode == 1


def test_files_newer_than_both_databases_are_kept_and_logged_by_repair(
        servers: Servers, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Databases restored from an older copy, blobs/ from a newer one: the server starts
    (database and log agree), naming the files it set aside; `fsck --repair` logs them."""
    server = servers.start("vault")
    first = submit(server, 1)
    server.stop()
    older = tmp_path / "older"
    older.mkdir()
    for name in (DATABASE_NAME, "auditlog.sqlite3"):
        shutil.copy2(server.data_dir / name, older / name)
    server = servers.start("vault")
    later = submit(server, 2)
    server.stop()
    for name in (DATABASE_NAME, "auditlog.sqlite3"):
        shutil.copy2(older / name, server.data_dir / name)

    server = servers.start("vault")
    for receipt in later:
        assert (f"amanat: WARNING the sealed file blobs/submissions/{receipt.id} has no "
                "database row: moved to quarantine/submissions/") in server.output_text()
    status, out, _ = inbox(capsys, monkeypatch, server)
    assert status == 0 and [line.split()[0] for line in out.splitlines()] == [first[0].id]
    server.stop()

    status, out, err = amanat(capsys, "fsck", "--data", str(server.data_dir), "--repair")
    assert (status, err) == (0, "")
    for receipt in later:
        assert (f"amanat: submission {receipt.id}: a sealed file no log entry records, logged "
                "now as entry") in out
    assert out.endswith("3 submissions held\n")
    server = servers.start("vault")
    status, out, _ = inbox(capsys, monkeypatch, server)
    assert status == 0
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed[0] == first[0].id and sorted(listed[1:]) == sorted(r.id for r in later)
