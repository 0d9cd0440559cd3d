"""`amanat web verify`: check that a server serves the witness page built from source.

See vault/webcheck.py. Exit 0 when every built file is served unchanged and every page pins
the same organization key (the one given with ``--org``, if given); 1 when a file differs
or the key is not the expected one (one line each); 2 when nothing could be checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError

UNCHECKED = 2


def cmd_web_verify(args: argparse.Namespace) -> int:
    from keys.fingerprint import org_fingerprint
    from vault.cli.log_cmd import _check_org, _client
    from vault.client import ClientError, MalformedAnswerError, TransportError
    from vault.webcheck import WebCheckError, check_served_page, header_problems

    if args.org is not None:
        _check_org(args.org)
    client = _client(args.server, args.proxy)
    served_badly: list[str] = []

    def fetch(path: str) -> bytes:
        body, headers = client.page_file(path)
        served_badly.extend(f"{path}: {problem}" for problem in header_problems(headers))
        return body

    try:
        check = check_served_page(fetch, Path(args.build))
    except WebCheckError as exc:
        raise CLIError(str(exc), UNCHECKED) from None
    except ClientError as exc:
        raise CLIError(f"{args.server} did not serve the page ({exc}): is it an amanat "
                       "server with its witness page?", UNCHECKED) from None
    except (TransportError, MalformedAnswerError) as exc:
        raise CLIError(str(exc), UNCHECKED) from None
    finally:
        client.close()
    problems = list(check.differing) + served_badly
    if len(check.org_vkeys) > 1:
        problems.append("the pages pin different organization keys: "
                        + ", ".join(sorted(check.org_vkeys)))
    elif not check.org_vkeys:
        problems.append("no page pins an organization key")
    pinned = next(iter(check.org_vkeys)) if len(check.org_vkeys) == 1 else None
    if pinned == "":
        problems.append("the pages pin no organization key (the server has no --org)")
    elif pinned is not None and args.org is not None and pinned != args.org:
        problems.append(f"the pages pin another organization key: {pinned}")
    for problem in problems:
        print(f"amanat: {problem}", file=sys.stderr)
    if problems:
        raise CLIError(f"the page {args.server} serves is not the build of this source "
                       f"(build sha256 {check.build_digest}): {len(problems)} "
                       f"problem{'s' if len(problems) != 1 else ''}")
    assert pinned is not None
    print(f"ok: {args.server} serves the page built from this source "
          f"({len(check.matched)} files, build sha256 {check.build_digest})")
    print(f"organization key pinned in the page: {pinned}")
    print(f"its fingerprint, as the page shows it: {org_fingerprint(pinned)}")
    return 0


def register(subparsers: Any) -> None:
    web = subparsers.add_parser(
        "web",
        help="check the witness page a server serves",
        description="Check the witness page a server serves against a build from source.",
    )
    web_sub = web.add_subparsers(dest="web_command", metavar="COMMAND")
    web_sub.required = True
    verify = web_sub.add_parser(
        "verify",
        help="check that a server serves exactly the page built from this source",
        description=(
            "Fetch every file of the witness page from the server and compare it with the "
            "page built from source (`make web` writes api/static and its build.json). The "
            "only difference allowed is the organization key each HTML page pins, which "
            "must be one key, the one given with --org if given. Exit 0: the same page; 1: "
            "a file differs or the key is not the expected one; 2: nothing could be checked."
        ),
    )
    verify.add_argument("--server", required=True, metavar="URL", help="the vault's address")
    verify.add_argument("--build", default="api/static", metavar="DIR",
                        help="the page built from source (default: api/static)")
    verify.add_argument("--org", metavar="VKEY",
                        help="the organization's verifier key, obtained out of band")
    verify.add_argument(
        "--proxy", metavar="URL", help="e.g. socks5h://127.0.0.1:9050 to go through Tor"
    )
    verify.set_defaults(func=cmd_web_verify)
