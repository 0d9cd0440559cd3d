"""Killing the server (SIGKILL) in the middle of concurrent submissions loses nothing that
was acknowledged, and after a restart everything stored is in the log exactly once and the
log's checkpoint matches its entries."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from vault import events
from vault.client import ClientError, SubmissionReceipt, TransportError, VaultClient
from vault.tlog import merkle, note
from vault.tlog.checkpoint import open_checkpoint


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_kill_mid_submission(server_factory: Callable[..., ServerProcess]) -> None:
    first = server_factory()
    dev = read_dev_keys(first.data_dir)
    sealed = dev.seal(b"s" * 60_000)
    acknowledged: list[SubmissionReceipt] = []
    lock = threading.Lock()
    stop = threading.Event()

    def witness() -> None:
        with VaultClient(first.url, timeout=10) as client:
            while not stop.is_set():
                try:
                    receipt = client.submit(sealed)
                except (TransportError, ClientError):
                    return
                with lock:
                    acknowledged.append(receipt)

    threads = [threading.Thread(target=witness) for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(acknowledged) >= 20

    second = server_factory(data_dir=first.data_dir)
    log_key = note.HybridVerifier.from_vkey(dev.roster().log_vkey or "")
    with VaultClient(second.url) as client:
        client.login(dev.investigator.key_id, dev.sign, log_key.vkey())
        stored = {s.id: s for s in client.iter_submissions()}
        checkpoint = open_checkpoint(client.checkpoint(), log_key, log_key.name)
        entries: list[bytes] = []
        while len(entries) < checkpoint.size:
            entries += client.entries(len(entries), checkpoint.size)
    assert merkle.root_hash(merkle.leaf_hash(e) for e in entries) == checkpoint.root_hash
    logged = [events.parse_event(e) for e in entries]
    submitted = [e.get("id") for e in logged if e.kind == "submission"]
    assert len(submitted) == len(set(submitted)), "a submission was logged twice"
    assert set(submitted) == set(stored), "stored and logged submissions differ"
    for receipt in acknowledged:
        assert receipt.id in stored
        assert stored[receipt.id].log_index == receipt.log_index
        assert entries[receipt.log_index] == receipt.entry.encode()
