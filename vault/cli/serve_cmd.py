"""`amanat serve`: run the vault server (FastAPI under uvicorn) on one data directory.

On first start it creates the log key (0600 in the data directory) and prints the log's
verifier key, which the admin writes into the roster (`amanat roster set-log`). With
``--dev`` it also creates a throwaway organization and investigator (DEV ONLY, passphrase
printed) and refuses to listen anywhere but loopback.

The server keeps no access log and sends no Server or Date header; it never records an
address, user agent or precise time (api/app.py).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the vault server",
        description="Run the vault server on one data directory.",
    )
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="data directory (default: $AMANAT_DATA_DIR or ./amanat-data)")
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument("--org", metavar="VKEY", default=None,
                        help="the organization verifier key whose signed rosters are accepted")
    parser.add_argument("--dev", action="store_true",
                        help="create a throwaway org and investigator (DEV ONLY, loopback only)")
    parser.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    # Imported here so witness-side commands never load the server stack.
    import uvicorn

    from api.app import create_app, uvicorn_options
    from api.settings import Settings, SettingsError
    from vault.service.setup import SetupError

    try:
        settings = Settings.from_env(
            data_dir=Path(args.data) if args.data else None,
            host=args.host, port=args.port, org_vkey=args.org,
            dev=True if args.dev else None,
        )
    except SettingsError as exc:
        raise CLIError(str(exc)) from None
    if settings.dev and not is_loopback(settings.host):
        raise CLIError("--dev listens only on loopback (127.0.0.1, ::1): its keys are public")
    logging.basicConfig(format="amanat: %(levelname)s %(message)s", level=logging.WARNING)
    try:
        app = create_app(settings)
    except (SetupError, OSError) as exc:
        raise CLIError(f"cannot open {settings.data_dir}: {exc}") from None
    opened = app.state.opened
    service = opened.service
    out = sys.stdout
    if opened.log_signer_created:
        print("amanat: created the audit log key for this server.", file=out)
    print(f"amanat: log verifier key (put it in the roster with `amanat roster set-log`):\n"
          f"  {service.log_vkey}", file=out)
    if service.org_vkey is None:
        print("amanat: no organization key yet: start with --org VKEY to accept rosters",
              file=out)
    else:
        print(f"amanat: organization key: {service.org_vkey}", file=out)
    dev = opened.dev
    if dev is not None:
        print("", file=out)
        print("  DEV ONLY - throwaway keys, never use them for real testimony", file=out)
        print(f"  organization key : {dev.org_vkey}", file=out)
        print(f"  investigator     : {dev.identity_path} (key id {dev.key_id})", file=out)
        print(f"  roster           : {dev.roster_path}", file=out)
        print(f"  passphrase       : {dev.passphrase}  (DEV ONLY)", file=out)
        print("", file=out)
    print(f"amanat: serving on http://{settings.host}:{settings.port}", file=out, flush=True)
    uvicorn.run(app, **uvicorn_options(settings))
    return 0
