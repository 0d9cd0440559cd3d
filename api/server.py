"""Start the vault server for `amanat serve` (the command's arguments are parsed in vault.cli).

Prints what an admin needs (the log verifier key, with the reminder to put it in the roster
only while the current roster does not name it; the org key; the current roster's expiry
date, with a warning when it has expired or expires soon; the addresses investigators log
in at, from --public-url or, listening on loopback without it, this machine's names; and
with --dev the throwaway keys); refuses to start on a non-loopback address without
--public-url; then runs uvicorn with access logs, Server and Date headers off (api/app.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn

from api.app import create_app, uvicorn_options
from api.deadlines import raise_open_file_limit
from api.settings import Settings, SettingsError
from keys.errors import KeysError
from keys.org import parse_org_vkey
from vault.cli.common import CLIError
from vault.service.rosterview import expiry_notice
from vault.service.service import NoRosterError, VaultService
from vault.service.setup import SetupError
from vault.store import DataDirBusyError


def _log_key_status(service: VaultService) -> str:
    """Whether the admin still has to put this server's log key in the roster."""
    try:
        named = service.roster().log_vkey
    except NoRosterError:
        named = None
    if named == service.log_vkey:
        return "named in the current roster"
    return "put it in the roster with `amanat roster set-log`, then publish the roster"


def serve(args: argparse.Namespace, *, is_loopback: Callable[[str], bool]) -> int:
    try:
        settings = Settings.from_env(
            data_dir=Path(args.data) if args.data else None,
            host=args.host, port=args.port, org_vkey=args.org,
            public_urls=tuple(args.public_url) if args.public_url else None,
            dev=True if args.dev else None,
            allow_missing=True if args.allow_missing else None,
        )
    except SettingsError as exc:
        raise CLIError(str(exc)) from None
    if settings.dev and not is_loopback(settings.host):
        raise CLIError("--dev listens only on loopback (127.0.0.1, ::1): its keys are public")
    try:
        login_servers = settings.login_servers()
    except SettingsError as exc:
        raise CLIError(str(exc)) from None
    if settings.org_vkey is not None:
        try:  # a typo is the key's fault, not the data directory's
            parse_org_vkey(settings.org_vkey)
        except KeysError as exc:
            raise CLIError(f"--org: {exc}") from None
    logging.basicConfig(format="amanat: %(levelname)s %(message)s", level=logging.WARNING)
    try:
        app = create_app(settings)
    except DataDirBusyError as exc:
        raise CLIError(str(exc)) from None
    except (SetupError, OSError) as exc:
        raise CLIError(f"cannot open {settings.data_dir}: {exc}") from None
    opened = app.state.opened
    service = opened.service
    out = sys.stdout
    if opened.log_signer_created:
        print("amanat: created the audit log key for this server.", file=out)
    print(f"amanat: log verifier key ({_log_key_status(service)}):\n"
          f"  {service.log_vkey}", file=out)
    if service.org_vkey is None:
        print("amanat: no organization key yet: start with --org VKEY to accept rosters",
              file=out)
    else:
        print(f"amanat: organization key: {service.org_vkey}", file=out)
        try:
            notice, warning = expiry_notice(service.roster())
        except NoRosterError:
            notice, warning = "no roster published yet (`amanat roster publish`)", False
        print(f"amanat: {notice}", file=sys.stderr if warning else out)
    dev = opened.dev
    if dev is not None:
        print("", file=out)
        print("  DEV ONLY - throwaway keys, never use them for real testimony", file=out)
        print(f"  organization key : {dev.org_vkey}", file=out)
        print(f"  investigator     : {dev.identity_path} (key id {dev.key_id})", file=out)
        print(f"  roster           : {dev.roster_path}", file=out)
        print(f"  passphrase file  : {dev.passphrase_path}  (DEV ONLY)", file=out)
        print("", file=out)
        url = f"http://{settings.host}:{settings.port}"
        print("  Try it, in another terminal (.venv/bin/amanat):", file=out)
        print(f"    echo 'what I saw' | amanat submit --server {url} \\\n"
              f"        --org '{dev.org_vkey}' --statement -", file=out)
        unlock = f'AMANAT_PASSPHRASE="$(cat {dev.passphrase_path})"'
        print(f"    {unlock} amanat inbox --server {url} "
              f"-i {dev.identity_path} --org '{dev.org_vkey}'", file=out)
        print(f"    {unlock} amanat open --server {url} "
              f"-i {dev.identity_path} --org '{dev.org_vkey}' ID -o case", file=out)
        print("", file=out)
    print(f"amanat: investigators log in at {', '.join(login_servers)} "
          "(--public-url names the addresses they use)", file=out)
    print(f"amanat: serving on http://{settings.host}:{settings.port}", file=out, flush=True)
    raise_open_file_limit()
    uvicorn.run(app, **uvicorn_options(settings))
    return 0
