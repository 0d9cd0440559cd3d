"""Interop with npm `age-encryption` 0.3.1 (typage): post-quantum and X25519 recipients.

Protects guarantees 6 and 7: files sealed to hybrid ML-KEM-768 + X25519 recipients
(`age1pq1…`) by amanat open with an independent implementation, and the other way round, so
long-lived evidence does not depend on this code. Also checks both implementations derive the
same recipient string from an identity, since a witness seals to whatever string the roster
carries. The node helpers live in tests/interop/node (installed by `make interop-deps`).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.interop.tools import (
    AMANAT,
    CHUNK,
    MIB,
    SIZES,
    KeyPair,
    amanat_keygen,
    check_encoding,
    node_script,
    payload,
    require_typage,
    run,
    secret_key_lines,
    typage_keygen,
    write_identities_file,
    write_recipients_file,
)
from vault import age as amanat_age

pytestmark = pytest.mark.interop

KINDS = ("pq", "x25519")

# Post-quantum (only typage covers it): every size binary, and armor where its line wrapping
# meets a chunk boundary. X25519 is tried at every size against Debian age already
# (test_age_cli.py), so a few cases suffice here.
CASES = {
    "pq": [(size, False) for size in SIZES] + [(0, True), (CHUNK, True), (CHUNK + 1, True)],
    "x25519": [(0, False), (CHUNK + 1, False), (CHUNK, True)],
}
KIND_CASES = [(kind, case) for kind in KINDS for case in CASES[kind]]


def case_id(kind_case: tuple[str, tuple[int, bool]]) -> str:
    kind, (size, armor) = kind_case
    return f"{kind}-{size}-{'armored' if armor else 'binary'}"


@pytest.fixture(scope="module", autouse=True)
def _typage_installed() -> None:
    require_typage()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[KeyPair]]:
    """Per recipient type: one amanat key, then two typage keys."""
    directory = tmp_path_factory.mktemp("keys")
    return {
        kind: [
            amanat_keygen(directory, f"amanat-{kind}", post_quantum=kind == "pq"),
            typage_keygen(directory, f"typage-{kind}-0", post_quantum=kind == "pq"),
            typage_keygen(directory, f"typage-{kind}-1", post_quantum=kind == "pq"),
        ]
        for kind in KINDS
    }


def check_recipient_type(key: KeyPair, kind: str) -> None:
    if kind == "pq":
        assert key.recipient.startswith("age1pq1"), key
        assert len(key.recipient) == 1959, len(key.recipient)
    else:
        assert key.recipient.startswith("age1") and not key.recipient.startswith("age1pq1")


@pytest.mark.parametrize("kind", KINDS)
def test_both_derive_the_same_recipient(keys: dict[str, list[KeyPair]], kind: str) -> None:
    """typage turns amanat identities into amanat's recipient strings, and vice versa."""
    for key in keys[kind]:
        check_recipient_type(key, kind)
        by_typage = run([*node_script("recipients.mjs"), key.identity_file]).stdout.decode()
        assert by_typage.split() == [key.recipient], key

        text = key.identity_file.read_text()
        identities = amanat_age.parse_identities_file(text)
        assert len(identities) == 1
        expected_class = (
            amanat_age.MLKEM768X25519Identity if kind == "pq" else amanat_age.X25519Identity
        )
        assert isinstance(identities[0], expected_class)
        assert str(identities[0].recipient()) == key.recipient, key
        assert str(identities[0]) == secret_key_lines(text)[0]
        assert amanat_age.is_post_quantum(amanat_age.parse_recipient(key.recipient)) == (
            kind == "pq"
        )


@pytest.mark.parametrize("kind_case", KIND_CASES, ids=case_id)
def test_amanat_encrypts_typage_decrypts(
    keys: dict[str, list[KeyPair]], tmp_path: Path, kind_case: tuple[str, tuple[int, bool]]
) -> None:
    kind, (size, armor) = kind_case
    amanat_key, typage_key, _ = keys[kind]
    plaintext = payload(size, seed=10)
    (tmp_path / "in").write_bytes(plaintext)
    sealed = tmp_path / "sealed.age"
    flags = ["-a"] if armor else []
    run(
        [
            *AMANAT, "encrypt", "-r", amanat_key.recipient, "-r", typage_key.recipient,
            *flags, "-o", sealed, tmp_path / "in",
        ]
    )  # fmt: skip
    check_encoding(sealed.read_bytes(), armored=armor)
    for key in (amanat_key, typage_key):
        opened = run([*node_script("decrypt.mjs"), key.identity_file], stdin=sealed.read_bytes())
        assert opened.stdout == plaintext, f"typage could not open it with the {key}"


@pytest.mark.parametrize("kind_case", KIND_CASES, ids=case_id)
def test_typage_encrypts_amanat_decrypts(
    keys: dict[str, list[KeyPair]], tmp_path: Path, kind_case: tuple[str, tuple[int, bool]]
) -> None:
    kind, (size, armor) = kind_case
    amanat_key, typage_key, _ = keys[kind]
    plaintext = payload(size, seed=11)
    recipients = write_recipients_file(tmp_path / "recipients.txt", [amanat_key, typage_key])
    flags = ["--armor"] if armor else []
    sealed = tmp_path / "sealed.age"
    sealed.write_bytes(
        run([*node_script("encrypt.mjs"), *flags, recipients], stdin=plaintext).stdout
    )
    check_encoding(sealed.read_bytes(), armored=armor)
    for i, key in enumerate((amanat_key, typage_key)):
        out = tmp_path / f"out-{i}"
        run([*AMANAT, "decrypt", "-i", key.identity_file, "-o", out, sealed])
        assert out.read_bytes() == plaintext, f"amanat could not open it with the {key}"


@pytest.mark.parametrize("kind", KINDS)
def test_three_recipients_both_ways(
    keys: dict[str, list[KeyPair]], tmp_path: Path, kind: str
) -> None:
    """Three recipients of one type; each identity alone opens the other tool's file."""
    three = keys[kind]
    recipients = write_recipients_file(tmp_path / "recipients.txt", three)
    plaintext = payload(MIB + 1, seed=12)

    by_amanat = run([*AMANAT, "encrypt", "-a", "-R", recipients], stdin=plaintext).stdout
    check_encoding(by_amanat, armored=True)
    by_typage = run([*node_script("encrypt.mjs"), recipients], stdin=plaintext).stdout
    check_encoding(by_typage, armored=False)

    header = amanat_age.inspect_header(io.BytesIO(by_typage))
    expected_type = "mlkem768x25519" if kind == "pq" else "X25519"
    assert [s.type for s in header.stanzas] == [expected_type] * 3

    for key in three:
        opened = run([*node_script("decrypt.mjs"), key.identity_file], stdin=by_amanat).stdout
        assert opened == plaintext, f"typage could not open amanat's file with the {key}"
        opened = run([*AMANAT, "decrypt", "-i", key.identity_file], stdin=by_typage).stdout
        assert opened == plaintext, f"amanat could not open typage's file with the {key}"

    # All three identities in one file: amanat finds the one that matches.
    together = write_identities_file(tmp_path / "all.keys", three[::-1])
    assert run([*AMANAT, "decrypt", "-i", together], stdin=by_typage).stdout == plaintext


@pytest.mark.parametrize("kind", KINDS)
def test_other_type_identity_is_refused(
    keys: dict[str, list[KeyPair]], tmp_path: Path, kind: str
) -> None:
    """An identity of the other type never opens the file, in either implementation."""
    other = "x25519" if kind == "pq" else "pq"
    recipients = write_recipients_file(tmp_path / "recipients.txt", keys[kind][:2])
    plaintext = payload(100, seed=13)
    by_typage = run([*node_script("encrypt.mjs"), recipients], stdin=plaintext).stdout
    by_amanat = run([*AMANAT, "encrypt", "-R", recipients], stdin=plaintext).stdout
    for key in keys[other]:
        run([*AMANAT, "decrypt", "-i", key.identity_file], stdin=by_typage, expect_ok=False)
        run([*node_script("decrypt.mjs"), key.identity_file], stdin=by_amanat, expect_ok=False)
