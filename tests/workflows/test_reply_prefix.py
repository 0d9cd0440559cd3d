"""`amanat reply` without `--case` downloads only the start of the submission.

The reply address is in the manifest, the first member of the sealed bundle, so `reply`
asks the server for a byte range at the start of the file. A relay between the command and
the server counts every byte the command receives: far fewer than the submission's size
when it carries a large attachment, and still fewer when the statement is too long for the
first range (a second, bounded range is asked for).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from keys.roster import verify_roster
from tests.workflows.conftest import (
    World,
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
)
from tests.workflows.relay import ForwardProxy
from tests.workflows.test_hostile import BLOCK, member
from vault import age
from vault.client import VaultClient
from vault.events import parse_event
from vault.padding import padme_length

MIB = 1024 * 1024
RECORDING_BYTES = 6 * MIB


@pytest.fixture
def relay(world: World) -> Iterator[ForwardProxy]:
    """Counts what the server sends. A proxy, not a relay at another address: a login made
    through a relay names the relay's address, which the server refuses (test_relayed_login)."""
    with ForwardProxy(("127.0.0.1", world.server.port)) as counting:
        yield counting


def submit_with_recording(world: World, tmp_path: Path, statement: str) -> tuple[str, str]:
    """(submission id, codename) of a testimony carrying a 6 MiB recording."""
    recording = tmp_path / "recording.bin"
    recording.write_bytes(os.urandom(RECORDING_BYTES))
    done = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
                   "--keep-metadata", str(recording), "--receipt", "-"],
                  cwd=tmp_path, stdin=statement)
    return submission_id_from_receipt(done.stdout), codename_from(done.stderr)


def size_of(world: World, submission: str) -> int:
    (line,) = [line for line in world.inbox("a") if line[0] == submission]
    return int(line[1])


def reply_through(world: World, relay: ForwardProxy, submission: str, message: str) -> None:
    amanat(["reply", "--server", world.url, "--proxy", relay.url, "-i", world.identity("a"),
            "--org", world.org_vkey, submission, "--message", message], cwd=world.root,
           env=world.investigator_env())


def replies_read(world: World, codename: str) -> str:
    return amanat(["replies", "--server", world.url], cwd=world.root,
                  env=base_env(AMANAT_CODENAME=codename)).stdout


def accesses(world: World, submission: str) -> int:
    with VaultClient(world.url) as client:
        size = int(client.checkpoint().splitlines()[1])
        entries = [e for start in range(0, size, 1000)
                   for e in client.entries(start, min(size, start + 1000))]
    return sum(1 for e in entries if (event := parse_event(e)).kind == "access"
               and event.get("id") == submission)


def test_reply_downloads_only_the_start(world: World, relay: ForwardProxy,
                                        tmp_path: Path) -> None:
    submission, codename = submit_with_recording(world, tmp_path, "A short statement.\n")
    size = size_of(world, submission)
    assert size > RECORDING_BYTES
    reply_through(world, relay, submission, "We have your recording.")
    assert 0 < relay.received < 512 * 1024, relay.received  # roster, login, log, one range
    assert "We have your recording." in replies_read(world, codename)
    assert accesses(world, submission) == 1


def test_a_long_statement_takes_a_second_bounded_range(world: World, relay: ForwardProxy,
                                                       tmp_path: Path) -> None:
    statement = "A long statement. " * 40_000  # 720,000 bytes: past the first range
    submission, codename = submit_with_recording(world, tmp_path, statement)
    size = size_of(world, submission)
    reply_through(world, relay, submission, "We read all of it.")
    assert len(statement) < relay.received < size - 4 * MIB, (relay.received, size)
    assert "We read all of it." in replies_read(world, codename)
    assert accesses(world, submission) == 2


def test_a_bundle_not_starting_with_its_manifest_is_refused(
        world: World, relay: ForwardProxy, tmp_path: Path) -> None:
    """The first member is a 1 MiB file, not manifest.json: `reply` says so in one line,
    after reading at most up to the end of that member."""
    archive = member("attachments/first.bin", os.urandom(MIB)) + bytes(2 * BLOCK)
    bundle = archive + bytes(padme_length(len(archive)) - len(archive))
    with VaultClient(world.url) as client:
        roster = verify_roster(client.roster_text(), world.org_vkey)
    sealed = tmp_path / "odd.age"
    sealed.write_bytes(age.encrypt_bytes(bundle + os.urandom(4 * MIB), roster.recipients()))
    uploaded = amanat(["upload", "--server", world.url, "--org", world.org_vkey, "--receipt", "-",
                       str(sealed)],
                      cwd=tmp_path)
    submission = submission_id_from_receipt(uploaded.stdout)
    refused = amanat(["reply", "--server", world.url, "--proxy", relay.url, "-i",
                      world.identity("a"), "--org", world.org_vkey, submission, "--message",
                      "hello"], cwd=world.root, env=world.investigator_env(), check=False)
    assert refused.returncode == 1
    assert refused.stderr == (f"amanat: submission {submission} is refused: the first member "
                              "is 'attachments/first.bin', not manifest.json\n")
    assert relay.received < 2 * MIB
