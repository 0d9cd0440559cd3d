"""`amanat submit / seal / upload / replies`: the witness's commands.

Protects the witness (DESIGN.md guarantees 1-5) by calling `vault.witness` and adding only
what a terminal needs: the roster is checked against the organization key given with
``--org`` (pinned out of band) and, only if ``--state FILE`` is given, against the highest
version seen before; the plaintext exists only in memory (``submit`` seals it as it is sent,
never holding the sealed file whole); nothing is written to disk unless asked for
(``--receipt FILE``, ``seal -o FILE`` which holds only ciphertext); the codename is shown
once, on stderr, and never stored; replies are read with the codename from a prompt (or
``AMANAT_CODENAME``), never from argv.

``upload`` has no organization key by default (a file sealed in the field may be uploaded
from anywhere): its receipt is then checked against the log key the server's roster names.
Give ``--org VKEY`` to check that roster, and so the receipt, against the organization.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from vault.cli.common import CLIError, ProgressBar, atomic_output, one_line, open_input, read_secret

CONSENTS = ("none", "anonymised", "full")
MAX_STATEMENT_BYTES = 1_000_000 * 4  # the schema allows 1,000,000 characters
MAX_FORM_BYTES = 8 * 1024 * 1024
CODENAME_ENV = "AMANAT_CODENAME"


# --- presentation -----------------------------------------------------------------------------


def show_codename(codename: str, stream: TextIO | None = None) -> None:
    """Show the codename once, framed, with advice on keeping it."""
    out = stream or sys.stderr
    words = codename.split()
    rule = "=" * 72
    lines = [
        "",
        rule,
        "  YOUR CODENAME - shown only this once, never stored anywhere",
        "",
        "      " + "  ".join(f"{n:>2}. {w}" for n, w in enumerate(words[:6], start=1)),
        "      " + "  ".join(f"{n:>2}. {w}" for n, w in enumerate(words[6:], start=7)),
        "",
        "  These 12 words are the only way to read replies from the investigators",
        "  (`amanat replies`). Learn them by heart, or write them on paper and keep",
        "  it hidden, away from your phone and computer. Do not photograph them or",
        "  save them in a file. Nobody can recover them if they are lost.",
        rule,
        "",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


# --- reading what the witness gives --------------------------------------------------------------


def _read_statement(path: str | None) -> str:
    if path is None:
        return ""
    with open_input(path) as f:
        data = f.read(MAX_STATEMENT_BYTES + 1)
    if len(data) > MAX_STATEMENT_BYTES:
        raise CLIError(f"{path}: the statement is too long")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{path}: the statement is not UTF-8 text; save it as UTF-8") from None


def _report_form_problems(path: str, exc: Any) -> CLIError:
    for problem in exc.problems:
        print(f"amanat: {path}: {problem}", file=sys.stderr)
    return CLIError(f"{path}: {exc}; fix the lines above and try again")


def _testimony(args: argparse.Namespace, reply: bool) -> tuple[Any, list[Any], str | None]:
    """Read, check and clean everything the witness gave; return (manifest, attachments,
    codename). Problems in the answers file are reported all at once."""
    from vault.witness import (
        ChosenFile,
        FormError,
        build_manifest,
        new_reply_address,
        prepare_attachments,
        read_form,
    )

    statement = _read_statement(args.statement)
    persons: tuple[Any, ...] = ()
    if args.form is not None:
        with open_input(args.form) as f:
            data = f.read(MAX_FORM_BYTES + 1)
        try:
            persons = read_form(data, language=args.language, consent=args.consent)
        except FormError as exc:
            raise _report_form_problems(args.form, exc) from None
    if not statement.strip() and not args.attachments and not persons:
        raise CLIError("nothing to send: give --statement FILE (or - for standard input), "
                       "--attach FILE or --form FILE")
    # Each file is read when its turn comes and its original bytes are released once
    # cleaned: one original at a time is in memory, next to the cleaned ones. Files sealed
    # as they are (--keep-metadata, plain text) are read in pieces, never whole.
    attachments = prepare_attachments(
        ChosenFile(Path(path).name, keep_metadata=keep, path=path)
        for path, keep in args.attachments)
    for prepared in attachments:
        how = ("metadata KEPT as asked" if prepared.attachment.metadata_kept
               else "metadata removed")
        print(f"amanat: {prepared.chosen_name} -> {prepared.attachment.name} ({how})",
              file=sys.stderr)
    codename, address = new_reply_address() if reply else (None, None)
    manifest = build_manifest(statement, language=args.language, consent=args.consent,
                              persons=persons, attachments=attachments, reply=address)
    return manifest, attachments, codename


def _state(path: Path | None) -> Any:
    if path is None:
        return None
    from keys.errors import KeysError
    from keys.roster import RosterState

    try:
        return RosterState.load(path)
    except KeysError as exc:
        raise CLIError(str(exc)) from None


# --- commands -------------------------------------------------------------------------------


def _deliver_and_check(client: Any, sealed: Any, size: int, sha256: Callable[[], str],
                       roster_text: str, org_vkey: str | None, codename: str | None,
                       receipt_path: str | None) -> int:
    """Send ``sealed`` and check the receipt against ``sha256()``, the digest of the bytes
    sent (asked for after sending: a streamed testimony is hashed as it goes)."""
    from vault.witness import checked_receipt, deliver

    receipt = deliver(client, sealed, progress=ProgressBar(size))
    if codename is not None:
        show_codename(codename)
    check = checked_receipt(receipt, sha256=sha256(), size=size, roster_text=roster_text,
                            org_vkey=org_vkey)
    print(f"amanat: submitted as {receipt.id}; receipt {check.summary}", file=sys.stderr)
    if receipt_path is not None:
        with atomic_output(receipt_path) as out:
            out.write(check.receipt_file.encode("utf-8"))
    sys.stdout.write(check.receipt_file)
    sys.stdout.flush()
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from vault.client import VaultClient
    from vault.witness import SealedTestimony, verified_roster

    state = _state(args.state)
    # Everything that can be checked offline is checked before the server is contacted.
    manifest, attachments, codename = _testimony(args, reply=not args.no_reply)
    with VaultClient(args.server, proxy=args.proxy) as client:
        roster_text = client.roster_text()
        roster = verified_roster(roster_text, args.org, state=state)
        # Sealed as it is sent: the sealed file is never held whole (see SealedTestimony).
        sealed = SealedTestimony(manifest, attachments, roster)
        return _deliver_and_check(client, sealed, sealed.size, sealed.digest, roster_text,
                                  args.org, codename, args.receipt)


def cmd_seal(args: argparse.Namespace) -> int:
    from vault.witness import seal_testimony, verified_roster

    if args.output not in (None, "-") and Path(args.output).exists():
        raise CLIError(f"{args.output} already exists; choose another name (an earlier sealed "
                       "testimony there may not have been uploaded yet)")
    with open_input(args.roster) as f:
        roster_bytes = f.read(2 * 1024 * 1024)
    try:
        roster_text = roster_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{args.roster}: the roster is not UTF-8 text") from None
    roster = verified_roster(roster_text, args.org, state=_state(args.state))
    manifest, attachments, codename = _testimony(args, reply=not args.no_reply)
    with atomic_output(args.output, mode=0o600) as out:
        seal_testimony(manifest, attachments, roster, out)
    if codename is not None:
        show_codename(codename)
    where = "standard output" if args.output in (None, "-") else args.output
    print(f"amanat: sealed to {len(roster.readers())} investigator(s) of {roster.origin} "
          f"(roster version {roster.version}) into {where}; upload it with `amanat upload`",
          file=sys.stderr)
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    from vault.client import VaultClient
    from vault.witness import verified_roster

    if args.state is not None and args.org is None:
        raise CLIError("--state needs --org: roster versions are remembered per organization key")
    try:
        sealed = open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CLIError(f"cannot read {args.file}: {exc.strerror}") from None
    with sealed, VaultClient(args.server, proxy=args.proxy) as client:
        hasher = hashlib.sha256()
        while chunk := sealed.read(1024 * 1024):
            hasher.update(chunk)
        size = sealed.tell()
        roster_text = client.roster_text()
        if args.org is not None:
            verified_roster(roster_text, args.org, state=_state(args.state))
        else:
            print("amanat: no --org given: the receipt is checked against the log key the "
                  "server names, not against your organization's key", file=sys.stderr)
        return _deliver_and_check(client, sealed, size, hasher.hexdigest, roster_text,
                                  args.org, None, args.receipt)


def cmd_replies(args: argparse.Namespace) -> int:
    from vault.client import VaultClient
    from vault.codename import CodenameError, check_codename, derive
    from vault.witness import fetch_replies

    typed = read_secret("Codename: ", env=CODENAME_ENV)
    try:
        keys = derive(check_codename(typed))
    except CodenameError as exc:
        raise CLIError(f"codename: {exc}") from None
    with VaultClient(args.server, proxy=args.proxy) as client:
        replies = fetch_replies(client, keys)
    if not replies:
        print("amanat: no replies yet", file=sys.stderr)
        return 0
    for reply in replies:
        text = reply.text if reply.text.endswith("\n") else reply.text + "\n"
        sys.stdout.write(one_line(f"--- reply {reply.id} ({reply.received}) ---") + f"\n{text}")
    return 0


# --- arguments ------------------------------------------------------------------------------


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", required=True, metavar="URL", help="the vault's address")
    parser.add_argument("--proxy", metavar="URL", default=None,
                        help="e.g. socks5h://127.0.0.1:9050 to go through Tor")


def _content_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--statement", metavar="FILE", default=None,
                        help="your statement, UTF-8 text (- for standard input)")
    parser.add_argument("--attach", dest="attachments", action="append", default=[],
                        type=lambda p: (p, False), metavar="FILE",
                        help="attach a file; its metadata is removed (repeatable)")
    parser.add_argument("--keep-metadata", dest="attachments", action="append",
                        type=lambda p: (p, True), metavar="FILE",
                        help="attach a file unchanged, WITH its metadata (e.g. a photo whose "
                             "GPS position is the evidence) (repeatable)")
    parser.add_argument("--form", metavar="FILE", default=None,
                        help='answers about the detained persons, JSON: {"persons": [...]}')
    parser.add_argument("--language", metavar="TAG", default="und",
                        help="language of the statement, e.g. ug, kk-Cyrl, zh-Hans")
    parser.add_argument("--consent", choices=CONSENTS, default="none",
                        help="publication: none (investigators only, default), anonymised, "
                             "full")
    parser.add_argument("--no-reply", action="store_true",
                        help="no codename and no way for investigators to answer")
    parser.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help="remember the highest roster version in FILE and refuse older "
                             "ones (writes FILE; by default nothing is written)")


def register(subparsers: Any) -> None:
    submit = subparsers.add_parser(
        "submit", help="seal testimony to the organization's investigators and send it",
        description="Seal testimony on this device to every investigator on the "
                    "organization's signed roster and send it. Nothing is written to disk "
                    "unless you ask (--receipt, --state).")
    _network_options(submit)
    submit.add_argument("--org", required=True, metavar="VKEY",
                        help="the organization's verifier key, obtained out of band")
    _content_options(submit)
    submit.add_argument("--receipt", metavar="FILE", default=None,
                        help="also write the receipt to FILE (it is always printed)")
    submit.set_defaults(func=cmd_submit)

    seal = subparsers.add_parser(
        "seal", help="seal testimony to a file, offline (send it later with `upload`)",
        description="Seal testimony to the investigators on a signed roster file, without "
                    "any network. The output holds only ciphertext.")
    seal.add_argument("--roster", required=True, metavar="FILE", help="signed roster file")
    seal.add_argument("--org", required=True, metavar="VKEY",
                      help="the organization's verifier key, obtained out of band")
    _content_options(seal)
    seal.add_argument("-o", "--output", required=True, metavar="FILE",
                      help="the sealed file to write (- for standard output)")
    seal.set_defaults(func=cmd_seal)

    upload = subparsers.add_parser(
        "upload", help="send a file made by `amanat seal`",
        description="Send a sealed file (from `amanat seal`) and check the receipt. Without "
                    "--org the receipt is checked against the log key the server names.")
    _network_options(upload)
    upload.add_argument("--org", metavar="VKEY", default=None,
                        help="check the server's roster, and so the receipt, against this "
                             "organization verifier key")
    upload.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help="with --org: refuse a roster older than one remembered in FILE")
    upload.add_argument("--receipt", metavar="FILE", default=None,
                        help="also write the receipt to FILE (it is always printed)")
    upload.add_argument("file", metavar="FILE", help="the sealed file")
    upload.set_defaults(func=cmd_upload)

    replies = subparsers.add_parser(
        "replies", help="read investigators' replies with your codename",
        description="Read the replies investigators left for you. The codename is asked "
                    f"for at a prompt (or read from {CODENAME_ENV}), never given on the "
                    "command line.")
    _network_options(replies)
    replies.set_defaults(func=cmd_replies)
