"""`amanat migrate`: move a stopped vault from the embedded store (SQLite and the blob
directory in its data directory) to PostgreSQL, its sealed files optionally to a bucket,
keeping the log's roots, every signed checkpoint and cosignature, and every id
(vault/service/migration.py says what is checked and what is dropped). The database's
password is never printed; a bucket is reached with the same flags as ``serve --blobs``.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError


def cmd_migrate(args: argparse.Namespace) -> int:
    from vault.cli.serve_cmd import blob_storage
    from vault.service.migration import migrate_vault
    from vault.service.setup import SetupError
    from vault.store import DataDirBusyError, StoreError
    from vault.store.auditlog import AuditLogError
    from vault.store.postgres import safe_dsn

    logging.basicConfig(format="amanat: %(levelname)s %(message)s", level=logging.WARNING)
    data_dir = Path(args.source)
    dsn = args.to or os.environ.get("AMANAT_STORE")
    if not dsn or not dsn.startswith(("postgresql://", "postgres://")):
        raise CLIError("--to needs a postgresql:// address (or $AMANAT_STORE)", 2)
    if not data_dir.is_dir():
        raise CLIError(f"{data_dir} is not a directory", 2)
    try:
        report = migrate_vault(data_dir, dsn, blob_storage(args, data_dir),
                               say=lambda line: print(f"amanat: {line}"))
    except DataDirBusyError:
        raise CLIError(f"{data_dir} is in use by a running server: stop it first", 2) from None
    except (SetupError, AuditLogError, StoreError, OSError) as exc:
        raise CLIError(f"cannot migrate {data_dir}: {exc}", 2) from None
    for note in report.notes:
        print(f"amanat: {note}")
    print(f"ok: migrated to {safe_dsn(dsn)}: log size {report.log_size}, the same latest "
          f"checkpoint; fsck passes. Start the servers with --store {safe_dsn(dsn)}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="move a stopped vault from SQLite to PostgreSQL (and a bucket)",
        description=(
            "Move a stopped vault from its data directory's SQLite databases (and blob "
            "directory) into an empty PostgreSQL database (and, with --blobs, a bucket), "
            "keeping the audit log's roots, every signed checkpoint and cosignature, and "
            "every id. Resumable uploads in progress and login tokens are not copied. The "
            "copy is checked (log size and latest checkpoint, every sealed file's SHA-256, "
            "then `amanat fsck`) before the data directory is tied to the database; the "
            "embedded files are kept in its embedded-before-migration/ directory."),
    )
    parser.add_argument("--from", dest="source", required=True, metavar="DIR",
                        help="the data directory of the stopped embedded vault")
    parser.add_argument("--to", metavar="postgresql://…", default=None,
                        help="an empty PostgreSQL database (default: $AMANAT_STORE); a "
                             "password is better given in PGPASSWORD or ~/.pgpass")
    from vault.cli.serve_cmd import add_blob_options

    add_blob_options(parser)
    parser.set_defaults(func=cmd_migrate)
