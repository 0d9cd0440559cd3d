"""`amanat receipt verify` with receipts from a real server: offline and online, and the
refusal of a flipped byte, a wrong index, a checkpoint signed by another key and a roster
naming another log key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.audit.serverkit import Servers, amanat, org_vkey, servers, submit
from tests.e2e.conftest import ROOT
from vault.audit import Finding, receipt_file_text, verify_submission_receipt
from vault.client import VaultClient
from vault.tlog.checkpoint import Checkpoint
from vault.tlog.note import Signer, sign_note
from vault.tlog.proof import Receipt

__all__ = ["servers"]


def test_receipts_from_a_real_server(
    servers: Servers, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = servers.start("vault")
    org = org_vkey(server)
    (submitted,) = submit(server, 1)
    receipt = tmp_path / "receipt.txt"
    receipt.write_text(receipt_file_text(submitted.entry, submitted.receipt))
    roster = tmp_path / "roster.txt"
    with VaultClient(server.url) as client:
        roster_text = client.roster_text()
    roster.write_text(roster_text)
    check = ("receipt", "verify", "--org", org)

    # Offline, with the roster from a file.
    status, out, err = amanat(capsys, *check, str(receipt), "--roster", str(roster))
    assert (status, err) == (0, "")
    assert out.startswith(
        f"ok: submission {submitted.id} (sha256 {submitted.sha256}, {submitted.size} bytes, "
        f"{submitted.received}) is entry {submitted.log_index} of the log at size 2, root "
    )

    # Online, after the log has grown: the latest checkpoint still extends the receipt's.
    submit(server, 3)
    status, out, err = amanat(capsys, *check, str(receipt), "--server", server.url)
    assert (status, err) == (0, "")
    assert out.endswith(
        "; the log at size 5 still contains it, and the server still holds it\n")
    status, out, _ = amanat(
        capsys, *check, str(receipt), "--server", server.url, "--roster", str(roster)
    )
    assert status == 0

    # Every flipped byte is refused (library), and one through the command.
    data = receipt.read_bytes()
    for position in range(len(data)):
        altered = bytearray(data)
        altered[position] ^= 0x01
        verdict = verify_submission_receipt(altered.decode(), org, roster_text)
        assert not verdict.ok, position
    flipped = tmp_path / "flipped.txt"
    altered = bytearray(data)
    altered[data.index(b"\nindex ") - 3] ^= 0x01  # inside the carried entry
    flipped.write_bytes(bytes(altered))
    status, out, err = amanat(capsys, *check, str(flipped), "--roster", str(roster))
    assert (status, out) == (1, "")
    assert err.startswith("amanat: ") and err.count("\n") == 1

    # A wrong index.
    parsed = Receipt.parse(receipt.read_text())
    moved = tmp_path / "moved.txt"
    moved.write_text(Receipt(parsed.index + 1, parsed.proof, parsed.checkpoint, parsed.extra)
                     .format())
    status, out, err = amanat(capsys, *check, str(moved), "--roster", str(roster))
    assert status == 1
    assert err.startswith("amanat: entry not in the log: the inclusion proof does not put "
                          f"this submission at index {parsed.index + 1}")

    # The checkpoint signed by another key of the same name.
    body = parsed.checkpoint[: parsed.checkpoint.rindex("\n\n") + 1]
    impostor = Signer.generate(Checkpoint.parse(body).origin)
    forged = tmp_path / "forged.txt"
    forged.write_text(Receipt(parsed.index, parsed.proof, sign_note(body, impostor),
                              parsed.extra).format())
    status, _, err = amanat(capsys, *check, str(forged), "--roster", str(roster))
    assert status == 1
    assert err.startswith("amanat: bad signature: the receipt's checkpoint is not signed by "
                          "the log key")

    # A roster, properly signed by the organization, that names another log key.
    dev = read_dev_keys(server.data_dir)
    other_log = Signer.generate("amanat-log-other").vkey()
    other_roster = tmp_path / "other-roster.txt"
    other_roster.write_text(dev.next_roster(roster_text, lambda r: r.with_log(other_log)))
    status, _, err = amanat(capsys, *check, str(receipt), "--roster", str(other_roster))
    assert status == 1
    assert err.startswith("amanat: bad signature: ")

    # The server's bare tlog-proof (without the entry) proves nothing about a submission.
    bare = tmp_path / "bare.txt"
    bare.write_text(submitted.receipt)
    verdict = verify_submission_receipt(submitted.receipt, org, roster_text)
    assert verdict.finding is Finding.MALFORMED_RECEIPT
    status, _, err = amanat(capsys, *check, str(bare), "--roster", str(roster))
    assert status == 1 and "carries no log entry" in err

    # The installed entry point, as a witness runs it.
    result = subprocess.run(
        [sys.executable, "-m", "vault.cli", *check, str(receipt), "--roster", str(roster)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: submission {submitted.id} ")
