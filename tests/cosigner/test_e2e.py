"""A real `amanat cosigner serve` on 127.0.0.1 fed by real `amanat serve --dev` processes:
checkpoints and consistency proofs from GET /api/v1/log/checkpoint and
/api/v1/log/proof/consistency, relayed as C2SP tlog-witness add-checkpoint requests.

Shows: 0→N and N→M are cosigned in Ed25519 and ML-DSA-44, and the lines verify against the
cosigner's vkeys, also with an independent verifier (a flipped byte does not); a stale old
size gets 409 text/x.tlog.size with the current size; a rollback, a fork made with a copied
log key, and a checkpoint signed by another key with the same name are refused; concurrent
requests are serialized; the state survives a restart."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.audit.serverkit import Servers, servers, submit
from tests.cosigner import independent
from tests.e2e.conftest import ROOT, ServerProcess, free_port
from vault.service.setup import DEV_DIR, LOG_KEY_FILE
from vault.tlog.cosignature import CosignatureError, CosignerVerifier, verify
from vault.tlog.note import HybridSigner

__all__ = ["servers"]

PASSPHRASE = "tundra velvet orbit cactus lantern meadow"
READY_SECONDS = 30.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    env["AMANAT_PASSPHRASE"] = PASSPHRASE
    return env


def amanat(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vault.cli", *argv], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)


@dataclass
class CosignerProcess:
    data: Path
    port: int
    process: subprocess.Popen[bytes]
    output: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/add-checkpoint"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Cosigners:
    def __init__(self) -> None:
        self.started: list[CosignerProcess] = []

    def start(self, data: Path, port: int | None = None) -> CosignerProcess:
        port = port or free_port()
        output = data.parent / f"cosigner-{len(self.started)}.out"
        with open(output, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "vault.cli", "cosigner", "serve", "--data", str(data),
                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                env=_env())
        started = CosignerProcess(data, port, process, output)
        self.started.append(started)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"cosigner exited: {output.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(started.url, timeout=2).status_code == 405:
                    return started
            if time.monotonic() > deadline:
                raise AssertionError("cosigner did not become ready")
            time.sleep(0.1)


@pytest.fixture
def cosigners() -> Iterator[Cosigners]:
    started = Cosigners()
    yield started
    for process in started.started:
        process.stop()


def log_signer(server: ServerProcess) -> HybridSigner:
    """The server's log key (a cosigner is configured with its public form)."""
    return HybridSigner.from_private_key_string(
        (server.data_dir / LOG_KEY_FILE).read_text().strip())


def checkpoint(server: ServerProcess) -> str:
    response = httpx.get(server.url + "/api/v1/log/checkpoint", timeout=10)
    assert response.status_code == 200
    return response.text


def proof_lines(server: ServerProcess, old: int, new: int) -> str:
    if old == 0:
        return ""
    response = httpx.get(server.url + "/api/v1/log/proof/consistency",
                         params={"old": old, "new": new}, timeout=10)
    assert response.status_code == 200, response.text
    return "".join(h + "\n" for h in response.json()["hashes"])


def add_checkpoint(cosigner: CosignerProcess, old: int, proof: str, note: str
                   ) -> httpx.Response:
    return httpx.post(cosigner.url, content=f"old {old}\n{proof}\n{note}".encode(), timeout=10)


def relay(server: ServerProcess, cosigner: CosignerProcess, old: int) -> tuple[str, str]:
    """Send the server's latest checkpoint with a proof from ``old``; (note, cosignature)."""
    note = checkpoint(server)
    size = int(note.split("\n")[1])
    response = add_checkpoint(cosigner, old, proof_lines(server, old, size), note)
    assert response.status_code == 200, response.text
    return note, response.text


def body_of(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


def size_of(note: str) -> int:
    return int(note.split("\n")[1])


@pytest.mark.slow
def test_cosigner_against_real_servers(servers: Servers, cosigners: Cosigners,
                                       tmp_path: Path) -> None:
    honest = servers.start("honest")
    submit(honest, 2)
    signer = log_signer(honest)
    origin = checkpoint(honest).split("\n")[0]

    init = amanat("cosigner", "init", "--name", "partner.example/cosigner",
                  "-o", str(tmp_path / "cosigner.key"))
    assert init.returncode == 0, init.stderr
    cosigner_vkey, mldsa_vkey = init.stdout.split()
    verifier = CosignerVerifier.from_vkey(cosigner_vkey)
    mldsa_verifier = CosignerVerifier.from_vkey(mldsa_vkey)
    assert PASSPHRASE not in init.stdout + init.stderr
    data = tmp_path / "cosigner-data"
    added = amanat("cosigner", "add-log", "--data", str(data), origin, signer.vkey())
    assert added.returncode == 0, added.stderr
    shutil.copy2(tmp_path / "cosigner.key", data / "cosigner.key")
    cosigner = cosigners.start(data)

    # 0 -> 3, then 3 -> 5: cosigned, and each line verifies against the vkey from init.
    note, text = relay(honest, cosigner, 0)
    line, mldsa_line = text.splitlines()
    assert verify(body_of(note), mldsa_line, mldsa_verifier).timestamp == verify(
        body_of(note), line, verifier).timestamp
    assert independent.verify_mldsa_cosignature(body_of(note), mldsa_line, mldsa_vkey) > 0
    assert size_of(note) == 3
    assert verify(body_of(note), line, verifier).name == "partner.example/cosigner"
    assert abs(independent.verify_cosignature(body_of(note), line, cosigner_vkey)
               - time.time()) < 120
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 0x01
    flipped = f"\u2014 partner.example/cosigner {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CosignatureError):
        verify(body_of(note), flipped, verifier)
    with pytest.raises(ValueError, match="bad signature"):
        independent.verify_cosignature(body_of(note), flipped, cosigner_vkey)
    submit(honest, 2)
    # 3 -> 5 by the independent client.
    note5 = checkpoint(honest)
    assert size_of(note5) == 5
    hashes = proof_lines(honest, 3, 5).split()
    answer = independent.add_checkpoint(f"http://127.0.0.1:{cosigner.port}", 3, hashes, note5)
    assert answer.status_code == 200, answer.text
    line, mldsa_line = answer.text.splitlines()
    verify(body_of(note5), line, verifier)
    verify(body_of(note5), mldsa_line, mldsa_verifier)
    independent.verify_mldsa_cosignature(body_of(note5), mldsa_line, mldsa_vkey)
    independent.verify_cosignature(body_of(note5), line, cosigner_vkey)
    with pytest.raises(CosignatureError):
        verify(body_of(note), line, verifier)  # not a cosignature of the older checkpoint

    # A stale old size: 409, text/x.tlog.size, the current size.
    stale = add_checkpoint(cosigner, 3, proof_lines(honest, 3, 5), note5)
    assert (stale.status_code, stale.text) == (409, "5\n")
    assert stale.headers["content-type"] == "text/x.tlog.size"
    # A rollback to the checkpoint of size 3: refused whatever old size is claimed.
    assert add_checkpoint(cosigner, 0, "", note).status_code == 409
    assert add_checkpoint(cosigner, 5, "", note).status_code == 400

    # A fork: a second data directory with the same log key (and org), its own entries.
    forked_data = servers.directory("forked") / "data"
    forked_data.mkdir(mode=0o700)
    shutil.copy2(honest.data_dir / LOG_KEY_FILE, forked_data / LOG_KEY_FILE)
    shutil.copytree(honest.data_dir / DEV_DIR, forked_data / DEV_DIR)
    forked = servers.start("forked")
    submit(forked, 4)  # roster + 4 = 5 entries, as many as the honest log
    fork5 = checkpoint(forked)
    assert size_of(fork5) == 5 and fork5 != note5
    same_size = add_checkpoint(cosigner, 5, "", fork5)
    assert (same_size.status_code, same_size.text) == (409, "5\n")
    submit(forked, 1)
    fork6 = checkpoint(forked)
    inconsistent = add_checkpoint(cosigner, 5, proof_lines(forked, 5, 6), fork6)
    assert inconsistent.status_code == 422, inconsistent.text
    assert "does not extend" in inconsistent.text

    # A real server signing with the log key's Ed25519 half (copied, or forged by a
    # quantum computer) and an ML-DSA-44 half of its own: 403.
    impostor_data = servers.directory("impostor") / "data"
    impostor_data.mkdir(mode=0o700)
    impostor_key = HybridSigner(signer.classical).with_post_quantum_half()
    (impostor_data / LOG_KEY_FILE).write_text(impostor_key.private_key_string() + "\n")
    os.chmod(impostor_data / LOG_KEY_FILE, 0o600)
    impostor = servers.start("impostor")
    impostor_note = checkpoint(impostor)
    assert impostor_note.split("\n")[0] == origin
    assert add_checkpoint(cosigner, 0, "", impostor_note).status_code == 403
    # A log this cosigner was never told of: 404.
    stranger = servers.start("stranger")
    assert add_checkpoint(cosigner, 0, "", checkpoint(stranger)).status_code == 404

    # Restart: the state (size 5, the honest root) is still there.
    cosigner.stop()
    cosigner = cosigners.start(data, cosigner.port)
    after = add_checkpoint(cosigner, 0, "", note)
    assert (after.status_code, after.text) == (409, "5\n")
    assert add_checkpoint(cosigner, 5, "", fork5).status_code == 409
    submit(honest, 1)
    note6, text = relay(honest, cosigner, 5)
    line, mldsa_line = text.splitlines()
    verify(body_of(note6), line, verifier)
    verify(body_of(note6), mldsa_line, mldsa_verifier)

    # Concurrent requests for one log over HTTP: one wins, the others learn its size.
    submit(honest, 1)
    note7 = checkpoint(honest)
    proof = proof_lines(honest, 6, 7)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: add_checkpoint(cosigner, 6, proof, note7), range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 7
    assert {a.text for a in answers if a.status_code == 409} == {"7\n"}

    # Nothing about requests in the output; no passphrase either.
    output = "".join(p.output.read_text() for p in cosigners.started)
    assert PASSPHRASE not in output and "127.0.0.1:" not in output.replace(
        f"http://127.0.0.1:{cosigner.port}/add-checkpoint", "")
    assert "POST" not in output


def test_cli_refusals(tmp_path: Path) -> None:
    missing = amanat("cosigner", "serve", "--data", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "not a cosigner data folder" in missing.stderr
    bad = amanat("cosigner", "add-log", "--data", str(tmp_path / "d"), "o", "not-a-vkey")
    assert bad.returncode == 1 and "not a verifier key" in bad.stderr
    empty = amanat("cosigner", "serve", "--data", str(tmp_path / "d"))
    assert empty.returncode == 1 and "cosigns no log yet" in empty.stderr
    name = amanat("cosigner", "init", "--name", "has space", "-o", str(tmp_path / "k"))
    assert name.returncode == 1 and "--name" in name.stderr
    vkey = HybridSigner.generate("log").vkey()
    assert amanat("cosigner", "add-log", "--data", str(tmp_path / "d"), "log", vkey
                  ).returncode == 0
    nokey = amanat("cosigner", "serve", "--data", str(tmp_path / "d"))
    assert nokey.returncode == 1 and "cosigner.key" in nokey.stderr


@pytest.mark.slow
def test_killed_mid_flood_keeps_an_acknowledged_state(cosigners: Cosigners,
                                                      tmp_path: Path) -> None:
    """SIGKILL while requests arrive: after a restart the state is at least the last size
    acknowledged with a cosignature, and the log goes on from it."""
    from keys.cosigner import CosignerKey
    from keys.keyfile import KdfParams
    from tests.cosigner.test_witness import ORIGIN, Log
    from vault.cosigner.store import CosignerStore

    log = Log(HybridSigner.generate(ORIGIN))
    log.add(b"first")
    data = tmp_path / "killed"
    store = CosignerStore(data, create=True)
    store.add_log(ORIGIN, log.signer.vkey())
    store.close()
    key = CosignerKey.generate("partner.example/k")
    (data / "cosigner.key").write_bytes(key.seal(PASSPHRASE, KdfParams(8, 1, 1)))
    cosigner = cosigners.start(data)
    acknowledged: list[int] = []
    statuses: list[int] = []

    def flood() -> None:
        size = 0
        with httpx.Client(timeout=10) as client:
            while True:
                try:
                    response = client.post(cosigner.url, content=log.request(size))
                except httpx.TransportError:
                    return  # killed
                statuses.append(response.status_code)
                size = log.tree.size
                acknowledged.append(size)
                log.add(f"entry {size}".encode())

    sender = threading.Thread(target=flood)
    sender.start()
    time.sleep(1.5)
    cosigner.process.kill()  # while requests arrive
    cosigner.process.wait(timeout=10)
    sender.join(timeout=30)
    assert set(statuses) == {200} and len(acknowledged) > 5
    cosigner = cosigners.start(data, cosigner.port)
    probe = httpx.post(cosigner.url, content=log.request(0), timeout=10)
    assert probe.status_code == 409
    kept = int(probe.text)
    assert kept >= acknowledged[-1]
    answer = httpx.post(cosigner.url, content=log.request(kept), timeout=10)
    assert answer.status_code == 200, answer.text
    verify(body_of(log.note()), answer.text.splitlines()[0],
           CosignerVerifier.from_vkey(key.vkey()))


def test_a_taken_port_is_refused_before_the_passphrase(tmp_path: Path) -> None:
    import socket

    vkey = HybridSigner.generate("log").vkey()
    assert amanat("cosigner", "add-log", "--data", str(tmp_path / "d"), "log", vkey
                  ).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = amanat("cosigner", "serve", "--data", str(tmp_path / "d"), "--port", str(port))
    assert done.returncode == 1 and "already in use" in done.stderr
