"""Several `amanat serve` workers on one PostgreSQL database and one shared data directory.

What a deployment behind Onionbalance relies on: every worker answers for the same vault.
A login made on one worker is valid on another and its challenge is spent once across all;
a resumable upload continues on another worker, with one writer at a time across workers;
the whole witness–investigator loop runs with its commands spread over three workers, and
`audit verify --full` then finds one history; 3 workers × 16 clients submitting at once
leave a tree that holds every acknowledged submission exactly once, every signed checkpoint
a client was given consistent with the final tree.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.vaultkit import DevKeys, read_dev_keys
from tests.e2e.conftest import ServerProcess, free_port, start_server
from tests.support import create_database, drop_database
from tests.workflows.conftest import (
    amanat,
    base_env,
    codename_from,
    submission_id_from_receipt,
)
from vault.client import ClientError, SubmissionReceipt, VaultClient
from vault.store import open_store
from vault.store.postgres import PostgresStore
from vault.tlog.checkpoint import open_checkpoint
from vault.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from vault.tlog.note import HybridVerifier
from vault.tlog.proof import Receipt

WORKERS = 3
CLIENTS_PER_WORKER = 16
SUBMISSIONS_PER_CLIENT = 2
STATEMENT = "Seen at the checkpoint on the road to the county seat, spring 2019.\n"
REPLY = "Thank you. We will be in touch through this mailbox."


@dataclass
class Cluster:
    workers: list[ServerProcess]
    data: Path
    dsn: str
    keys: DevKeys

    @property
    def urls(self) -> list[str]:
        return [w.url for w in self.workers]

    @property
    def log_vkey(self) -> str:
        match = re.search(r"log verifier key[^\n]*\n\s+(\S+(?: \S+)?)",
                          self.workers[0].output_text())
        assert match is not None
        return match.group(1)


def start_cluster(tmp_path: Path, dsn: str, env: dict[str, str] | None = None) -> Cluster:
    """Three workers, started one after the other (the first creates the keys and the dev
    roster; the others find them), each accepting logins for every worker's address, as
    workers behind one onion address do."""
    data = tmp_path / "shared-data"
    ports = [free_port() for _ in range(WORKERS)]
    public = [arg for port in ports for arg in ("--public-url", f"http://127.0.0.1:{port}")]
    workers: list[ServerProcess] = []
    try:
        for number, port in enumerate(ports):
            home = tmp_path / f"worker{number}"
            home.mkdir()
            workers.append(start_server(home, dev=True, data_dir=data, port=port, env=env,
                                        extra_args=("--store", dsn, *public)))
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return Cluster(workers, data, dsn, read_dev_keys(data))


@contextmanager
def cluster_on_a_new_database(tmp_path: Path, postgres_server: str, *,
                              password: bool = False) -> Iterator[Cluster]:
    """Three workers on a database of their own, stopped and dropped afterwards. No proof of
    work for the rate: the tests' clients would solve puzzles. With ``password`` the DSN
    carries one, which no output may show (the throwaway server trusts its socket, so the
    password itself is not checked)."""
    dsn = create_database(postgres_server)
    given = dsn.replace("postgresql://postgres@", "postgresql://postgres:hunter2-secret@") \
        if password else dsn
    try:
        started = start_cluster(tmp_path, given, env={"AMANAT_WORK_QUIET_RATE": "0"})
        try:
            yield started
        finally:
            for worker in started.workers:
                worker.stop()
    finally:
        drop_database(postgres_server, dsn)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_server: str
            ) -> Iterator[Cluster]:
    """One cluster for the tests of this module that share it (the roster test, which
    changes the roster, comes last), its DSN with a password."""
    with cluster_on_a_new_database(tmp_path_factory.mktemp("cluster"), postgres_server,
                                   password=True) as started:
        yield started


def test_workers_print_the_store_without_its_password(cluster: Cluster) -> None:
    for worker in cluster.workers:
        text = worker.output_text()
        assert "hunter2-secret" not in text
        assert "amanat: store: postgresql://postgres@" in text


def test_login_on_one_worker_is_valid_on_all_and_its_challenge_is_spent_once(
        cluster: Cluster) -> None:
    keys, (a, b, c) = cluster.keys, cluster.urls
    with VaultClient(a) as first:
        token = first.login(keys.investigator.key_id, keys.sign, cluster.log_vkey)
    for url in (b, c):
        with VaultClient(url, token=token) as other:
            page, _ = other.list_submissions()
            assert page == []
    # A challenge from worker A, redeemed at B, cannot be redeemed again at C.
    challenge = httpx.post(f"{a}/api/v1/auth/challenge",
                           json={"key_id": keys.investigator.key_id}).json()["challenge"]
    body = keys.login_body(challenge, cluster.log_vkey, server=b)
    assert httpx.post(f"{b}/api/v1/auth/token", json=body).status_code == 200
    again = httpx.post(f"{c}/api/v1/auth/token", json=body)
    assert again.status_code in (401, 403) and "used challenge" in again.text
    # A made-up token is refused everywhere (the valid one above was not a fluke).
    with VaultClient(c, token=token + "x") as forged, pytest.raises(ClientError) as refused:
        forged.list_submissions()
    assert refused.value.status == 401


def test_an_upload_hops_between_workers_with_one_writer_at_a_time(cluster: Cluster) -> None:
    keys, urls = cluster.keys, cluster.urls
    sealed = keys.seal(b"testimony sent in three pieces " * 20_000)
    thirds = [sealed[: len(sealed) // 3], sealed[len(sealed) // 3: 2 * len(sealed) // 3],
              sealed[2 * len(sealed) // 3:]]
    clients = [VaultClient(url) for url in urls]
    try:
        upload_id = clients[0].create_upload()
        offset = 0
        for number, piece in enumerate(thirds):
            client = clients[(number + 1) % WORKERS]
            assert client.upload_offset(upload_id) == offset
            offset = client.append(upload_id, offset, piece)
        assert offset == len(sealed)
        receipt = clients[2].finish_upload(upload_id)
        with VaultClient(urls[1]) as reader:
            token = reader.login(keys.investigator.key_id, keys.sign, cluster.log_vkey)
            out = io.BytesIO()
            reader.download(receipt.id, out)
            assert out.getvalue() == sealed and token
    finally:
        for client in clients:
            client.close()

    # One writer per upload across processes: the lock another worker holds is refused.
    first = open_store(cluster.dsn, blobs=cluster.data)
    second = open_store(cluster.dsn, blobs=cluster.data)
    assert isinstance(first, PostgresStore) and isinstance(second, PostgresStore)
    try:
        upload = "ab" * 16
        assert first.claim_upload(upload)
        assert not second.claim_upload(upload)
        assert not first.claim_upload(upload)  # nor twice in one process
        first.release_upload(upload)
        assert second.claim_upload(upload)
        second.close()  # a worker that dies lets go: its session ends
        deadline = time.monotonic() + 10  # once the server has noticed the closed session
        while not first.claim_upload(upload):
            assert time.monotonic() < deadline, "the lock outlived its session"
            time.sleep(0.05)
        first.release_upload(upload)
    finally:
        first.close()
        second.close()


def test_the_whole_loop_spread_over_three_workers(cluster: Cluster, tmp_path: Path) -> None:
    keys, (a, b, c) = cluster.keys, cluster.urls
    org = keys.org_vkey
    identity = str(cluster.data / "dev" / "investigator.identity")
    investigator = base_env(AMANAT_PASSPHRASE=keys.passphrase)
    home = tmp_path / "witness"
    home.mkdir()
    witness = base_env(HOME=str(home), TMPDIR=str(home))
    receipt = home / "receipt.txt"
    submitted = amanat(["submit", "--server", a, "--org", org, "--statement", "-",
                        "--language", "en", "--consent", "anonymised", "--receipt",
                        str(receipt)], cwd=home, env=witness, stdin=STATEMENT)
    codename = codename_from(submitted.stderr)
    assert amanat(["receipt", "verify", str(receipt), "--org", org, "--server", c],
                  cwd=home, env=witness).returncode == 0
    submission_id = submission_id_from_receipt(receipt.read_text("utf-8"))
    inbox = amanat(["inbox", "--server", b, "-i", identity, "--org", org], cwd=tmp_path,
                   env=investigator).stdout
    assert submission_id in [line.split()[0] for line in inbox.splitlines() if line.strip()]
    case = tmp_path / "case"
    amanat(["open", "--server", c, "-i", identity, "--org", org, submission_id, "-o",
            str(case)], cwd=tmp_path, env=investigator)
    assert (case / "statement.txt").read_text("utf-8") == STATEMENT
    amanat(["reply", "--server", a, "-i", identity, "--org", org, submission_id, "--case",
            str(case), "--message", REPLY], cwd=tmp_path, env=investigator)
    replies = amanat(["replies", "--server", b], cwd=home,
                     env={**witness, "AMANAT_CODENAME": codename})
    assert REPLY in replies.stdout
    for url in (a, b, c):
        audited = amanat(["audit", "verify", "--server", url, "--org", org, "--full",
                          "--state", str(tmp_path / "audit-state.json")], cwd=tmp_path)
        assert audited.returncode == 0, audited.stderr
    tiled = amanat(["audit", "verify", "--server", b, "--org", org, "--tiles"], cwd=tmp_path)
    assert tiled.returncode == 0, tiled.stderr  # the log as tiles, served from PostgreSQL
    checkpoints = {httpx.get(f"{url}/api/v1/log/checkpoint").text for url in (a, b, c)}
    assert len(checkpoints) == 1  # one history, the same latest checkpoint everywhere


def test_concurrent_clients_on_three_workers_leave_one_history(cluster: Cluster) -> None:
    keys, urls = cluster.keys, cluster.urls
    sealed = [keys.seal(b"testimony %d" % n) for n in range(8)]
    receipts: list[SubmissionReceipt] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        try:
            with VaultClient(urls[number % WORKERS]) as vault:
                for round_ in range(SUBMISSIONS_PER_CLIENT):
                    got = vault.submit(sealed[(number + round_) % len(sealed)])
                    with lock:
                        receipts.append(got)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,))
               for n in range(WORKERS * CLIENTS_PER_WORKER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    expected = WORKERS * CLIENTS_PER_WORKER * SUBMISSIONS_PER_CLIENT
    assert len(receipts) == expected

    verifier = HybridVerifier.from_vkey(cluster.log_vkey)
    origin = verifier.name
    with VaultClient(urls[0]) as vault:
        final = open_checkpoint(vault.checkpoint(), verifier, origin)
        entries = vault.entries(0, final.size)
        assert len(entries) == final.size
        # Every acknowledged submission is in the tree exactly once, at its index.
        indices = [r.log_index for r in receipts]
        assert len(set(indices)) == expected
        for got in receipts:
            assert entries[got.log_index] == got.entry.encode("ascii")
            assert sum(1 for e in entries if got.id.encode() in e) == 1
            verify_inclusion(leaf_hash(entries[got.log_index]), got.log_index,
                             final.size, vault.inclusion_proof(got.log_index, final.size),
                             final.root_hash)
        # Every checkpoint a client was given is a prefix of the final tree, hence any
        # two of them are consistent with each other.
        for got in receipts:
            given = open_checkpoint(Receipt.parse(got.receipt).checkpoint, verifier, origin)
            verify_consistency(given.size, final.size, given.root_hash, final.root_hash,
                               vault.consistency_proof(given.size, final.size))


def test_roster_published_on_one_worker_is_served_by_all(cluster: Cluster) -> None:
    keys, urls = cluster.keys, cluster.urls
    with VaultClient(urls[0]) as vault:
        current = vault.roster_text()
        newer, _ = keys.add_reader(current)
        token = vault.login(keys.investigator.key_id, keys.sign, cluster.log_vkey)
        assert token
        vault.publish_roster(newer)
    for url in urls:
        assert httpx.get(f"{url}/api/v1/roster").text == newer
