"""`amanat backup` and `amanat restore`: one archive of a data directory, taken while its
server runs, and put back into a new directory, then checked as `amanat fsck` checks.

Protects "nobody can silently drop a testimony" beyond one disk (vault/store/backup.py says
how the snapshot stays consistent while submissions arrive). The archive holds the log key
unless ``--no-log-key`` is given: keep it as secret as the data directory (DEPLOY.md §7).
Exit 0 on success; 1 when a backup was written but a recorded sealed file was already
damaged or gone, or a restored directory does not pass the checks; 2 when nothing could be
done.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError


def cmd_backup(args: argparse.Namespace) -> int:
    from vault.store import StoreError
    from vault.store.backup import backup

    data_dir, out = Path(args.data), Path(args.output)
    if not out.parent.is_dir():
        raise CLIError(f"-o {out}: {out.parent} does not exist", 2)
    start = time.monotonic()
    try:
        report = backup(data_dir, out, include_log_key=not args.no_log_key)
    except (StoreError, OSError) as exc:
        raise CLIError(f"cannot back up {data_dir}: {exc}", 2) from None
    for problem in report.problems:
        print(f"amanat: damaged: {problem}", file=sys.stderr)
    print(f"amanat: wrote {out}: log size {report.log_size}, {report.submissions} "
          f"submissions, {report.replies} replies, {report.quarantined} in quarantine, "
          f"{report.bytes} bytes of sealed files; the server was held "
          f"{report.held_seconds * 1000:.1f} ms, the backup took "
          f"{time.monotonic() - start:.1f} s")
    if not args.no_log_key:
        print("amanat: the archive holds the log key: keep it as secret as the server "
              "(encrypt it before it leaves this machine, DEPLOY.md §7)")
    if report.problems:
        raise CLIError(f"{len(report.problems)} recorded sealed file(s) were damaged or gone "
                       "before the backup (named above): run `amanat fsck` on a copy")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from vault.cli.fsck_cmd import cmd_fsck
    from vault.store import StoreError
    from vault.store.backup import restore

    archive, data_dir = Path(args.archive), Path(args.data)
    log_key = None
    if args.log_key:
        key_path = Path(args.log_key)
        if key_path.stat().st_mode & 0o077:
            raise CLIError(f"{key_path} is readable by others: chmod 600 it", 2)
        log_key = key_path.read_bytes()
    try:
        manifest = restore(archive, data_dir, log_key=log_key)
    except (StoreError, OSError) as exc:
        raise CLIError(f"cannot restore {archive}: {exc}", 2) from None
    print(f"amanat: restored {archive} into {data_dir} (log size {manifest.get('log_size')}); "
          "checking it")
    return cmd_fsck(argparse.Namespace(data=str(data_dir), repair=False))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backup",
        help="write one archive of a data directory, while its server runs",
        description=(
            "Write one archive (tar, mode 0600, written atomically) of the data directory: "
            "both databases copied at one moment, every sealed file they record (checked "
            "against its SHA-256), the quarantine, org.vkey and the log key. Every "
            "submission acknowledged before the backup began is in it. Works while the "
            "server runs (it takes the snapshot for the backup) and while it is stopped."),
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="the data directory")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the archive")
    parser.add_argument("--no-log-key", action="store_true",
                        help="leave the log key out (a restore then needs --log-key FILE)")
    parser.set_defaults(func=cmd_backup)

    parser = subparsers.add_parser(
        "restore",
        help="restore a backup into a new data directory, then check it",
        description=(
            "Restore an archive made by `amanat backup` into DIR, which must not exist or "
            "be empty, then run the checks of `amanat fsck`. The archive is checked first: "
            "only the files a backup holds, no links, absolute paths or `..`."),
    )
    parser.add_argument("archive", metavar="FILE")
    parser.add_argument("--data", required=True, metavar="DIR", help="the new data directory")
    parser.add_argument("--log-key", metavar="FILE",
                        help="the log key, for a backup made with --no-log-key")
    parser.set_defaults(func=cmd_restore)
