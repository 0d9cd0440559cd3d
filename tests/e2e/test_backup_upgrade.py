"""Upgrades with real server processes: this release serves the data directory its
predecessor wrote (tests/store/fixtures/datadir-v1.tar) with the same log root and goes on
appending consistently; a data directory of a newer schema version is refused at start,
naming both versions, and left as it was."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from keys.roster import verify_roster
from tests.api.vaultkit import read_dev_keys
from tests.audit.serverkit import amanat, org_vkey
from tests.e2e.conftest import ROOT, ServerProcess, free_port
from tests.store.test_backup import FIXTURE_CHECKPOINT, predecessor
from vault import age
from vault.client import VaultClient
from vault.store.sqlite import SCHEMA_VERSION


def test_the_predecessors_data_directory_serves_with_the_same_log_root(
        server_factory: Callable[..., ServerProcess], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = predecessor(tmp_path)
    server = server_factory(data_dir=data, env={"AMANAT_WORK_QUIET_RATE": "0"})
    assert httpx.get(server.url + "/api/v1/log/checkpoint").text == FIXTURE_CHECKPOINT
    state = tmp_path / "auditor.json"
    # The predecessor's organization key is Ed25519 only: an auditor accepts its rosters
    # only when it says so explicitly (the classical policy), never by default.
    org = org_vkey(server)
    assert " " not in org
    status, _, err = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org)
    assert status != 0 and "classical" in err
    org = "classical " + org
    status, _, err = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org,
                            "--state", str(state))
    assert status == 0, err
    # A witness of the predecessor's organization seals to its roster under the same policy.
    roster = verify_roster(read_dev_keys(server.data_dir).roster_text, org)
    with VaultClient(server.url) as client:
        client.submit(age.encrypt_bytes(b"testimony\n", roster.recipients()))
    status, out, err = amanat(capsys, "audit", "verify", "--server", server.url, "--org", org,
                              "--state", str(state), "--full")
    assert status == 0, out + err
    server.stop()  # it holds its database exclusively
    conn = sqlite3.connect(data / "vault.sqlite3")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_newer_data_directory_is_refused_at_start(tmp_path: Path) -> None:
    data = predecessor(tmp_path)
    conn = sqlite3.connect(data / "vault.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", "serve", "--data", str(data), "--port",
         str(free_port()), "--dev"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"has schema version {SCHEMA_VERSION + 1}" in lines[0]
    assert f"this amanat reads schema version {SCHEMA_VERSION}" in lines[0]
    assert not (data / "control.sock").exists()


def test_investigators_of_the_predecessor_upgrade_their_keys_and_then_log_in_with_both(
        server_factory: Callable[..., ServerProcess], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The predecessor's investigator holds an Ed25519-only identity (v1). Under the default
    login policy the upgraded server refuses their login, naming the fix; they run `amanat
    keys upgrade` and send the new card, the admin adds it and removes the old one, re-signs
    and publishes the roster, and the login then carries both signatures, and the testimony
    sealed before the upgrade still opens."""
    data = predecessor(tmp_path)
    server = server_factory(data_dir=data, env={"AMANAT_WORK_QUIET_RATE": "0"})
    dev = data / "dev"
    identity = dev / "investigator.identity"
    assert identity.read_bytes().startswith(b"amanat.identity/v1\n")
    monkeypatch.setenv("AMANAT_PASSPHRASE", (dev / "passphrase.txt").read_text().strip())
    monkeypatch.setenv("AMANAT_STATE_DIR", str(tmp_path / "state"))
    org = "classical " + org_vkey(server)  # the predecessor's org key is Ed25519 only
    inbox = ("inbox", "--server", server.url, "-i", str(identity), "--org", org)
    status, _, err = amanat(capsys, *inbox)
    assert status != 0 and "amanat keys upgrade" in err, err
    old_key_id = read_dev_keys(data).investigator.key_id
    # The server named them at start.
    started = server.output_text()
    assert "only an Ed25519 auth key" in started and old_key_id in started

    status, card, err = amanat(capsys, "keys", "upgrade", str(identity))
    assert status == 0, err
    (tmp_path / "new.card").write_text(card, encoding="utf-8")
    # Until the roster lists the new card, the investigator is told what is missing.
    status, _, err = amanat(capsys, *inbox)
    assert status != 0 and "still lists this identity's card from before" in err, err
    assert old_key_id in err
    roster = tmp_path / "roster.txt"
    with VaultClient(server.url) as client:
        roster.write_text(client.roster_text(), encoding="utf-8")
    admin = ("--org", str(dev / "org.key"), "--roster", str(roster))
    for argv in (("roster", "add", *admin, "--roles", "admin,reader", str(tmp_path / "new.card")),
                 ("roster", "remove", *admin, old_key_id),
                 ("roster", "publish", "--server", server.url, "--org", org, "--roster",
                  str(roster))):
        status, _, err = amanat(capsys, *argv)
        assert status == 0, (argv, err)

    upgraded = read_dev_keys(data).investigator
    assert upgraded.is_hybrid and upgraded.key_id != old_key_id
    status, out, err = amanat(capsys, *inbox)
    assert status == 0, err
    listed = [line.split(" ")[0] for line in out.splitlines()]
    assert len(listed) == 3  # the predecessor's three testimonies
    # The identity's age key did not change: what was sealed to it before still opens.
    with VaultClient(server.url) as client:
        client.login(upgraded.key_id, upgraded.sign_login, verify_roster(
            roster.read_text(), org).log_vkey or "")
        sealed = io.BytesIO()
        client.download(listed[0], sealed)
    assert age.decrypt_bytes(sealed.getvalue(), [upgraded.age_identity()]).startswith(
        b"testimony ")
