"""`amanat delete`: an admin deletes a submission; the deletion is logged and checked.

An admin who is not a reader joins the roster. A reader is refused (403, one line); without
a terminal and without ``--yes`` nothing is deleted; at a terminal the admin must type the
confirmation word. After the deletion, `inbox` no longer lists the submission, the log holds
a deletion entry naming it, the admin and the hour, and `audit verify --full` passes and
counts the deletion.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflows.conftest import (
    COMMAND_TIMEOUT,
    ROOT,
    World,
    amanat,
    submission_id_from_receipt,
)
from vault.client import VaultClient
from vault.events import parse_event

ADMIN = "Admin Only"


@pytest.fixture(scope="module")
def admin(world: World) -> str:
    """An identity with the admin role and not the reader role, on the published roster;
    returns its key id."""
    card = world.admin_run(["keys", "new", "--name", ADMIN, "-o", "admin.identity"]).stdout
    (world.admin / "admin.card").write_text(card, "utf-8")
    world.admin_run(["roster", "add", "--org", "org.key", "--roster", "roster.txt", "--roles",
                     "admin", "admin.card"])
    world.publish_roster()
    shown = world.admin_run(["roster", "show", "roster.txt"]).stdout
    match = re.search(rf"([0-9a-f]{{16}})\s+admin\s+{ADMIN}", shown)
    assert match is not None, shown
    world.key_ids["admin"] = match.group(1)
    return match.group(1)


def submit(world: World, cwd: Path, text: str) -> str:
    done = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
                   "--no-reply", "--receipt", "-"], cwd=cwd, stdin=text)
    return submission_id_from_receipt(done.stdout)


def listed(world: World) -> set[str]:
    return {line[0] for line in world.inbox("a")}


def delete_at_terminal(world: World, submission_id: str, typed: str
                       ) -> subprocess.CompletedProcess[str]:
    """`amanat delete` with a pseudo-terminal as standard input, on which ``typed`` is typed."""
    master, slave = pty.openpty()
    argv = [sys.executable, "-m", "vault.cli", "delete", "--server", world.url, "-i",
            world.identity("admin"), "--org", world.org_vkey, submission_id]
    try:
        process = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=world.root,
                                   env=world.investigator_env() | {"PYTHONPATH": str(ROOT)})
        os.close(slave)
        os.write(master, typed.encode() + b"\n")
        out, err = process.communicate(timeout=COMMAND_TIMEOUT)
    finally:
        os.close(master)
    return subprocess.CompletedProcess(argv, process.returncode, out.decode(), err.decode())


def test_a_reader_cannot_delete(world: World, admin: str, tmp_path: Path) -> None:
    submission = submit(world, tmp_path, "Kept: a reader may not delete it.\n")
    refused = world.investigator("a", ["delete", "--yes", submission], check=False)
    assert refused.returncode == 1
    assert refused.stderr == (f"amanat: Investigator A ({world.key_ids['a']}) is not an admin "
                              "on the roster: only an admin may delete a submission\n")
    assert submission in listed(world)


def test_no_terminal_and_no_yes_deletes_nothing(world: World, admin: str,
                                                tmp_path: Path) -> None:
    submission = submit(world, tmp_path, "Kept: nobody confirmed.\n")
    refused = world.investigator("admin", ["delete", submission], check=False)
    assert refused.returncode == 1
    assert refused.stderr == ("amanat: a deletion cannot be undone: confirm it at a terminal, "
                              "or pass --yes\n")
    not_typed = delete_at_terminal(world, submission, "yes")
    assert not_typed.returncode == 1
    assert "Type 'delete' to confirm" in not_typed.stderr
    assert not_typed.stderr.endswith(f"amanat: not confirmed: submission {submission} was not "
                                     "deleted\n")
    assert submission in listed(world)


def test_admin_deletes_and_the_log_shows_it(world: World, admin: str, tmp_path: Path) -> None:
    submission = submit(world, tmp_path, "To be deleted.\n")
    assert submission in listed(world)
    done = delete_at_terminal(world, submission, "delete")
    assert done.returncode == 0, done.stderr
    match = re.fullmatch(rf"deleted {submission}: log entry (\d+) \(kind deletion, "
                         rf"(\S+), by {admin}\) is in the signed tree of size \d+\n", done.stdout)
    assert match is not None, done.stdout
    index, hour = int(match.group(1)), match.group(2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00Z", hour), hour

    assert submission not in listed(world)
    with VaultClient(world.url) as client:
        (entry,) = client.entries(index, index + 1)
    event = parse_event(entry)
    assert (event.kind, event.time) == ("deletion", hour)
    assert dict(event.fields) == {"id": submission, "investigator": admin}

    audit = amanat(["audit", "verify", "--server", world.url, "--org", world.org_vkey,
                    "--full"], cwd=tmp_path)
    deletions = re.search(r"entries re-hashed: .*\b(\d+) deletions?\b", audit.stdout)
    assert audit.stdout.startswith("ok: ") and deletions is not None, audit.stdout
    assert int(deletions.group(1)) >= 1

    again = world.investigator("admin", ["delete", "--yes", submission], check=False)
    assert again.returncode == 1
    assert again.stderr == f"amanat: no submission {submission} on the server\n"
    gone = world.investigator("a", ["open", submission, "-o", str(tmp_path / "case")],
                              check=False)
    assert gone.returncode == 1 and "no submission" in gone.stderr


def test_delete_with_yes_and_a_malformed_id(world: World, admin: str, tmp_path: Path) -> None:
    submission = submit(world, tmp_path, "Deleted by a script.\n")
    done = world.investigator("admin", ["delete", "--yes", submission])
    assert done.stdout.startswith(f"deleted {submission}: log entry ")
    assert submission not in listed(world)
    bad = world.investigator("admin", ["delete", "--yes", "../etc"], check=False)
    assert bad.returncode == 1
    assert bad.stderr == ("amanat: '../etc' is not a submission id (32 hex digits, from "
                          "`amanat inbox`)\n")
