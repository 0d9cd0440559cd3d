"""Rosters expire: a real server that still serves a roster past its signed expiry date gets
no testimony from `amanat submit` and no login from `amanat inbox --org`, says so when it
starts, refuses to publish an expired roster, and works again once a renewed one is published.

This is what bounds the rollback a compromised server can play on a witness who keeps no
state: an old roster, still validly signed, is refused once its expiry date has passed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx

from keys.identity import InvestigatorIdentity
from keys.keyfile import KdfParams
from keys.org import OrgKey
from keys.roster import Roster, expiry_after, sign_roster, utc_today
from tests.workflows.conftest import (
    ORIGIN,
    PASSPHRASE,
    amanat,
    base_env,
    start_server,
    submission_id_from_receipt,
)
from vault.service.rosterview import RosterView, expiry_notice, read_roster
from vault.service.setup import open_vault

CHEAP_KDF = KdfParams(memory_kib=8, iterations=1, parallelism=1)


def log_size(url: str) -> int:
    return int(httpx.get(url + "/api/v1/log/checkpoint", timeout=10).text.split("\n")[1])


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("amanat: ")]
    assert lines == [stderr.strip()], stderr
    return lines[0]


def test_expired_roster_refused_by_witness_and_investigator_until_renewed(
    tmp_path: Path,
) -> None:
    org = OrgKey.generate(ORIGIN)
    reader = InvestigatorIdentity.generate("Reader")
    identity_file = tmp_path / "reader.identity"
    identity_file.write_bytes(reader.seal(PASSPHRASE, CHEAP_KDF))
    identity_file.chmod(0o600)
    signed_on = utc_today() - timedelta(days=120)
    expired_on = signed_on + timedelta(days=90)

    # The roster was published while it was valid (the server's clock said `signed_on`);
    # 120 days have passed since, and nobody renewed it.
    opened = open_vault(tmp_path / "data", org_vkey=org.vkey())
    try:
        log_vkey = opened.service.log_vkey
        roster = (Roster.empty(org.origin).with_added([reader.card()]).with_log(log_vkey)
                  .with_expiry(expired_on))
        expired_text = sign_roster(roster, *org.signers(), today=signed_on)
        opened.service.publish_roster(expired_text, today=signed_on)
    finally:
        opened.service.close()

    server = start_server(tmp_path, org.vkey())
    try:
        assert (f"amanat: WARNING: roster version 2 expired on {expired_on.isoformat()} (UTC)"
                in server.output_text())
        # Still served, so that a client can say why it refuses it.
        assert httpx.get(server.url + "/api/v1/roster", timeout=10).text == expired_text
        before = log_size(server.url)

        witness = tmp_path / "witness"
        witness.mkdir()
        submit = ["submit", "--server", server.url, "--org", org.vkey(), "--statement", "-"]
        env = base_env(HOME=str(witness))
        refused = amanat(submit, cwd=witness, stdin="what I saw\n", check=False, env=env)
        assert refused.returncode != 0
        assert one_line(refused.stderr) == (
            f"amanat: refusing the roster: roster version 2 expired on {expired_on.isoformat()}"
            f" (today is {utc_today().isoformat()} UTC by this computer's clock): the "
            "organization must publish a renewed roster")
        assert list(witness.iterdir()) == []

        investigator_env = base_env(AMANAT_PASSPHRASE=PASSPHRASE, HOME=str(tmp_path))
        inbox = ["inbox", "--server", server.url, "-i", str(identity_file), "--org", org.vkey()]
        denied = amanat(inbox, cwd=tmp_path, env=investigator_env, check=False)
        assert denied.returncode != 0
        assert f"expired on {expired_on.isoformat()}" in one_line(denied.stderr)
        assert log_size(server.url) == before

        # The server refuses to publish a roster that has already expired (a newer version
        # too): 422 with a JSON reason, nothing stored, nothing logged.
        stale = sign_roster(roster.renewed(expired_on), *org.signers(), today=signed_on)
        response = httpx.put(server.url + "/api/v1/roster", content=stale.encode(), timeout=10)
        assert response.status_code == 422
        assert f"roster version 3 expired on {expired_on.isoformat()}" in response.json()["error"]
        assert httpx.get(server.url + "/api/v1/roster", timeout=10).text == expired_text
        assert log_size(server.url) == before

        # The organization renews the roster; everything works again.
        (tmp_path / "roster.txt").write_text(
            sign_roster(roster.renewed(expiry_after(30)), *org.signers()))
        published = amanat(["roster", "publish", "--server", server.url, "--roster",
                            "roster.txt", "--org", org.vkey()], cwd=tmp_path)
        assert "published roster version 3" in published.stdout
        accepted = amanat([*submit, "--no-reply", "--receipt", "-"], cwd=witness,
                          stdin="what I saw\n", env=env)
        listed = amanat(inbox, cwd=tmp_path, env=investigator_env).stdout
        assert submission_id_from_receipt(accepted.stdout) in listed
    finally:
        server.stop()


def _view(expires: date, today: date) -> RosterView:
    org = OrgKey.generate(ORIGIN)
    text = sign_roster(Roster(ORIGIN, 5, expires=expires), *org.signers(), today=today)
    return read_roster(text, org.vkey(), today=today)


def test_start_up_notice_warns_two_weeks_ahead() -> None:
    today = date(2026, 11, 21)
    notice, warning = expiry_notice(_view(date(2026, 12, 6), today), today)
    assert not warning
    assert notice == "roster version 5 is valid through 2026-12-06 (UTC; 15 days left)"
    notice, warning = expiry_notice(_view(date(2026, 12, 5), today), today)
    assert warning and notice.startswith(
        "WARNING: roster version 5 expires on 2026-12-05 (UTC), in 14 days: clients refuse it "
        "after that day; sign a renewed one (`amanat roster renew")
    notice, warning = expiry_notice(_view(date(2026, 11, 22), today), today)
    assert warning and "in 1 day:" in notice
    notice, warning = expiry_notice(_view(today, today), today)
    assert warning and "expires at the end of today, 2026-11-21 (UTC)" in notice
    notice, warning = expiry_notice(_view(today, today), today + timedelta(days=1))
    assert warning and notice.startswith(
        "WARNING: roster version 5 expired on 2026-11-21 (UTC): witnesses and investigators "
        "refuse it")


def test_seal_refuses_an_expired_roster_and_writes_nothing(tmp_path: Path) -> None:
    org = OrgKey.generate(ORIGIN)
    reader = InvestigatorIdentity.generate("Reader")
    yesterday = utc_today() - timedelta(days=1)
    roster = Roster.empty(org.origin).with_added([reader.card()]).with_expiry(yesterday)
    (tmp_path / "roster.txt").write_text(sign_roster(roster, *org.signers(), today=yesterday))
    seal = ["seal", "--roster", "roster.txt", "--org", org.vkey(), "--statement", "-",
            "-o", "sealed.age", "--no-reply"]
    refused = amanat(seal, cwd=tmp_path, stdin="what I saw\n", check=False,
                     env=base_env(HOME=str(tmp_path)))
    assert refused.returncode != 0
    assert f"roster version 1 expired on {yesterday.isoformat()}" in one_line(refused.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.txt"]
