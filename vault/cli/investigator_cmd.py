"""`amanat inbox / open / reply`: the investigator's commands.

Protects testimony on the investigator's side by calling `vault.investigator`: the identity
file is unlocked with a passphrase from a prompt (or ``AMANAT_PASSPHRASE``); a submission is
decrypted on this machine only after its ciphertext matches its audit-log entry, which a
signed checkpoint includes; plaintext goes only into the case folder given with ``-o``; a
hostile bundle is refused with nothing left behind. ``--org VKEY`` pins the organization
key, so the roster and the log key are verified rather than taken from the server;
``open --state FILE`` (with ``--org``) also refuses a log that does not extend the
checkpoint seen last time (the file is shared with ``amanat audit verify --state``).
``open`` shows the download's progress on stderr and extracts in pieces, so a large
submission needs no more memory than a small one.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError, ProgressBar, one_line, open_input
from vault.cli.keys_cmd import unlock_identity

MAX_MESSAGE_BYTES = 1024 * 1024


@contextlib.contextmanager
def _session(args: argparse.Namespace) -> Iterator[Any]:
    from vault.client import VaultClient
    from vault.investigator import connect

    identity = unlock_identity(args.identity)
    if args.org is None:
        print("amanat: no --org given: the roster and the log key are the server's word, "
              "not verified against your organization's key", file=sys.stderr)
    with VaultClient(args.server, proxy=args.proxy) as client:
        yield connect(client, identity, org_vkey=args.org)


def cmd_inbox(args: argparse.Namespace) -> int:
    from vault.investigator import list_inbox

    with _session(args) as session:
        submissions = list_inbox(session)
    if not submissions:
        print("amanat: no submissions", file=sys.stderr)
    for info in submissions:
        print(one_line(f"{info.id} {info.size} {info.received} {info.log_index}"))
    return 0


@contextlib.contextmanager
def _audit_state(args: argparse.Namespace) -> Iterator[Any]:
    if args.state is None:
        yield None
        return
    if args.org is None:
        raise CLIError("--state needs --org: checkpoints are remembered per organization key")
    from vault.audit import AuditState

    with AuditState.open(args.state) as state:
        yield state


def _download_progress() -> Callable[[int, int], None]:
    """A progress bar on stderr, started with the download (when its size is known)."""
    bar: ProgressBar | None = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = ProgressBar(total, verb="downloading")
            if done < total:
                return  # nothing to show yet: the clock starts now
        bar(done)

    return show


def cmd_open(args: argparse.Namespace) -> int:
    from vault.investigator import open_submission

    target = Path(args.output)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise CLIError(f"{target} is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise CLIError(f"{target} is not empty; give a new or empty case folder")
    with _audit_state(args) as state, _session(args) as session:
        case = open_submission(session, args.id, target, state=state,
                               progress=_download_progress())
    custody: dict[str, Any] = case.custody
    log = custody["log"]
    print(f"opened {args.id} into {case.case_dir}/")
    print(f"  statement.txt, answers.json, custody.json, "
          f"{len(case.manifest.attachments)} attachment(s) in attachments/")
    for attachment in case.manifest.attachments:
        kept = " (metadata kept by the witness)" if attachment.metadata_kept else ""
        print(f"    {attachment.name}  {attachment.media_type}  {attachment.size} bytes{kept}")
    pinned = "verified by the organization key" if log["key_verified_by_organization"] else \
        "NOT verified (no --org)"
    print(f"  log: entry {log['index']} is in the signed tree of size {log['tree_size']} "
          f"(log key {pinned})")
    if log["extends_remembered_size"] is not None:
        print(f"  log: extends the checkpoint of size {log['extends_remembered_size']} "
              "seen before")
    if case.manifest.reply is None:
        print("  the witness asked for no replies")
    return 0


def _message(args: argparse.Namespace) -> str:
    if args.message is not None:
        return str(args.message)
    with open_input(args.message_file) as f:
        data = f.read(MAX_MESSAGE_BYTES + 1)
    if len(data) > MAX_MESSAGE_BYTES:
        raise CLIError(f"{args.message_file}: the reply is longer than {MAX_MESSAGE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{args.message_file}: the reply is not UTF-8 text") from None


def cmd_reply(args: argparse.Namespace) -> int:
    from vault.investigator import fetch_manifest, read_case, send_reply

    message = _message(args)
    manifest = None
    if args.case is not None:
        case_id, manifest = read_case(args.case)
        if case_id != args.id:
            raise CLIError(f"{args.case} holds submission {case_id}, not {args.id}")
    with _session(args) as session:
        if manifest is None:
            manifest = fetch_manifest(session, args.id)
        reply = send_reply(session, manifest, message)
    print(f"reply {reply.id} left in the witness's mailbox (log index {reply.log_index})")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, metavar="URL", help="the vault's address")
    parser.add_argument("-i", "--identity", required=True, metavar="NAME.identity",
                        help="your identity file (passphrase from a prompt or "
                             "AMANAT_PASSPHRASE)")
    parser.add_argument("--org", metavar="VKEY", default=None,
                        help="the organization verifier key: verify the roster and log key")
    parser.add_argument("--proxy", metavar="URL", default=None,
                        help="e.g. socks5h://127.0.0.1:9050 to go through Tor")


def register(subparsers: Any) -> None:
    inbox = subparsers.add_parser(
        "inbox", help="list submissions: id, size, received hour, log index",
        description="List the submissions on the server, one a line: id, size in bytes, "
                    "hour received (UTC), audit-log index.")
    _common(inbox)
    inbox.set_defaults(func=cmd_inbox)

    opener = subparsers.add_parser(
        "open", help="check, decrypt and extract a submission into a case folder",
        description="Download a submission, check it against the audit log, decrypt it on "
                    "this machine and extract it into a new case folder: statement.txt, "
                    "answers.json, attachments/, manifest.json and custody.json.")
    _common(opener)
    opener.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help="with --org: refuse a log that does not extend the checkpoint "
                             "remembered in FILE, then remember the new one")
    opener.add_argument("id", metavar="ID", help="submission id (from `amanat inbox`)")
    opener.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="the case folder to create (new or empty)")
    opener.set_defaults(func=cmd_open)

    reply = subparsers.add_parser(
        "reply", help="send a sealed reply to the witness of a submission",
        description="Seal a message to the witness's reply key (named in the testimony) and "
                    "leave it in their mailbox; only their codename opens it.")
    _common(reply)
    reply.add_argument("id", metavar="ID", help="submission id")
    what = reply.add_mutually_exclusive_group(required=True)
    what.add_argument("--message", metavar="TEXT", help="the reply text")
    what.add_argument("--message-file", metavar="FILE", help="read the reply from FILE (- for "
                      "standard input)")
    reply.add_argument("--case", metavar="DIR", default=None,
                       help="use the manifest of this opened case folder instead of "
                            "downloading the submission again")
    reply.set_defaults(func=cmd_reply)
