"""The vault gathers cosignatures from the roster's cosigners, and verifiers who keep no state
hold checkpoints to the roster's k-of-n policy. Real processes on 127.0.0.1: one `amanat serve
--dev`, three `amanat cosigner serve`, and a second server that forks the log with a copied
`log.key`.

Shows: with 3 cosigners up, or one down, a submission's receipt carries a checkpoint cosigned
by at least 2 of 3, which `amanat receipt verify` (no state) accepts; with two down, the
receipt is not yet cosigned and verification under the policy fails, saying so; once a
cosigner is back, the checkpoint is cosigned later and the same receipt verifies online; a
receipt from the forked log gathers no cosignature (the cosigners refuse the fork) and is
refused offline and online, and an auditor without state refuses the forked log."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import httpx
import pytest

from keys.roster import DEFAULT_VALIDITY_DAYS, expiry_after, sign_roster
from tests.api.vaultkit import read_dev_keys
from tests.audit.serverkit import Servers, amanat, servers
from tests.cosigner.test_e2e import Cosigners, cosigners, log_signer
from tests.cosigner.test_e2e import amanat as amanat_process
from tests.e2e.conftest import ServerProcess
from vault.audit import receipt_file_text
from vault.client import VaultClient
from vault.service.setup import DEV_DIR, LOG_KEY_FILE
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.witness import checked_receipt

__all__ = ["cosigners", "servers"]

NAMES = ("a.partner.example/cosigner", "b.partner.example/cosigner",
         "c.partner.example/cosigner")


def _start_cosigners(tmp_path: Path, cosigners: Cosigners, origin: str, log_vkey: str
                     ) -> list[Cosigner]:
    named: list[Cosigner] = []
    for number, name in enumerate(NAMES):
        key = tmp_path / f"cosigner-{number}.key"
        init = amanat_process("cosigner", "init", "--name", name, "-o", str(key))
        assert init.returncode == 0, init.stderr
        data = tmp_path / f"cosigner-{number}"
        added = amanat_process("cosigner", "add-log", "--data", str(data), origin, log_vkey)
        assert added.returncode == 0, added.stderr
        shutil.copy2(key, data / "cosigner.key")
        started = cosigners.start(data)
        ed25519, mldsa44 = init.stdout.split()
        named.append(Cosigner.from_vkeys(ed25519, mldsa44, f"http://127.0.0.1:{started.port}"))
    return named


def _publish(server: ServerProcess, policy: CosigningPolicy) -> str:
    dev = read_dev_keys(server.data_dir)
    roster = dev.roster().with_cosigning(policy).with_expiry(
        expiry_after(DEFAULT_VALIDITY_DAYS))
    signed = sign_roster(roster, *dev.org.signers())
    with VaultClient(server.url) as client:
        client.publish_roster(signed)
    return signed


def _receipt(server: ServerProcess, directory: Path, name: str) -> Path:
    dev = read_dev_keys(server.data_dir)
    sealed = dev.seal(f"testimony for {name}\n".encode())
    with VaultClient(server.url) as client:
        got = client.submit(sealed)
    path = directory / f"{name}.receipt"
    path.write_text(receipt_file_text(got.entry, got.receipt))
    # What the witness's CLI checks right after delivery (with the organization key).
    check = checked_receipt(got, sha256=hashlib.sha256(sealed).hexdigest(), size=len(sealed),
                            roster_text=_roster_of(server),
                            org_vkey=dev.org_vkey)
    (directory / f"{name}.check").write_text(check.not_cosigned or "")
    return path


def _roster_of(server: ServerProcess) -> str:
    with VaultClient(server.url) as client:
        return client.roster_text()


def _cosigners_on(receipt: Path) -> int:
    return sum(1 for line in receipt.read_text().splitlines()
               if line.startswith("\u2014 ") and "partner.example/cosigner" in line) // 2


def _verify(capsys: pytest.CaptureFixture[str], receipt: Path, org: str, *where: str
            ) -> tuple[int, str, str]:
    return amanat(capsys, "receipt", "verify", str(receipt), "--org", org, *where)


@pytest.mark.slow
def test_k_of_n_with_real_cosigners_and_a_fork(
        servers: Servers, cosigners: Cosigners, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    honest = servers.start("honest")
    origin = httpx.get(honest.url + "/api/v1/log/checkpoint", timeout=10).text.split("\n")[0]
    log_vkey = log_signer(honest).vkey()
    named = _start_cosigners(tmp_path, cosigners, origin, log_vkey)
    roster_text = _publish(honest, CosigningPolicy(2, tuple(named)))
    roster = tmp_path / "roster.txt"
    roster.write_text(roster_text)
    org = read_dev_keys(honest.data_dir).org_vkey
    offline = ("--roster", str(roster))

    # All three up: the receipt carries a checkpoint cosigned by all of them (both keys each).
    first = _receipt(honest, tmp_path, "first")
    assert _cosigners_on(first) >= 2
    status, out, err = _verify(capsys, first, org, *offline)
    assert status == 0, err
    assert "cosigned by" in out

    # One of three down: 2 of 3 still cosign; the receipt verifies with no state.
    cosigners.started[2].stop()
    second = _receipt(honest, tmp_path, "second")
    assert _cosigners_on(second) == 2
    status, out, err = _verify(capsys, second, org, *offline)
    assert status == 0, err
    assert "a.partner.example/cosigner, b.partner.example/cosigner" in out

    # Two down: the receipt is not yet cosigned and the policy refuses it, saying why.
    cosigners.started[1].stop()
    third = _receipt(honest, tmp_path, "third")
    assert _cosigners_on(third) == 1
    # The witness is told the testimony was delivered and the receipt is not yet cosigned.
    assert (tmp_path / "third.check").read_text() == (
        "the receipt's checkpoint: not yet cosigned: 1 of 2 required; fetch again later")
    assert (tmp_path / "second.check").read_text() == ""
    status, _, err = _verify(capsys, third, org, *offline)
    assert status == 1
    assert "not yet cosigned: 1 of 2 required; fetch again later" in err
    # Submissions go on meanwhile, and the auditor relies on the newest cosigned checkpoint.
    status, out, err = amanat(capsys, "audit", "verify", "--server", honest.url, "--org", org)
    assert status == 0, err
    assert "not yet cosigned and not audited" in out
    # What it vouches for is the cosigned checkpoint, not the uncosigned tail after it (a
    # stateless auditor cannot tell a tail shown to it alone from the one everyone sees).
    import re
    audited = re.search(r"^ok: size (\d+),", out, re.MULTILINE)
    relied = re.search(r"relies on the checkpoint at size (\d+),", out)
    latest = re.search(r"not audited \(size (\d+)\)", out)
    assert audited and relied and latest
    assert audited[1] == relied[1] and int(latest[1]) > int(relied[1])

    # One cosigner back: the checkpoint is cosigned later and the same receipt verifies
    # online, with the cosigned checkpoint fetched from the server.
    back = cosigners.start(cosigners.started[1].data, cosigners.started[1].port)
    assert back.process.poll() is None
    _receipt(honest, tmp_path, "fourth")  # a new checkpoint wakes the collector
    deadline = time.monotonic() + 90
    while True:
        status, out, err = _verify(capsys, third, org, "--server", honest.url)
        if status == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == 0, err
    assert "cosigned since the receipt was issued" in out

    # A fork: a second data directory with the same log key signs another history. Its
    # checkpoints are sent to the same cosigners, which refuse them.
    forked_data = servers.directory("forked") / "data"
    forked_data.mkdir(mode=0o700)
    shutil.copy2(honest.data_dir / LOG_KEY_FILE, forked_data / LOG_KEY_FILE)
    shutil.copytree(honest.data_dir / DEV_DIR, forked_data / DEV_DIR)
    forked = servers.start("forked")
    _publish(forked, CosigningPolicy(2, tuple(named)))
    fork_receipt = _receipt(forked, tmp_path, "forked")
    assert _cosigners_on(fork_receipt) == 0
    status, _, err = _verify(capsys, fork_receipt, org, *offline)
    assert status == 1 and "not yet cosigned: 0 of 2 required" in err
    status, _, err = _verify(capsys, fork_receipt, org, "--server", forked.url)
    assert status == 1 and "not cosigned" in err
    # An auditor who keeps nothing refuses the forked log.
    status, _, err = amanat(capsys, "audit", "verify", "--server", forked.url, "--org", org)
    assert status == 1 and "not yet cosigned: 0 of 2 required" in err
    # The honest log is untouched by the attempt.
    status, out, err = amanat(capsys, "audit", "verify", "--server", honest.url, "--org", org)
    assert status == 0, err
