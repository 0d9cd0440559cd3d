"""`amanat inbox` tells apart what it lists: each line ends with a short fingerprint of the
sealed file (``sha256:`` and the first 8 hex digits of its SHA-256), so the same sealed file
uploaded twice shows up as two ids with one fingerprint, and different files differ."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.workflows.conftest import World, amanat, submission_id_from_receipt


def seal(world: World, cwd: Path, name: str, text: str) -> Path:
    sealed = cwd / name
    amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
            "--statement", "-", "--no-reply", "-o", str(sealed)], cwd=cwd, stdin=text)
    return sealed


def upload(world: World, sealed: Path) -> str:
    done = amanat(["upload", "--server", world.url, "--receipt", "-", str(sealed)],
                  cwd=sealed.parent)
    return submission_id_from_receipt(done.stdout)


def test_the_same_file_twice_shows_one_fingerprint(world: World, tmp_path: Path) -> None:
    twice = seal(world, tmp_path, "twice.age", "Sent twice by a worried witness.\n")
    other = seal(world, tmp_path, "other.age", "Sent twice by a worried witness.\n")
    first, second, third = upload(world, twice), upload(world, twice), upload(world, other)
    assert len({first, second, third}) == 3

    lines = {line[0]: line for line in world.inbox("a")}
    fingerprint = f"sha256:{hashlib.sha256(twice.read_bytes()).hexdigest()[:8]}"
    assert lines[first][4] == lines[second][4] == fingerprint
    assert lines[third][4] == f"sha256:{hashlib.sha256(other.read_bytes()).hexdigest()[:8]}"
    assert lines[third][4] != fingerprint  # the same statement, sealed again: another file
