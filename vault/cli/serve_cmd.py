"""`amanat serve`: run the vault server (FastAPI under uvicorn) on one data directory.

On first start it creates the log key (0600 in the data directory). Every start prints the
log's verifier key and, until the current roster names it, reminds the admin to write it
into the roster (`amanat roster set-log`). With
``--dev`` it also creates a throwaway organization and investigator (DEV ONLY, passphrase
printed) and refuses to listen anywhere but loopback.

The server keeps no access log and sends no Server or Date header; it never records an
address, user agent or precise time (api/app.py).

This module only parses arguments: the server itself lives in ``api.server`` and is loaded
on demand, so ``vault`` never imports ``api`` and a witness-side install never runs server
code.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vault.store.s3blobs import S3Options


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the vault server",
        description="Run the vault server on one data directory.",
    )
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="data directory (default: $AMANAT_DATA_DIR or ./amanat-data)")
    parser.add_argument("--store", metavar="postgresql://…", default=None,
                        help="keep metadata, logins and the audit log in this PostgreSQL "
                             "database (default: $AMANAT_STORE, or SQLite in --data); --data "
                             "then holds the keys and sealed files, shared by every worker")
    parser.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000)")
    parser.add_argument("--org", metavar="VKEY", default=None,
                        help="the organization verifier key whose signed rosters are accepted")
    parser.add_argument("--public-url", metavar="URL", action="append", default=None,
                        dest="public_url",
                        help="an address investigators reach this server at, e.g. "
                             "http://<address>.onion (repeatable; logins made for any other "
                             "address are refused; needed unless --host is loopback, which "
                             "defaults to http://127.0.0.1:PORT and http://localhost:PORT)")
    parser.add_argument("--dev", action="store_true",
                        help="create a throwaway org and investigator (DEV ONLY, loopback only)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="start even though the database lacks what the audit log records "
                             "(each start names it; clients report it as missing)")
    add_blob_options(parser)
    parser.add_argument("--upgrade-log-key", action="store_true",
                        help="give an Ed25519-only log key (a data directory from before "
                             "ML-DSA-44) its ML-DSA-44 half, then put the new log key in the "
                             "roster with `amanat roster set-log`")
    parser.add_argument("--classical-logins", action="store_true",
                        help="the classical login policy (AMANAT_CLASSICAL_LOGINS=1): let "
                             "investigators whose roster entry has only an Ed25519 auth key "
                             "(identities from before ML-DSA-44) log in with Ed25519 alone, a "
                             "login a future quantum computer could forge; refused without it "
                             "until they run `amanat keys upgrade`")
    parser.set_defaults(func=run)


def add_blob_options(parser: argparse.ArgumentParser) -> None:
    """``--blobs`` and how to reach the bucket (serve, and fsck on a bucket-backed data
    directory)."""
    storage = parser.add_argument_group(
        "object storage", "keep sealed files in an S3-compatible bucket (credentials from the "
        "AWS_* environment or --s3-credentials-file, never from arguments)")
    storage.add_argument("--blobs", metavar="s3://BUCKET/PREFIX", default=None,
                         help="where sealed files are kept (default: the data directory; "
                              "serve also reads $AMANAT_BLOBS)")
    storage.add_argument("--s3-endpoint", metavar="URL", default=None,
                         help="an S3-compatible server, e.g. https://minio.example:9000 "
                              "(default: AWS)")
    storage.add_argument("--s3-region", metavar="REGION", default=None)
    storage.add_argument("--s3-path-style", action="store_true",
                         help="name the bucket in the path, not the host (most self-hosted "
                              "servers)")
    storage.add_argument("--s3-ca-file", metavar="PEM", default=None,
                         help="certificates to trust for the endpoint's TLS")
    storage.add_argument("--s3-credentials-file", metavar="FILE", default=None,
                         help="an AWS credentials file (mode 0600; profile $AWS_PROFILE or "
                              "default)")


def blob_storage(args: argparse.Namespace, data_dir: Path) -> S3Options | None:
    """For a command run on a stopped server's data directory: the bucket ``--blobs`` names,
    else the one the data directory remembers (``blobs.url``), reached as the flags say."""
    from vault.store.s3blobs import S3Options
    from vault.store.sqlite import remembered_blobs_url

    url = getattr(args, "blobs", None) or remembered_blobs_url(data_dir)
    if url is None:
        return None
    ca_file = getattr(args, "s3_ca_file", None)
    credentials = getattr(args, "s3_credentials_file", None)
    return S3Options(url, endpoint=getattr(args, "s3_endpoint", None),
                     region=getattr(args, "s3_region", None),
                     path_style=bool(getattr(args, "s3_path_style", False)),
                     ca_file=Path(ca_file) if ca_file else None,
                     credentials_file=Path(credentials) if credentials else None)


def is_loopback(host: str) -> bool:
    from vault.service.auth import is_loopback_host

    return is_loopback_host(host)


def run(args: argparse.Namespace) -> int:
    server = importlib.import_module("api.server")
    return int(server.serve(args, is_loopback=is_loopback))
