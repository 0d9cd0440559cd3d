"""`amanat inbox / open / reply / delete`: the investigator's and the admin's commands.

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
from vault.store import is_valid_id

MAX_MESSAGE_BYTES = 1024 * 1024
# An inbox line ends with the first hex digits of the sealed file's SHA-256 (the whole digest
# is in its log entry): the same file uploaded twice shows the same fingerprint.
FINGERPRINT_PREFIX = "sha256:"
FINGERPRINT_DIGITS = 8


@contextlib.contextmanager
def _session(args: argparse.Namespace) -> Iterator[Any]:
    from vault.client import VaultClient
    from vault.investigator import connect

    identity = unlock_identity(args.identity)
    if args.org is None:
        print("amanat: no --org given: the roster and the log key are the server's word, "
              "not verified against your organization's key", file=sys.stderr)
    with VaultClient(args.server, proxy=args.proxy) as client:
        from vault.cli.network import work_progress

        client.on_work = work_progress()
        yield connect(client, identity, org_vkey=args.org)


def cmd_inbox(args: argparse.Namespace) -> int:
    from vault.holdings import missing_line
    from vault.investigator import list_inbox, unlisted_submissions

    with _session(args) as session:
        submissions = list_inbox(session)
        missing = unlisted_submissions(session, submissions)
    if not submissions:
        print("amanat: no submissions", file=sys.stderr)
    for info in submissions:
        print(one_line(f"{info.id} {info.size} {info.received} {info.log_index} "
                       f"{FINGERPRINT_PREFIX}{info.sha256[:FINGERPRINT_DIGITS]}"))
    for item in missing:
        print(f"amanat: missing: {one_line(missing_line(item))}", file=sys.stderr)
    if missing:
        raise CLIError(f"{len(missing)} submission(s) the log records with no deletion are "
                       "not listed by the server (named above): tell the organization")
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


def _check_id(submission_id: str) -> None:
    """A mistyped id is named before the identity is unlocked or the server contacted."""
    if not is_valid_id(submission_id):
        raise CLIError(f"{submission_id!r} is not a submission id (32 hex digits, from "
                       "`amanat inbox`)")


# What an image with this EXIF orientation (manifest schema v2) needs to be shown upright.
ORIENTATIONS = {
    1: "nothing",
    2: "mirror it left to right",
    3: "rotate it 180°",
    4: "mirror it top to bottom",
    5: "mirror it left to right, then rotate it 90° counter-clockwise",
    6: "rotate it 90° clockwise",
    7: "mirror it left to right, then rotate it 90° clockwise",
    8: "rotate it 90° counter-clockwise",
}

def cmd_open(args: argparse.Namespace) -> int:
    from vault.investigator import open_submission

    _check_id(args.id)
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
        if attachment.orientation is not None and attachment.orientation != 1:
            print(f"      to show it upright: {ORIENTATIONS[attachment.orientation]} (EXIF "
                  f"orientation {attachment.orientation}, recorded when its metadata was "
                  "removed)")
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


REPLY_NEEDS_CASE = (
    "reply needs --case DIR, the case folder `amanat open` made: fetching the submission now "
    "would log its access right before your reply, and the public log would link the reply "
    "to this submission; open it first, then reply later with --case")


def cmd_reply(args: argparse.Namespace) -> int:
    from vault.investigator import read_case, send_reply

    _check_id(args.id)
    if args.case is None:
        raise CLIError(REPLY_NEEDS_CASE)
    case_id, manifest = read_case(args.case)
    if case_id != args.id:
        raise CLIError(f"{args.case} holds submission {case_id}, not {args.id}")
    message = _message(args)
    with _session(args) as session:
        reply = send_reply(session, manifest, message)
    print(f"reply {reply.id} left in the witness's mailbox (log index {reply.log_index})")
    return 0


CONFIRM_WORD = "delete"


def _confirm_deletion(args: argparse.Namespace) -> None:
    """Ask at the terminal unless ``--yes``; without a terminal, refuse."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CLIError("a deletion cannot be undone: confirm it at a terminal, or pass --yes")
    print(f"Delete submission {args.id} for good? The sealed file cannot be recovered; the "
          f"deletion is logged with your key id. Type {CONFIRM_WORD!r} to confirm: ",
          end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if answer.strip() != CONFIRM_WORD:
        raise CLIError(f"not confirmed: submission {args.id} was not deleted")


def cmd_delete(args: argparse.Namespace) -> int:
    from vault.investigator import delete_submission

    _check_id(args.id)
    _confirm_deletion(args)
    with _session(args) as session:
        deletion = delete_submission(session, args.id)
    event = deletion.event
    print(f"deleted {args.id}: log entry {deletion.index} (kind deletion, {event.time}, by "
          f"{event.get('investigator')}) is in the signed tree of size {deletion.tree_size}")
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
        "inbox", help="list submissions: id, size, received hour, log index, fingerprint",
        description="List the submissions on the server, one a line: id, size in bytes, "
                    "hour received (UTC), audit-log index, and sha256: with the first 8 hex "
                    "digits of the sealed file's SHA-256 (the same sealed file uploaded twice "
                    "shows the same fingerprint under two ids).")
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
                       help="the case folder `amanat open` made (its manifest holds the "
                            "reply address); needed, so that no access to the submission is "
                            "logged next to the reply")
    reply.set_defaults(func=cmd_reply)

    delete = subparsers.add_parser(
        "delete", help="delete a submission (admins); the deletion is logged",
        description="Delete a submission from the server for good (needs the admin role on "
                    "the roster). The server logs the deletion (submission id, your key id, "
                    "the hour) before it removes anything; this command then checks that "
                    "entry in the signed log. Asks for confirmation at a terminal.")
    _common(delete)
    delete.add_argument("id", metavar="ID", help="submission id")
    delete.add_argument("--yes", action="store_true",
                        help="do not ask for confirmation (for scripts)")
    delete.set_defaults(func=cmd_delete)
