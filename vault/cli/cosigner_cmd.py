"""`amanat cosigner ...`: a partner organization's cosigner for the vault's audit log
(C2SP tlog-witness, cosignature/v1).

* ``init --name NAME -o FILE``: make the cosigner's keys offline (Ed25519 and ML-DSA-44, in
  one file locked with a passphrase from a prompt or ``AMANAT_PASSPHRASE``); prints its two
  verifier keys (types 0x04 and 0x06), which the organization will name in its roster;
* ``add-log --data DIR ORIGIN LOG_KEY``: cosign checkpoints of the log ``ORIGIN`` signed by
  both halves of ``LOG_KEY`` (its Ed25519 vkey, a space, its ML-DSA-44 vkey: what ``amanat
  serve`` prints and the roster's ``log`` line names; ``classical <vkey>`` for an Ed25519-only
  key); creates the data folder on first use;
* ``serve --data DIR [--key FILE] [--host H] [--port N]``: answer ``POST /add-checkpoint``.
  The key file (default ``DIR/cosigner.key``) stays sealed on disk: its passphrase is asked
  at every start and the key lives only in the server's memory.

The HTTP server lives in ``api.cosigner`` and is loaded by name, so ``vault`` never imports
``api``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from vault.cli.common import CLIError, atomic_output

DEFAULT_PORT = 8100


def cmd_init(args: argparse.Namespace) -> int:
    from keys.cosigner import CosignerKey
    from keys.errors import KeysError
    from keys.keyfile import DEFAULT_KDF
    from vault.cli.keys_cmd import _new_passphrase, _refuse_overwrite

    _refuse_overwrite(args.output, args.force)
    try:
        key = CosignerKey.generate(args.name)
    except KeysError as exc:
        raise CLIError(f"--name: {exc}") from None
    passphrase = _new_passphrase(f"Passphrase for the cosigner key {args.output}: ",
                                 protects="the cosigner key",
                                 names=(args.name, os.path.basename(args.output)))
    data = key.seal(passphrase, DEFAULT_KDF)
    with atomic_output(args.output) as out:
        out.write(data)
    for vkey in key.vkeys():
        print(vkey)
    print("amanat: the two lines above are this cosigner's verifier keys (Ed25519, then "
          "ML-DSA-44): give both to the organizations whose logs it cosigns", file=sys.stderr)
    return 0


def _open_store(data: str, *, create: bool) -> Any:
    from vault.cosigner.store import CosignerStore, CosignerStoreError

    try:
        return CosignerStore(Path(data), create=create)
    except CosignerStoreError as exc:
        raise CLIError(str(exc)) from None


def cmd_add_log(args: argparse.Namespace) -> int:
    from vault.cosigner.store import CosignerStoreError

    store = _open_store(args.data, create=True)
    try:
        added = store.add_log(args.origin, args.log_vkey)
    except CosignerStoreError as exc:
        raise CLIError(str(exc)) from None
    finally:
        store.close()
    state = "now cosigns" if added else "already cosigned"
    print(f"amanat: {args.data} {state} the log {args.origin} signed by {args.log_vkey}",
          file=sys.stderr)
    return 0


def _unlock_key(path: str) -> Any:
    from keys.cosigner import COSIGNER_KEY_KIND, CosignerKey
    from keys.errors import KeysError
    from vault.cli.keys_cmd import _unlock

    data, passphrase = _unlock(path, COSIGNER_KEY_KIND)
    try:
        return CosignerKey.unseal(data, passphrase)
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    from vault.cosigner.store import KEY_FILE
    from vault.cosigner.witness import Cosigner

    store = _open_store(args.data, create=False)
    logs = store.logs()
    if not logs:
        raise CLIError(f"{args.data} cosigns no log yet: `amanat cosigner add-log` first")
    server = importlib.import_module("api.cosigner")
    server.check_listen(args.host, args.port)
    key = _unlock_key(args.key or str(Path(args.data) / KEY_FILE))
    out = sys.stdout
    ed25519, ml_dsa = key.vkeys()
    print(f"amanat: cosigner keys (Ed25519, ML-DSA-44):\n  {ed25519}\n  {ml_dsa}", file=out)
    for origin, vkeys in logs.items():
        print(f"amanat: cosigns {origin} ({', '.join(vkeys)})", file=out)
    url = f"http://[{args.host}]:{args.port}" if ":" in args.host else \
        f"http://{args.host}:{args.port}"
    print(f"amanat: serving add-checkpoint on {url}/add-checkpoint", file=out, flush=True)
    server.serve_cosigner(Cosigner(store, key.signers()), args.host, args.port)
    return 0


def register(subparsers: Any) -> None:
    from vault.cli.keys_cmd import KEY_FILE_ADVICE

    parser = subparsers.add_parser(
        "cosigner", help="cosign another organization's audit log (C2SP tlog-witness)",
        description="A partner organization's cosigner: it cosigns a vault's checkpoints "
                    "only when they extend what it cosigned before, so nobody can be shown "
                    "a forked or rolled-back log.")
    sub = parser.add_subparsers(dest="cosigner_command", metavar="COMMAND")
    sub.required = True

    init = sub.add_parser(
        "init", help="make the cosigner key file and print its verifier keys",
        description="Make the cosigner's keys (Ed25519 and ML-DSA-44) offline, in one file "
                    "locked with a passphrase (asked twice at the terminal, or read from "
                    "AMANAT_PASSPHRASE), and print its two verifier keys. "
                    f"{KEY_FILE_ADVICE}")
    init.add_argument("--name", required=True, metavar="NAME",
                      help="the cosigner's name, e.g. partner.example/amanat-cosigner")
    init.add_argument("-o", "--output", required=True, metavar="FILE")
    init.add_argument("--force", action="store_true", help="overwrite FILE")
    init.set_defaults(func=cmd_init)

    add = sub.add_parser(
        "add-log", help="cosign a log: its origin and its key's public form",
        description="Cosign checkpoints of the log ORIGIN signed by both halves of LOG_KEY: "
                    "the log key's public form, its Ed25519 vkey, a space and its ML-DSA-44 "
                    "vkey, as `amanat serve` prints it (one argument: quote it). An "
                    "Ed25519-only key (a log not yet upgraded) is accepted only written "
                    "'classical <vkey>'; adding the upgraded key later replaces it.")
    add.add_argument("--data", required=True, metavar="DIR", help="the cosigner's data folder")
    add.add_argument("origin", metavar="ORIGIN")
    add.add_argument("log_vkey", metavar="LOG_KEY")
    add.set_defaults(func=cmd_add_log)

    serve = sub.add_parser(
        "serve", help="run the cosigner (POST /add-checkpoint)",
        description="Answer C2SP tlog-witness add-checkpoint requests. The key file's "
                    "passphrase is asked at start (or AMANAT_PASSPHRASE).")
    serve.add_argument("--data", required=True, metavar="DIR", help="the cosigner's data folder")
    serve.add_argument("--key", metavar="FILE", default=None,
                       help="the cosigner key file (default DIR/cosigner.key)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"port (default {DEFAULT_PORT})")
    serve.set_defaults(func=cmd_serve)
