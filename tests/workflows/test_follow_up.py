"""Follow-ups under one codename: every reply arrives in one mailbox.

A witness submits, then sends more under the same codename (``submit --reuse-codename``,
and ``seal --reuse-codename`` then ``upload``); investigator A answers each testimony, and
``amanat replies`` with that one codename shows every answer. The codename comes from
AMANAT_CODENAME (or a prompt), never argv; a mistyped one is refused before anything is
sent, without repeating a word; ``--help`` says what reusing it reveals.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.workflows.conftest import (
    World,
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
    with_bad_checksum,
)
from vault.cli import main


def _submit(world: World, cwd: Path, statement: str, *extra: str, codename: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    env = base_env(HOME=str(cwd)) if codename is None else \
        base_env(HOME=str(cwd), AMANAT_CODENAME=codename)
    return amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement", "-",
                   "--receipt", "-", *extra], cwd=cwd, env=env, stdin=statement, check=check)


def test_replies_to_every_submission_under_one_codename(world: World, tmp_path: Path) -> None:
    first = _submit(world, tmp_path, "First: my father was taken in 2018.\n")
    codename = codename_from(first.stderr)
    again = _submit(world, tmp_path, "Second: my uncle too.\n", "--reuse-codename",
                    codename=codename)
    assert "YOUR CODENAME" not in again.stderr  # no new codename: the one typed is kept
    assert " 1. " not in again.stderr and codename not in again.stderr  # nothing echoed
    sealed = tmp_path / "third.age"
    amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
            "--statement", "-", "--reuse-codename", "-o", str(sealed)], cwd=tmp_path,
           env=base_env(HOME=str(tmp_path), AMANAT_CODENAME=codename.upper()),
           stdin="Third, sealed in the field.\n")
    third = amanat(["upload", "--server", world.url, "--org", world.org_vkey, "--receipt", "-",
                    str(sealed)], cwd=tmp_path)

    for number, done in enumerate((first, again, third), start=1):
        submission = submission_id_from_receipt(done.stdout)
        case = tmp_path / f"case-{number}"
        world.investigator("a", ["open", submission, "-o", str(case)])
        world.investigator("a", ["reply", submission, "--case", str(case),
                                 "--message", f"Answer {number} from A."])
    read = amanat(["replies", "--server", world.url], cwd=tmp_path,
                  env=base_env(AMANAT_CODENAME=codename))
    assert sorted(re.findall(r"Answer \d from A\.", read.stdout)) == [
        "Answer 1 from A.", "Answer 2 from A.", "Answer 3 from A."]


def test_a_mistyped_codename_sends_nothing(world: World, tmp_path: Path) -> None:
    codename = codename_from(_submit(world, tmp_path, "What I saw.\n").stderr)
    before = len(world.inbox("a"))
    wrong = with_bad_checksum(codename)
    refused = _submit(world, tmp_path, "More.\n", "--reuse-codename", codename=wrong,
                      check=False)
    assert refused.returncode == 1
    assert refused.stderr == ("amanat: codename: checksum failed: a word is mistyped or out "
                              "of order\n")
    assert refused.stdout == ""
    assert len(world.inbox("a")) == before


def test_a_codename_is_never_taken_from_the_command_line(world: World, tmp_path: Path) -> None:
    refused = _submit(world, tmp_path, "More.\n", "--reuse-codename", "--no-reply", check=False)
    assert refused.returncode == 2
    assert "not allowed with argument" in refused.stderr
    # Without AMANAT_CODENAME and without a terminal there is nobody to ask.
    alone = _submit(world, tmp_path, "More.\n", "--reuse-codename", check=False)
    assert alone.returncode == 1
    assert alone.stderr == ("amanat: Codename needed: run in a terminal or set "
                            "AMANAT_CODENAME\n")


def test_help_says_what_reusing_a_codename_reveals(
        capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("submit", "seal"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert ("--reuse-codename send this under the codename you got before (asked for at a "
                "prompt, or read from AMANAT_CODENAME) instead of a new one, so replies to all "
                "of it arrive together. This lets the organization see that these submissions "
                "come from one person") in text
