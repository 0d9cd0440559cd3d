"""The `amanat` command line.

One subcommand module per concern; each exposes ``register(subparsers)`` and sets
``func`` on its parsers. Every command calls the same library functions the API and the
web page call; this package only parses arguments, reads secrets from prompts and turns
errors into one-line messages.

Conventions every command follows (they protect the witness, DESIGN.md "What must be true"):

* secrets (passphrases, codenames) come from a prompt, or from ``AMANAT_PASSPHRASE`` /
  ``AMANAT_CODENAME`` for automation, never from argv;
* exit status 0 on success; otherwise a single line ``amanat: <reason>`` on stderr and a
  non-zero status, never a traceback (``AMANAT_DEBUG=1`` shows one for developers);
* output files are written atomically: a failed command leaves no partial file behind.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from vault.cli.common import CLIError, one_line

# Each module registers its own subcommands. Order is the order of `amanat --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "vault.cli.age_cmd",
    "vault.cli.keys_cmd",
    "vault.cli.roster_cmd",
    "vault.cli.serve_cmd",
    "vault.cli.fsck_cmd",
    "vault.cli.migrate_cmd",
    "vault.cli.witness_cmd",
    "vault.cli.investigator_cmd",
    "vault.cli.demo_cmd",
    "vault.cli.log_cmd",
    "vault.cli.web_cmd",
    "vault.cli.backup_cmd",
    "vault.cli.cosigner_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amanat",
        description="amanat: a vault for testimony about mass detention.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except CLIError as exc:
        print(f"amanat: {one_line(str(exc))}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("amanat: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except Exception as exc:
        if os.environ.get("AMANAT_DEBUG"):
            raise
        # Library errors carry messages written for people; never print a traceback,
        # which could carry secrets from local variables in a crash reporter.
        print(f"amanat: {one_line(str(exc))}", file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
