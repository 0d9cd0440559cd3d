"""The organization key's fingerprint (keys.fingerprint): digits a witness compares by eye."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest

from keys import org_fingerprint as exported
from keys.fingerprint import FINGERPRINT_DOMAIN, org_fingerprint
from keys.identity import InvestigatorIdentity
from keys.org import OrgKey
from keys.roster import Roster, sign_roster, utc_today
from vault.cli import main

PASSPHRASE = "correct horse battery staple, fingerprint tests"

ORIGIN = "example.org/amanat"
VKEY = OrgKey(ORIGIN, bytes(range(32))).vkey()


def test_shape_is_six_groups_of_five_western_digits() -> None:
    text = org_fingerprint(VKEY)
    assert re.fullmatch(r"[0-9]{5}( [0-9]{5}){5}", text)
    assert exported is org_fingerprint


def test_pinned_value_follows_the_documented_construction() -> None:
    digest = hashlib.sha256(b"amanat.org-fingerprint/v1\n" + VKEY.encode() + b"\n").digest()
    groups = [int.from_bytes(digest[5 * i : 5 * i + 5], "big") % 100_000 for i in range(6)]
    assert org_fingerprint(VKEY) == " ".join(f"{g:05d}" for g in groups)
    assert FINGERPRINT_DOMAIN == b"amanat.org-fingerprint/v1\n"
    # Pinned: a change here changes what organizations have published.
    assert org_fingerprint("example.org/amanat+1a2b3c4d+AAAA") == (
        "23198 97598 82342 20881 22143 61438")


def test_leading_zeros_are_kept() -> None:
    # Search for a key whose fingerprint has a group below 10000: it still shows 5 digits.
    for n in range(2000):
        text = org_fingerprint(f"{ORIGIN}+{n:08x}+AAAA")
        if any(group.startswith("0") for group in text.split()):
            assert len(text) == 35
            return
    raise AssertionError("no group with a leading zero in 2000 keys")


def test_every_part_of_the_key_changes_it() -> None:
    other_key = OrgKey(ORIGIN, bytes(32)).vkey()
    other_name = OrgKey("example.net/amanat", bytes(range(32))).vkey()
    fingerprints = {org_fingerprint(v) for v in (VKEY, other_key, other_name, VKEY + " ")}
    assert len(fingerprints) == 4


# --- where the admin sees it ----------------------------------------------------------------


@pytest.fixture
def admin_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AMANAT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AMANAT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_org_init_prints_the_fingerprint_after_the_vkey(
        capsys: pytest.CaptureFixture[str], admin_dir: Path) -> None:
    status, out, err = run(capsys, "org", "init", "--name", ORIGIN, "-o", "org.key")
    assert status == 0, err
    vkey = out.strip()  # stdout stays the vkey alone, for scripts
    assert "\n" not in vkey
    assert err.count("\n") == 1 and f"fingerprint {org_fingerprint(vkey)} " in err
    status, again, err = run(capsys, "org", "vkey", "org.key")
    assert status == 0 and again.strip() == vkey
    assert f"fingerprint {org_fingerprint(vkey)} " in err


def _signed_roster(path: Path, org: OrgKey) -> None:
    card = InvestigatorIdentity("Erlan Nurlanuly", bytes(32), bytes(range(32))).card()
    roster = Roster.empty(org.origin).with_added([card]).with_expiry(
        utc_today() + timedelta(days=30))
    path.write_text(sign_roster(roster, *org.signers()), "utf-8")


def test_roster_verify_and_show_print_one_labelled_line(
        capsys: pytest.CaptureFixture[str], admin_dir: Path) -> None:
    org = OrgKey(ORIGIN, bytes(range(32)), bytes(range(32, 64)))
    _signed_roster(admin_dir / "roster.txt", org)
    expected = f"fingerprint  {org_fingerprint(org.vkey())}\n"
    status, out, err = run(capsys, "roster", "verify", "--org", org.vkey(), "roster.txt")
    assert status == 0, err
    assert out.count("fingerprint") == 1 and expected in out
    status, out, err = run(capsys, "roster", "show", "--org", org.vkey(), "roster.txt")
    assert status == 0 and "NOT checked" in err and expected in out
    status, out, err = run(capsys, "roster", "show", "roster.txt")
    assert status == 0 and "fingerprint  (give --org VKEY" in out
    assert org_fingerprint(org.vkey()) not in out
    # A roster checked against another key shows nothing of that key but a refusal.
    other = OrgKey(ORIGIN, bytes(32))
    status, out, err = run(capsys, "roster", "verify", "--org", other.vkey(), "roster.txt")
    assert status != 0 and out == "" and org_fingerprint(other.vkey()) not in err


def test_roster_show_refuses_a_mistyped_org(
        capsys: pytest.CaptureFixture[str], admin_dir: Path) -> None:
    org = OrgKey(ORIGIN, bytes(range(32)), bytes(range(32, 64)))
    _signed_roster(admin_dir / "roster.txt", org)
    status, out, err = run(capsys, "roster", "show", "--org", org.vkey()[:-2] + "xx",
                           "roster.txt")
    assert status != 0 and out == "" and "--org" in err


def test_the_classical_policy_prefix_is_not_part_of_the_key() -> None:
    assert org_fingerprint("classical " + VKEY) == org_fingerprint(VKEY)
    hybrid = OrgKey(ORIGIN, bytes(range(32)), bytes(range(32, 64))).vkey()
    assert org_fingerprint(hybrid) != org_fingerprint(VKEY)
