"""`amanat audit verify` and `amanat receipt verify`: hold the server to its audit log.

Protects DESIGN guarantee 4 from the outside: an auditor who pins the organization key
detects a log that was rolled back, forked or rewritten, or whose entries were edited, and a
witness can check offline that their receipt proves their submission. The checks live in
``vault.audit``; this module parses arguments, talks to the server and formats the verdict.

Exit status: 0 when everything verified (one ``ok: ...`` line on stdout); 1 when the log or
the receipt failed a check (``amanat: <finding>: <reason>`` on stderr, after one
``amanat: missing: ...`` line per submission the log records but the server no longer holds);
2 when nothing could be checked (server unreachable or refusing, unreadable file, damaged
state file).
"""

from __future__ import annotations

import argparse
import binascii
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vault.cli.common import CLIError, atomic_output, one_line, open_input, refuse_other_file

if TYPE_CHECKING:
    from vault.audit import AuditVerdict, Finding, LogSource
    from vault.client import VaultClient
    from vault.tlog.tiles import Tile

FAILED = 1
UNCHECKED = 2
MAX_RECEIPT_BYTES = 64 * 1024
EVIDENCE_FORMAT = "amanat.audit-evidence/v1"

_T = TypeVar("_T")


class _ServerSource:
    """`vault.audit.LogSource` over a `VaultClient`, turning its failures into one-liners."""

    def __init__(self, client: VaultClient) -> None:
        self._client = client

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        from vault.client import ClientError, MalformedAnswerError, NotAmanatError, TransportError

        try:
            return call()
        except NotAmanatError as exc:
            raise CLIError(str(exc), UNCHECKED) from None
        except ClientError as exc:
            raise CLIError(f"the server refused {what}: {exc.message}", UNCHECKED) from None
        except TransportError as exc:
            raise CLIError(str(exc), UNCHECKED) from None
        except (KeyError, TypeError, ValueError, binascii.Error, MalformedAnswerError):
            raise CLIError(f"the server sent a malformed answer for {what}", UNCHECKED) from None

    def roster_text(self) -> str:
        return self._call("the roster", self._client.roster_text)

    def checkpoint(self) -> str:
        return self._call("the latest checkpoint", self._client.checkpoint)

    def cosigned_checkpoint(self) -> str | None:
        return self._call("the cosigned checkpoint", self._cosigned_or_none)

    def _cosigned_or_none(self) -> str | None:
        from vault.client import ClientError

        try:
            return self._client.cosigned_checkpoint()
        except ClientError as exc:
            if exc.status == 404:  # none is cosigned yet: a finding, not a failure to check
                return None
            raise

    def entries(self, start: int, end: int) -> list[bytes]:
        return self._call(f"entries {start} to {end}", lambda: self._client.entries(start, end))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return self._call(
            f"a consistency proof from size {old} to {new}",
            lambda: self._client.consistency_proof(old, new),
        )

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self._call(
            f"an inclusion proof of entry {index} in size {size}",
            lambda: self._client.inclusion_proof(index, size),
        )

    def held(self, start: int, end: int) -> tuple[int, set[str]]:
        return self._call(
            f"which submissions of entries {start} to {end} it holds",
            lambda: self._client.held(start, end),
        )

    def tile(self, tile: Tile) -> bytes:
        return self._call(tile.path(), lambda: self._client.tile(tile))


def _client(server: str, proxy: str | None) -> VaultClient:
    from vault.client import AddressError, TransportError, VaultClient

    try:
        return VaultClient(server, proxy=proxy, timeout=60.0)
    except (AddressError, TransportError) as exc:
        raise CLIError(str(exc), UNCHECKED) from None


def _check_org(org_vkey: str) -> None:
    from keys.errors import VerifierKeyError
    from keys.org import parse_org_vkey

    try:
        parse_org_vkey(org_vkey)
    except VerifierKeyError as exc:
        raise CLIError(f"--org: {exc}", UNCHECKED) from None


def _read_text(path: str, what: str, limit: int, finding: Finding) -> str:
    """Read a receipt or roster; a file that cannot be one fails the check (status 1)."""
    try:
        with open_input(path) as f:
            data = f.read(limit + 1)
    except CLIError as exc:
        raise CLIError(str(exc), UNCHECKED) from None
    if what == "roster":  # a key file or card given in its place is a mistake, not a finding
        try:
            refuse_other_file(path, data, "amanat.roster/", "a signed roster")
        except CLIError as exc:
            raise CLIError(str(exc), UNCHECKED) from None
    if len(data) > limit:
        raise CLIError(f"{finding.value}: {path} is larger than any {what}", FAILED)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{finding.value}: {path} is not UTF-8 text", FAILED) from None


def _write_evidence(path: str, verdict: AuditVerdict) -> None:
    document = {
        "format": EVIDENCE_FORMAT,
        "finding": verdict.finding.value,
        "reason": verdict.reason,
        "log_vkey": verdict.log_vkey,
        "previous_checkpoint": verdict.previous,
        "latest_checkpoint": verdict.signed_checkpoint,
    }
    with atomic_output(path) as out:
        out.write((json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 366:
        raise argparse.ArgumentTypeError(f"a number of hours above 0, at most {24 * 366}")
    return hours


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from vault.audit import AuditState, AuditStateError, verify_log

    _check_org(args.org)
    with _client(args.server, args.proxy) as client:
        server = _ServerSource(client)
        source: LogSource = server
        tiles = server.tile if args.tiles else None
        try:
            max_age = args.max_cosigned_age * 3600.0
            if args.state is None:
                verdict = verify_log(source, args.org, full=args.full, tiles=tiles,
                                     max_cosigned_age=max_age)
            else:
                with AuditState.open(args.state) as state:
                    verdict = verify_log(source, args.org, state=state, full=args.full,
                                         tiles=tiles, max_cosigned_age=max_age)
        except AuditStateError as exc:
            raise CLIError(str(exc), UNCHECKED) from None
    if not verdict.ok:
        if args.evidence is not None:
            _write_evidence(args.evidence, verdict)
        for line in verdict.missing_lines():
            print(f"amanat: {one_line(line)}", file=sys.stderr)
        raise CLIError(verdict.summary(), FAILED)
    print(verdict.summary())
    return 0


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    from keys.roster import MAX_ROSTER_BYTES
    from vault.audit import Finding, verify_submission_receipt

    _check_org(args.org)
    if args.server is None and args.roster is None:
        raise CLIError("give --server URL, or --roster FILE to check offline", UNCHECKED)
    receipt_text = _read_text(args.file, "receipt", MAX_RECEIPT_BYTES, Finding.MALFORMED_RECEIPT)
    roster_text = (
        None
        if args.roster is None
        else _read_text(args.roster, "roster", MAX_ROSTER_BYTES, Finding.BAD_ROSTER)
    )
    if args.server is None:
        assert roster_text is not None
        verdict = verify_submission_receipt(receipt_text, args.org, roster_text)
    else:
        with _client(args.server, args.proxy) as client:
            source = _ServerSource(client)
            served = roster_text is None
            if roster_text is None:
                roster_text = source.roster_text()
            verdict = verify_submission_receipt(
                receipt_text, args.org, roster_text, source=source, roster_is_current=served
            )
    if not verdict.ok:
        raise CLIError(verdict.summary(), FAILED)
    print(verdict.summary())
    return 0


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="check the server's audit log",
        description="Check the server's audit log against the pinned organization key.",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    audit_sub.required = True
    verify = audit_sub.add_parser(
        "verify",
        help="verify the log's latest checkpoint, its history and (--full) every entry",
        description=(
            "Fetch the roster and verify it against the organization key, then the log's "
            "latest checkpoint against the log key the roster names; with --state, prove it "
            "extends the checkpoint seen last time (rollback, fork and rewritten history are "
            "caught); with --full, re-hash every entry and count the entries of each kind "
            "(submissions, accesses, deletions, replies, rosters), and check that the server "
            "still holds every submission the log records without a deletion; with --tiles, "
            "do that from the log's tiles, rebuilding the tree from them. Exit 0: ok; "
            "1: the log failed a check or a submission is missing; 2: nothing could be "
            "checked."
        ),
    )
    verify.add_argument("--server", required=True, metavar="URL", help="the vault's address")
    verify.add_argument("--org", required=True, metavar="VKEY",
                        help="the organization's verifier key, obtained out of band")
    verify.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="remember the roster and checkpoint seen in FILE and hold the log to them",
    )
    verify.add_argument("--full", action="store_true",
                        help="fetch and re-hash every entry, and count them by kind")
    verify.add_argument(
        "--tiles", action="store_true",
        help="read the whole log as C2SP tlog-tiles (implies --full): rebuild the tree from "
             "its tiles, check it against the signed checkpoint, and every entry against it",
    )
    verify.add_argument(
        "--max-cosigned-age", type=_hours, default=24.0, metavar="HOURS",
        help="when the roster names cosigners: refuse a checkpoint whose cosignatures are "
             "older than this (default 24; the vault has them renewed every hour, so older "
             "ones may be an old view of the log shown to you alone)",
    )
    verify.add_argument(
        "--evidence",
        metavar="FILE",
        help="on failure, write the signed checkpoints involved to FILE (JSON)",
    )
    verify.add_argument(
        "--proxy", metavar="URL", help="e.g. socks5h://127.0.0.1:9050 to go through Tor"
    )
    verify.set_defaults(func=cmd_audit_verify)

    receipt = subparsers.add_parser(
        "receipt",
        help="check a submission receipt",
        description="Check a submission receipt against the pinned organization key.",
    )
    receipt_sub = receipt.add_subparsers(dest="receipt_command", metavar="COMMAND")
    receipt_sub.required = True
    check = receipt_sub.add_parser(
        "verify",
        help="verify that a receipt proves its submission is in the log",
        description=(
            "Verify that the receipt proves its submission entry is in a tree signed by the "
            "log key named in the organization's roster (from --roster FILE offline, or from "
            "--server). With --server, also check that the log's latest checkpoint still "
            "extends the receipt's and that the server still holds the submission (or a "
            "logged deletion of it). Nothing is written to disk."
        ),
    )
    check.add_argument("file", metavar="FILE", help="the receipt file")
    check.add_argument("--org", required=True, metavar="VKEY",
                       help="the organization's verifier key, obtained out of band")
    check.add_argument("--server", metavar="URL", help="check the log's current state too")
    check.add_argument("--roster", metavar="FILE", help="signed roster file (for offline checks)")
    check.add_argument(
        "--proxy", metavar="URL", help="e.g. socks5h://127.0.0.1:9050 to go through Tor"
    )
    check.set_defaults(func=cmd_receipt_verify)
