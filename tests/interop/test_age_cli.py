"""Interop with the reference `age` command (Debian age 1.1.1, X25519 recipients).

Protects guarantee 7 (evidence outlives this software): a file `amanat encrypt` writes opens
with `age -d`, a file `age` writes opens with `amanat decrypt`, armored or binary, at every
size around the 64 KiB chunk boundary, to several recipients, with keys made by either tool.
Passphrase-encrypted (scrypt) files cross both ways too: `age` reads its passphrase only from
a terminal, so it runs on a pseudo-terminal and the test types at its prompts; amanat gets
the same passphrase from AMANAT_PASSPHRASE. Debian's age has no post-quantum support;
tests/interop/test_typage.py covers those.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.tools import (
    AMANAT,
    CHUNK,
    MIB,
    SIZES,
    KeyPair,
    age_keygen,
    amanat_keygen,
    check_encoding,
    payload,
    run,
    secret_key_lines,
    tool_env,
    write_identities_file,
    write_recipients_file,
)
from tests.support import require_tool, run_in_terminal
from vault import age as amanat_age

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def age() -> str:
    return require_tool("age")


@pytest.fixture(scope="module")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def age_keys(keydir: Path) -> list[KeyPair]:
    return [age_keygen(keydir, f"age-{i}") for i in range(2)]


@pytest.fixture(scope="module")
def amanat_keys(keydir: Path) -> list[KeyPair]:
    return [amanat_keygen(keydir, f"amanat-{i}", post_quantum=False) for i in range(2)]


@pytest.fixture(scope="module")
def two_keys(age_keys: list[KeyPair], amanat_keys: list[KeyPair]) -> list[KeyPair]:
    """One key from each tool: every file below is sealed to both."""
    return [age_keys[0], amanat_keys[0]]


def test_age_keygen_identity_is_read_by_amanat(age_keys: list[KeyPair]) -> None:
    """amanat derives the same recipient from an age-keygen identity as age-keygen prints."""
    for key in age_keys:
        identities = amanat_age.parse_identities_file(key.identity_file.read_text())
        assert len(identities) == 1
        identity = identities[0]
        assert isinstance(identity, amanat_age.X25519Identity)
        assert str(identity.recipient()) == key.recipient
        assert str(identity) == secret_key_lines(key.identity_file.read_text())[0]


def test_amanat_keygen_identity_is_read_by_age(amanat_keys: list[KeyPair]) -> None:
    """`age-keygen -y` derives from an amanat identity the recipient amanat printed."""
    for key in amanat_keys:
        derived = run([require_tool("age-keygen"), "-y", key.identity_file]).stdout
        assert derived.decode().strip() == key.recipient
        assert key.recipient.startswith("age1") and not key.recipient.startswith("age1pq1")


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_amanat_encrypts_age_decrypts(
    age: str, two_keys: list[KeyPair], tmp_path: Path, size: int, armor: bool
) -> None:
    plaintext = payload(size)
    (tmp_path / "in").write_bytes(plaintext)
    sealed = tmp_path / "sealed.age"
    flags = ["-a"] if armor else []
    recipients = [arg for key in two_keys for arg in ("-r", key.recipient)]
    run([*AMANAT, "encrypt", *recipients, *flags, "-o", sealed, tmp_path / "in"])
    check_encoding(sealed.read_bytes(), armored=armor)

    for key in two_keys:
        # age 1.1.1 creates no -o file for an empty plaintext, so read its stdout.
        opened = run([age, "-d", "-i", key.identity_file, sealed]).stdout
        assert opened == plaintext, f"age could not open it with the {key}"


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_age_encrypts_amanat_decrypts(
    age: str, two_keys: list[KeyPair], tmp_path: Path, size: int, armor: bool
) -> None:
    plaintext = payload(size, seed=1)
    (tmp_path / "in").write_bytes(plaintext)
    flags = ["-a"] if armor else []
    recipients = [arg for key in two_keys for arg in ("-r", key.recipient)]
    sealed = tmp_path / "sealed.age"
    sealed.write_bytes(run([age, *recipients, *flags, tmp_path / "in"]).stdout)
    check_encoding(sealed.read_bytes(), armored=armor)

    for i, key in enumerate(two_keys):
        out = tmp_path / f"out-{i}"
        run([*AMANAT, "decrypt", "-i", key.identity_file, "-o", out, sealed])
        # Unlike age 1.1.1, amanat writes the -o file even for an empty plaintext.
        assert out.read_bytes() == plaintext, f"amanat could not open it with the {key}"


def test_pipes_both_ways(age: str, two_keys: list[KeyPair]) -> None:
    """Standard input to standard output, as in `tar c … | amanat encrypt | age -d`."""
    plaintext = payload(2 * MIB + 3, seed=2)
    age_key, amanat_key = two_keys

    sealed = run([*AMANAT, "encrypt", "-r", age_key.recipient], stdin=plaintext).stdout
    check_encoding(sealed, armored=False)
    assert run([age, "-d", "-i", age_key.identity_file], stdin=sealed).stdout == plaintext

    sealed = run([age, "-a", "-r", amanat_key.recipient], stdin=plaintext).stdout
    check_encoding(sealed, armored=True)
    opened = run([*AMANAT, "decrypt", "-i", amanat_key.identity_file], stdin=sealed).stdout
    assert opened == plaintext


def test_several_recipients_from_a_file(
    age: str, age_keys: list[KeyPair], amanat_keys: list[KeyPair], tmp_path: Path
) -> None:
    """Four recipients from an age -R file (comments, blank lines); each identity alone opens."""
    everyone = [*age_keys, *amanat_keys]
    recipients_file = write_recipients_file(tmp_path / "recipients.txt", everyone)
    plaintext = payload(3 * CHUNK + 17, seed=3)
    (tmp_path / "in").write_bytes(plaintext)

    by_amanat = tmp_path / "by-amanat.age"
    run([*AMANAT, "encrypt", "-R", recipients_file, "-o", by_amanat, tmp_path / "in"])
    by_age = tmp_path / "by-age.age"
    by_age.write_bytes(run([age, "-R", recipients_file, tmp_path / "in"]).stdout)

    for key in everyone:
        assert run([age, "-d", "-i", key.identity_file, by_amanat]).stdout == plaintext, key
        opened = run([*AMANAT, "decrypt", "-i", key.identity_file, by_age]).stdout
        assert opened == plaintext, key

    # One identities file holding every key, and repeated -i, are both accepted.
    all_identities = write_identities_file(tmp_path / "all.keys", everyone)
    assert run([*AMANAT, "decrypt", "-i", all_identities, by_age]).stdout == plaintext
    repeated = [arg for key in everyone[::-1] for arg in ("-i", key.identity_file)]
    assert run([*AMANAT, "decrypt", *repeated, by_age]).stdout == plaintext


def test_identity_that_is_not_a_recipient_is_refused(
    age: str, two_keys: list[KeyPair], keydir: Path, tmp_path: Path
) -> None:
    """A stranger's key opens neither tool's file, and amanat leaves no output file behind."""
    stranger = age_keygen(keydir, "stranger")
    recipients = [arg for key in two_keys for arg in ("-r", key.recipient)]
    plaintext = payload(1000, seed=4)
    by_age = run([age, *recipients], stdin=plaintext).stdout
    by_amanat = run([*AMANAT, "encrypt", *recipients], stdin=plaintext).stdout

    out = tmp_path / "out"
    failed = run(
        [*AMANAT, "decrypt", "-i", stranger.identity_file, "-o", out, "-"],
        stdin=by_age,
        expect_ok=False,
    )
    message = failed.stderr.decode()
    assert message.startswith("amanat: ") and message.count("\n") == 1, message
    assert "Traceback" not in message
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "a failed decryption left a file behind"
    run([age, "-d", "-i", stranger.identity_file], stdin=by_amanat, expect_ok=False)


def test_tampered_payload_from_age_is_refused(
    age: str, two_keys: list[KeyPair], tmp_path: Path
) -> None:
    """A flipped bit in age's last payload chunk: amanat fails and keeps no partial file."""
    age_key = two_keys[0]
    plaintext = payload(2 * CHUNK + 100, seed=5)
    sealed = bytearray(run([age, "-r", age_key.recipient], stdin=plaintext).stdout)
    sealed[-20] ^= 0x01
    out = tmp_path / "out"
    failed = run(
        [*AMANAT, "decrypt", "-i", age_key.identity_file, "-o", out, "-"],
        stdin=bytes(sealed),
        expect_ok=False,
    )
    assert failed.stderr.decode().startswith("amanat: ")
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "a failed decryption left a file behind"


# Passphrases: Latin, Uyghur (Arabic script) and Kazakh (Cyrillic) letters, typed as UTF-8.
PASSPHRASE = "amanat ئامانەت аманат 2024"


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_passphrase_amanat_encrypts_age_decrypts(age: str, tmp_path: Path, armor: bool) -> None:
    plaintext = payload(CHUNK + 1, seed=6)
    (tmp_path / "in").write_bytes(plaintext)
    sealed = tmp_path / "sealed.age"
    flags = ["-a"] if armor else []
    run(
        [*AMANAT, "encrypt", "-p", *flags, "-o", sealed, tmp_path / "in"],
        env={"AMANAT_PASSPHRASE": PASSPHRASE},
    )
    check_encoding(sealed.read_bytes(), armored=armor)

    out = tmp_path / "out"
    status, screen = run_in_terminal(
        [age, "-d", "-o", out, sealed], [("Enter passphrase:", PASSPHRASE)], env=tool_env()
    )
    assert status == 0, screen
    assert out.read_bytes() == plaintext


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_passphrase_age_encrypts_amanat_decrypts(age: str, tmp_path: Path, armor: bool) -> None:
    plaintext = payload(CHUNK + 1, seed=7)
    (tmp_path / "in").write_bytes(plaintext)
    sealed = tmp_path / "sealed.age"
    flags = ["-a"] if armor else []
    status, screen = run_in_terminal(
        [age, "-p", *flags, "-o", sealed, tmp_path / "in"],
        [("Enter passphrase", PASSPHRASE), ("Confirm passphrase:", PASSPHRASE)],
        env=tool_env(),
    )
    assert status == 0, screen
    check_encoding(sealed.read_bytes(), armored=armor)

    out = tmp_path / "out"
    run([*AMANAT, "decrypt", "-o", out, sealed], env={"AMANAT_PASSPHRASE": PASSPHRASE})
    assert out.read_bytes() == plaintext

    wrong = run(
        [*AMANAT, "decrypt", "-o", tmp_path / "wrong", sealed],
        env={"AMANAT_PASSPHRASE": PASSPHRASE.replace("2024", "2025")},
        expect_ok=False,
    )
    assert wrong.stderr == b"amanat: cannot decrypt: wrong passphrase (or the file was altered)\n"
    assert not (tmp_path / "wrong").exists()
