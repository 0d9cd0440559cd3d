"""`amanat keys ...` and `amanat org ...`: investigator identities and the organization key.

Protects: private keys exist on disk only inside passphrase-protected key files (written
atomically, mode 0600); passphrases come from a prompt or ``AMANAT_PASSPHRASE``, never argv,
and a new one too easy to guess offline is refused (``keys.passphrase``).
The only command that prints a private key (``keys export-age``) says so on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from vault.cli.common import CLIError, atomic_output, read_secret

if TYPE_CHECKING:
    from keys.identity import InvestigatorIdentity
    from keys.keyfile import KdfParams
    from keys.org import OrgKey

# Names the environment variable holding the new passphrase (automation, never argv).
NEW_PASSPHRASE_ENV = "AMANAT_NEW_PASSPHRASE"  # noqa: S105
KEY_FILE_ADVICE = ("Whoever copies a key file can guess at its passphrase offline, so weak "
                     "ones are refused, saying why: use six or more random words, picked by "
                     "rolling dice on a diceware word list.")

EXPORT_WARNING = (
    "amanat: warning: the line below is your private age key, unprotected. Anyone who sees "
    "it can read every testimony sealed to you. Paste it straight into `age -i`, never "
    "save or send it."
)


def read_key_file(path: str) -> bytes:
    """Read a key file (bounded: a key file is well under 1 KiB)."""
    from keys.keyfile import MAX_FILE_BYTES

    try:
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None


def _unlock(path: str, kind: str) -> tuple[bytes, str]:
    """Read a key file, check its structure, then ask for its passphrase."""
    from keys.errors import KeysError
    from keys.keyfile import key_file_params

    data = read_key_file(path)
    try:
        key_file_params(data, kind)  # a damaged or wrong file is refused before any prompt
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None
    return data, read_secret(f"Passphrase for {path}: ")


def unlock_identity(path: str) -> InvestigatorIdentity:
    """Open an identity file, asking for its passphrase (or reading AMANAT_PASSPHRASE)."""
    from keys.errors import KeysError
    from keys.identity import InvestigatorIdentity, identity_file_kind

    # An older Ed25519-only identity file (v1) opens too.
    data, passphrase = _unlock(path, identity_file_kind(read_key_file(path)))
    try:
        return InvestigatorIdentity.unseal(data, passphrase)
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None


def unlock_org_key(path: str) -> OrgKey:
    """Open an organization key file, asking for its passphrase."""
    from keys.errors import KeysError
    from keys.keyfile import key_file_kind
    from keys.org import ORG_KEY_KIND, ORG_KEY_KINDS, OrgKey

    found = key_file_kind(read_key_file(path))  # an older Ed25519-only key file opens too
    data, passphrase = _unlock(path, found if found in ORG_KEY_KINDS else ORG_KEY_KIND)
    try:
        return OrgKey.unseal(data, passphrase)
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None


def _refuse_overwrite(path: str, force: bool) -> None:
    if path == "-":
        raise CLIError("-o must name a file: a key file is never written to stdout")
    if os.path.lexists(path) and not force:
        raise CLIError(f"{path} already exists; refusing to overwrite a key (use --force)")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):  # said before the passphrase is asked for, not after
        raise CLIError(f"-o {path}: the folder {folder} does not exist")


def _new_passphrase(prompt: str, *, protects: str, names: tuple[str, ...],
                    env: str = "AMANAT_PASSPHRASE") -> str:
    """Read a new passphrase for a key file and refuse one that is too easy to guess
    (``keys.passphrase``), before asking for it a second time."""
    from keys.errors import KeysError
    from keys.passphrase import check_new_passphrase, context_words

    passphrase = read_secret(prompt, env)
    if not passphrase:
        raise CLIError(f"the {'new ' if env == NEW_PASSPHRASE_ENV else ''}passphrase is empty")
    try:
        check_new_passphrase(passphrase, protects=protects, user_inputs=context_words(*names))
    except KeysError as exc:
        raise CLIError(str(exc)) from None
    if os.environ.get(env) is None and read_secret("Again: ", env) != passphrase:
        raise CLIError("the two entries differ")
    return passphrase


def cmd_keys_new(args: argparse.Namespace) -> int:
    from keys.errors import KeysError
    from keys.identity import InvestigatorIdentity
    from keys.keyfile import DEFAULT_KDF

    _refuse_overwrite(args.output, args.force)
    try:
        identity = InvestigatorIdentity.generate(args.name)
    except KeysError as exc:
        raise CLIError(f"--name: {exc}") from None
    passphrase = _new_passphrase(f"Passphrase for the new identity {args.output}: ",
                                 protects="an investigator's identity",
                                 names=(args.name, os.path.basename(args.output)))
    data = identity.seal(passphrase, DEFAULT_KDF)
    with atomic_output(args.output) as out:
        out.write(data)
    sys.stdout.write(identity.card().format())
    return 0


def cmd_keys_card(args: argparse.Namespace) -> int:
    sys.stdout.write(unlock_identity(args.file).card().format())
    return 0


def cmd_keys_passwd(args: argparse.Namespace) -> int:
    from keys.keyfile import DEFAULT_KDF

    identity = unlock_identity(args.file)
    passphrase = _new_passphrase(f"New passphrase for {args.file}: ",
                                 protects="an investigator's identity",
                                 names=(identity.name, os.path.basename(args.file)),
                                 env=NEW_PASSPHRASE_ENV)
    data = identity.seal(passphrase, DEFAULT_KDF)
    with atomic_output(args.file) as out:
        out.write(data)
    print(f"{args.file}: passphrase changed", file=sys.stderr)
    return 0


def cmd_keys_export_age(args: argparse.Namespace) -> int:
    identity = unlock_identity(args.file)
    print(EXPORT_WARNING, file=sys.stderr)
    sys.stdout.write(identity.export_age() + "\n")
    return 0


class _Sealable(Protocol):
    def seal(self, passphrase: str, params: KdfParams) -> bytes: ...


_Key = TypeVar("_Key", bound=_Sealable)


def _upgrade_key_file(path: str, classical_kind: str,
                      upgrade: Callable[[bytes, str], _Key]) -> _Key:
    """Open the Ed25519-only key file ``path`` (of ``classical_kind``; a file already hybrid
    is refused as of the wrong kind), give it its ML-DSA-44 half with ``upgrade`` and rewrite
    it atomically under the same passphrase and Argon2 parameters."""
    from keys.errors import KeysError
    from keys.keyfile import key_file_params

    data, passphrase = _unlock(path, classical_kind)
    try:
        upgraded = upgrade(data, passphrase)
        sealed = upgraded.seal(passphrase, key_file_params(data, classical_kind))
    except KeysError as exc:
        raise CLIError(f"{path}: {exc}") from None
    with atomic_output(path) as out:
        out.write(sealed)
    return upgraded


def cmd_keys_upgrade(args: argparse.Namespace) -> int:
    from keys.card import derive_key_id
    from keys.identity import CLASSICAL_IDENTITY_KIND, IDENTITY_KIND, InvestigatorIdentity

    upgraded = _upgrade_key_file(
        args.file, CLASSICAL_IDENTITY_KIND,
        lambda data, passphrase: InvestigatorIdentity.unseal(data, passphrase)
        .with_post_quantum_half())
    card = upgraded.card()
    old_key_id = derive_key_id(card.recipient, card.auth_key)  # the v1 key id of the same keys
    print(f"amanat: {args.file} is now {IDENTITY_KIND}, with an ML-DSA-44 auth key beside the "
          f"Ed25519 one (same age recipient: testimony sealed to you still opens). Your key "
          f"id changed from {old_key_id} to {upgraded.key_id}: send the new card below to "
          "your organization's admin, who puts it on the roster in place of the old one "
          f"(`amanat roster add CARD`, then `amanat roster remove {old_key_id}`); until then "
          "servers refuse your logins unless they accept classical ones.", file=sys.stderr)
    sys.stdout.write(card.format())
    return 0


def cmd_org_init(args: argparse.Namespace) -> int:
    from keys.errors import KeysError
    from keys.keyfile import DEFAULT_KDF
    from keys.org import OrgKey

    _refuse_overwrite(args.output, args.force)
    try:
        org = OrgKey.generate(args.name)
    except KeysError as exc:
        raise CLIError(f"--name: {exc}") from None
    passphrase = _new_passphrase(f"Passphrase for the organization key {args.output}: ",
                                 protects="the organization key",
                                 names=(args.name, os.path.basename(args.output)))
    data = org.seal(passphrase, DEFAULT_KDF)
    with atomic_output(args.output) as out:
        out.write(data)
    print(org.vkey())
    _say_fingerprint(org.vkey())
    return 0


def _say_fingerprint(vkey: str) -> None:
    """The key's fingerprint, on stderr (stdout stays the vkey alone, for scripts)."""
    from keys.fingerprint import org_fingerprint

    print(f"amanat: fingerprint {org_fingerprint(vkey)} (publish it with the key: "
          "witnesses compare it with the one the witness page shows)", file=sys.stderr)


def cmd_org_vkey(args: argparse.Namespace) -> int:
    vkey = unlock_org_key(args.file).vkey()
    print(vkey)
    _say_fingerprint(vkey)
    return 0


def cmd_org_upgrade(args: argparse.Namespace) -> int:
    from keys.org import CLASSICAL_ORG_KEY_KIND, ORG_KEY_KIND, OrgKey

    upgraded = _upgrade_key_file(
        args.file, CLASSICAL_ORG_KEY_KIND,
        lambda data, passphrase: OrgKey.unseal(data, passphrase).with_post_quantum_half())
    print(f"amanat: {args.file} is now {ORG_KEY_KIND}: pin the new public form below "
          "(witnesses who keep the old key need the classical policy until then)",
          file=sys.stderr)
    print(upgraded.vkey())
    _say_fingerprint(upgraded.vkey())
    return 0


def register(subparsers: Any) -> None:
    keys_parser = subparsers.add_parser(
        "keys", help="investigator identities", description="Investigator identities."
    )
    keys_sub = keys_parser.add_subparsers(dest="keys_command", metavar="COMMAND")
    keys_sub.required = True

    new = keys_sub.add_parser(
        "new", help="create an identity file and print its public card",
        description="Create an investigator's identity file, locked with a passphrase (asked "
                    "twice at the terminal, or read from AMANAT_PASSPHRASE), and print its "
                    f"public card for the admin to add to the roster. {KEY_FILE_ADVICE}")
    new.add_argument("--name", required=True, help="the investigator's name (any script)")
    new.add_argument("-o", "--output", required=True, metavar="FILE", help="identity file")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=cmd_keys_new)

    card = keys_sub.add_parser("card", help="print the public card of an identity file")
    card.add_argument("file", metavar="FILE", help="an identity file (NAME.identity)")
    card.set_defaults(func=cmd_keys_card)

    passwd = keys_sub.add_parser(
        "passwd",
        help="change an identity file's passphrase (and raise its Argon2 cost to the default)",
        description="Change an identity file's passphrase: the current one is asked first "
                    "(or read from AMANAT_PASSPHRASE), then the new one twice (or read from "
                    f"{NEW_PASSPHRASE_ENV}). {KEY_FILE_ADVICE}",
    )
    passwd.add_argument("file", metavar="FILE", help="an identity file (NAME.identity)")
    passwd.set_defaults(func=cmd_keys_passwd)

    upgrade_identity = keys_sub.add_parser(
        "upgrade", help="give an Ed25519-only identity file its ML-DSA-44 auth key",
        description="Rewrite an older identity file (amanat.identity/v1, Ed25519 auth key "
                    "only) as a hybrid one (v2) under the same passphrase and Argon2 cost: the "
                    "age identity and the Ed25519 key are kept, an ML-DSA-44 auth key is added. "
                    "Prints the new public card (a new key id) for the admin to put on the "
                    "roster in place of the old one.")
    upgrade_identity.add_argument("file", metavar="FILE", help="an identity file")
    upgrade_identity.set_defaults(func=cmd_keys_upgrade)

    export = keys_sub.add_parser(
        "export-age", help="print the raw AGE-SECRET-KEY-PQ-1... line for the stock age tool"
    )
    export.add_argument("file", metavar="FILE", help="an identity file (NAME.identity)")
    export.set_defaults(func=cmd_keys_export_age)

    org_parser = subparsers.add_parser(
        "org", help="the organization's root key", description="The organization's root key."
    )
    org_sub = org_parser.add_subparsers(dest="org_command", metavar="COMMAND")
    org_sub.required = True

    init = org_sub.add_parser(
        "init", help="create the org key file and print its verifier key",
        description="Create the organization's root key file, locked with a passphrase (asked "
                    "twice at the terminal, or read from AMANAT_PASSPHRASE), and print its "
                    "verifier key, which witnesses pin. Keep the file offline. "
                    f"{KEY_FILE_ADVICE}")
    init.add_argument("--name", required=True, metavar="ORIGIN", help="e.g. example.org/amanat")
    init.add_argument("-o", "--output", required=True, metavar="FILE", help="org key file")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_org_init)

    vkey = org_sub.add_parser("vkey", help="print the verifier key of an org key file")
    vkey.add_argument("file", metavar="FILE")
    vkey.set_defaults(func=cmd_org_vkey)
    upgrade = org_sub.add_parser(
        "upgrade", help="give an Ed25519-only org key file its ML-DSA-44 half",
        description="Rewrite an older Ed25519-only organization key file (amanat.org-key/v1) "
                    "as a hybrid one (v2) under the same passphrase: the Ed25519 half is kept, "
                    "an ML-DSA-44 half is added. Prints the new public form to pin.")
    upgrade.add_argument("file", metavar="FILE")
    upgrade.set_defaults(func=cmd_org_upgrade)
