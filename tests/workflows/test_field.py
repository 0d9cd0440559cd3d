"""Offline field collection (`seal` with no network, `upload` later) and an upload that
survives a dropped connection.

The dropped connection is real: a small TCP relay between the witness and the server cuts
the connection once, in the middle of the upload; `upload` asks the server how much it has
and resumes from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import run_in_terminal
from tests.workflows.conftest import (
    World,
    amanat,
    base_env,
    codename_from,
    receipt_entry,
    submission_id_from_receipt,
)
from tests.workflows.relay import DroppingRelay

CANARY = "CANARY-field-5d1e-never-on-disk-in-clear"


def test_seal_offline_then_upload(world: World, tmp_path: Path) -> None:
    home, tmpdir = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmpdir.mkdir()
    env = base_env(HOME=str(home), TMPDIR=str(tmpdir), http_proxy="http://127.0.0.1:9",
                   https_proxy="http://127.0.0.1:9")
    sealed = home / "testimony.age"
    result = amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org",
                     world.org_vkey, "--statement", "-", "-o", str(sealed)],
                    cwd=home, env=env, stdin=f"Collected in the field. {CANARY}\n")
    codename_from(result.stderr)
    assert sorted(p.name for p in home.iterdir()) == ["testimony.age"]
    assert list(tmpdir.iterdir()) == []
    data = sealed.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    assert CANARY.encode() not in data
    assert os.stat(sealed).st_mode & 0o077 == 0
    again = amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org",
                    world.org_vkey, "--statement", "-", "-o", str(sealed)],
                   cwd=home, env=env, stdin="another\n", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert sealed.read_bytes() == data
    for where, reason in ((home / "missing" / "t.age", f"the folder {home / 'missing'} does "
                                                       "not exist"),
                          (home, "that is a folder; give a file name")):
        refused = amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org",
                          world.org_vkey, "--statement", "-", "-o", str(where)],
                         cwd=home, env=env, stdin="", check=False)
        assert (refused.returncode, refused.stderr) == (1, f"amanat: -o {where}: {reason}\n")
    assert sorted(p.name for p in home.iterdir()) == ["testimony.age"]

    receipt = tmp_path / "receipt.txt"
    uploaded = amanat(["upload", "--server", world.url, "--receipt", str(receipt), str(sealed)],
                      cwd=tmp_path)
    assert uploaded.stdout == ""  # the receipt goes only where asked
    submission_id = submission_id_from_receipt(receipt.read_text("utf-8"))
    assert "amanat: delivered " in uploaded.stderr
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in receipt_entry(receipt.read_text("utf-8"))
    case = tmp_path / "case"
    world.investigator("a", ["open", submission_id, "-o", str(case)])
    assert CANARY in (case / "statement.txt").read_text("utf-8")


@pytest.fixture
def relay(world: World) -> Iterator[DroppingRelay]:
    port = int(world.url.rsplit(":", 1)[1])
    relay = DroppingRelay(("127.0.0.1", port), drop_after=1_500_000)
    relay.start()
    yield relay
    relay.close()


def test_upload_resumes_after_a_dropped_connection(world: World, tmp_path: Path,
                                                   relay: DroppingRelay) -> None:
    blob = os.urandom(3 * 1024 * 1024)
    (tmp_path / "recording.bin").write_bytes(blob)
    result = amanat(["submit", "--server", f"http://127.0.0.1:{relay.port}", "--org",
                     world.org_vkey, "--statement", "-", "--no-reply",
                     "--keep-metadata", str(tmp_path / "recording.bin"), "--receipt", "-"],
                    cwd=tmp_path, stdin="A recording.\n")
    assert relay.dropped, "the relay never cut the connection: the test proved nothing"
    case = tmp_path / "case"
    world.investigator("a", ["open", submission_id_from_receipt(result.stdout), "-o",
                             str(case)])
    (stored,) = (case / "attachments").iterdir()
    assert stored.read_bytes() == blob
    (listed,) = json.loads((case / "manifest.json").read_bytes())["attachments"]
    assert listed["metadata_kept"] is True
    assert listed["sha256_before_cleaning"] == listed["sha256_after_cleaning"]


def test_seal_refuses_to_write_to_the_terminal(world: World, tmp_path: Path) -> None:
    statement = tmp_path / "statement.txt"
    statement.write_text("Collected in the field.\n", "utf-8")
    status, screen = run_in_terminal(
        [sys.executable, "-m", "vault.cli", "seal", "--roster", world.admin / "roster.txt",
         "--org", world.org_vkey, "--statement", statement, "--no-reply", "-o", "-"], [],
        env=base_env())
    assert status == 1
    assert screen.strip() == ("amanat: refusing to write the sealed file to the terminal: give "
                              "-o FILE, or send standard output to a file")
