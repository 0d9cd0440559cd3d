"""`amanat audit verify` against real servers whose database or data directory was tampered
with: edited, deleted and swapped entries (caught by --full), a rolled-back data directory and
a fork sharing the log key (caught through the state file)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.audit.serverkit import Servers, amanat, copy_data, org_vkey, servers, submit
from tests.e2e.conftest import ServerProcess, start_server
from vault.events import parse_event
from vault.service.setup import AUDIT_LOG_FILE, DEV_DIR, LOG_KEY_FILE
from vault.tlog.note import HybridVerifier

__all__ = ["servers"]

BASE_ENTRIES = 6  # the dev roster, then five submissions


@pytest.fixture(scope="module")
def base_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped dev server's data directory holding BASE_ENTRIES log entries."""
    root = tmp_path_factory.mktemp("base")
    server = start_server(root)
    try:
        submit(server, BASE_ENTRIES - 1)
    finally:
        server.stop()
    return server.data_dir


def _edit(db: sqlite3.Connection) -> None:
    (data,) = db.execute("SELECT data FROM log_entries WHERE idx = 2").fetchone()
    event = parse_event(bytes(data))
    fields = tuple((k, "1" if k == "size" else v) for k, v in event.fields)
    db.execute(
        "UPDATE log_entries SET data = ? WHERE idx = 2", (replace(event, fields=fields).encode(),)
    )


def _delete(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM log_entries WHERE idx = 2")


def _swap(db: sqlite3.Connection) -> None:
    rows = dict(db.execute("SELECT idx, data FROM log_entries WHERE idx IN (2, 4)").fetchall())
    db.execute("UPDATE log_entries SET data = ? WHERE idx = 2", (rows[4],))
    db.execute("UPDATE log_entries SET data = ? WHERE idx = 4", (rows[2],))


def _start_copy(base: Path, servers: Servers, name: str,
                tamper: Callable[[sqlite3.Connection], None] | None) -> ServerProcess:
    copy_data(base, servers.directory(name) / "data")
    if tamper is not None:
        db = sqlite3.connect(servers.directory(name) / "data" / AUDIT_LOG_FILE)
        with db:
            tamper(db)
        db.close()
        # The server itself refuses a log that no longer records its database's submissions
        # where it did (tests/store/test_silent_drop.py); started anyway, auditors catch it.
        return servers.start(name, "--allow-missing")
    return servers.start(name)


def test_untampered_log_passes_full_check(
    base_data: Path, servers: Servers, capsys: pytest.CaptureFixture[str]
) -> None:
    server = _start_copy(base_data, servers, "clean", None)
    status, out, err = amanat(
        capsys, "audit", "verify", "--server", server.url, "--org", org_vkey(server), "--full"
    )
    assert (status, err) == (0, "")
    assert out.startswith(f"ok: size {BASE_ENTRIES}, root ")
    assert out.endswith(f"; all {BASE_ENTRIES} entries re-hashed: {BASE_ENTRIES - 1} "
                        f"submissions, 1 roster; all {BASE_ENTRIES - 1} undeleted submissions "
                        "held\n")
    assert out.count("\n") == 1


@pytest.mark.parametrize(("tamper", "first_bad"), [(_edit, 2), (_delete, 2), (_swap, 2)],
                         ids=["edit", "delete", "swap"])
def test_tampered_entries_are_caught_by_full_check(
    base_data: Path, servers: Servers, capsys: pytest.CaptureFixture[str],
    tamper: Callable[[sqlite3.Connection], None], first_bad: int,
) -> None:
    server = _start_copy(base_data, servers, "tampered", tamper)
    org = org_vkey(server)
    # The signed tree is intact, so only re-hashing the entries reveals the change.
    status, out, _ = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org)
    assert status == 0 and out.startswith(f"ok: size {BASE_ENTRIES}")
    status, out, err = amanat(
        capsys, "audit", "verify", "--server", server.url, "--org", org, "--full"
    )
    assert (status, out) == (1, "")
    assert err.startswith("amanat: entries do not match the checkpoint: ")
    assert f"entry {first_bad} is the first that the signed tree does not contain" in err
    assert err.count("\n") == 1


def test_rollback_to_an_older_data_directory(
    servers: Servers, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = servers.start("live")
    org = org_vkey(server)
    submit(server, 2)
    server.stop()
    copy_data(server.data_dir, servers.directory("backup") / "data")  # size 3
    server = servers.start("live")
    submit(server, 2)
    state = tmp_path / "auditor" / "state.json"
    status, out, _ = amanat(
        capsys, "audit", "verify", "--server", server.url, "--org", org, "--state", str(state)
    )
    assert status == 0 and out.startswith("ok: size 5, root ")
    assert out.endswith("; first checkpoint seen from this log\n")
    server.stop()
    remembered = state.read_bytes()

    restored = servers.start("backup")
    evidence = tmp_path / "evidence.json"
    status, out, err = amanat(
        capsys, "audit", "verify", "--server", restored.url, "--org", org,
        "--state", str(state), "--evidence", str(evidence),
    )
    assert (status, out) == (1, "")
    assert err.startswith("amanat: rollback: the log now shows 3 entries, fewer than the 5 ")
    assert state.read_bytes() == remembered  # the evidence is kept
    document = json.loads(evidence.read_text())
    assert document["finding"] == "rollback"
    assert "\n5\n" in document["previous_checkpoint"]
    assert "\n3\n" in document["latest_checkpoint"]
    HybridVerifier.from_vkey(document["log_vkey"])


def test_fork_with_a_copied_log_key(
    servers: Servers, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    honest = servers.start("honest")
    org = org_vkey(honest)
    submit(honest, 1)
    # A second data directory with the same log key and organization, but its own entries.
    forked_data = servers.directory("forked") / "data"
    forked_data.mkdir(mode=0o700)
    shutil.copy2(honest.data_dir / LOG_KEY_FILE, forked_data / LOG_KEY_FILE)
    shutil.copytree(honest.data_dir / DEV_DIR, forked_data / DEV_DIR)
    forked = servers.start("forked")
    submit(forked, 1)

    state = tmp_path / "state.json"
    audit = ("audit", "verify", "--org", org, "--state", str(state), "--server")
    status, out, _ = amanat(capsys, *audit, honest.url)
    assert status == 0 and out.startswith("ok: size 2, root ")
    status, out, err = amanat(capsys, *audit, forked.url)
    assert status == 1
    assert err.startswith("amanat: fork: the log signed two different roots for size 2: ")

    submit(forked, 1)
    status, out, err = amanat(capsys, *audit, forked.url)
    assert status == 1
    assert err.startswith("amanat: rewritten history: the log at size 3 cannot prove it extends")

    # The honest log goes on and still verifies against what was remembered.
    submit(honest, 2)
    status, out, _ = amanat(capsys, *audit, honest.url)
    assert status == 0 and out.startswith("ok: size 4, root ")
    assert out.endswith("; consistent with size 2 seen before\n")
