"""`amanat backup` and `amanat restore`: one archive of a data directory, taken while its
server runs, and put back into a new directory, then checked as `amanat fsck` checks.

Protects "nobody can silently drop a testimony" beyond one disk (vault/store/backup.py says
how the snapshot stays consistent while submissions arrive). The archive holds the log key
unless ``--no-log-key`` is given: keep it as secret as the data directory, or give ``-r``
(age recipients, as ``amanat encrypt``) so it is encrypted as it is written and never on
disk in the clear; ``restore -i`` decrypts it as it is read (DEPLOY.md §7).
Exit 0 on success; 1 when a backup was written but a recorded sealed file was already
damaged or gone, or a restored directory does not pass the checks; 2 when nothing could be
done.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from vault.cli.common import CLIError


def cmd_backup(args: argparse.Namespace) -> int:
    from vault import age
    from vault.cli.age_cmd import _collect_recipients
    from vault.store import StoreError
    from vault.store.backup import Transform, backup

    data_dir, out = Path(args.data), Path(args.output)
    if not out.parent.is_dir():
        raise CLIError(f"-o {out}: {out.parent} does not exist", 2)
    encrypt: Transform | None = None
    if args.recipient or args.recipients_file:
        try:
            recipients = _collect_recipients(args)
        except CLIError as exc:
            raise CLIError(str(exc), 2) from None

        def encrypt(src: BinaryIO, dst: BinaryIO) -> None:
            age.encrypt(src, dst, recipients)

    start = time.monotonic()
    try:
        report = backup(data_dir, out, include_log_key=not args.no_log_key, encrypt=encrypt)
    except (StoreError, OSError, age.RecipientError) as exc:
        raise CLIError(f"cannot back up {data_dir}: {exc}", 2) from None
    for problem in report.problems:
        print(f"amanat: damaged: {problem}", file=sys.stderr)
    print(f"amanat: wrote {out}: log size {report.log_size}, {report.submissions} "
          f"submissions, {report.replies} replies, {report.quarantined} in quarantine, "
          f"{report.bytes} bytes of sealed files; the server was held "
          f"{report.held_seconds * 1000:.1f} ms, the backup took "
          f"{time.monotonic() - start:.1f} s")
    if encrypt is not None:
        print(f"amanat: the archive is encrypted (age) to {len(recipients)} recipient(s)"
              + ("; it holds the log key" if not args.no_log_key else ""))
    elif not args.no_log_key:
        print("amanat: the archive holds the log key: keep it as secret as the server "
              "(encrypt it before it leaves this machine, or use -r; DEPLOY.md §7)")
    if report.problems:
        raise CLIError(f"{len(report.problems)} recorded sealed file(s) were damaged or gone "
                       "before the backup (named above): run `amanat fsck` on a copy")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from vault import age
    from vault.cli.age_cmd import load_identities
    from vault.cli.fsck_cmd import cmd_fsck
    from vault.store import StoreError
    from vault.store.backup import Transform, restore

    archive, data_dir = Path(args.archive), Path(args.data)
    log_key = None
    if args.log_key:
        key_path = Path(args.log_key)
        if key_path.stat().st_mode & 0o077:
            raise CLIError(f"{key_path} is readable by others: chmod 600 it", 2)
        log_key = key_path.read_bytes()
    decrypt: Transform | None = None
    if args.identity:
        identities = [identity for path in args.identity for identity in load_identities(path)]

        def decrypt(src: BinaryIO, dst: BinaryIO) -> None:
            age.decrypt(src, dst, identities)

    try:
        manifest = restore(archive, data_dir, log_key=log_key, decrypt=decrypt)
    except (StoreError, OSError, age.AgeError) as exc:
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
    parser.add_argument("-r", "--recipient", action="append", default=[], metavar="RECIPIENT",
                        help="encrypt the archive (age) to this recipient (repeatable); the "
                             "archive is never on disk in the clear")
    parser.add_argument("-R", "--recipients-file", action="append", default=[], metavar="FILE",
                        help="encrypt to the recipients in FILE (repeatable)")
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
    parser.add_argument("-i", "--identity", action="append", default=[], metavar="FILE",
                        help="an age identity file, for an encrypted backup (repeatable)")
    parser.set_defaults(func=cmd_restore)
