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
import errno
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import uvicorn
from fastapi import FastAPI

from api.app import create_app, uvicorn_options
from api.deadlines import raise_open_file_limit
from api.settings import Settings, SettingsError
from keys.errors import KeysError
from keys.fingerprint import org_fingerprint
from keys.org import CLASSICAL_PREFIX, parse_org_vkey
from vault.cli.common import CLIError
from vault.service.rosterview import RosterView, expiry_notice
from vault.service.service import NoRosterError, VaultService
from vault.service.setup import SetupError
from vault.store import DataDirBusyError, StoreError

DEV_STATEMENT_HINT = ("(then type what you saw and press Ctrl-D on a line of its own; "
                      "never `echo` testimony: the shell keeps it in its history)")


def _log_key_status(service: VaultService) -> str:
    """Whether the admin still has to put this server's log key in the roster."""
    try:
        named = service.roster().log_vkey
    except NoRosterError:
        named = None
    if named == service.log_vkey:
        return "named in the current roster"
    return "put it in the roster with `amanat roster set-log`, then publish the roster"


def _url(host: str, port: int) -> str:
    """The server's address as a URL (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _check_listen(host: str, port: int) -> None:
    """Refuse, before anything is created or printed, an address this server cannot listen
    on (the port taken by another server, a privileged port, an address of another machine),
    in words."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror:
        raise CLIError(f"--host {host}: no such address or host name") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CLIError(f"port {port} on {host} is already in use, by another server: "
                               "stop it, or choose another --port") from None
            if exc.errno == errno.EACCES:
                raise CLIError(f"port {port} needs administrator rights: choose a --port of "
                               "1024 or above") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise CLIError(f"--host {host} is not an address of this machine") from None
            raise CLIError(f"cannot listen on {host} port {port}: {exc.strerror}") from None


def _open_failure(data_dir: Path, exc: OSError) -> str:
    """Why the data directory cannot be opened, without an exception's repr."""
    if data_dir.exists() and not data_dir.is_dir():
        return f"--data {data_dir} is a file, not a folder: give a folder for the server's data"
    where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != data_dir else ""
    return f"cannot open {data_dir}{where}: {exc.strerror or exc}"


def _print_web_page(app: FastAPI, url: str, org_vkey: str | None, out: TextIO) -> None:
    """Where witnesses go, and what lets anyone check the page they get: the digest of
    the build (docs/DEPLOY.md, "Checking the witness page") and the organization key's
    fingerprint, which the page shows and the organization publishes elsewhere."""
    page = app.state.web_page
    if page is None:
        print(f"amanat: witness page not served: {app.state.web_page_problem}",
              file=sys.stderr)
        return
    print(f"amanat: witness page: {url}/ (build sha256 {page.build_digest})", file=out)
    if org_vkey is None:
        print("amanat: the page cannot seal anything until the server has an organization "
              "key (--org)", file=out)
    else:
        print(f"amanat: organization key fingerprint (the page shows it): "
              f"{org_fingerprint(org_vkey)}", file=out)


def _say_classical_investigators(view: RosterView, classical_logins: bool) -> None:
    """Name, at start, the investigators on the roster who can log in only under the
    classical login policy."""
    classical = sorted(m.key_id for m in view.investigators.values() if m.auth_pq is None)
    if classical and not classical_logins:
        print(f"amanat: warning: {len(classical)} investigator(s) on the roster have only an "
              f"Ed25519 auth key ({', '.join(classical)}) and cannot log in until they run "
              "`amanat keys upgrade` and the roster lists their new card (or the server "
              "runs with --classical-logins)", file=sys.stderr)


def serve(args: argparse.Namespace, *, is_loopback: Callable[[str], bool]) -> int:
    try:
        settings = Settings.from_env(
            data_dir=Path(args.data) if args.data else None,
            store=getattr(args, "store", None),
            host=args.host, port=args.port, org_vkey=args.org,
            public_urls=tuple(args.public_url) if args.public_url else None,
            dev=True if args.dev else None,
            allow_missing=True if args.allow_missing else None,
            blobs=args.blobs, s3_endpoint=args.s3_endpoint, s3_region=args.s3_region,
            s3_path_style=True if args.s3_path_style else None,
            s3_ca_file=args.s3_ca_file, s3_credentials_file=args.s3_credentials_file,
            upgrade_log_key=True if args.upgrade_log_key else None,
            classical_logins=True if getattr(args, "classical_logins", False) else None,
        )
    except SettingsError as exc:
        raise CLIError(str(exc)) from None
    if settings.dev and not is_loopback(settings.host):
        raise CLIError("--dev listens only on loopback (127.0.0.1, ::1): its keys are public")
    try:
        login_servers = settings.login_servers()
    except SettingsError as exc:
        raise CLIError(str(exc)) from None
    _check_listen(settings.host, settings.port)
    if settings.org_vkey is not None:
        try:  # a typo is the key's fault, not the data directory's
            parse_org_vkey(settings.org_vkey)
        except KeysError as exc:
            raise CLIError(f"--org: {exc}") from None
    logging.basicConfig(format="amanat: %(levelname)s %(message)s", level=logging.WARNING)
    try:
        app = create_app(settings)
    except (DataDirBusyError, StoreError) as exc:
        raise CLIError(str(exc)) from None
    except SetupError as exc:
        raise CLIError(f"cannot open {settings.data_dir}: {exc}") from None
    except OSError as exc:
        raise CLIError(_open_failure(settings.data_dir, exc)) from None
    opened = app.state.opened
    service = opened.service
    out = sys.stdout
    if settings.store is not None:
        from vault.store.postgres import safe_dsn

        print(f"amanat: store: {safe_dsn(settings.store)} (sealed files in "
              f"{settings.data_dir})", file=out)
    if opened.log_signer_created:
        print("amanat: the audit log key is new (created, or given its ML-DSA-44 half by "
              "--upgrade-log-key).", file=out)
    elif " " not in service.log_vkey:
        print("amanat: warning: the audit log key is Ed25519 only: its checkpoints carry no "
              "post-quantum signature; restart once with --upgrade-log-key", file=sys.stderr)
    print(f"amanat: log verifier key ({_log_key_status(service)}):\n"
          f"  {service.log_vkey}", file=out)
    if service.org_vkey is None:
        print("amanat: no organization key yet: start with --org VKEY to accept rosters",
              file=out)
    else:
        print(f"amanat: organization key: {service.org_vkey}", file=out)
        if service.org_vkey.startswith(CLASSICAL_PREFIX):
            print("amanat: warning: the organization key is Ed25519 only, so rosters are "
                  "accepted under the classical policy (one Ed25519 signature, no "
                  "post-quantum one): make it hybrid with `amanat org upgrade` "
                  "(DEPLOY.md, \"Post-quantum signatures\")", file=sys.stderr)
        try:
            view = service.roster()
        except NoRosterError:
            notice, warning = "no roster published yet (`amanat roster publish`)", False
        else:
            notice, warning = expiry_notice(view)
            _say_classical_investigators(view, settings.classical_logins)
        print(f"amanat: {notice}", file=sys.stderr if warning else out)
    if settings.classical_logins:
        print("amanat: warning: classical login policy (--classical-logins): investigators "
              "whose roster entry has only an Ed25519 auth key log in with Ed25519 alone, "
              "which a future quantum computer could forge; once each has run `amanat keys "
              "upgrade` and is on the roster with the new card, restart without it",
              file=sys.stderr)
    dev = opened.dev
    if dev is not None:
        print("", file=out)
        print("  DEV ONLY - throwaway keys, never use them for real testimony", file=out)
        print(f"  organization key : {dev.org_vkey}", file=out)
        print(f"  investigator     : {dev.identity_path} (key id {dev.key_id})", file=out)
        print(f"  roster           : {dev.roster_path}", file=out)
        print(f"  passphrase file  : {dev.passphrase_path}  (DEV ONLY)", file=out)
        print("", file=out)
        url = _url(settings.host, settings.port)
        print("  Try it, in another terminal (.venv/bin/amanat):", file=out)
        # Typed at the prompt, not echoed into a pipe: testimony must not land in the
        # shell's history file.
        print(f"    amanat submit --server {url} --org '{dev.org_vkey}' --statement -",
              file=out)
        print(f"    {DEV_STATEMENT_HINT}", file=out)
        unlock = f'AMANAT_PASSPHRASE="$(cat {dev.passphrase_path})"'
        print(f"    {unlock} amanat inbox --server {url} "
              f"-i {dev.identity_path} --org '{dev.org_vkey}'", file=out)
        print(f"    {unlock} amanat open --server {url} "
              f"-i {dev.identity_path} --org '{dev.org_vkey}' ID -o case", file=out)
        print("", file=out)
    _print_web_page(app, _url(settings.host, settings.port), service.org_vkey, out)
    print(f"amanat: investigators log in at {', '.join(login_servers)} "
          "(--public-url names the addresses they use)", file=out)
    print(f"amanat: serving on {_url(settings.host, settings.port)}", file=out, flush=True)
    raise_open_file_limit()
    uvicorn.run(app, **uvicorn_options(settings))
    return 0
