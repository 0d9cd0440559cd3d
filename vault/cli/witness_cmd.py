"""`amanat submit / seal / upload / replies`: the witness's commands.

Protects the witness (DESIGN.md guarantees 1-5) by calling `vault.witness` and adding only
what a terminal needs: the roster is checked against the organization key given with
``--org`` (pinned out of band) and, only if ``--state FILE`` is given, against the highest
version seen before; the plaintext exists only in memory (``submit`` seals it as it is sent,
never holding the sealed file whole); nothing is written to disk unless asked for
(``--receipt FILE``, ``seal -o FILE`` which holds only ciphertext; ``upload FILE`` keeps a
resume record beside FILE until it is delivered, see `vault.upload`), and the receipt is not
shown unless asked for (``--receipt -``); the codename is shown once, on stderr, as the last
thing on the screen (at a terminal the command waits until the witness says it is written
down, so nothing scrolls it away), and never stored; a codename the witness already has
(``--reuse-codename``, replies) is read from a prompt (or ``AMANAT_CODENAME``), never from
argv.

``upload`` has no organization key by default (a file sealed in the field may be uploaded
from anywhere): its receipt is then checked against the log key the server's roster names.
Give ``--org VKEY`` to check that roster, and so the receipt, against the organization.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from vault.cli.common import (
    CLIError,
    ProgressBar,
    _size,
    atomic_output,
    one_line,
    open_input,
    read_secret,
    refuse_other_file,
)
from vault.cli.network import add_retry_option

CONSENTS = ("none", "anonymised", "full")
MAX_STATEMENT_BYTES = 1_000_000 * 4  # the schema allows 1,000,000 characters
MAX_FORM_BYTES = 8 * 1024 * 1024
CODENAME_ENV = "AMANAT_CODENAME"


# --- presentation -----------------------------------------------------------------------------


CODENAME_HEADING = "  YOUR CODENAME - shown only this once, never stored anywhere"
_RULE = "=" * 72
_WORDS_PER_ROW = 4
_FRAMED_WORD = re.compile(r"(\d+)\. (\S+)")


def show_codename(codename: str, stream: TextIO | None = None) -> None:
    """Show the codename once, framed, with advice on keeping it.

    Three rows of four numbered words in aligned columns, 60 characters wide at most (a
    BIP39 word has at most 8 letters): no row wraps on an 80-column terminal, which could
    split a word in two.
    """
    out = stream or sys.stderr
    words = codename.split()
    rows = [
        "      " + "  ".join(f"{n:>2}. {words[n - 1]:<8}"
                             for n in range(first, min(first + _WORDS_PER_ROW, len(words) + 1)))
        for first in range(1, len(words) + 1, _WORDS_PER_ROW)
    ]
    lines = [
        "",
        _RULE,
        CODENAME_HEADING,
        "",
        *(row.rstrip() for row in rows),
        "",
        "  These 12 words are the only way to read replies from the investigators",
        "  (`amanat replies`). Learn them by heart, or write them on paper and keep",
        "  it hidden, away from your phone and computer. Do not photograph them or",
        "  save them in a file. Nobody can recover them if they are lost.",
        _RULE,
        "",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


def framed_codename(text: str) -> str | None:
    """The codename in a frame `show_codename` wrote into ``text`` (for the demo and tests),
    or None if there is no complete one."""
    lines = text.splitlines()
    if CODENAME_HEADING not in lines:
        return None
    start = lines.index(CODENAME_HEADING) + 1
    end = lines.index(_RULE, start) if _RULE in lines[start:] else len(lines)
    numbered = [(int(n), w) for line in lines[start:end] for n, w in _FRAMED_WORD.findall(line)]
    if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)) or len(numbered) != 12:
        return None
    return " ".join(w for _, w in numbered)


CONFIRM_WORD = "YES"


def wait_until_written_down(stream: TextIO | None = None) -> None:
    """At a terminal, keep the codename on screen until the witness types YES.

    A deliberate word rather than Enter alone, so that a key pressed early does not end the
    command before the words are written down. End of input (Ctrl-D) or Ctrl-C also ends
    the wait, with success: the testimony has been delivered. Without a terminal to read
    from and show the codename on (scripts, tests, stderr sent to a file) there is nobody to
    wait for.
    """
    out = stream or sys.stderr
    if not (sys.stdin.isatty() and out.isatty()):
        return
    try:  # from before the question is shown: a Ctrl-C is an answer as soon as it is seen
        while True:
            out.write(f"Take your time. When the 12 words are written down, type "
                      f"{CONFIRM_WORD} and press Enter: ")
            out.flush()
            answer = sys.stdin.readline()
            if not answer:
                break
            if answer.strip().upper() == CONFIRM_WORD:
                return
    except KeyboardInterrupt:
        pass
    out.write("\n")
    out.flush()


def hand_over_codename(codename: str | None) -> None:
    """Show a new codename, last, and wait for the witness (see `wait_until_written_down`)."""
    if codename is not None:
        show_codename(codename)
        wait_until_written_down()


# --- reading what the witness gives --------------------------------------------------------------


def _hint_at_terminal(path: str | None, what: str) -> None:
    """Before reading ``what`` typed at a terminal (``-``), say how to end it."""
    if path == "-" and sys.stdin.isatty():
        print(f"amanat: type or paste {what}; to finish, press Ctrl-D at the start of "
              "a line (on Windows: Ctrl-Z, then Enter)", file=sys.stderr)


def _check_org(org_vkey: str) -> None:
    """A mistyped --org is named before anything is read or any server is contacted."""
    from keys.errors import VerifierKeyError
    from keys.org import parse_org_vkey

    try:
        parse_org_vkey(org_vkey)
    except VerifierKeyError as exc:
        raise CLIError(str(exc)) from None


def _read_statement(path: str | None) -> str:
    if path is None:
        return ""
    _hint_at_terminal(path, "your statement")
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


def _typed_codename() -> str:
    """A codename the witness already has, from a prompt (or AMANAT_CODENAME), checked.
    A typo is reported by word position and checksum, never by repeating a word."""
    from vault.codename import CodenameError, check_codename

    typed = read_secret("Codename: ", env=CODENAME_ENV)
    try:
        return check_codename(typed)
    except CodenameError as exc:
        raise CLIError(f"codename: {exc}") from None


def _reply_address(args: argparse.Namespace) -> tuple[str | None, Any]:
    """(new codename to show or None, reply address or None) for the testimony."""
    from vault.witness import new_reply_address, reply_address

    if args.no_reply:
        return None, None
    if args.reuse_codename:
        return None, reply_address(_typed_codename())
    return new_reply_address()


def _read_answers(path: str, language: str | None, consent: str) -> Any:
    from vault.witness import FormError, read_form

    _hint_at_terminal(path, "your answers (see `amanat form template`)")
    with open_input(path) as f:
        data = f.read(MAX_FORM_BYTES + 1)
    try:
        return read_form(data, language=language, consent=consent)
    except FormError as exc:
        raise _report_form_problems(path, exc) from None


def _testimony(args: argparse.Namespace) -> tuple[Any, list[Any], str | None]:
    """Read, check and clean everything the witness gave; return (manifest, attachments,
    new codename to show). Problems in the answers file are reported all at once."""
    from vault.witness import DEFAULT_LANGUAGE, ChosenFile, build_manifest, prepare_attachments

    # A codename being reused is asked for first: a typo is reported before the witness
    # types a statement.
    codename, address = _reply_address(args)
    statement = _read_statement(args.statement)
    persons: tuple[Any, ...] = ()
    language = args.language or DEFAULT_LANGUAGE
    if args.form is not None:
        answers = _read_answers(args.form, args.language, args.consent)
        persons, language = answers.persons, answers.language
    if not statement.strip() and not args.attachments:
        from vault.testimony import Person

        if persons and all(person == Person() for person in persons):
            raise CLIError(f"nothing to send: {args.form} has no answers yet (remove the # "
                           "before a question to answer it), and there is no --statement "
                           "or --attach")
        if not persons:
            raise CLIError("nothing to send: give --statement FILE (or - for standard "
                           "input), --attach FILE or --form FILE")
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
    manifest = build_manifest(statement, language=language, consent=args.consent,
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
                       receipt_path: str | None, upload_id: str | None = None) -> int:
    """Send ``sealed`` (to the open upload ``upload_id``, or a new one) and check the receipt
    against ``sha256()``, the digest of the bytes sent (asked for after sending: a streamed
    testimony is hashed as it goes)."""
    from vault.client import DeliveryUnknownError
    from vault.witness import checked_receipt, deliver

    try:
        receipt = deliver(client, sealed, progress=ProgressBar(size), upload_id=upload_id)
    except DeliveryUnknownError as exc:
        if codename is None:
            raise
        # Most likely stored, sealed with this codename's reply address: without the
        # codename its replies could never be read.
        print(f"amanat: {one_line(str(exc))}; keep the codename below: if the testimony "
              "was stored, replies to it come under this codename", file=sys.stderr)
        hand_over_codename(codename)
        return 1
    try:
        check = checked_receipt(receipt, sha256=sha256(), size=size, roster_text=roster_text,
                                org_vkey=org_vkey)
        # The receipt is kept or shown only when asked for: on a searched device it proves a
        # submission, and on a screen its 15 lines would push the codename out of sight.
        if receipt_path is not None:
            with atomic_output(receipt_path) as out:
                out.write(check.receipt_file.encode("utf-8"))
    except Exception as exc:
        if codename is None:
            raise
        # The testimony is on the server, sealed with this codename's reply address: the
        # codename is still the only way to its replies, so it is handed over all the same.
        print(f"amanat: the testimony was delivered, but {one_line(str(exc))}",
              file=sys.stderr)
        hand_over_codename(codename)
        return 1
    log = "the organization's log" if check.log_key_pinned else "the log the server names"
    print(f"amanat: delivered {_size(size)}; receipt checked: entry {check.index} of {log}",
          file=sys.stderr)
    if check.not_cosigned is not None:
        print(f"amanat: {one_line(check.not_cosigned)} (the cosigners have not all answered "
              "yet; `amanat receipt verify FILE --org VKEY --server URL` checks it against a "
              "cosigned checkpoint later)", file=sys.stderr)
    hand_over_codename(codename)
    return 0


def _check_receipt_path(path: str | None, option: str = "--receipt") -> None:
    """Refuse, before anything is read or sent, a FILE for ``option`` that could not be
    written."""
    if path in (None, "-"):
        return
    target = Path(path)
    if target.is_dir():
        raise CLIError(f"{option} {path}: that is a folder; give a file name")
    if not target.parent.is_dir():
        raise CLIError(f"{option} {path}: the folder {target.parent} does not exist")


def cmd_submit(args: argparse.Namespace) -> int:
    from vault.cli.network import SUBMIT_GAVE_UP, gave_up, retry_policy, work_progress
    from vault.client import GaveUpError, VaultClient
    from vault.witness import SealedTestimony, verified_roster

    _check_org(args.org)
    _check_receipt_path(args.receipt)
    state = _state(args.state)
    # Everything that can be checked offline is checked before the server is contacted.
    manifest, attachments, codename = _testimony(args)
    with VaultClient(args.server, proxy=args.proxy, retry=retry_policy(args)) as client:
        client.on_work = work_progress()
        try:
            roster_text = client.roster_text()
            roster = verified_roster(roster_text, args.org, state=state)
            # Sealed as it is sent: the sealed file is never held whole (see SealedTestimony).
            sealed = SealedTestimony(manifest, attachments, roster)
            return _deliver_and_check(client, sealed, sealed.size, sealed.digest, roster_text,
                                      args.org, codename, args.receipt)
        except GaveUpError as exc:
            raise CLIError(gave_up(exc, SUBMIT_GAVE_UP)) from None


def cmd_seal(args: argparse.Namespace) -> int:
    from vault.witness import seal_testimony, verified_roster

    _check_org(args.org)
    _check_receipt_path(args.output, "-o")
    if args.output in (None, "-") and sys.stdout.isatty():
        raise CLIError("refusing to write the sealed file to the terminal: give -o FILE, or "
                       "send standard output to a file")
    if args.output not in (None, "-") and Path(args.output).exists():
        raise CLIError(f"{args.output} already exists; choose another name (an earlier sealed "
                       "testimony there may not have been uploaded yet)")
    with open_input(args.roster) as f:
        roster_bytes = f.read(2 * 1024 * 1024)
    refuse_other_file(args.roster, roster_bytes, "amanat.roster/", "a signed roster")
    try:
        roster_text = roster_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{args.roster}: the roster is not UTF-8 text") from None
    roster = verified_roster(roster_text, args.org, state=_state(args.state))
    manifest, attachments, codename = _testimony(args)
    with atomic_output(args.output, mode=0o600) as out:
        seal_testimony(manifest, attachments, roster, out)
    where = "standard output" if args.output in (None, "-") else args.output
    print(f"amanat: sealed to {len(roster.readers())} investigator(s) of {roster.origin} "
          f"(roster version {roster.version}) into {where}; upload it with `amanat upload`",
          file=sys.stderr)
    hand_over_codename(codename)
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    from keys.roster import read_roster_unverified
    from vault.cli.network import gave_up, retry_policy, upload_gave_up, work_progress
    from vault.client import GaveUpError, VaultClient
    from vault.upload import ResumableUpload, UploadRefused, check_fits_roster
    from vault.witness import verified_roster

    if args.state is not None and args.org is None:
        raise CLIError("--state needs --org: roster versions are remembered per organization key")
    _check_receipt_path(args.receipt)
    try:
        sealed = open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CLIError(f"cannot read {args.file}: {exc.strerror}") from None
    with sealed, VaultClient(args.server, proxy=args.proxy,
                             retry=retry_policy(args)) as client:
        client.on_work = work_progress()
        hasher = hashlib.sha256()
        while chunk := sealed.read(1024 * 1024):
            hasher.update(chunk)
        size = sealed.tell()
        resumable = ResumableUpload(client, Path(args.file), size, hasher.hexdigest(),
                                    say=lambda line: print(f"amanat: {one_line(line)}",
                                                           file=sys.stderr))
        try:
            roster_text = client.roster_text()
            if args.org is not None:
                roster = verified_roster(roster_text, args.org, state=_state(args.state))
            else:
                roster = read_roster_unverified(roster_text)
                print("amanat: no --org given: the receipt is checked against the log key the "
                      "server names, not against your organization's key", file=sys.stderr)
            check_fits_roster(sealed, size, hasher.hexdigest(), roster, args.file)
            rc = _deliver_and_check(client, sealed, size, hasher.hexdigest, roster_text,
                                    args.org, None, args.receipt, upload_id=resumable.start())
        except UploadRefused as exc:
            raise CLIError(str(exc)) from None
        except GaveUpError as exc:
            raise CLIError(gave_up(exc, upload_gave_up(resumable.record))) from None
        resumable.done()
        return rc


def cmd_replies(args: argparse.Namespace) -> int:
    from vault.client import VaultClient
    from vault.witness import codename_keys, iter_replies

    # Both derivation versions: a codename from before version 2 made its reply addresses
    # with version 1, and its replies wait in that mailbox.
    keys = codename_keys(_typed_codename())
    shown = 0
    with VaultClient(args.server, proxy=args.proxy) as client:
        for reply in iter_replies(client, keys):  # one reply in memory at a time
            text = reply.text if reply.text.endswith("\n") else reply.text + "\n"
            sys.stdout.write(one_line(f"--- reply {reply.id} ({reply.received}) ---")
                             + f"\n{text}")
            shown += 1
    if not shown:
        print("amanat: no replies yet", file=sys.stderr)
    return 0


def cmd_form_template(args: argparse.Namespace) -> int:
    from vault.answers import answers_template
    from vault.witness import FormError, read_form

    text = answers_template(args.language)
    try:
        read_form(text.encode("utf-8"))  # the template must be valid as it is
    except FormError as exc:
        raise CLIError(f"--language: {'; '.join(exc.problems)}") from None
    if args.output not in (None, "-") and Path(args.output).exists():
        raise CLIError(f"{args.output} already exists and may hold answers; choose another "
                       "name")
    with atomic_output(args.output, mode=0o600) as out:
        out.write(text.encode("utf-8"))
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
                        help="answers about the detained persons (start from `amanat form "
                             "template`)")
    parser.add_argument("--language", metavar="TAG", default=None,
                        help="language of the statement, e.g. ug, kk-Cyrl, zh-Hans (default: "
                             "the one the --form file names, else undetermined)")
    parser.add_argument("--consent", choices=CONSENTS, default="none",
                        help="publication: none (investigators only, default), anonymised, "
                             "full")
    reply = parser.add_mutually_exclusive_group()
    reply.add_argument("--no-reply", action="store_true",
                       help="no codename and no way for investigators to answer")
    reply.add_argument("--reuse-codename", action="store_true",
                       help="send this under the codename you got before (asked for at a "
                            f"prompt, or read from {CODENAME_ENV}) instead of a new one, so "
                            "replies to all of it arrive together. This lets the organization "
                            "see that these submissions come from one person")
    parser.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help="remember the highest roster version in FILE and refuse older "
                             "ones (writes FILE; by default nothing is written)")


def register(subparsers: Any) -> None:
    submit = subparsers.add_parser(
        "submit", help="seal testimony to the organization's investigators and send it",
        description="Seal testimony on this device to every investigator on the "
                    "organization's signed roster and send it. Nothing is written to disk "
                    "unless you ask (--receipt, --state). At the end your codename is shown, "
                    "once: at a terminal the command waits until you type YES, to say you "
                    "have written it down.")
    _network_options(submit)
    add_retry_option(submit)
    submit.add_argument("--org", required=True, metavar="VKEY",
                        help="the organization's verifier key, obtained out of band")
    _content_options(submit)
    submit.add_argument("--receipt", metavar="FILE", default=None,
                        help="write the receipt to FILE (- for standard output); without it "
                             "the receipt is checked, then neither kept nor shown")
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
                    "--org the receipt is checked against the log key the server names. "
                    "Until the server has the file, FILE.amanat-upload remembers the upload "
                    "(no secrets), so running the command again resumes it.")
    _network_options(upload)
    add_retry_option(upload)
    upload.add_argument("--org", metavar="VKEY", default=None,
                        help="check the server's roster, and so the receipt, against this "
                             "organization verifier key")
    upload.add_argument("--state", metavar="FILE", type=Path, default=None,
                        help="with --org: refuse a roster older than one remembered in FILE")
    upload.add_argument("--receipt", metavar="FILE", default=None,
                        help="write the receipt to FILE (- for standard output); without it "
                             "the receipt is checked, then neither kept nor shown")
    upload.add_argument("file", metavar="FILE", help="the sealed file")
    upload.set_defaults(func=cmd_upload)

    replies = subparsers.add_parser(
        "replies", help="read investigators' replies with your codename",
        description="Read the replies investigators left for you. The codename is asked "
                    f"for at a prompt (or read from {CODENAME_ENV}), never given on the "
                    "command line.")
    _network_options(replies)
    replies.set_defaults(func=cmd_replies)

    form = subparsers.add_parser(
        "form", help="answers files for --form",
        description="Answers files describe the detained persons (see `submit --form`).")
    form_sub = form.add_subparsers(dest="form_command", metavar="COMMAND")
    form_sub.required = True
    template = form_sub.add_parser(
        "template", help="write a commented answers file to fill in",
        description="Write an answers file with a note before every question. It is valid "
                    "as it is; remove the # before a question to answer it.")
    template.add_argument("--language", metavar="TAG", default=None,
                          help="the language you will answer in, e.g. ug, kk-Cyrl, zh-Hans")
    template.add_argument("-o", "--output", metavar="FILE", default=None,
                          help="the file to write (never replaced); default standard output")
    template.set_defaults(func=cmd_form_template)
