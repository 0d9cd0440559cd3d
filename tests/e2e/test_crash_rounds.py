"""Crash safety under load: the real server is killed (SIGKILL) at a random moment while
witnesses submit in one request and by resumable upload, an investigator replies, and
auditors read the log; then, stopped, `amanat fsck` must pass, and restarted, every
acknowledged submission and reply must be there and open to its exact content, no
half-written file may be visible, `amanat audit verify --full` must pass, and every
checkpoint anyone was ever shown must be a prefix of the final log (no checkpoint
inconsistent with an earlier one was ever signed).

``AMANAT_CRASH_ROUNDS`` sets the number of rounds (3 by default, so that `make test` stays
quick; .ci/run asks for 50). Each round's kill time is drawn from a seeded generator: the
seed is printed, and ``AMANAT_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.vaultkit import DevKeys, read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess, free_port, start_server
from vault import age, events
from vault.client import (
    ClientError,
    DeliveryUnknownError,
    MalformedAnswerError,
    ReplyInfo,
    SubmissionReceipt,
    TransportError,
    VaultClient,
)
from vault.codename import derive, new_codename
from vault.replytext import pad_reply, read_reply
from vault.service.uploads import NotSealedError, inspect_sealed_file
from vault.tlog import merkle, note
from vault.tlog.checkpoint import open_checkpoint

ROUNDS = int(os.environ.get("AMANAT_CRASH_ROUNDS", "3"))
SEED = int(os.environ.get("AMANAT_CRASH_SEED", str(random.SystemRandom().randrange(2**32))))
FAILURES = (TransportError, ClientError, DeliveryUnknownError, MalformedAnswerError, OSError)


@dataclass
class Acknowledged:
    """What the server said it had, and what each of those bytes opens to."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    submissions: dict[str, tuple[SubmissionReceipt, bytes]] = field(default_factory=dict)
    replies: dict[str, tuple[ReplyInfo, str]] = field(default_factory=dict)
    checkpoints: list[str] = field(default_factory=list)


def amanat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    child.update(env or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], capture_output=True,
                          text=True, env=child, cwd=ROOT, timeout=300, check=False)


def plaintext_for(worker: str, n: int, rng: random.Random) -> bytes:
    # Different lengths, so that a file cut short or swapped is never mistaken for another.
    return f"{worker} {n} ".encode() + rng.randbytes(rng.randrange(1_000, 200_000))


def run_load(server: ServerProcess, dev: DevKeys, token: str, mailbox_id: str,
             recipient: age.Recipient, acked: Acknowledged, stop: threading.Event,
             rng_seed: int) -> list[threading.Thread]:
    recipients = dev.recipients()
    log_key = note.HybridVerifier.from_vkey(dev.roster().log_vkey or "")

    def submitter(name: str, resumable: bool) -> None:
        rng = random.Random(f"{rng_seed}-{name}")
        with VaultClient(server.url, timeout=10) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                plaintext = plaintext_for(name, n, rng)
                sealed = age.encrypt_bytes(plaintext, recipients)
                try:
                    if resumable:
                        receipt = client.upload(io.BytesIO(sealed), chunk_bytes=16 * 1024)
                    else:
                        receipt = client.submit(sealed)
                except FAILURES:
                    return
                with acked.lock:
                    acked.submissions[receipt.id] = (receipt, plaintext)

    def replier() -> None:
        rng = random.Random(f"{rng_seed}-replier")
        with VaultClient(server.url, timeout=10, token=token) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                message = f"reply {n} " + "x" * rng.randrange(0, 3000)
                sealed = age.encrypt_bytes(pad_reply(message), [recipient])
                try:
                    info = client.post_reply(mailbox_id, sealed)
                except FAILURES:
                    return
                with acked.lock:
                    acked.replies[info.id] = (info, message)

    def auditor() -> None:
        with VaultClient(server.url, timeout=10) as client:
            while not stop.is_set():
                try:
                    text = client.checkpoint()
                except FAILURES:
                    return
                open_checkpoint(text, log_key, log_key.name)  # signed by the log key
                with acked.lock:
                    acked.checkpoints.append(text)
                time.sleep(0.05)

    threads = [threading.Thread(target=submitter, args=("whole", False)),
               threading.Thread(target=submitter, args=("whole2", False)),
               threading.Thread(target=submitter, args=("upload", True)),
               threading.Thread(target=replier), threading.Thread(target=auditor)]
    for thread in threads:
        thread.start()
    return threads


def check_after_restart(server: ServerProcess, dev: DevKeys, secret: bytes,
                        reply_identity: age.Identity, acked: Acknowledged,
                        opened: set[str]) -> None:
    log_key = note.HybridVerifier.from_vkey(dev.roster().log_vkey or "")
    with VaultClient(server.url, timeout=60) as client:
        client.login(dev.investigator.key_id, dev.sign, log_key.vkey())
        stored = {s.id: s for s in client.iter_submissions()}
        checkpoint = open_checkpoint(client.checkpoint(), log_key, log_key.name)
        entries: list[bytes] = []
        while len(entries) < checkpoint.size:
            entries += client.entries(len(entries), checkpoint.size)
        assert merkle.root_hash(merkle.leaf_hash(e) for e in entries) == checkpoint.root_hash
        for receipt, plaintext in acked.submissions.values():
            assert receipt.id in stored, f"acknowledged submission {receipt.id} lost"
            assert stored[receipt.id].log_index == receipt.log_index
            assert stored[receipt.id].sha256 == receipt.sha256
            assert entries[receipt.log_index] == receipt.entry.encode()
            if receipt.id not in opened:  # each one is downloaded and opened once
                out = io.BytesIO()
                assert client.download(receipt.id, out) == receipt.sha256
                opens = age.decrypt_bytes(out.getvalue(), [dev.investigator.age_identity()])
                assert opens == plaintext, f"submission {receipt.id} opens to other bytes"
                opened.add(receipt.id)
        listed = {r.id for r in client.replies(secret)}
        for info, _message in acked.replies.values():
            assert info.id in listed, f"acknowledged reply {info.id} lost"
        for reply_id in list(acked.replies)[-3:]:
            out = io.BytesIO()
            client.fetch_reply(secret, reply_id, out)
            text = read_reply(age.decrypt_bytes(out.getvalue(), [reply_identity]))
            assert text == acked.replies[reply_id][1]
    logged = [events.parse_event(e) for e in entries]
    ids = [e.get("id") for e in logged if e.kind == "submission"]
    assert len(ids) == len(set(ids)), "a submission was logged twice"
    assert set(ids) == set(stored), "stored and logged submissions differ"
    # Every checkpoint shown to anyone is a prefix of this log: none inconsistent was signed.
    for text in acked.checkpoints:
        seen = open_checkpoint(text, log_key, log_key.name)
        assert seen.size <= checkpoint.size
        prefix = (merkle.leaf_hash(e) for e in entries[: seen.size])
        assert merkle.root_hash(prefix) == seen.root_hash, f"a fork at size {seen.size}"
    acked.checkpoints.clear()


def no_half_written_files(data_dir: Path) -> None:
    """Every file in the blob directory is a whole sealed file (its age header parses and its
    payload length can be an age STREAM: a file cut short fails one or the other), and no
    temporary file is left where a reader would see it."""
    for path in (data_dir / "blobs").rglob("*"):
        if path.is_file():
            assert not path.name.startswith("."), f"a temporary file is visible: {path}"
            with open(path, "rb") as file:
                try:
                    inspect_sealed_file(file, path.stat().st_size)
                except NotSealedError as exc:
                    raise AssertionError(f"a half-written sealed file is visible: {path} "
                                         f"({exc})") from None


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_at_random_moments_under_load_loses_nothing_acknowledged(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """On the embedded store, and on PostgreSQL (metadata and log there, sealed files in
    the data directory): a worker of a scaled-out vault killed mid-append."""
    print(f"\ncrash rounds: {ROUNDS} ({backend}), seed {SEED} (AMANAT_CRASH_SEED replays it)")
    store: tuple[str, ...] = ()
    if backend == "postgres":
        store = ("--store", str(request.getfixturevalue("postgres_dsn")))
    rng = random.Random(SEED)
    port = free_port()
    data_dir = tmp_path / "data"
    (tmp_path / "run0").mkdir()
    server = start_server(tmp_path / "run0", data_dir=data_dir, port=port, extra_args=store)
    dev = read_dev_keys(data_dir)
    log_vkey = dev.roster().log_vkey or ""
    with VaultClient(server.url) as client:
        token = client.login(dev.investigator.key_id, dev.sign, log_vkey)
    codename = new_codename()
    keys = derive(codename)
    recipient = keys.reply_identity.recipient()
    acked = Acknowledged()
    opened: set[str] = set()
    try:
        for round_number in range(1, ROUNDS + 1):
            stop = threading.Event()
            threads = run_load(server, dev, token, keys.mailbox_id, recipient, acked, stop,
                               rng.randrange(2**32))
            time.sleep(rng.uniform(0.3, 2.5))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
                assert not thread.is_alive(), "a client did not give up on a dead server"
            fsck = amanat("fsck", "--data", str(data_dir), *store)
            assert fsck.returncode == 0, (
                f"round {round_number} (seed {SEED}): fsck after the kill: "
                f"{fsck.stdout}{fsck.stderr}")
            no_half_written_files(data_dir)
            (tmp_path / f"run{round_number}").mkdir()
            server = start_server(tmp_path / f"run{round_number}", data_dir=data_dir, port=port,
                                  extra_args=store)
            check_after_restart(server, dev, keys.mailbox_secret, keys.reply_identity, acked,
                                opened)
        audit = amanat("audit", "verify", "--server", server.url, "--org", dev.org_vkey,
                       "--full")
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        server.stop()
    assert len(acked.submissions) >= ROUNDS, "the load acknowledged almost nothing"
    print(f"acknowledged and checked: {len(acked.submissions)} submissions, "
          f"{len(acked.replies)} replies over {ROUNDS} rounds")
