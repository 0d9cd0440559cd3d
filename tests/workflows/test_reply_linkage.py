"""What the public log shows of a reply: no access next to it, no exact length.

Anyone may read the audit log. A reply logged right after an access to a submission tells
them which testimony was answered; so `amanat reply` never downloads: it takes the reply
address from the case folder `amanat open` made, and the reply is logged whenever the
investigator sends it, not next to the access. A reply's sealed size is padded (PADMÉ), so
two replies whose lengths fall in one bucket are logged with the same size.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.workflows.conftest import (
    World,
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
)
from vault.client import VaultClient
from vault.events import Event, parse_event


def submit(world: World, cwd: Path, statement: str) -> tuple[str, str]:
    """(submission id, codename) of a new testimony."""
    done = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
                   "--receipt", "-"], cwd=cwd, env=base_env(HOME=str(cwd)), stdin=statement)
    return submission_id_from_receipt(done.stdout), codename_from(done.stderr)


def log_events(world: World, start: int = 0) -> list[Event]:
    with VaultClient(world.url) as client:
        size = int(client.checkpoint().splitlines()[1])
        return [parse_event(e) for first in range(start, size, 500)
                for e in client.entries(first, min(size, first + 500))]


def log_size(world: World) -> int:
    with VaultClient(world.url) as client:
        return int(client.checkpoint().splitlines()[1])


def test_no_access_is_logged_next_to_a_reply(world: World, tmp_path: Path) -> None:
    start = log_size(world)
    submission, codename = submit(world, tmp_path, "My father was taken in 2017.\n")
    # The quick way a reply used to go: fetch the address and reply at once. Refused.
    world.investigator("a", ["reply", submission, "--message", "Thank you."], check=False)
    case = tmp_path / "case"
    world.investigator("a", ["open", submission, "-o", str(case)])
    submit(world, tmp_path, "Someone else's testimony, later.\n")  # the log goes on meanwhile
    world.investigator("a", ["reply", submission, "--case", str(case), "--message",
                             "Thank you."])

    events = log_events(world, start)
    kinds = [event.kind for event in events]
    for before, event in itertools.pairwise(events):
        if event.kind == "reply":
            assert not (before.kind == "access" and before.get("id") == submission), kinds
    assert kinds.count("reply") == 1, kinds
    (reply,) = [event for event in events if event.kind == "reply"]
    assert [name for name, _ in reply.fields] == ["id", "sha256", "size"]  # no investigator
    read = amanat(["replies", "--server", world.url], cwd=tmp_path,
                  env=base_env(AMANAT_CODENAME=codename))
    assert "Thank you." in read.stdout


def test_replies_in_one_padding_bucket_log_one_size(world: World, tmp_path: Path) -> None:
    submission, codename = submit(world, tmp_path, "My sister was taken in 2019.\n")
    case = tmp_path / "case"
    world.investigator("a", ["open", submission, "-o", str(case)])
    # 16 + 113 + 1 and 16 + 123 + 1 bytes both pad to 144 (PADMÉ).
    short, longer = "We read it. " + "a" * 101, "We read it. " + "b" * 111
    start = log_size(world)
    for message in (short, longer):
        world.investigator("a", ["reply", submission, "--case", str(case), "--message",
                                 message])
    sizes = [int(event.get("size")) for event in log_events(world, start)
             if event.kind == "reply"]
    assert len(sizes) == 2 and sizes[0] == sizes[1], sizes
    read = amanat(["replies", "--server", world.url], cwd=tmp_path,
                  env=base_env(AMANAT_CODENAME=codename)).stdout
    bodies = [part.split("\n", 1)[1] for part in read.split("--- reply ")[1:]]
    assert sorted(bodies) == [short + "\n", longer + "\n"]
