"""`amanat roster ...`: build, sign, renew, show and verify the organization's roster.

Protects: a roster is re-signed only after the current file verifies under the org key, and
its version only grows; a roster with no reader (nothing could be sealed to it) is never
signed; every signed version carries an expiry date at most
``MAX_VALIDITY_DAYS`` ahead (``--valid-days``, default ``DEFAULT_VALIDITY_DAYS``), which
bounds how old a roster a compromised server can replay to a witness who keeps no state;
`roster verify` checks a roster the way every client does (``keys.roster.verify_roster``),
optionally remembering the highest version seen.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from keys.card import PublicCard, parse_card
from keys.errors import KeysError
from keys.fingerprint import org_fingerprint
from keys.org import CLASSICAL_PREFIX, OrgKey, parse_org_vkey
from keys.roster import (
    DEFAULT_VALIDITY_DAYS,
    MAX_ROSTER_BYTES,
    MAX_VALIDITY_DAYS,
    POLICIES,
    ROLE_READER,
    Roster,
    RosterState,
    check_has_readers,
    default_state_path,
    expiry_after,
    parse_roles,
    read_roster_unverified,
    sign_roster,
    utc_today,
    verify_roster,
)
from vault.cli.common import CLIError, atomic_output, open_input, refuse_other_file
from vault.cli.keys_cmd import unlock_org_key
from vault.tlog.cosignature import CosignatureError
from vault.tlog.cosigning import Cosigner, CosigningPolicy

CARD = "a public card (from `amanat keys new` or `amanat keys card`)"
ROSTER = "a signed roster (from `amanat roster add`)"
_HEADERS = {CARD: "amanat.card/", ROSTER: "amanat.roster/"}


def _read_text(path: str, what: str) -> str:
    with open_input(path) as f:
        data = f.read(MAX_ROSTER_BYTES + 1)
    refuse_other_file(path, data, _HEADERS[what], what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not UTF-8 text, so not {what}") from None


def _state(args: argparse.Namespace) -> RosterState | None:
    try:
        if args.state is not None:
            return RosterState.load(args.state)
        if args.keep_state:
            return RosterState.load(default_state_path())
    except KeysError as exc:
        raise CLIError(str(exc)) from None
    return None


def _check_org_vkey(vkey: str) -> None:
    """Refuse a mistyped ``--org`` before any file is read, so it is never blamed on one."""
    try:
        parse_org_vkey(vkey)
    except KeysError as exc:
        raise CLIError(f"--org: {exc}") from None


def _current(org: OrgKey, path: str, state: RosterState | None) -> Roster:
    if not os.path.exists(path):
        return Roster.empty(org.origin)
    try:
        # An expired roster is still the current one: the admin is here to replace it. One
        # half's signature suffices (the classical policy): the roster the admin re-signs
        # may be one the key signed before it had its ML-DSA-44 half (`amanat org upgrade`).
        return verify_roster(
            _read_text(path, ROSTER), CLASSICAL_PREFIX + org.vkey(), state=state,
            check_dates=False,
        )
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None


def _expiry(args: argparse.Namespace) -> date:
    try:
        return expiry_after(args.valid_days)
    except KeysError as exc:
        raise CLIError(f"--valid-days: {exc}") from None


def _update(
    args: argparse.Namespace, change: Any, describe: str, expires: date | None = None
) -> int:
    """Verify the current roster, apply ``change``, give it a new expiry date (``expires``,
    else ``--valid-days`` from today), sign, record, write atomically."""
    expires = _expiry(args) if expires is None else expires
    state = _state(args)
    org = unlock_org_key(args.org)
    current = _current(org, args.roster, state)
    try:
        updated: Roster = change(current).with_expiry(expires)
        check_has_readers(updated)
        signed = sign_roster(updated, *org.signers())
        if state is not None:
            digest = hashlib.sha256(updated.format().encode("utf-8")).digest()
            state.check_and_update(org.vkey(), updated.version, text_sha256=digest)
    except KeysError as exc:
        raise CLIError(str(exc)) from None
    with atomic_output(args.roster, mode=0o644) as out:
        out.write(signed.encode("utf-8"))
    print(f"{args.roster}: version {updated.version}: {describe}; "
          f"valid through {expires.isoformat()} (UTC)")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    cards: list[PublicCard] = []
    for path in args.cards:
        try:
            cards.append(parse_card(_read_text(path, CARD)))
        except KeysError as exc:
            raise CLIError(f"{path}: {exc}") from None
    try:
        roles = parse_roles(args.roles)
    except KeysError as exc:
        raise CLIError(f"--roles: {exc}") from None
    names = ", ".join(f"{card.key_id} ({card.name})" for card in cards)
    for card in cards:
        if not card.is_hybrid:
            print(f"amanat: warning: {card.key_id} ({card.name}) has an older card with only an "
                  "Ed25519 auth key: they cannot log in to a server under the default login "
                  "policy until they run `amanat keys upgrade` and send you the new card "
                  "(add it, then remove this one)", file=sys.stderr)
    return _update(args, lambda r: r.with_added(cards, roles), f"added {names}")


def cmd_remove(args: argparse.Namespace) -> int:
    return _update(
        args, lambda r: r.with_removed(args.key_ids), f"removed {', '.join(args.key_ids)}"
    )


def _unless_already(what: str, has: Callable[[Roster], str | None], wanted: str,
                    change: Callable[[Roster], Roster]) -> Callable[[Roster], Roster]:
    """``change``, refused when the roster already has ``wanted``: a new version that changes
    nothing would only have to be published again."""
    def checked(roster: Roster) -> Roster:
        if has(roster) == wanted:
            raise KeysError(f"the roster (version {roster.version}) already names this {what}; "
                            "nothing to change (to extend its validity: `amanat roster renew`)")
        return change(roster)

    return checked


def cmd_set_log(args: argparse.Namespace) -> int:
    return _update(args, _unless_already("log key", lambda r: r.log_vkey, args.log_vkey,
                                         lambda r: r.with_log(args.log_vkey)),
                   f"log key {args.log_vkey}")


def cmd_set_policy(args: argparse.Namespace) -> int:
    return _update(args, _unless_already("policy", lambda r: r.policy, args.policy,
                                         lambda r: r.with_policy(args.policy)),
                   f"policy {args.policy}")


def cmd_set_cosigners(args: argparse.Namespace) -> int:
    if args.none:
        if args.cosigner or args.require is not None:
            raise CLIError("--none names no cosigner: give it alone")
        return _update(args, _unless_already("cosigning policy", _policy_text, "",
                                             lambda r: r.with_cosigning(None)),
                       "no cosigners")
    if not args.cosigner or args.require is None:
        raise CLIError("give --require K and one --cosigner per cosigner (or --none)")
    try:
        cosigners = tuple(Cosigner.from_vkeys(*given) for given in args.cosigner)
        policy = CosigningPolicy(args.require, tuple(sorted(cosigners, key=lambda c: c.name)))
    except CosignatureError as exc:
        raise CLIError(f"--cosigner: {exc}") from None
    wanted = _policy_text_of(policy)
    names = ", ".join(c.name for c in policy.cosigners)
    return _update(args, _unless_already("cosigning policy", _policy_text, wanted,
                                         lambda r: r.with_cosigning(policy)),
                   f"{policy.quorum} of {len(policy.cosigners)} cosigners required ({names})")


def _policy_text(roster: Roster) -> str:
    return "" if roster.cosigning is None else _policy_text_of(roster.cosigning)


def _policy_text_of(policy: CosigningPolicy) -> str:
    return "".join(f"{policy.quorum} {c.ed25519.vkey()} {c.mldsa44.vkey()} {c.url}\n"
                   for c in policy.cosigners)


def cmd_renew(args: argparse.Namespace) -> int:
    if not os.path.exists(args.roster):
        raise CLIError(
            f"{args.roster}: no such roster to renew (create it with `amanat roster add`)"
        )
    expires = _expiry(args)
    return _update(args, lambda r: r.renewed(expires), "renewed", expires)


def describe_expiry(roster: Roster, today: date | None = None) -> str:
    """``2026-12-01 (UTC; 40 days left)``, or ``... EXPIRED 3 days ago``, for people."""
    today = utc_today() if today is None else today
    left = roster.days_left(today)
    when = roster.expiry().isoformat()
    if left < 0:
        ago = -left
        return f"{when} (UTC): EXPIRED {ago} day{'s' if ago != 1 else ''} ago"
    if left == 0:
        return f"{when} (UTC): last day"
    return f"{when} (UTC; {left} day{'s' if left != 1 else ''} left)"


FINGERPRINT_LABEL = "fingerprint "


def _describe(roster: Roster, org_vkey: str | None = None) -> str:
    """The roster for a person; with the organization key it was checked against (or is to
    be), that key's fingerprint, which witnesses compare with what the organization
    publishes."""
    shown = (org_fingerprint(org_vkey) if org_vkey is not None
             else "(give --org VKEY to show the organization key's fingerprint)")
    lines = [
        f"organization {roster.origin}",
        f"{FINGERPRINT_LABEL} {shown}",
        f"version      {roster.version}",
        f"policy       {roster.policy}",
        f"expires      {describe_expiry(roster)}",
        f"log          {roster.log_vkey or '(none yet)'}",
        f"cosigners    {_describe_cosigning(roster)}",
        f"investigators ({len(roster.investigators)}):",
    ]
    for person in roster.investigators:
        older = "" if person.is_hybrid else "  (Ed25519 login only: `amanat keys upgrade`)"
        lines.append(f"  {person.key_id}  {','.join(person.roles):<12}  {person.name}{older}")
    return "\n".join(lines) + "\n"


def _describe_cosigning(roster: Roster) -> str:
    policy = roster.cosigning
    if policy is None:
        return "(none: checkpoints need no cosignature)"
    listed = "".join(f"\n  {c.name}  {c.url}" for c in policy.cosigners)
    return f"{policy.quorum} of {len(policy.cosigners)} required{listed}"


def cmd_show(args: argparse.Namespace) -> int:
    if args.org is not None:
        _check_org_vkey(args.org)
    text = _read_text(args.file, ROSTER)
    try:
        roster = read_roster_unverified(text)
    except KeysError as exc:
        raise CLIError(f"{args.file}: {exc}") from None
    print(
        "amanat: signature NOT checked; use `amanat roster verify --org VKEY` before trusting it",
        file=sys.stderr,
    )
    sys.stdout.write(_describe(roster, args.org))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    _check_org_vkey(args.org)
    state = _state(args)
    text = _read_text(args.file, ROSTER)
    try:
        roster = verify_roster(text, args.org, state=state)
    except KeysError as exc:
        raise CLIError(f"{args.file}: {exc}") from None
    rollback = "checked" if state is not None else "not checked (no --state)"
    print(f"{args.file}: signature OK, rollback {rollback}")
    sys.stdout.write(_describe(roster, args.org))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from vault.client import ClientError, TransportError, VaultClient

    if args.org:
        _check_org_vkey(args.org)
    text = _read_text(args.roster, ROSTER)
    try:
        roster = (
            verify_roster(text, args.org) if args.org else read_roster_unverified(text)
        )
    except KeysError as exc:
        raise CLIError(f"{args.roster}: {exc}") from None
    try:
        with VaultClient(args.server, proxy=args.proxy, timeout=60.0) as client:
            version = client.publish_roster(text)
    except ClientError as exc:
        if exc.status == 409:  # an older or the same version: the server keeps the newest
            raise CLIError(f"{args.server} refused roster version {roster.version}: "
                           f"{exc.message}; sign the next version first (`amanat roster "
                           "add`, `remove` or `renew`)") from None
        raise CLIError(f"{args.server}: {exc}") from None
    except TransportError as exc:
        raise CLIError(f"{args.server}: {exc}") from None
    print(f"published roster version {version} of {roster.origin} to {args.server}")
    return 0


def _add_state_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="remember the highest roster version seen in FILE and refuse lower ones",
    )
    group.add_argument(
        "--keep-state",
        action="store_true",
        help=f"like --state with the default file ({default_state_path()})",
    )


def _admin_parser(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    parser.add_argument("--org", required=True, metavar="ORG.key", help="org key file")
    parser.add_argument("--roster", required=True, metavar="FILE", help="signed roster file")
    parser.add_argument(
        "--valid-days",
        type=int,
        default=DEFAULT_VALIDITY_DAYS,
        metavar="N",
        help=f"the new version is valid for N days from today, UTC (default "
        f"{DEFAULT_VALIDITY_DAYS}, at most {MAX_VALIDITY_DAYS}); clients refuse it afterwards",
    )
    _add_state_options(parser)
    return parser


def register(subparsers: Any) -> None:
    roster_parser = subparsers.add_parser(
        "roster", help="the organization's signed roster", description="The signed roster."
    )
    sub = roster_parser.add_subparsers(dest="roster_command", metavar="COMMAND")
    sub.required = True

    add = _admin_parser(sub, "add", "add investigators from their public cards")
    add.add_argument(
        "--roles", default=ROLE_READER, help="comma-separated: reader, admin (default: reader)"
    )
    add.add_argument("cards", nargs="+", metavar="CARD", help="public card file")
    add.set_defaults(func=cmd_add)

    remove = _admin_parser(sub, "remove", "remove investigators by key id")
    remove.add_argument("key_ids", nargs="+", metavar="KEYID")
    remove.set_defaults(func=cmd_remove)

    set_log = _admin_parser(sub, "set-log", "name the audit log's verifier key")
    set_log.add_argument("log_vkey", metavar="LOG_VKEY")
    set_log.set_defaults(func=cmd_set_log)

    set_policy = _admin_parser(sub, "set-policy", "allow or forbid classical X25519 recipients")
    set_policy.add_argument("policy", choices=POLICIES)
    set_policy.set_defaults(func=cmd_set_policy)

    set_cosigners = _admin_parser(
        sub, "set-cosigners",
        "name the log's cosigners and how many must cosign a checkpoint (k of n)")
    set_cosigners.add_argument(
        "--require", type=int, metavar="K",
        help="clients rely on a checkpoint only when K of the cosigners cosigned it")
    set_cosigners.add_argument(
        "--cosigner", nargs=3, action="append", default=[],
        metavar=("ED25519_VKEY", "MLDSA44_VKEY", "ADDRESS"),
        help="a cosigner's two verifier keys (as `amanat cosigner init` prints them) and the "
        "address the vault sends checkpoints to (e.g. https://cosigner.partner.example); "
        "once per cosigner")
    set_cosigners.add_argument("--none", action="store_true",
                               help="name no cosigners (checkpoints need no cosignature)")
    set_cosigners.set_defaults(func=cmd_set_cosigners)

    renew = _admin_parser(
        sub, "renew", "sign the next version with a new expiry date, nothing else changed"
    )
    renew.set_defaults(func=cmd_renew)

    show = sub.add_parser("show", help="print a roster WITHOUT checking its signature")
    show.add_argument("--org", default=None, metavar="VKEY",
                      help="an org verifier key whose fingerprint to show (the signature is "
                           "still NOT checked: use `roster verify` for that)")
    show.add_argument("file", metavar="FILE")
    show.set_defaults(func=cmd_show)

    verify = sub.add_parser("verify", help="verify a roster against the pinned org key")
    verify.add_argument("--org", required=True, metavar="VKEY", help="org verifier key")
    verify.add_argument("file", metavar="FILE")
    _add_state_options(verify)
    verify.set_defaults(func=cmd_verify)

    publish = sub.add_parser(
        "publish",
        help="upload a signed roster to a server (it checks the org signature and version)",
    )
    publish.add_argument("--server", required=True, metavar="URL", help="the vault's address")
    publish.add_argument("--roster", required=True, metavar="FILE", help="signed roster file")
    publish.add_argument(
        "--org", metavar="VKEY", help="verify the roster against this org key before uploading"
    )
    publish.add_argument(
        "--proxy", metavar="URL", help="e.g. socks5h://127.0.0.1:9050 to go through Tor"
    )
    publish.set_defaults(func=cmd_publish)
