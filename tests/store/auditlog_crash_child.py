"""Child process for the audit-log crash test: appends batches forever, reporting each one.

Run as ``python -m tests.store.auditlog_crash_child DB RUN``, DB a SQLite file or a
``postgresql://`` DSN. After every append returns it
prints one JSON line (start index, count, run, first counter, signed checkpoint) and flushes,
so the parent knows exactly what was acknowledged and published before it kills this process.
"""

from __future__ import annotations

import json
import random
import sys

import nacl.signing

from vault.store import is_postgres_dsn
from vault.store.auditlog import AuditLog
from vault.store.pglog import PostgresAuditLog
from vault.tlog.note import Signer

ORIGIN = "crash.example/log"


def log_signer() -> Signer:
    return Signer(ORIGIN, nacl.signing.SigningKey(b"\x2a" * 32))


def open_log(location: object, signer: Signer, origin: str) -> AuditLog | PostgresAuditLog:
    """The audit log at ``location``: a SQLite file, or a PostgreSQL DSN."""
    if is_postgres_dsn(location):
        return PostgresAuditLog(str(location), signer, origin)
    return AuditLog(str(location), signer, origin)


def entry(run: int, counter: int) -> bytes:
    return f"run {run} entry {counter} ".encode() + bytes(counter % 97)


def main() -> None:
    path, run = sys.argv[1], int(sys.argv[2])
    rng = random.Random(run)
    log = open_log(path, log_signer(), ORIGIN)
    counter = 0
    print(json.dumps({"ready": log.size()}), flush=True)
    while True:
        count = rng.randint(1, 150)
        indices = log.append([entry(run, counter + i) for i in range(count)])
        report = {
            "start": indices[0],
            "count": len(indices),
            "run": run,
            "counter": counter,
            "checkpoint": log.latest_checkpoint(),
        }
        print(json.dumps(report), flush=True)
        counter += count


if __name__ == "__main__":
    main()
