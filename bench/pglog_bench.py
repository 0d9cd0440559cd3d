"""The audit log on PostgreSQL: appends/s from one and from three writers, and proof latency
at 10**6 entries, against the SQLite log measured the same way on the same machine.

Several workers append to one PostgreSQL log, each append taking the coordinator row's lock,
so appends from three writers do not run three times as fast: they show what the lock costs
(the scaling limit is one commit at a time, whatever the number of workers; batching, as the
service's group commit does, is what raises throughput). The server is
``AMANAT_BENCH_POSTGRES_DSN`` (a role that may create databases), else a throwaway cluster on
a Unix socket (the test suite's, tests/support.py), else the benchmark is skipped.

Run: ``python -m bench.pglog_bench [--entries N]`` (or through ``python -m bench``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.auditlog_bench import BATCH, FILL_BATCH, ORIGIN, SINGLE_APPENDS, _entry
from vault.store.auditlog import AuditLog
from vault.tlog.note import Signer

BATCHES = 10
PROOF_SAMPLES = 1000
WRITERS = 3


@contextmanager
def _server() -> Iterator[str | None]:
    given = os.environ.get("AMANAT_BENCH_POSTGRES_DSN")
    if given:
        yield given
        return
    from tests.support import POSTGRES_BIN, PostgresCluster

    if not (POSTGRES_BIN / "initdb").exists():
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="amanat-pgbench-", dir="/tmp"))
    try:
        cluster = PostgresCluster(root)
    except (OSError, subprocess.SubprocessError) as exc:
        stderr = getattr(exc, "stderr", None) or b""
        print(f"PostgreSQL did not start: {exc} {stderr.decode(errors='replace').strip()}")
        shutil.rmtree(root, ignore_errors=True)
        yield None
        return
    try:
        yield cluster.dsn
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _appends_per_second(logs: Sequence[object], count: int) -> float:
    """One-entry appends per second, ``count`` in all, split over one thread per log."""
    def writer(log: object, number: int) -> None:
        for i in range(count // len(logs)):
            log.append([_entry(number * count + i)])  # type: ignore[attr-defined]

    threads = [threading.Thread(target=writer, args=(log, n)) for n, log in enumerate(logs)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - started)


def _batched_per_second(log: object) -> float:
    started = time.perf_counter()
    for b in range(BATCHES):
        log.append([_entry(b * BATCH + i) for i in range(BATCH)])  # type: ignore[attr-defined]
    return BATCHES * BATCH / (time.perf_counter() - started)


def _latency(samples: int, action: Callable[[int], object], upper: int) -> tuple[float, float]:
    """Mean and 99th percentile (ms) of ``action`` at random points below ``upper``."""
    rng = random.Random(7)
    times = []
    for _ in range(samples):
        point = rng.randrange(upper)
        started = time.perf_counter()
        action(point)
        times.append((time.perf_counter() - started) * 1e3)
    times.sort()
    return statistics.fmean(times), times[int(len(times) * 0.99) - 1]


def run(dsn: str, total: int) -> None:
    from tests.support import create_database, drop_database
    from vault.store.pglog import PostgresAuditLog

    signer = Signer.generate(ORIGIN)
    with tempfile.TemporaryDirectory(prefix="amanat-pglog-bench-") as tmp:
        sqlite_log = AuditLog(Path(tmp) / "auditlog.sqlite3", signer, ORIGIN)
        sqlite_single = _appends_per_second([sqlite_log], SINGLE_APPENDS)
        sqlite_batched = _batched_per_second(sqlite_log)
        sqlite_log.close()
    database = create_database(dsn)
    try:
        logs = [PostgresAuditLog(database, signer, ORIGIN) for _ in range(WRITERS)]
        single = _appends_per_second(logs[:1], SINGLE_APPENDS)
        three = _appends_per_second(logs, SINGLE_APPENDS * WRITERS)
        batched = _batched_per_second(logs[0])
        print(f"{'':40}{'PostgreSQL':>12}{'SQLite':>10}{'ratio':>8}")
        print(f"{'appends/s, 1 entry, 1 writer':40}{single:12,.0f}{sqlite_single:10,.0f}"
              f"{single / sqlite_single:8.2f}")
        print(f"{f'appends/s, 1 entry, {WRITERS} writers (one lock)':40}{three:12,.0f}"
              f"{'':>10}{three / single:8.2f} (vs 1 writer)")
        print(f"{f'entries/s, {BATCH} per append':40}{batched:12,.0f}{sqlite_batched:10,.0f}"
              f"{batched / sqlite_batched:8.2f}")
        log = logs[0]
        started = time.perf_counter()
        while (size := log.size()) < total:
            log.append([_entry(size + i) for i in range(min(FILL_BATCH, total - size))])
        fill = time.perf_counter() - started
        size = log.size()
        print(f"filled to {size:,} entries in {fill:.0f} s (batches of {FILL_BATCH})")
        for name, action in (
            ("inclusion proof", lambda i: log.inclusion_proof(i, size)),
            ("consistency proof", lambda old: log.consistency_proof(old + 1, size)),
            ("receipt (tlog-proof)", log.receipt),
        ):
            mean, p99 = _latency(PROOF_SAMPLES, action, size)
            print(f"  {name:22}mean {mean:6.2f} ms   p99 {p99:6.2f} ms")
        started = time.perf_counter()
        PostgresAuditLog(database, signer, ORIGIN).close()
        print(f"  {'open + state check':22}{(time.perf_counter() - started) * 1e3:6.0f} ms")
        for opened in logs:
            opened.close()
    finally:
        drop_database(dsn, database)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=10**6, help="log size for proof timings")
    args = parser.parse_args(argv)
    with _server() as dsn:
        if dsn is None:
            print("skipped: no PostgreSQL (set AMANAT_BENCH_POSTGRES_DSN)")
            return 0
        run(dsn, max(args.entries, SINGLE_APPENDS * (WRITERS + 1) + BATCHES * BATCH + 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
