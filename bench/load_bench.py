"""Load benchmark: 64 concurrent clients mixing everything the vault does, for a fixed count.

Starts a real server (``python -m vault.cli serve --dev``) on a temp data directory and
runs 64 client threads over ``64 * OPS_PER_CLIENT`` operations drawn (seeded) from this
mix: one-request submissions of 64 KiB and of 10 MiB, resumable uploads (256 KiB in 64 KiB
appends), investigators' downloads of stored testimony (each logged), replies, mailbox
polls, and log reads (checkpoint, entries, an inclusion proof). Every client is a
`VaultClient`, so it solves the proof of work when the server asks.

It runs twice: with the proof of work off (``AMANAT_WORK_QUIET_RATE=0``), and with it as it is
by default (asked past 2 admitted anonymous writes a second: under this load it is asked, and
its difficulty rises with the rate). Each run has two phases on one server:

1. throughput: every client starts its next operation as soon as its last one ends (a
   closed loop): the most operations a second the server gives 64 busy clients. Latency in
   this phase is mostly queueing (64 requests waiting at once), so it is printed but not
   judged;
2. latency at the goal's rate: the same count of operations offered at 100 a second (the
   moments of a seeded Poisson process, taken by whichever client is free), each latency
   counted from when the operation was due, so waiting for a client counts too.

The payloads are sealed once, before anything is timed (a witness seals on their own
device, not on the server's cores), and each phase's clock starts once its 64 clients are
made; what is timed is the real HTTP operations against the real server, each client
keeping its connections alive as `VaultClient` does.

It prints p50 and p99 per operation, the errors (there must be none) and the server's peak
RSS (VmHWM), against the goal: at least 100 mixed operations a second (phase 1), p99 under
1 s at 100 a second (phase 2), no error, RSS under 300 MiB.

Bounded: a fixed count of operations, each with a timeout. Run:
``python -m bench.load_bench`` (part of ``make bench``).
"""

from __future__ import annotations

import io
import os
import random
import shutil
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

from bench.service_bench import (  # noqa: E402
    _in_threads,
    _org_vkey,
    _percentile,
    _start_server,
    _stop_server,
)
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


class Phase:
    """What one phase measured: latencies and errors per operation, and its wall time."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.wall = 0.0
        self._lock = threading.Lock()

    def record(self, name: str, seconds: float | None, error: str | None = None) -> None:
        with self._lock:
            if error is None:
                self.latencies[name].append(seconds or 0.0)
            else:
                self.errors[name].append(error)

    @property
    def every(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    @property
    def failed(self) -> int:
        return sum(len(v) for v in self.errors.values())

    @property
    def rate(self) -> float:
        return len(self.every) / self.wall if self.wall else 0.0

    def report(self, title: str) -> None:
        print(f"    {title}: {len(self.every) + self.failed} operations in {self.wall:.1f} s, "
              f"{self.rate:.1f}/s")
        print(f"      {'operation':<16} {'count':>6} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
        for name, _ in MIX:
            values = self.latencies.get(name, [])
            print(f"      {name:<16} {len(values):>6} {_percentile(values, 0.5) * 1000:>9.1f} "
                  f"{_percentile(values, 0.99) * 1000:>9.1f} {len(self.errors.get(name, [])):>7}")
        every = self.every
        print(f"      all              {len(every):>6} {_percentile(every, 0.5) * 1000:>9.1f} "
              f"{_percentile(every, 0.99) * 1000:>9.1f} {self.failed:>7}")
        for name, messages in self.errors.items():
            print(f"      first error in {name}: {messages[0]}")


class Start:
    """The moment a phase's clock starts: once all its clients are made (a client is set up
    on the witness's device before anything is sent, so making one is not an operation)."""

    def __init__(self) -> None:
        self.origin = 0.0
        self._all_ready = threading.Barrier(CLIENTS, action=self._go)

    def _go(self) -> None:
        self.origin = time.perf_counter()

    def wait(self) -> float:
        """Wait until every client is ready; the phase's origin."""
        self._all_ready.wait()
        return self.origin

    def timed(self, target: Callable[[int], None]) -> float:
        """Run ``target`` in each of the clients' threads; the wall seconds from the
        origin until the last one ends."""
        _in_threads(target, CLIENTS)
        return time.perf_counter() - self.origin


def run(label: str, env_extra: dict[str, str]) -> bool:
    """Two phases on one server: as fast as 64 clients go (the throughput), then the same
    count offered at the goal's rate (the latency a witness sees at that load)."""
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

        stored: list[str] = []
        with VaultClient(url) as client:
            token = client.login(investigator.key_id, investigator.sign_login, log_vkey)
            for _ in range(8):  # something to download from the start
                stored.append(client.submit(small).id)

        names = [name for name, _ in MIX]
        weights = [weight for _, weight in MIX]

        def operations(anonymous: VaultClient, staff: VaultClient,
                       rng: random.Random) -> dict[str, Callable[[], object]]:
            return {
                "submit 64 KiB": lambda: stored.append(anonymous.submit(small).id),
                "submit 10 MiB": lambda: anonymous.submit(large),
                "upload 256 KiB": lambda: anonymous.upload(io.BytesIO(upload),
                                                           chunk_bytes=64 * KIB),
                "download": lambda: staff.download(rng.choice(stored), io.BytesIO()),
                "reply": lambda: staff.post_reply(keys.mailbox_id, reply),
                "mailbox poll": lambda: anonymous.replies(keys.mailbox_secret),
                "log read": lambda: log_read(anonymous),
            }

        def attempt(phase: Phase, name: str, operation: Callable[[], object],
                    since: float) -> None:
            """Run one operation; its latency counts from ``since`` (when it was due)."""
            try:
                operation()
            except Exception as exc:
                phase.record(name, None, f"{type(exc).__name__}: {exc}")
                return
            phase.record(name, time.perf_counter() - since)

        # Phase 1, throughput: each client starts its next operation as soon as the last
        # one ends (a closed loop), so the server is as busy as 64 clients can make it.
        saturated = Phase()
        start = Start()

        def closed(number: int) -> None:
            rng = random.Random(number)
            with VaultClient(url, timeout=120) as anonymous, \
                    VaultClient(url, timeout=120, token=token) as staff:
                chosen = operations(anonymous, staff, rng)
                start.wait()
                for _ in range(OPS_PER_CLIENT):
                    name = rng.choices(names, weights)[0]
                    attempt(saturated, name, chosen[name], time.perf_counter())

        saturated.wall = start.timed(closed)

        # Phase 2, latency at the goal's rate: the same count of operations, due at the
        # moments of a seeded Poisson process of GOAL_OPS a second, taken by whichever of the
        # 64 clients is free. Latency counts from when an operation was due, so one that
        # waits for a free client counts its wait (no coordinated omission).
        paced = Phase()
        total = CLIENTS * OPS_PER_CLIENT
        schedule = random.Random(1)
        due, moment = [], 0.0
        for _ in range(total):
            moment += schedule.expovariate(GOAL_OPS)
            due.append((moment, schedule.choices(names, weights)[0]))
        next_due = iter(due)
        take = threading.Lock()
        start = Start()

        def open_loop(number: int) -> None:
            rng = random.Random(10_000 + number)
            with VaultClient(url, timeout=120) as anonymous, \
                    VaultClient(url, timeout=120, token=token) as staff:
                chosen = operations(anonymous, staff, rng)
                origin = start.wait()
                while True:
                    with take:
                        item = next(next_due, None)
                    if item is None:
                        return
                    at, name = item
                    wait = origin + at - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    attempt(paced, name, chosen[name], origin + at)

        paced.wall = start.timed(open_loop)
        rss = vm_hwm_mib(process.pid)
        work = httpx.get(url + "/api/v1/work", timeout=10).json()  # the difficulty now
    finally:
        _stop_server(process)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n  {label} (proof of work asked at the end: {work['bits']} bits)")
    saturated.report(f"1. throughput, {CLIENTS} clients as fast as they go")
    paced.report(f"2. latency, the same mix offered at {GOAL_OPS:.0f}/s (Poisson)")
    p99 = _percentile(paced.every, 0.99)
    failed = saturated.failed + paced.failed
    ok = (saturated.rate >= GOAL_OPS and p99 < GOAL_P99 and failed == 0
          and rss < GOAL_RSS_MIB)
    print(f"    {saturated.rate:.1f} operations/s at most (goal >= {GOAL_OPS:.0f}: "
          f"{saturated.rate / GOAL_OPS:.2f}x); p99 {p99 * 1000:.0f} ms at {GOAL_OPS:.0f}/s "
          f"(goal < {GOAL_P99 * 1000:.0f}); {failed} errors (goal 0); server peak RSS "
          f"{rss:.0f} MiB (goal < {GOAL_RSS_MIB}): {'met' if ok else 'NOT met'}")
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
