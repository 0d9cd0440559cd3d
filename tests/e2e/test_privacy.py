"""A real server keeps no trace of who submitted: no content, user agent or address.

A witness seals a statement holding a canary string, sends it with a distinctive User-Agent
from 127.0.0.2, both in one request and as a resumable upload, and polls a mailbox. Then
every file in the data directory (SQLite WAL and shared memory included) and the server's
stdout and stderr are searched for the three. The investigator's download still decrypts to
the canary.
"""

from __future__ import annotations

import io
import secrets
import sqlite3
from pathlib import Path

import httpx

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault import age
from vault.client import VaultClient
from vault.service.mailbox import mailbox_id

WITNESS_ADDRESS = "127.0.0.2"


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_trace_of_the_witness(server: ServerProcess) -> None:
    canary = f"CANARY-{secrets.token_hex(8)}"
    user_agent = f"WitnessBrowser/{secrets.token_hex(6)}"
    dev = read_dev_keys(server.data_dir)
    witness_transport = httpx.HTTPTransport(local_address=WITNESS_ADDRESS)
    statement = f"My brother was taken on the 3rd. {canary}\n".encode()

    with VaultClient(server.url, user_agent=user_agent, transport=witness_transport) as witness:
        roster = dev.roster()
        assert witness.roster_text() == dev.roster_text
        sealed = age.encrypt_bytes(statement, roster.recipients())
        receipt = witness.submit(sealed)
        resumed = witness.upload(io.BytesIO(age.encrypt_bytes(statement, roster.recipients())),
                                 chunk_bytes=700)
        secret = secrets.token_bytes(32)
        assert witness.replies(secret) == []

    with VaultClient(server.url) as investigator:
        investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
        listed = [s.id for s in investigator.iter_submissions()]
        assert listed == [receipt.id, resumed.id]
        for sid in listed:
            out = io.BytesIO()
            investigator.download(sid, out)
            plain = age.decrypt_bytes(out.getvalue(), [dev.investigator.age_identity()])
            assert canary.encode() in plain
        reply = age.encrypt_bytes(b"thank you", [age.X25519Identity.generate().recipient()])
        investigator.post_reply(mailbox_id(secret), reply)

    # While running (WAL and -shm present) and after a clean stop.
    needles = [canary.encode(), user_agent.encode(), WITNESS_ADDRESS.encode(),
               secret.hex().encode()]
    for phase in ("running", "stopped"):
        if phase == "stopped":
            server.stop()
        files = all_files(server.data_dir)
        assert any(p.name.endswith("-wal") for p in files) or phase == "stopped"
        for path in files:
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"{needle!r} found in {path} ({phase})"
        output = server.output()
        for needle in needles:
            assert needle not in output, f"{needle!r} found in the server's output"

    # Times in the database are hours.
    db = sqlite3.connect(server.data_dir / "vault.sqlite3")
    received = [r[0] for r in db.execute("SELECT received FROM submissions")]
    db.close()
    assert received and all(t.endswith(":00Z") for t in received)
    for path in all_files(server.data_dir / "blobs"):
        assert path.stat().st_mtime % 3600 == 0


def test_dev_start_names_the_passphrase_file_not_the_passphrase(server: ServerProcess) -> None:
    """Even the throwaway --dev passphrase stays out of the server's output (which is what
    ends up in service logs); the printed commands read it from its 0600 file."""
    dev = read_dev_keys(server.data_dir)
    output = server.output()
    assert dev.passphrase.encode() not in output
    passphrase_file = server.data_dir / "dev" / "passphrase.txt"
    assert f'AMANAT_PASSPHRASE="$(cat {passphrase_file})"'.encode() in output
    assert passphrase_file.stat().st_mode & 0o077 == 0
