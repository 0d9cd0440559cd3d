"""`amanat fsck`: hold a stopped server's data directory to its audit log, and repair what
the log allows.

Protects DESIGN guarantee 4 ("nobody can silently drop a testimony") after a restore or a
hand edit: the log is the record of truth. ``fsck`` does what every start does (vault/service/
consistency.py): sealed files with no row are moved to ``quarantine/`` and named, never
removed; then it names every submission, reply or roster the log records that the database
or the blob directory lost. ``--repair`` first records again each logged, undeleted
submission whose sealed file is still kept (in ``blobs/`` or ``quarantine/``) and matches its
log entry's SHA-256 and size, and logs as new submissions the well-formed sealed files in
quarantine that no entry records. Beyond what a start does, fsck recomputes the whole
Merkle tree against every signed checkpoint and reads every held sealed file against its log
entry (``damaged:`` lines), and names every file kept in quarantine (``kept:`` lines). Exit 0
when the data directory agrees with the log, 1 when something is missing or damaged (one line
each), 2 when it cannot be checked. A data directory whose sealed files are in a bucket
(``serve --blobs``) is checked there, reached with the same flags as ``serve``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError


def cmd_fsck(args: argparse.Namespace) -> int:
    from vault.cli.serve_cmd import blob_storage
    from vault.service.setup import SetupError, check_data_dir
    from vault.store import DataDirBusyError, StoreError
    from vault.store.auditlog import AuditLogError, LogCorruptedError

    logging.basicConfig(format="amanat: %(levelname)s %(message)s", level=logging.WARNING)
    data_dir = Path(args.data)
    try:
        done, report = check_data_dir(data_dir, repair=args.repair,
                                      blobs=blob_storage(args, data_dir),
                                      store_dsn=getattr(args, "store", None)
                                      or os.environ.get("AMANAT_STORE"))
    except DataDirBusyError:
        raise CLIError(f"{data_dir} is in use: stop the server first", 2) from None
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise CLIError(f"{data_dir} is in use: stop the server first", 2) from None
        raise CLIError(f"cannot open {data_dir}: {exc}", 2) from None
    except LogCorruptedError as exc:
        print(f"amanat: damaged: the audit log ({data_dir}/auditlog.sqlite3): {exc}",
              file=sys.stderr)
        raise CLIError("the audit log does not hold: restore it from a backup (DEPLOY.md "
                       "§7); nothing else was checked") from None
    except (SetupError, AuditLogError, StoreError, OSError) as exc:
        raise CLIError(f"cannot check {data_dir}: {exc}", 2) from None
    for line in done:
        print(f"amanat: {line}")
    for line in report.kept:
        print(f"amanat: kept: {line}")
    if not report.consistent:
        for problem in report.problems:
            print(f"amanat: missing: {problem}", file=sys.stderr)
        for problem in report.damaged:
            print(f"amanat: damaged: {problem}", file=sys.stderr)
        raise CLIError(report.refusal())
    print(f"ok: the database and the sealed files agree with the log (size "
          f"{report.log_size}): {report.logged} submissions held")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fsck",
        help="check a stopped server's data directory against its audit log",
        description=(
            "Check a stopped server's data directory against its audit log, the record of "
            "truth: quarantine sealed files with no database row (never removing them) and "
            "name every submission, reply or roster the log records but the database or the "
            "blob directory lost; recompute the log's tree against every signed checkpoint "
            "and read every sealed file against its log entry (SHA-256 and size); name every "
            "file kept in quarantine. Exit 0: consistent; 1: something is missing or "
            "damaged; 2: cannot check."),
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="the data directory")
    parser.add_argument("--store", metavar="postgresql://…", default=None,
                        help="the PostgreSQL database the servers use (default: "
                             "$AMANAT_STORE, or SQLite in --data); stop every worker first")
    parser.add_argument("--repair", action="store_true",
                        help="record again each logged submission whose sealed file is kept "
                             "and matches its log entry; log the sealed files in quarantine "
                             "that no entry records")
    from vault.cli.serve_cmd import add_blob_options

    add_blob_options(parser)
    parser.set_defaults(func=cmd_fsck)
