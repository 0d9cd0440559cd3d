"""What `amanat serve` says on start: the log verifier key on every start, and the reminder
to put it in the roster (`amanat roster set-log`) only while the current roster does not
name it yet."""

from __future__ import annotations

from pathlib import Path

from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import DEFAULT_VALIDITY_DAYS, Roster, expiry_after, sign_roster
from tests.e2e.conftest import start_server as start_e2e_server
from tests.workflows.conftest import ORIGIN, amanat, start_server

REMINDER = "put it in the roster with `amanat roster set-log`, then publish the roster"


def log_key_line(output: str) -> tuple[str, str]:
    """The line that introduces the log verifier key, and the key on the line after it."""
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("amanat: log verifier"))
    return lines[index], lines[index + 1].strip()


def test_set_log_reminder_only_until_the_roster_names_the_log_key(tmp_path: Path) -> None:
    org = OrgKey.generate(ORIGIN)
    server = start_server(tmp_path, org.vkey())
    try:
        line, log_vkey = log_key_line(server.output_text())
        assert line == f"amanat: log verifier key ({REMINDER}):"
        roster = (Roster.empty(org.origin)
                  .with_added([InvestigatorIdentity.generate("Reader").card()])
                  .with_log(log_vkey).with_expiry(expiry_after(DEFAULT_VALIDITY_DAYS)))
        (tmp_path / "roster.txt").write_text(sign_roster(roster, *org.signers()))
        amanat(["roster", "publish", "--server", server.url, "--roster", "roster.txt"],
               cwd=tmp_path)
    finally:
        server.stop()

    server = start_server(tmp_path, org.vkey())  # the same data directory
    try:
        output = server.output_text()
        assert log_key_line(output) == (
            "amanat: log verifier key (named in the current roster):", log_vkey)
        assert "set-log" not in output
        assert "amanat: roster version 2 is valid through" in output
    finally:
        server.stop()


def test_dev_server_names_its_log_key_in_its_own_roster(tmp_path: Path) -> None:
    server = start_e2e_server(tmp_path)  # --dev: a throwaway roster naming the log key
    try:
        output = server.output_text()
        assert log_key_line(output)[0] == "amanat: log verifier key (named in the current roster):"
        assert "set-log" not in output
    finally:
        server.stop()


def test_dev_banner_suggests_typing_the_statement_not_echoing_it(tmp_path: Path) -> None:
    """`echo '…' | amanat submit` would put testimony in the shell's history file."""
    server = start_e2e_server(tmp_path)
    try:
        lines = server.output_text().splitlines()
    finally:
        server.stop()
    (index,) = [i for i, line in enumerate(lines) if "amanat submit" in line]
    assert lines[index].strip().startswith(f"amanat submit --server {server.url} --org '")
    assert lines[index].rstrip().endswith("--statement -")
    assert lines[index + 1].strip() == (
        "(then type what you saw and press Ctrl-D on a line of its own; never `echo` "
        "testimony: the shell keeps it in its history)")
    assert not any("echo '" in line or "| amanat" in line for line in lines)
