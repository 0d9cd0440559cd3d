"""Cosigning cost per checkpoint: three real `amanat cosigner serve` processes on 127.0.0.1.

For each of N checkpoints, the time from the log's append (one entry, one signed checkpoint)
until the vault's collector (vault/service/cosigning.py) has kept valid cosignatures from all
three cosigners (Ed25519 and ML-DSA-44 each), against the append alone as the anchor; then
what a client pays to check the policy on such a checkpoint (six cosignatures, 3 of 3) in
Python, against checking the log's own two signatures (Ed25519 and ML-DSA-44).

Run: ``python -m bench.cosign_bench [--checkpoints N]`` (or through ``python -m bench``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from keys.cosigner import CosignerKey
from vault.cosigner.store import CosignerStore
from vault.service.cosigning import CosignatureCollector
from vault.store.auditlog import AuditLog
from vault.tlog.checkpoint import open_checkpoint
from vault.tlog.cosigning import Cosigner, CosigningPolicy
from vault.tlog.note import HybridSigner

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "bench.example/log"
PASSPHRASE = "quartz meadow lantern orbit velvet cactus"
COSIGNERS = 3
CHECKPOINTS = 100
VERIFICATIONS = 200
READY_SECONDS = 60.0
COSIGNED_SECONDS = 30.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(directory: Path, number: int, log_vkey: str) -> tuple[subprocess.Popen[bytes], Cosigner]:
    key = CosignerKey.generate(f"c{number}.bench.example/cosigner")
    data = directory / f"cosigner-{number}"
    store = CosignerStore(data, create=True)
    store.add_log(ORIGIN, log_vkey)
    store.close()
    (data / "cosigner.key").write_bytes(key.seal(PASSPHRASE))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env.update(PYTHONPATH=str(ROOT), AMANAT_PASSPHRASE=PASSPHRASE)
    process = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", "cosigner", "serve", "--data", str(data),
         "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    return process, Cosigner.from_vkeys(*key.vkeys(), f"http://127.0.0.1:{port}")


def _wait_ready(process: subprocess.Popen[bytes], cosigner: Cosigner) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cosigner {cosigner.name} exited")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(cosigner.url + "/add-checkpoint", timeout=2).status_code == 405:
                return
        time.sleep(0.1)
    raise RuntimeError(f"cosigner {cosigner.name} did not start")


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(len(ordered) * 0.9) - 1] if len(ordered) >= 10 else ordered[-1]
    return (f"median {statistics.median(ordered) * 1000:7.2f} ms, "
            f"p90 {p90 * 1000:7.2f} ms, mean {statistics.fmean(ordered) * 1000:7.2f} ms")


def run(checkpoints: int) -> int:
    with tempfile.TemporaryDirectory(prefix="amanat-cosign-bench-") as scratch:
        directory = Path(scratch)
        signer = HybridSigner.generate(ORIGIN)
        log = AuditLog(directory / "log.sqlite3", signer, ORIGIN)
        started = [_start(directory, n, signer.vkey()) for n in range(COSIGNERS)]
        collector: CosignatureCollector | None = None
        try:
            for process, cosigner in started:
                _wait_ready(process, cosigner)
            policy = CosigningPolicy(COSIGNERS, tuple(c for _, c in started))
            kept = threading.Event()
            collector = CosignatureCollector(log, lambda: policy, on_cosigned=kept.set)
            collector.start()
            appends: list[float] = []
            cosigned: list[float] = []
            for number in range(checkpoints):
                before = time.perf_counter()
                log.append([f"bench entry {number}".encode()])
                appended = time.perf_counter()
                collector.notify()
                size = log.size()
                while True:
                    kept.clear()  # before the check: a cosignature kept meanwhile sets it
                    if policy.is_cosigned(log.cosigned_checkpoint_at(size)):
                        break
                    if time.perf_counter() - before > COSIGNED_SECONDS:
                        raise RuntimeError(f"checkpoint {size} not cosigned within "
                                           f"{COSIGNED_SECONDS} s")
                    kept.wait(0.05)
                done = time.perf_counter()
                appends.append(appended - before)
                cosigned.append(done - before)
            note = log.cosigned_checkpoint_at(log.size())
            verifier = signer.verifier()
            t0 = time.perf_counter()
            for _ in range(VERIFICATIONS):
                open_checkpoint(note, verifier, ORIGIN)
            log_signature = (time.perf_counter() - t0) / VERIFICATIONS
            t0 = time.perf_counter()
            for _ in range(VERIFICATIONS):
                policy.check(note)
            policy_check = (time.perf_counter() - t0) / VERIFICATIONS
        finally:
            if collector is not None:
                collector.stop()
            for process, _ in started:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
            log.close()
    append_median = statistics.median(appends)
    cosign_median = statistics.median(cosigned)
    print(f"{checkpoints} checkpoints, {COSIGNERS} cosigners on 127.0.0.1 "
          "(each answers Ed25519 + ML-DSA-44), all required")
    print(f"  append alone (anchor: sign + commit):   {_ms(appends)}")
    print(f"  append until cosigned by all {COSIGNERS}:      {_ms(cosigned)}")
    print(f"  cosigning adds per checkpoint: {(cosign_median - append_median) * 1000:.2f} ms "
          f"(x{cosign_median / append_median:.1f} the append alone)")
    print(f"  verify the log's two signatures:           {log_signature * 1e6:8.1f} us")
    print(f"  verify the policy ({COSIGNERS} of {COSIGNERS}, 6 cosignatures): "
          f"{policy_check * 1e6:8.1f} us (x{policy_check / log_signature:.1f} the log's "
          "signature)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=CHECKPOINTS)
    args = parser.parse_args(argv if argv is not None else [])
    return run(args.checkpoints)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
