"""The cosigner's add-checkpoint logic (vault.cosigner) and its HTTP skin (api.cosigner),
in process: every refusal of c2sp.org/tlog-witness, durable state, serialized requests."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.cosigner import create_cosigner_app
from vault.cosigner.store import CosignerStore, CosignerStoreError
from vault.cosigner.witness import (
    MAX_BODY_BYTES,
    BadProof,
    BadRequest,
    Cosigner,
    NotSignedByLog,
    SizeConflict,
    UnknownLog,
    parse_add_checkpoint,
)
from vault.tlog.checkpoint import Checkpoint, sign_checkpoint
from vault.tlog.cosignature import CosignerSigner, MLDSACosignerSigner, verify
from vault.tlog.merkle import InMemoryTree, leaf_hash
from vault.tlog.note import HybridSigner, Signer

ORIGIN = "vault.example/log"


class Log:
    """A log in memory that signs checkpoints and makes consistency proofs."""

    def __init__(self, signer: HybridSigner | Signer, entries: list[bytes] | None = None
                 ) -> None:
        self.signer = HybridSigner.of(signer)
        self.tree = InMemoryTree(leaf_hash(e) for e in entries or [])

    def add(self, *entries: bytes) -> None:
        self.tree.extend(leaf_hash(e) for e in entries)

    def note(self, size: int | None = None) -> str:
        size = self.tree.size if size is None else size
        return sign_checkpoint(Checkpoint(ORIGIN, size, self.tree.root(size)),
                               *self.signer.signers())

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None
                ) -> bytes:
        size = self.tree.size if size is None else size
        if proof is None:
            proof = self.tree.consistency_proof(old, size) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{self.note(size)}".encode()


@pytest.fixture
def log() -> Log:
    log = Log(HybridSigner.generate(ORIGIN))
    log.add(*(f"entry {i}".encode() for i in range(5)))
    return log


@pytest.fixture
def cosigner(tmp_path: Path, log: Log) -> Cosigner:
    store = CosignerStore(tmp_path / "cosigner", create=True)
    assert store.add_log(ORIGIN, log.signer.vkey())
    assert not store.add_log(ORIGIN, log.signer.vkey())
    signers = (CosignerSigner.generate("partner.example/c"),
               MLDSACosignerSigner("partner.example/c", b"\x07" * 32))
    return Cosigner(store, signers, clock=lambda: 1234.5)


def test_accepts_zero_to_n_then_n_to_m_and_the_line_verifies(cosigner: Cosigner,
                                                              log: Log) -> None:
    lines = cosigner.add_checkpoint(log.request(0)).splitlines()
    body = log.note().split("\n\n")[0] + "\n"
    ed25519, ml_dsa = (s.verifier() for s in cosigner.signers)
    assert verify(body, lines[0], ed25519).timestamp == 1234
    assert verify(body, lines[1], ml_dsa).timestamp == 1234
    log.add(b"six", b"seven")
    lines = cosigner.add_checkpoint(log.request(5)).splitlines()
    assert cosigner.store.latest(ORIGIN).size == 7
    verify(log.note().split("\n\n")[0] + "\n", lines[0], ed25519)
    verify(log.note().split("\n\n")[0] + "\n", lines[1], ml_dsa)
    with pytest.raises(ValueError, match="at least one key"):
        Cosigner(cosigner.store, ())
    # The same checkpoint again (old = size, same root) is cosigned again.
    cosigner.add_checkpoint(log.request(7))


def test_cosignature_times_never_go_back(tmp_path: Path, log: Log) -> None:
    store = CosignerStore(tmp_path / "t", create=True)
    store.add_log(ORIGIN, log.signer.vkey())
    clock = iter([2000.0, 1000.0])
    cosigner = Cosigner(store, [CosignerSigner.generate("c")], clock=lambda: next(clock))
    verifier = cosigner.signers[0].verifier()
    first = cosigner.add_checkpoint(log.request(0, 3))
    second = cosigner.add_checkpoint(log.request(3))  # the clock stepped back
    assert verify(log.note(3).split("\n\n")[0] + "\n", first, verifier).timestamp == 2000
    assert verify(log.note().split("\n\n")[0] + "\n", second, verifier).timestamp == 2000
    assert store.latest(ORIGIN).time == 2000


def test_stale_old_size_is_409_with_the_current_size(cosigner: Cosigner, log: Log) -> None:
    cosigner.add_checkpoint(log.request(0, 3))
    with pytest.raises(SizeConflict) as caught:
        cosigner.add_checkpoint(log.request(0))
    assert caught.value.body() == "3\n" and caught.value.status == 409
    with pytest.raises(SizeConflict):
        cosigner.add_checkpoint(log.request(2))


def test_rollback_is_refused(cosigner: Cosigner, log: Log) -> None:
    cosigner.add_checkpoint(log.request(0))
    with pytest.raises(BadRequest, match="above the checkpoint's size"):
        cosigner.add_checkpoint(log.request(5, 3, []))
    with pytest.raises(SizeConflict):
        cosigner.add_checkpoint(log.request(0, 3))
    assert cosigner.store.latest(ORIGIN).size == 5


def test_fork_is_refused_and_kept_as_evidence(cosigner: Cosigner, log: Log) -> None:
    cosigner.add_checkpoint(log.request(0, 3))
    fork = Log(log.signer, [b"entry 0", b"entry 1", b"forged"])
    with pytest.raises(SizeConflict, match="two different roots"):
        cosigner.add_checkpoint(fork.request(3, 3, []))
    fork.add(b"more")
    with pytest.raises(BadProof, match="does not extend"):
        cosigner.add_checkpoint(fork.request(3))
    # A proof from the honest log cannot carry the forked root either.
    with pytest.raises(BadProof):
        cosigner.add_checkpoint(fork.request(3, 4, log.tree.consistency_proof(3, 4)))
    assert [r for r, _ in cosigner.store.evidence(ORIGIN)] == [
        "same size, another root", "inconsistent", "inconsistent"]
    assert cosigner.store.latest(ORIGIN).size == 3
    cosigner.add_checkpoint(log.request(3))  # the honest log goes on


def test_signature_and_origin_refusals(cosigner: Cosigner, log: Log) -> None:
    other = Log(HybridSigner.generate(ORIGIN), [b"x"])
    with pytest.raises(NotSignedByLog):
        cosigner.add_checkpoint(other.request(0))
    forged = log.request(0).replace(b"\n5\n", b"\n4\n", 1)
    with pytest.raises(NotSignedByLog):
        cosigner.add_checkpoint(forged)
    stranger = Log(HybridSigner.generate("elsewhere.example/log"), [b"x"])
    body = stranger.request(0).replace(ORIGIN.encode(), b"elsewhere.example/log")
    with pytest.raises(UnknownLog):
        cosigner.add_checkpoint(body)
    wrong_origin = sign_checkpoint(Checkpoint("other", 0, log.tree.root(0)),
                                   *log.signer.signers())
    with pytest.raises(UnknownLog):
        cosigner.add_checkpoint(f"old 0\n\n{wrong_origin}".encode())
    assert cosigner.store.latest(ORIGIN).checkpoint is None


def test_a_hybrid_log_key_needs_both_signatures(cosigner: Cosigner, log: Log) -> None:
    """Configured with the log's hybrid public form, the cosigner refuses a checkpoint
    signed by only one half (a forger of Ed25519 alone, or of ML-DSA-44 alone, gets no
    cosignature) and accepts it with both."""
    checkpoint = Checkpoint(ORIGIN, 5, log.tree.root(5))
    for half in log.signer.signers():
        with pytest.raises(NotSignedByLog, match="not signed by a key this cosigner trusts"):
            cosigner.add_checkpoint(f"old 0\n\n{sign_checkpoint(checkpoint, half)}".encode())
    assert cosigner.store.latest(ORIGIN).checkpoint is None
    assert len(cosigner.add_checkpoint(log.request(0)).splitlines()) == 2


def test_a_classical_log_key_is_explicit_and_its_upgrade_ends_it(tmp_path: Path) -> None:
    """An Ed25519-only log key is trusted only when written ``classical``; once the log's
    hybrid form is added, Ed25519 alone no longer gets a cosignature."""
    classical = Log(Signer.generate(ORIGIN), [b"a", b"b"])
    store = CosignerStore(tmp_path / "c", create=True)
    assert store.add_log(ORIGIN, "classical " + classical.signer.vkey())
    cosigner = Cosigner(store, [CosignerSigner.generate("c")])
    cosigner.add_checkpoint(classical.request(0))  # Ed25519 alone, accepted
    upgraded = Log(classical.signer.with_post_quantum_half(), [b"a", b"b"])
    upgraded.add(b"c")
    assert store.add_log(ORIGIN, upgraded.signer.vkey())
    assert store.logs() == {ORIGIN: [upgraded.signer.vkey()]}  # the classical row is gone
    classical.add(b"c")
    with pytest.raises(NotSignedByLog):
        cosigner.add_checkpoint(classical.request(2))
    cosigner.add_checkpoint(upgraded.request(2))
    assert store.latest(ORIGIN).size == 3


@pytest.mark.parametrize("body, message", [
    (b"\xff", "UTF-8"),
    (b"old 1", "starts with a line"),
    (b"new 1\n\n", "starts with a line"),
    (b"old 01\n\n", "leading zero"),
    (b"old x\n\n", "decimal"),
    (b"old 18446744073709551616\n\n", "64-bit"),
    (b"old 0\nAAAA\n\n", "one 32-byte hash"),
    (b"old 0\n!!!!\n\n", "not base64"),
    (b"old 0\n\xc3\xa9\n\n", "not base64"),
    (b"old 0\n", "end with an empty line"),
    (b"old 0\n\n", "checkpoint is missing"),
    (b"old 0\n" + (base64.b64encode(b"\x00" * 32) + b"\n") * 64 + b"\n", "more than 63"),
    (b"x" * (MAX_BODY_BYTES + 1), "larger than"),
])
def test_malformed_bodies(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_add_checkpoint(body)


def test_malformed_checkpoints(cosigner: Cosigner, log: Log) -> None:
    with pytest.raises(BadRequest, match="no signature lines"):
        cosigner.add_checkpoint(b"old 0\n\nvault.example/log\n0\n")
    with pytest.raises(BadRequest, match="malformed checkpoint"):
        cosigner.add_checkpoint(b"old 0\n\nvault.example/log\n00\nAAAA\n\n\xe2\x80\x94 a b\n")
    note = log.note().replace("\u2014 ", "- ")
    with pytest.raises(BadRequest, match="malformed checkpoint"):
        cosigner.add_checkpoint(f"old 0\n\n{note}".encode())
    with pytest.raises(BadProof):  # proof lines from size 0 must be empty
        cosigner.add_checkpoint(log.request(0, 5, [b"\x00" * 32]))


def test_state_survives_reopening(tmp_path: Path, log: Log) -> None:
    store = CosignerStore(tmp_path / "c", create=True)
    store.add_log(ORIGIN, log.signer.vkey())
    Cosigner(store, [CosignerSigner.generate("c")]).add_checkpoint(log.request(0))
    store.close()
    again = CosignerStore(tmp_path / "c")
    assert again.latest(ORIGIN).size == 5 and again.logs() == {ORIGIN: [log.signer.vkey()]}
    with pytest.raises(SizeConflict):
        Cosigner(again, [CosignerSigner.generate("c")]).add_checkpoint(log.request(0, 3))


def test_store_refusals(tmp_path: Path) -> None:
    with pytest.raises(CosignerStoreError, match="not a cosigner data folder"):
        CosignerStore(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CosignerStoreError, match="no cosigner state"):
        CosignerStore(tmp_path / "empty")
    store = CosignerStore(tmp_path / "s", create=True)
    with pytest.raises(CosignerStoreError, match="not a verifier key"):
        store.add_log(ORIGIN, "nonsense")
    with pytest.raises(CosignerStoreError, match="one line"):
        store.add_log("a\nb", HybridSigner.generate("x").vkey())
    classical = Signer.generate(ORIGIN).vkey()
    with pytest.raises(CosignerStoreError, match="Ed25519 only: give the log's whole"):
        store.add_log(ORIGIN, classical)
    with pytest.raises(CosignerStoreError, match="has an ML-DSA-44 half"):
        store.add_log(ORIGIN, "classical " + HybridSigner.generate(ORIGIN).vkey())
    assert store.logs() == {}


def test_concurrent_requests_for_one_log_are_serialized(cosigner: Cosigner, log: Log) -> None:
    """Many threads race from size 0 to different sizes: exactly one wins, the others get
    409, and the state is the winner's (never rolled back by a slower request)."""
    bodies = [log.request(0, size) for size in range(1, 6)] * 4
    results: list[str] = []
    lock = threading.Lock()

    def send(body: bytes) -> None:
        try:
            cosigner.add_checkpoint(body)
            outcome = "ok"
        except SizeConflict:
            outcome = "409"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("409") == len(bodies) - 1


def test_http_statuses_and_headers(cosigner: Cosigner, log: Log) -> None:
    client = TestClient(create_cosigner_app(cosigner))
    ok = client.post("/add-checkpoint", content=log.request(0, 3))
    assert ok.status_code == 200 and ok.text.startswith("\u2014 partner.example/c ")
    assert len(ok.text.splitlines()) == 2 and ok.text.endswith("\n")
    assert ok.headers["content-type"].startswith("text/plain")
    assert "server" not in ok.headers and "date" not in ok.headers
    stale = client.post("/add-checkpoint", content=log.request(0))
    assert (stale.status_code, stale.text) == (409, "3\n")
    assert stale.headers["content-type"] == "text/x.tlog.size"
    bad = client.post("/add-checkpoint", content=b"old 0\n")
    assert bad.status_code == 400 and bad.text.endswith("\n")
    other = Log(HybridSigner.generate(ORIGIN), [b"x"])
    assert client.post("/add-checkpoint", content=other.request(0)).status_code == 403
    big = client.post("/add-checkpoint", content=b"x" * (MAX_BODY_BYTES + 1))
    assert big.status_code == 413
    assert client.get("/add-checkpoint").status_code == 405
    assert client.get("/openapi.json").status_code == 404


def test_store_failures_roll_back_and_are_named(tmp_path: Path, log: Log,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = CosignerStore(tmp_path / "r", create=True)
    store.add_log(ORIGIN, log.signer.vkey())
    with pytest.raises(RuntimeError), store.transaction():
        store.set_latest(ORIGIN, 5, b"\x00" * 32, "note", 1)
        raise RuntimeError
    assert store.latest(ORIGIN).checkpoint is None  # rolled back
    monkeypatch.setattr("vault.cosigner.store.EVIDENCE_PER_LOG", 1)
    with store.transaction():
        store.keep_evidence(ORIGIN, "a", "one")
        store.keep_evidence(ORIGIN, "b", "two")
    assert store.evidence(ORIGIN) == [("a", "one")]
    (tmp_path / "file").write_text("x")
    with pytest.raises(CosignerStoreError, match="cannot create"):
        CosignerStore(tmp_path / "file" / "sub", create=True)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "cosigner.db").write_bytes(b"not a database" * 100)
    with pytest.raises(CosignerStoreError, match="cannot open"):
        CosignerStore(tmp_path / "garbage")
