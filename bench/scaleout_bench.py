"""Submissions through the embedded store and through PostgreSQL with 1 and 3 workers.

Three setups under the same bounded load, each on a fresh vault: one ``amanat serve --dev``
on SQLite and a blob directory (the embedded default); one worker with ``--store
postgresql://…``; three workers on one PostgreSQL database and one shared data directory,
the requests spread round-robin across them. In each, CLIENTS client threads (each a
`VaultClient` per worker) send SUBMISSIONS (384, or ``AMANAT_SCALEOUT_SUBMISSIONS``)
one-request submissions of 64 KiB in all, as fast as they are answered (a closed loop),
with the proof of work off (``AMANAT_WORK_QUIET_RATE=0``). A submission counts once the
server has stored it, logged it and answered with its receipt. It prints submissions/s, p50
and p99 per setup, the ratios between them, and where the CPU time went: the clients run on
the same cores as the workers and the database, so on a machine with few cores the figures
show the overhead of the scaled-out store, not what more workers on more machines would
give.

The server is ``AMANAT_BENCH_POSTGRES_DSN`` (a role that may create databases), else a
throwaway cluster on a Unix socket (the test suite's, tests/support.py); without either the
PostgreSQL setups are skipped. Every server is stopped and every temp dir removed at the end.

Run: ``python -m bench.scaleout_bench`` (part of ``make bench``); about 1 to 2 minutes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.pglog_bench import _server
from bench.service_bench import _in_threads, _org_vkey, _percentile, _start_server, _stop_server
from keys.roster import verify_roster
from vault import age
from vault.client import VaultClient

CLIENTS = 32
SUBMISSIONS = int(os.environ.get("AMANAT_SCALEOUT_SUBMISSIONS", "384"))
WORKERS = 3
SIZE = 64 * 1024
ENV = {"AMANAT_WORK_QUIET_RATE": "0"}
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    label: str
    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_clients: float = 0.0
    cpu_workers: float = 0.0
    cpu_database: float | None = None
    machine_busy: float = 0.0
    log_commits: int | None = None
    log_entries: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def row(self) -> str:
        return (f"  {self.label:<28}{self.rate:9.1f}{_percentile(self.latencies, 0.5) * 1e3:9.0f}"
                f"{_percentile(self.latencies, 0.99) * 1e3:9.0f}{len(self.latencies):6}"
                f"{len(self.errors):7}")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _machine_cpu() -> tuple[float, float]:
    """CPU seconds of the whole machine so far: busy (every process, ours or not), and all."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / TICK, sum(ticks[:8]) / TICK


@dataclass
class Database:
    """What PostgreSQL shows of the load: each backend's CPU seconds, where the server runs
    on this machine (its processes are in /proc; else none), and the log's size and count of
    signed checkpoints (one per commit of the log)."""

    cpu: dict[int, float]
    log_size: int
    checkpoints: int

    @classmethod
    def look(cls, dsn: str) -> Database:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            pids = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()")]
            size = conn.execute("SELECT size FROM log_coordinator").fetchone()
            count = conn.execute("SELECT count(*) FROM log_checkpoints").fetchone()
        cpu = {pid: _process_cpu(pid) for pid in pids if Path(f"/proc/{pid}").exists()}
        return cls(cpu, size[0] if size else 0, count[0] if count else 0)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _load(urls: Sequence[str], sealed: bytes, result: Result) -> None:
    """CLIENTS threads send SUBMISSIONS submissions in all, the n-th to ``urls[n % len]``."""
    numbers = itertools.count()
    lock = threading.Lock()

    def client() -> None:
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(VaultClient(url, timeout=120)) for url in urls]
            while True:
                with lock:
                    number = next(numbers)
                if number >= SUBMISSIONS:
                    return
                started = time.perf_counter()
                try:
                    clients[number % len(clients)].submit(sealed)
                except Exception as exc:
                    with lock:
                        result.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    result.latencies.append(elapsed)

    result.wall = _in_threads(lambda _: client(), CLIENTS)


def run(label: str, workers: int, dsn: str | None) -> Result:
    """Start ``workers`` servers on one fresh vault (on ``dsn``'s database, or the embedded
    store), put the load through them, stop them; what it measured."""
    result = Result(label)
    workdir = Path(tempfile.mkdtemp(prefix="amanat-scaleout-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for _ in range(workers):
            process, url, data = _start_server(workdir, ENV, ("--store", dsn) if dsn else ())
            processes.append(process)
            urls.append(url)
        with VaultClient(urls[0]) as first:
            roster = verify_roster(first.roster_text(), _org_vkey(data))
        sealed = age.encrypt_bytes(os.urandom(SIZE), roster.recipients())
        for url in urls:  # each worker's first submission (its connections) is not timed
            with VaultClient(url) as warm:
                warm.submit(sealed)
        before = Database.look(dsn) if dsn else None
        workers_before = sum(_process_cpu(p.pid) for p in processes)
        clients_before = _own_cpu()
        busy_before, _ = _machine_cpu()
        _load(urls, sealed, result)
        result.machine_busy = _machine_cpu()[0] - busy_before
        result.cpu_clients = _own_cpu() - clients_before
        result.cpu_workers = sum(_process_cpu(p.pid) for p in processes) - workers_before
        if dsn and before:
            after = Database.look(dsn)
            if after.cpu:
                result.cpu_database = sum(cpu - before.cpu.get(pid, 0.0)
                                          for pid, cpu in after.cpu.items())
            result.log_commits = after.checkpoints - before.checkpoints
            result.log_entries = after.log_size - before.log_size
    finally:
        for process in processes:
            _stop_server(process)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _cpu_line(result: Result) -> str:
    available = (os.cpu_count() or 1) * result.wall
    parts = [f"clients {result.cpu_clients:.1f} s", f"workers {result.cpu_workers:.1f} s"]
    if result.cpu_database is not None:
        parts.append(f"PostgreSQL backends {result.cpu_database:.1f} s")
    used = result.cpu_clients + result.cpu_workers + (result.cpu_database or 0.0)
    busy = min(1.0, result.machine_busy / available)
    line = (f"  {result.label:<28}{', '.join(parts)}\n  {'':<28}of {available:.1f} CPU-s: "
            f"{used / available:.0%} for the benchmark, {busy:.0%} for the whole machine")
    if result.log_commits:
        line += (f"\n  {'':<28}{result.log_entries} log entries in {result.log_commits} "
                 f"commits ({result.log_entries / result.log_commits:.1f} each)")
    return line


def _scaling_limit(results: Sequence[Result]) -> None:
    """The honest reading of the figures on this machine, from what was measured."""
    last = results[-1]
    available = (os.cpu_count() or 1) * last.wall
    own = last.cpu_clients + last.cpu_workers + (last.cpu_database or 0.0)
    text = (f"Scaling limit: the clients, the workers and PostgreSQL share {os.cpu_count()} "
            f"cores (during \"{last.label}\" the machine was "
            f"{min(1.0, last.machine_busy / available):.0%} busy, {own / available:.0%} for "
            "the benchmark, the rest for other processes).")
    committed = [r for r in results if r.log_commits]
    if len(committed) == 2:
        one, three = committed
        text += (" One log means one commit at a time under one lock whatever the number of "
                 "workers, and each worker's group commit merges only the submissions that "
                 f"reach it: {one.log_entries / (one.log_commits or 1):.1f} entries per commit"
                 f" with 1 worker, {three.log_entries / (three.log_commits or 1):.1f} with "
                 f"{WORKERS}.")
    text += (f" So {WORKERS} workers here cannot go {WORKERS} times as fast as 1: these "
             "figures show the shared store's overhead; more workers, on more machines, buy "
             "availability and request handling, not log throughput.")
    print(textwrap.fill(text, width=98, initial_indent="  ", subsequent_indent="  "))


def main() -> int:
    from tests.support import create_database, drop_database

    print(f"amanat scale-out bench: {CLIENTS} clients, {SUBMISSIONS} submissions of "
          f"{SIZE // 1024} KiB per setup, proof of work off, {os.cpu_count()} CPUs")
    results = [run("SQLite, 1 process", 1, None)]
    with _server() as server:
        if server is None:
            print("  PostgreSQL: skipped (none could be started: set AMANAT_BENCH_POSTGRES_DSN, "
                  "or install the server so that a throwaway cluster can be started)")
        else:
            for workers in (1, WORKERS):
                database = create_database(server)
                try:
                    plural = "s" if workers > 1 else ""
                    results.append(run(f"PostgreSQL, {workers} worker{plural}", workers,
                                       database))
                finally:
                    drop_database(server, database)
    print(f"  {'':<28}{'subm./s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ok':>6}{'errors':>7}")
    for result in results:
        print(result.row())
    if len(results) == 3:
        sqlite, one, three = results
        print(f"  ratios: PostgreSQL 1 worker / SQLite {one.rate / sqlite.rate:.2f}; "
              f"3 workers / 1 worker {three.rate / one.rate:.2f}; "
              f"3 workers / SQLite {three.rate / sqlite.rate:.2f}")
    print("  CPU seconds during the load:")
    for result in results:
        print(_cpu_line(result))
    if len(results) == 3:
        _scaling_limit(results)
    for result in results:
        if result.errors:
            print(f"  first error, {result.label}: {result.errors[0]}")
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
