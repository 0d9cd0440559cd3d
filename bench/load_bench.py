"""Load benchmark: 64 concurrent clients mixing everything the vault does, for a fixed count.

Starts a real server (``python -m vault.cli serve --dev``) on a temp data directory and
runs 64 client threads, each doing ``OPS_PER_CLIENT`` operations drawn (seeded) from this
mix: one-request submissions of 64 KiB and of 10 MiB, resumable uploads (256 KiB in 64 KiB
appends), investigators' downloads of stored testimony (each logged), replies, mailbox
polls, and log reads (checkpoint, entries, an inclusion proof). Every client is a
`VaultClient`, so it solves the proof of work when the server asks.

It runs twice: with the proof of work off (``AMANAT_WORK_QUIET_RATE=0``), and with it as it is
by default (asked past 2 admitted anonymous writes a second: under this load it is asked, and
its difficulty rises with the rate). For each it prints operations per second, p50 and p99
per operation, the errors (there must be none) and the server's peak RSS (VmHWM), against
the goal: at least 100 mixed operations a second with p99 under 1 s, no error, RSS under
300 MiB.

Bounded: a fixed count of operations, each with a timeout. Run:
``python -m bench.load_bench`` (part of ``make bench``).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service_bench import _org_vkey, _percentile, _start_server  # noqa: E402
from keys.identity import InvestigatorIdentity  # noqa: E402
from keys.roster import verify_roster  # noqa: E402
from vault import age  # noqa: E402
from vault.client import VaultClient  # noqa: E402
from vault.codename import derive, new_codename  # noqa: E402
from vault.replytext import pad_reply  # noqa: E402

CLIENTS = 64
OPS_PER_CLIENT = int(os.environ.get("AMANAT_LOAD_OPS", "25"))
KIB = 1024
MIB = 1024 * KIB
MIX: tuple[tuple[str, int], ...] = (
    ("submit 64 KiB", 30),
    ("submit 10 MiB", 2),
    ("upload 256 KiB", 10),
    ("download", 15),
    ("reply", 6),
    ("mailbox poll", 15),
    ("log read", 22),
)
GOAL_OPS = 100.0
GOAL_P99 = 1.0
GOAL_RSS_MIB = 300


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(label: str, env_extra: dict[str, str]) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix="amanat-load-"))
    process, url, data = _start_server(workdir, env_extra)
    try:
        passphrase = (data / "dev" / "passphrase.txt").read_text().strip()
        investigator = InvestigatorIdentity.unseal(
            (data / "dev" / "investigator.identity").read_bytes(), passphrase)
        with VaultClient(url) as client:
            roster = verify_roster(client.roster_text(), _org_vkey(data))
        log_vkey = roster.log_vkey or ""
        recipients = roster.recipients()
        small = age.encrypt_bytes(os.urandom(64 * KIB), recipients)
        large = age.encrypt_bytes(os.urandom(10 * MIB), recipients)
        upload = age.encrypt_bytes(os.urandom(256 * KIB), recipients)
        keys = derive(new_codename())
        reply = age.encrypt_bytes(pad_reply("an answer " * 100), [keys.reply_identity.recipient()])

        def sign(message: bytes) -> bytes:
            return bytes(investigator.auth_signing_key().sign(message).signature)

        stored: list[str] = []
        with VaultClient(url) as client:
            token = client.login(investigator.key_id, sign, log_vkey)
            for _ in range(8):  # something to download from the start
                stored.append(client.submit(small).id)

        latencies: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, list[str]] = defaultdict(list)
        lock = threading.Lock()
        names = [name for name, _ in MIX]
        weights = [weight for _, weight in MIX]

        def worker(number: int) -> None:
            rng = random.Random(number)
            with VaultClient(url, timeout=120) as anonymous, \
                    VaultClient(url, timeout=120, token=token) as staff:
                operations: dict[str, Callable[[], object]] = {
                    "submit 64 KiB": lambda: stored.append(anonymous.submit(small).id),
                    "submit 10 MiB": lambda: anonymous.submit(large),
                    "upload 256 KiB": lambda: anonymous.upload(io.BytesIO(upload),
                                                               chunk_bytes=64 * KIB),
                    "download": lambda: staff.download(rng.choice(stored), io.BytesIO()),
                    "reply": lambda: staff.post_reply(keys.mailbox_id, reply),
                    "mailbox poll": lambda: anonymous.replies(keys.mailbox_secret),
                    "log read": lambda: log_read(anonymous),
                }
                for _ in range(OPS_PER_CLIENT):
                    name = rng.choices(names, weights)[0]
                    started = time.perf_counter()
                    try:
                        operations[name]()
                    except Exception as exc:
                        with lock:
                            errors[name].append(f"{type(exc).__name__}: {exc}")
                        continue
                    with lock:
                        latencies[name].append(time.perf_counter() - started)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
        rss = vm_hwm_mib(process.pid)
        with VaultClient(url) as client:
            work = httpx.get(url + "/api/v1/work", timeout=10).json()  # the difficulty now
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    done = sum(len(v) for v in latencies.values())
    failed = sum(len(v) for v in errors.values())
    every = [x for values in latencies.values() for x in values]
    rate = done / wall
    p99 = _percentile(every, 0.99)
    print(f"\n  {label}: {CLIENTS} clients x {OPS_PER_CLIENT} operations in {wall:.1f} s "
          f"(proof of work asked now: {work['bits']} bits)")
    print(f"    {'operation':<16} {'count':>6} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for name, _ in MIX:
        values = latencies.get(name, [])
        print(f"    {name:<16} {len(values):>6} {_percentile(values, 0.5) * 1000:>9.1f} "
              f"{_percentile(values, 0.99) * 1000:>9.1f} {len(errors.get(name, [])):>7}")
    print(f"    all              {done:>6} {_percentile(every, 0.5) * 1000:>9.1f} "
          f"{p99 * 1000:>9.1f} {failed:>7}")
    for name, messages in errors.items():
        print(f"    first error in {name}: {messages[0]}")
    ok = rate >= GOAL_OPS and p99 < GOAL_P99 and failed == 0 and rss < GOAL_RSS_MIB
    print(f"    {rate:.1f} operations/s (goal >= {GOAL_OPS:.0f}: {rate / GOAL_OPS:.2f}x), "
          f"p99 {p99 * 1000:.0f} ms (goal < {GOAL_P99 * 1000:.0f}), {failed} errors "
          f"(goal 0), server peak RSS {rss:.0f} MiB (goal < {GOAL_RSS_MIB}): "
          f"{'met' if ok else 'NOT met'}")
    return failed == 0


def log_read(client: VaultClient) -> None:
    from vault.tlog.checkpoint import Checkpoint

    text = client.checkpoint()
    size = Checkpoint.parse(text.split("\n\n", 1)[0] + "\n").size
    start = max(0, size - 10)
    client.entries(start, size)
    client.inclusion_proof(start, size)


def main() -> int:
    print(f"amanat load bench: {CLIENTS} clients, {OPS_PER_CLIENT} operations each, "
          f"{os.cpu_count()} CPUs; mix "
          + ", ".join(f"{name} {weight}%" for name, weight in MIX))
    ok = run("proof of work off", {"AMANAT_WORK_QUIET_RATE": "0"})
    ok = run("proof of work as by default", {}) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
