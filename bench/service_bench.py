"""Benchmark of the vault server: sustained submissions and upload throughput.

Starts a real server (``python -m vault.cli serve --dev``) on a temp data directory, then:

* 16 concurrent clients submit 64 KiB and then 10 MiB sealed testimonies for a fixed time
  each; prints submissions/s and p50/p99 latency (every submission is fsynced, logged and
  answered with a receipt before it counts);
* uploads one 512 MiB sealed file and prints its throughput as a ratio to the raw
  sequential write speed of the same disk, measured in the same run with
  ``dd if=/dev/zero of=FILE bs=1M count=512 conv=fsync`` (the anchor).

Bounded to about 30 s. Run: ``python -m bench.service_bench``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from keys.roster import verify_roster  # noqa: E402
from vault import age  # noqa: E402
from vault.client import VaultClient  # noqa: E402

CLIENTS = 16
PHASE_SECONDS = 7.0
MIB = 1024 * 1024
UPLOAD_MIB = 512


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(workdir: Path, env_extra: dict[str, str] | None = None,
                  extra_args: Sequence[str] = ()
                  ) -> tuple[subprocess.Popen[bytes], str, Path]:
    """An `amanat serve --dev` on ``workdir/data`` (several calls with one ``workdir`` and a
    shared ``--store`` in ``extra_args`` start workers of one vault)."""
    data = workdir / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env.update(env_extra or {}, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "vault.cli", "serve", "--data", str(data), "--port", str(port),
         "--dev", *extra_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/api/v1/roster", timeout=2).status_code == 200:
                return process, url, data
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def _stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if the server is not gone within 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _org_vkey(data: Path) -> str:
    from keys.org import OrgKey

    passphrase = (data / "dev" / "passphrase.txt").read_text().strip()
    return OrgKey.unseal((data / "dev" / "org.key").read_bytes(), passphrase).vkey()


def _submissions(url: str, sealed: bytes, seconds: float) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        with VaultClient(url) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    client.submit(sealed)
                except Exception:
                    with lock:
                        errors += 1
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

    wall = _in_threads(lambda _: worker(), CLIENTS)
    return len(latencies) / wall, latencies, errors


def _in_threads(target: Callable[[int], None], count: int) -> float:
    """Run ``target(0)`` … ``target(count - 1)``, each in its own thread; the wall seconds
    until the last one ends."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _dd_speed(workdir: Path) -> float:
    """MiB/s of ``dd if=/dev/zero bs=1M count=512 conv=fsync`` on the data disk."""
    target = workdir / "dd.bin"
    os.sync()  # do not let earlier writes slow the anchor down
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={UPLOAD_MIB}",
                    "conv=fsync"], check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    target.unlink()
    return UPLOAD_MIB / elapsed


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="amanat-bench-"))
    process, url, data = _start_server(workdir)
    try:
        with VaultClient(url) as client:
            roster = verify_roster(client.roster_text(), _org_vkey(data))
        recipients = roster.recipients()
        print(f"amanat service bench: {CLIENTS} clients, {PHASE_SECONDS:.0f} s per size, "
              f"{os.cpu_count()} CPUs")
        for label, size in (("64 KiB", 64 * 1024), ("10 MiB", 10 * MIB)):
            sealed = age.encrypt_bytes(os.urandom(size), recipients)
            rate, latencies, errors = _submissions(url, sealed, PHASE_SECONDS)
            p50 = _percentile(latencies, 0.5) * 1000
            p99 = _percentile(latencies, 0.99) * 1000
            print(f"  submissions {label:>6}: {rate:8.1f}/s   p50 {p50:7.1f} ms   "
                  f"p99 {p99:7.1f} ms   "
                  f"({len(latencies)} ok, {errors} errors, {rate * size / MIB:.0f} MiB/s)")
        raw = _dd_speed(workdir)
        big = workdir / "upload.age"
        with open(big, "wb") as dst:
            age.encrypt(io.BufferedReader(_Zeros(UPLOAD_MIB * MIB), MIB), dst, recipients)
        size = big.stat().st_size
        os.sync()
        with VaultClient(url, timeout=300) as client, open(big, "rb") as src:
            started = time.perf_counter()
            client.submit(src)
            elapsed = time.perf_counter() - started
        speed = size / MIB / elapsed
        print(f"  upload {UPLOAD_MIB} MiB: {speed:7.1f} MiB/s; raw disk (dd conv=fsync) "
              f"{raw:7.1f} MiB/s; ratio {speed / raw:.2f}")
    finally:
        _stop_server(process)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
