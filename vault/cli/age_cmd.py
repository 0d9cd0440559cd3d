"""``amanat keygen``, ``amanat encrypt``, ``amanat decrypt``: age-compatible commands.

They read and write the same files as ``age`` / ``age-keygen``: identity files with
``# created`` / ``# public key`` comments, recipients files, binary or armored age files,
and passphrase-encrypted files (``encrypt -p``; ``decrypt`` without ``-i`` asks for the
passphrase when the file has an scrypt stanza, like ``age -d``). The passphrase is typed at
the terminal or read from ``AMANAT_PASSPHRASE``, never taken from argv. Unlike ``age -p``,
an empty passphrase is refused rather than replaced by a generated one: a generated
passphrase would be printed on stderr, where logs and terminal scrollback keep it.
Decryption writes to a temporary file renamed into place only once the whole file has
authenticated, so a failed decryption leaves no partial plaintext behind. Like ``age -o``,
``-o`` outputs are not fsynced (``atomic_output(durable=False)``): complete or absent, but
not guaranteed to survive a crash of the machine right after the command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from vault import age
from vault.age import scrypt
from vault.cli.common import CLIError, atomic_output, open_input, read_secret

MAX_KEY_FILE_SIZE = 16 * 1024 * 1024
# log2 of scrypt's N for `encrypt -p`: age's default (about a second, 256 MiB of memory).
SCRYPT_WORK_FACTOR = scrypt.DEFAULT_WORK_FACTOR

# What a failed decryption means, for the person at the keyboard; {} is the detail.
_FAILURES: dict[type[age.AgeError], str] = {
    age.NoMatchError: "cannot decrypt: {}",
    age.HMACError: "cannot decrypt: {}",
    age.HeaderError: "cannot decrypt: malformed header: {}",
    age.PayloadError: "cannot decrypt: the encrypted data is damaged or truncated: {}",
    age.ArmorError: "cannot decrypt: {}",
}


def register(subparsers: Any) -> None:
    keygen = subparsers.add_parser(
        "keygen",
        help="generate an age identity (like age-keygen)",
        description="Generate an age identity. Post-quantum (mlkem768x25519) by default.",
    )
    kind = keygen.add_mutually_exclusive_group()
    kind.add_argument(
        "--pq",
        dest="kind",
        action="store_const",
        const="pq",
        help="hybrid ML-KEM-768 + X25519 identity (default)",
    )
    kind.add_argument(
        "--x25519",
        dest="kind",
        action="store_const",
        const="x25519",
        help="classical X25519 identity, for age < 1.3",
    )
    keygen.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the identity to FILE (created 0600, never overwritten)",
    )
    keygen.set_defaults(func=cmd_keygen, kind="pq")

    encrypt = subparsers.add_parser(
        "encrypt",
        help="encrypt a file to age recipients or a passphrase",
        description="Encrypt IN (default stdin) to the given recipients, or with a passphrase "
        "(-p), in age v1 format.",
    )
    encrypt.add_argument(
        "-r",
        "--recipient",
        action="append",
        default=[],
        metavar="RECIPIENT",
        help="an age1pq1… or age1… recipient (repeatable)",
    )
    encrypt.add_argument(
        "-R",
        "--recipients-file",
        action="append",
        default=[],
        metavar="FILE",
        help="a file of recipients, one per line (repeatable)",
    )
    encrypt.add_argument(
        "-p",
        "--passphrase",
        action="store_true",
        help="encrypt with a passphrase (asked twice at the terminal, or AMANAT_PASSPHRASE), "
        "like age -p; not with -r or -R",
    )
    encrypt.add_argument(
        "-a", "--armor", action="store_true", help="write PEM-armored text instead of binary"
    )
    encrypt.add_argument("-o", "--output", metavar="OUT", help="output file (default stdout)")
    encrypt.add_argument("input", nargs="?", metavar="IN", help="input file (default stdin)")
    encrypt.set_defaults(func=cmd_encrypt)

    decrypt = subparsers.add_parser(
        "decrypt",
        help="decrypt an age file",
        description="Decrypt IN (default stdin), binary or armored, with the given identities; "
        "without -i, a passphrase-encrypted file asks for its passphrase (or reads "
        "AMANAT_PASSPHRASE).",
    )
    decrypt.add_argument(
        "-i",
        "--identity",
        action="append",
        default=[],
        metavar="FILE",
        help="an identity file (repeatable)",
    )
    decrypt.add_argument("-o", "--output", metavar="OUT", help="output file (default stdout)")
    decrypt.add_argument("input", nargs="?", metavar="IN", help="input file (default stdin)")
    decrypt.set_defaults(func=cmd_decrypt)


def _read_key_file(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE_SIZE + 1)
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_SIZE:
        raise CLIError(f"{path} is too large to be a key file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a text key file") from None


def load_identities(path: str) -> list[age.Identity]:
    """The identities in the file ``path`` given to ``decrypt -i``.

    Accepts age identity files (``AGE-SECRET-KEY-PQ-1…`` / ``AGE-SECRET-KEY-1…`` lines,
    ``#`` comments). Anything else is refused with a one-line :class:`CLIError`.
    """
    text = _read_key_file(path)
    from keys.identity import is_identity_file

    if is_identity_file(text.encode("utf-8")):  # `amanat keys new`: passphrase-protected
        from vault.cli.keys_cmd import unlock_identity

        return [unlock_identity(path).age_identity()]
    if text.startswith("amanat."):
        from keys.keyfile import describe_amanat_file

        what = describe_amanat_file(text.encode("utf-8")) or "an amanat file"
        raise CLIError(
            f"{path} is {what}, not an identity: give -i an investigator identity file "
            "(NAME.identity, from `amanat keys new`) or an age identity file"
        )
    try:
        return age.parse_identities_file(text)
    except age.KeyFormatError as exc:
        raise CLIError(f"{path} is not an age identity file ({exc})") from None


def _collect_recipients(args: argparse.Namespace) -> list[age.Recipient]:
    recipients: list[age.Recipient] = []
    for text in args.recipient:
        try:
            recipients.append(age.parse_recipient(text))
        except age.KeyFormatError as exc:
            shown = repr(text[:20]) + ("…" if len(text) > 20 else "")
            raise CLIError(f"invalid recipient {shown}: {exc}") from None
    for path in args.recipients_file:
        text = _read_key_file(path)
        if text.startswith("amanat."):
            from keys.keyfile import describe_amanat_file

            what = describe_amanat_file(text.encode("utf-8")) or "an amanat file"
            raise CLIError(
                f"{path} is {what.split(', which')[0]}, not an age recipients file: give -R a "
                "file of age1pq1… or age1… lines (a public card's age line is one), or -r "
                "with the key itself")
        try:
            recipients.extend(age.parse_recipients_file(text))
        except age.KeyFormatError as exc:
            raise CLIError(f"invalid recipients file {path}: {exc}") from None
    if not recipients:
        raise CLIError("no recipients: give -r RECIPIENT or -R FILE")
    return recipients


def _passphrase_recipient() -> age.ScryptRecipient:
    passphrase = read_secret("Passphrase: ", confirm=True, stdin_is_data=True)
    if not passphrase:
        raise CLIError("the passphrase is empty: type a passphrase, or encrypt to a key with -r")
    return age.ScryptRecipient(_passphrase_bytes(passphrase), SCRYPT_WORK_FACTOR)


def _passphrase_bytes(passphrase: str) -> bytes:
    # As typed, without normalisation: age uses the passphrase's bytes as they are.
    return passphrase.encode("utf-8", "surrogateescape")


def _ask_passphrase() -> bytes:
    return _passphrase_bytes(read_secret("Passphrase: ", stdin_is_data=True))


class PassphrasePrompt:
    """The identity ``amanat decrypt`` adds after those of ``-i``, as ``age -d`` does.

    Without ``-i`` (``ask=True``) it opens a passphrase-encrypted file, asking for the
    passphrase only once the header has shown that the file needs one and that its work
    factor is within the cap. With ``-i`` it only turns "no identity matched" on a
    passphrase-encrypted file into advice. Failures are messages a person can act on.
    """

    def __init__(self, *, ask: bool) -> None:
        self._ask = ask
        self._identity = age.ScryptIdentity(_ask_passphrase)

    def unwrap(self, stanzas: Sequence[age.Stanza]) -> bytes | None:
        encrypted_with_passphrase = any(s.type == scrypt.STANZA_TYPE for s in stanzas)
        if not self._ask:
            if encrypted_with_passphrase:
                raise CLIError(
                    "cannot decrypt: the file is encrypted with a passphrase: run without -i "
                    "to be asked for it"
                )
            return None
        if not encrypted_with_passphrase:
            raise CLIError(
                "cannot decrypt: the file is not encrypted with a passphrase: give the "
                "identity file it was encrypted to with -i FILE"
            )
        try:
            file_key = self._identity.unwrap(stanzas)
        except age.HeaderError as exc:  # the work factor cap: the stanza itself is valid
            raise CLIError(f"cannot decrypt: {exc}") from None
        if file_key is None:
            raise CLIError("cannot decrypt: wrong passphrase (or the file was altered)")
        return file_key


def cmd_keygen(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    identity: age.MLKEM768X25519Identity | age.X25519Identity
    if args.kind == "x25519":
        identity = age.X25519Identity.generate()
    else:
        identity = age.MLKEM768X25519Identity.generate()
    public = str(identity.recipient())
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    text = f"# created: {created}\n# public key: {public}\n{identity}\n".encode("ascii")
    if args.output is None or args.output == "-":
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
        return 0
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CLIError(f"{args.output} exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise CLIError(f"cannot create {args.output}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(args.output)
        raise
    print(f"Public key: {public}", file=sys.stderr)
    return 0


def cmd_encrypt(args: argparse.Namespace) -> int:
    if args.passphrase and (args.recipient or args.recipients_file):
        raise CLIError(
            "-p cannot be combined with -r or -R: a passphrase must be the only way to open "
            "a file"
        )
    recipients = None if args.passphrase else _collect_recipients(args)
    to_stdout = args.output is None or args.output == "-"
    if to_stdout and not args.armor and sys.stdout.isatty():
        raise CLIError("refusing to write binary ciphertext to a terminal: use -a or -o FILE")
    with open_input(args.input) as src:
        if recipients is None:  # asked once the input is known to be readable
            recipients = [_passphrase_recipient()]
        try:
            with atomic_output(args.output, durable=False) as dst:
                age.encrypt(src, dst, recipients, armor=args.armor)
        except age.RecipientError as exc:
            raise CLIError(str(exc)) from None
    return 0


def cmd_decrypt(args: argparse.Namespace) -> int:
    identities: list[age.Identity] = [
        identity for path in args.identity for identity in load_identities(path)
    ]
    identities.append(PassphrasePrompt(ask=not args.identity))
    try:
        with open_input(args.input) as src, atomic_output(args.output, durable=False) as dst:
            age.decrypt(src, dst, identities)
    except age.AgeError as exc:
        template = next((t for cls, t in _FAILURES.items() if isinstance(exc, cls)), "{}")
        raise CLIError(template.format(exc)) from None
    return 0
