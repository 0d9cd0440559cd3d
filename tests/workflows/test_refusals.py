"""`amanat submit` refuses, with one line and before anything is sent: a mistyped
organization key (named as such, not blamed on the roster), a roster signed by another key
(forged), a roster older than one the witness remembers (rolled back), an answers file with
problems (every problem on its own line), an empty testimony, and a receipt file that could
not be written. A receipt that fails after delivery still hands over the codename."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import Roster, RosterState, sign_roster, verify_roster
from tests.workflows.conftest import (
    ORIGIN,
    World,
    amanat,
    base_env,
    codename_from,
    start_server,
    submission_id_from_receipt,
)
from vault.cli import main
from vault.codename import check_codename


def log_size(world: World) -> int:
    return int(httpx.get(world.url + "/api/v1/log/checkpoint", timeout=10).text.split("\n")[1])


def reasons(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("amanat: ")]


def submit(world: World, cwd: Path, *extra: str, org: str | None = None,
           statement: str = "a statement\n") -> subprocess.CompletedProcess[str]:
    return amanat(["submit", "--server", world.url, "--org", org or world.org_vkey,
                   "--statement", "-", *extra], cwd=cwd, stdin=statement, check=False,
                  env=base_env(HOME=str(cwd)))


def test_forged_roster_is_refused(world: World, tmp_path: Path) -> None:
    impostor = OrgKey.generate(ORIGIN).vkey()  # same organization name, another key
    before = log_size(world)
    result = submit(world, tmp_path, org=impostor)
    assert result.returncode != 0
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert "not signed by the organization key" in result.stderr
    assert log_size(world) == before
    assert list(tmp_path.iterdir()) == []


def test_mistyped_org_key_is_named_not_the_roster(world: World, tmp_path: Path) -> None:
    name, key_id, key = world.org_vkey.split("+", 2)
    typo = f"{name}+{key_id}+{key[:9]}{'Q' if key[9] != 'Q' else 'R'}{key[10:]}"
    before = log_size(world)
    result = submit(world, tmp_path, org=typo)
    assert result.returncode == 1
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert result.stderr.startswith("amanat: the organization key is mistyped: its checksum")
    assert "roster" not in result.stderr and "signed" not in result.stderr
    assert log_size(world) == before
    assert list(tmp_path.iterdir()) == []
    # Named before any server is contacted (here none listens) or any input is read.
    for command in (["submit", "--server", "http://127.0.0.1:9"], ["seal", "--roster",
                     "missing-roster.txt", "-o", "sealed.age"]):
        done = amanat([*command, "--org", typo, "--statement", "-"], cwd=tmp_path, check=False)
        assert done.returncode == 1 and done.stderr.startswith(
            "amanat: the organization key is mistyped: its checksum"), done.stderr
        assert list(tmp_path.iterdir()) == []


def test_roster_signed_by_another_org_key_on_the_server_is_refused(
    world: World, tmp_path: Path
) -> None:
    """A server that serves a roster signed by an impostor's key (same organization name,
    its own readers) gets nothing: the witness pinned the real organization key."""
    impostor = OrgKey.generate(ORIGIN)
    server_dir, witness = tmp_path / "impostor", tmp_path / "witness"
    server_dir.mkdir()
    witness.mkdir()
    server = start_server(server_dir, impostor.vkey())
    try:
        match = re.search(r"log verifier key[^\n]*\n\s+(\S+(?: \S+)?)", server.output_text())
        assert match is not None, server.output_text()
        mallory = InvestigatorIdentity.generate("Mallory")
        forged = (Roster.empty(ORIGIN).with_added([mallory.card()]).with_log(match.group(1))
                  .with_expiry(datetime.now(UTC).date() + timedelta(days=30)))
        published = httpx.put(server.url + "/api/v1/roster",
                              content=sign_roster(forged, *impostor.signers()).encode(), timeout=10)
        assert published.status_code == 200, published.text
        impostor_world = World(tmp_path, world.admin, server, world.org_vkey, world.log_vkey)
        before = log_size(impostor_world)
        result = submit(impostor_world, witness)
        assert result.returncode != 0
        assert reasons(result.stderr) == [result.stderr.strip()]
        assert "not signed by the organization key" in result.stderr
        assert log_size(impostor_world) == before
        assert list(witness.iterdir()) == []
    finally:
        server.stop()


def test_rolled_back_roster_is_refused(world: World, tmp_path: Path) -> None:
    with httpx.Client() as http:
        served = verify_roster(http.get(world.url + "/api/v1/roster").text, world.org_vkey)
    state_path = tmp_path / "rosters.json"
    RosterState.load(state_path).check_and_update(world.org_vkey, served.version + 1)
    remembered = state_path.read_bytes()
    before = log_size(world)
    result = submit(world, tmp_path, "--state", str(state_path))
    assert result.returncode != 0
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert f"roster version {served.version} is older than version {served.version + 1}" \
        in result.stderr
    assert log_size(world) == before
    assert state_path.read_bytes() == remembered


def test_state_is_written_only_when_asked(world: World, tmp_path: Path) -> None:
    state_path = tmp_path / "kept" / "rosters.json"
    state_path.parent.mkdir()
    result = submit(world, tmp_path, "--state", str(state_path), "--no-reply")
    assert result.returncode == 0, result.stderr
    recorded = json.loads(state_path.read_bytes())["rosters"]
    assert list(recorded) == [world.org_vkey]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kept", "rosters.json",
                                                           "rosters.json.lock"]


def test_form_problems_are_listed_one_per_line(world: World, tmp_path: Path) -> None:
    form = tmp_path / "answers.json"
    form.write_text(json.dumps({
        "persons": [
            {"status": "jailed", "birth_year": 1970, "age_at_detention": {"min": 30, "max": 40}},
            {"name_latin": "Gulnar", "detention": {"date": "2018-02-30"}},
        ],
        "witness": "me",
    }), "utf-8")
    before = log_size(world)
    result = submit(world, tmp_path, "--form", str(form))
    assert result.returncode != 0
    lines = reasons(result.stderr)
    assert lines[:-1] == [
        f"amanat: {form}: unknown field 'witness' (an answers file holds only \"language\" "
        "and \"persons\")",
        f"amanat: {form}: person 1: give either birth_year or age_at_detention, not both",
        f"amanat: {form}: person 1: status must be one of camp, prison, police_custody, "
        "released, died, unknown (not 'jailed')",
        f"amanat: {form}: person 2: status is missing",
    ]
    assert "4 problems" in lines[-1]
    assert log_size(world) == before


def test_valid_form_reaches_the_manifest(world: World, tmp_path: Path) -> None:
    form = tmp_path / "answers.json"
    person = {"status": "camp", "name_latin": "Abdurehim", "detention": {"date": "2018-21"}}
    form.write_text(json.dumps([person]), "utf-8")
    result = submit(world, tmp_path, "--form", str(form), "--no-reply", "--receipt", "-")
    assert result.returncode == 0, result.stderr
    case = tmp_path / "case"
    world.investigator("a", ["open", submission_id_from_receipt(result.stdout), "-o", str(case)])
    assert json.loads((case / "answers.json").read_bytes())["persons"] == [person]


def test_nothing_to_send(world: World, tmp_path: Path) -> None:
    result = submit(world, tmp_path, statement="   \n")
    assert result.returncode != 0
    assert "nothing to send" in result.stderr


def test_attachment_that_cannot_be_cleaned_is_refused_without_mat2(
    world: World, tmp_path: Path
) -> None:
    """Without mat2 on PATH, a type amanat cannot clean is refused before anything is sent,
    and the message names both ways out."""
    (tmp_path / "recording.bin").write_bytes(b"\x00\x01 not a known format " * 64)
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    before = log_size(world)
    result = amanat(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                     "-", "--no-reply", "--attach", str(tmp_path / "recording.bin")],
                    cwd=tmp_path, stdin="a statement\n", check=False,
                    env=base_env(HOME=str(tmp_path), PATH=str(empty_path)))
    assert result.returncode != 0
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert "recording.bin: amanat cannot remove metadata" in result.stderr
    assert "mat2 is not installed" in result.stderr and "--keep-metadata" in result.stderr
    assert log_size(world) == before


def test_unreachable_proxy_is_one_line(world: World, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = submit(world, tmp_path, "--proxy", f"socks5h://127.0.0.1:{port}", "--no-reply",
                    "--retry-for", "0")
    assert result.returncode != 0
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert f"cannot reach {world.url}: Tor is not running" in result.stderr


def test_roster_publish_refuses_an_old_version(world: World) -> None:
    """The server keeps the newest roster: re-publishing the current one is refused."""
    done = amanat(["roster", "publish", "--server", world.url, "--roster", "roster.txt"],
                  cwd=world.admin, check=False)
    assert done.returncode == 1
    version = re.search(r"version (\d+)", (world.admin / "roster.txt").read_text())
    assert version is not None
    assert done.stderr == (f"amanat: {world.url} refused roster version {version.group(1)}: "
                           f"roster version {version.group(1)} is not newer than "
                           f"{version.group(1)}; sign the next version first (`amanat roster "
                           "add`, `remove` or `renew`)\n")


@pytest.mark.parametrize("where", ["missing/receipt.txt", "."])
def test_receipt_file_is_checked_before_anything_is_sent(world: World, tmp_path: Path,
                                                         where: str) -> None:
    before = log_size(world)
    result = submit(world, tmp_path, "--receipt", str(tmp_path / where))
    assert result.returncode == 1
    assert reasons(result.stderr) == [result.stderr.strip()]
    assert result.stderr.startswith(f"amanat: --receipt {tmp_path / where}: ")
    assert ("does not exist" if where != "." else "that is a folder") in result.stderr
    assert log_size(world) == before


def _delivered_but_refused(world: World, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> str:
    """Submit with a new codename; the testimony is delivered, the command fails (status 1).
    Returns its stderr."""
    statement = tmp_path / "statement.txt"
    statement.write_text("What I saw.\n", "utf-8")
    before = log_size(world)
    status = main(["submit", "--server", world.url, "--org", world.org_vkey, "--statement",
                   str(statement)])
    assert status == 1
    assert log_size(world) == before + 1  # delivered
    return capsys.readouterr().err


def test_codename_is_handed_over_when_the_receipt_fails(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A server whose receipt does not verify has the testimony all the same, sealed with
    the new codename's reply address: the codename is shown, after the reason."""
    import vault.witness

    def forged(*_: object, **__: object) -> object:
        raise vault.witness.WitnessError("the receipt does not verify: forged for this test")

    monkeypatch.setattr(vault.witness, "checked_receipt", forged)
    err = _delivered_but_refused(world, tmp_path, capsys)
    reason = ("amanat: the testimony was delivered, but the receipt does not verify: forged "
              "for this test")
    assert reason in err and err.index(reason) < err.index("YOUR CODENAME")
    check_codename(codename_from(err))


def test_codename_is_handed_over_when_the_delivery_is_unknown(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The connection broke while the server stored the upload (it was stored, the receipt
    never came): the testimony carries the new codename's reply address, so the codename is
    shown all the same, after the reason."""
    import vault.witness
    from vault.client import DeliveryUnknownError

    deliver = vault.witness.deliver

    def receipt_lost(*args: object, **kwargs: object) -> object:
        deliver(*args, **kwargs)  # type: ignore[arg-type]
        raise DeliveryUnknownError("the connection broke while the server was storing the "
                                   "upload, and it no longer has it")

    monkeypatch.setattr(vault.witness, "deliver", receipt_lost)
    err = _delivered_but_refused(world, tmp_path, capsys)
    reason = ("amanat: the connection broke while the server was storing the upload, and it "
              "no longer has it; keep the codename below: if the testimony was stored, "
              "replies to it come under this codename")
    assert reason in err and err.index(reason) < err.index("YOUR CODENAME")
    check_codename(codename_from(err))
