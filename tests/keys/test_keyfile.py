"""The at-rest key file: round trips, strict parsing, and every damaged file refused."""

from __future__ import annotations

import re

import pytest

from keys import keyfile
from keys._text import b64decode_strict, b64encode, name_problem, origin_problem
from keys.errors import KeyFileError, KeysError, UnlockError
from keys.keyfile import (
    DEFAULT_KDF,
    KdfParams,
    key_file_kind,
    key_file_params,
    open_key_file,
    seal_key_file,
)
from tests.keys.conftest import CHEAP_KDF

KIND = "amanat.test-key/v1"
SECRET = bytes(range(64))


def sealed(passphrase: str = "correct horse", plaintext: bytes = SECRET) -> bytes:
    return seal_key_file(KIND, plaintext, passphrase, CHEAP_KDF)


def test_round_trip_and_layout() -> None:
    data = sealed()
    assert open_key_file(data, KIND, "correct horse") == SECRET
    lines = data.decode("ascii").split("\n")
    assert len(lines) == 5 and lines[4] == ""
    assert lines[0] == KIND
    assert re.fullmatch(r"\$argon2id\$v=19\$m=8,t=1,p=1\$[A-Za-z0-9+/]{22}", lines[1])
    assert len(b64decode_strict(lines[2]) or b"") == 24
    assert key_file_kind(data) == KIND
    assert key_file_params(data, KIND) == CHEAP_KDF


def test_each_file_has_fresh_salt_and_nonce() -> None:
    assert sealed() != sealed()


def test_passphrase_is_unicode_normalized() -> None:
    # "é" typed as one code point or as e + combining accent opens the same file.
    data = sealed("caf\u00e9 \u0430\u043c\u0430\u043d\u0430\u0442")
    assert open_key_file(data, KIND, "cafe\u0301 \u0430\u043c\u0430\u043d\u0430\u0442") == SECRET


def test_wrong_passphrase() -> None:
    with pytest.raises(UnlockError, match="wrong passphrase"):
        open_key_file(sealed(), KIND, "Correct horse")


def test_empty_passphrase_refused_when_sealing() -> None:
    with pytest.raises(KeysError, match="empty"):
        sealed("")


def test_invalid_kind_refused_when_sealing() -> None:
    with pytest.raises(KeyFileError, match="kind"):
        seal_key_file("not a kind", SECRET, "pw", CHEAP_KDF)


def test_default_parameters_meet_rfc9106_second_option() -> None:
    assert DEFAULT_KDF.memory_kib >= 64 * 1024
    assert DEFAULT_KDF.iterations >= 3
    assert DEFAULT_KDF.parallelism == 4
    assert DEFAULT_KDF.phc(b"\0" * 16).startswith("$argon2id$v=19$m=262144,t=3,p=4$")


@pytest.mark.parametrize(
    ("memory", "iterations", "parallelism", "match"),
    [
        (8, 1, 0, "parallelism"),
        (8, 1, 65, "parallelism"),
        (8, 0, 1, "passes"),
        (8, 101, 1, "passes"),
        (15, 1, 2, "memory"),
        (4 * 1024 * 1024 + 1, 1, 1, "memory"),
    ],
)
def test_parameter_bounds(memory: int, iterations: int, parallelism: int, match: str) -> None:
    with pytest.raises(KeyFileError, match=match):
        KdfParams(memory, iterations, parallelism)


def test_every_flipped_byte_is_refused() -> None:
    data = sealed()
    for index in range(len(data)):
        for mask in (0x01, 0x80, 0x20):
            damaged = bytearray(data)
            damaged[index] ^= mask
            with pytest.raises(KeyFileError):
                open_key_file(bytes(damaged), KIND, "correct horse")


def test_every_truncation_is_refused() -> None:
    data = sealed()
    for length in range(len(data)):
        with pytest.raises(KeyFileError):
            open_key_file(data[:length], KIND, "correct horse")


def _replace_line(data: bytes, number: int, text: str) -> bytes:
    lines = data.decode("ascii").split("\n")
    lines[number] = text
    return "\n".join(lines).encode("ascii")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d + b"extra\n", "four lines"),
        (lambda d: d + b"\n", "four lines"),
        (lambda d: d.replace(b"\n", b"\r\n"), "not a key file"),
        (lambda d: b"\xff" + d, "not a key file"),
        (lambda d: d[:1] + "\u00e9".encode() + d[1:], "not a key file"),
        (lambda d: d.replace(b"\n", "\n\u00e9".encode(), 1), "not ASCII"),
        (lambda d: b"x" * (keyfile.MAX_FILE_BYTES + 1), "too large"),
        (lambda d: b"", "not a key file"),
        (lambda d: b"hello\n", "not a key file"),
        (lambda d: d.replace(KIND.encode(), b"amanat.identity/v1"), "wrong kind"),
        (
            lambda d: _replace_line(d, 1, "$argon2i$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA"),
            "line 2",
        ),
        (
            lambda d: _replace_line(d, 1, "$argon2id$v=19$m=08,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA"),
            "line 2",
        ),
        (
            lambda d: _replace_line(d, 1, "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAB"),
            "salt",
        ),
        (lambda d: _replace_line(d, 1, "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAAAAAAAAAAA"), "salt"),
        (lambda d: _replace_line(d, 1, "$argon2id$v=19$m=8,t=1,p=1$" + "A" * 88), "salt"),
        (
            lambda d: _replace_line(d, 1, "$argon2id$v=19$m=9999999999,t=1,p=1$" + "A" * 22),
            "unsupported",
        ),
        (lambda d: _replace_line(d, 2, "AAAA"), "nonce"),
        (lambda d: _replace_line(d, 2, "not base64!"), "nonce"),
        (lambda d: _replace_line(d, 3, "AAAA"), "ciphertext"),
        (lambda d: _replace_line(d, 3, ""), "ciphertext"),
    ],
)
def test_malformed_files_name_the_problem(mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KeyFileError, match=match):
        open_key_file(mutate(sealed()), KIND, "correct horse")


def test_header_is_authenticated() -> None:
    # Same key, same ciphertext, a different (still valid) parameter line: refused.
    data = sealed()
    lines = data.decode("ascii").split("\n")
    lines[0] = "amanat.other-key/v1"
    with pytest.raises(UnlockError):
        open_key_file("\n".join(lines).encode(), "amanat.other-key/v1", "correct horse")


def test_raised_parameters_are_read_back() -> None:
    params = KdfParams(memory_kib=64, iterations=2, parallelism=2)
    data = seal_key_file(KIND, SECRET, "pw", params)
    assert key_file_params(data, KIND) == params
    assert open_key_file(data, KIND, "pw") == SECRET


def test_messages_never_contain_the_passphrase() -> None:
    passphrase = "s3cret-passphrase-\u0430\u043c\u0430\u043d\u0430\u0442"
    data = sealed(passphrase)
    for damaged in (data[:-5], data.replace(b"v=19", b"v=16"), data):
        with pytest.raises(KeyFileError) as caught:
            open_key_file(damaged, KIND, passphrase + "x")
        assert passphrase not in str(caught.value)


def test_kind_detection_ignores_non_ascii() -> None:
    assert key_file_kind(b"\xff\xfe\n") is None
    assert key_file_kind(b"AGE-SECRET-KEY-1ABC\n") is None


# --- keys._text ---------------------------------------------------------------------------


@pytest.mark.parametrize("padded", [True, False])
def test_strict_base64(padded: bool) -> None:
    for length in range(0, 10):
        data = bytes(range(length))
        assert b64decode_strict(b64encode(data, padded=padded), padded=padded) == data
    assert b64decode_strict("QQ=", padded=padded) is None  # bad padding
    assert b64decode_strict("QR==" if padded else "QR", padded=padded) is None  # stray bits
    assert b64decode_strict("Q", padded=padded) is None  # impossible length
    assert b64decode_strict("QQ-_", padded=padded) is None  # url-safe alphabet


def test_padding_where_none_is_expected() -> None:
    assert b64decode_strict("QQ==", padded=False) is None
    assert b64decode_strict("QQ", padded=True) is None


@pytest.mark.parametrize(
    "name",
    [
        "Gulnara Ismailova",
        "Гүлнара Исмаилова",
        "گۈلنارە ئىسمايىلوۋا",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with ZWNJ
        "李明",
        "O'Brien-Smith, Jr.",
        "x" * 200,
    ],
)
def test_acceptable_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "empty"),
        ("x" * 201, "longer"),
        ("e\u0301", "normal form"),
        (" Gulnara", "space"),
        ("Gulnara ", "space"),
        ("Gulnara  Ismailova", "space"),
        ("Gulnara\tIsmailova", "U\\+0009"),
        ("Gulnara\nIsmailova", "U\\+000A"),
        ("Gulnara\u00a0Ismailova", "U\\+00A0"),
        ("Gulnara\u202eavonliamsI", "U\\+202E"),
        ("Gulnara\u2028", "U\\+2028"),
        ("\ue000", "U\\+E000"),
        ("\ud800", "U\\+D800"),
    ],
)
def test_unacceptable_names(name: str, match: str) -> None:
    problem = name_problem(name)
    assert problem is not None and re.search(match, problem)


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("example.org/amanat", True),
        ("", False),
        ("x" * 201, False),
        ("has space", False),
        ("a+b", False),
        ("caf\u00e9.org", False),
        ("tab\there", False),
    ],
)
def test_origins(origin: str, ok: bool) -> None:
    assert (origin_problem(origin) is None) == ok


def test_argon2_failure_is_a_key_file_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2.exceptions import HashingError

    def out_of_memory(*args: object, **kwargs: object) -> bytes:
        raise HashingError("Memory allocation error")

    data = sealed()
    monkeypatch.setattr(keyfile, "hash_secret_raw", out_of_memory)
    with pytest.raises(KeyFileError, match=r"Argon2id failed with m=8 KiB.*Memory allocation"):
        open_key_file(data, KIND, "correct horse")


def test_amanat_files_are_described_by_what_they_are() -> None:
    assert keyfile.describe_amanat_file(b"amanat.identity/v1\n...") == (
        "an investigator identity file (amanat.identity/v1)")
    assert keyfile.describe_amanat_file("amanat.card/v1\nАйгүл\n".encode()) == (
        "an investigator's public card, which holds no private key")
    assert keyfile.describe_amanat_file(b"amanat.something-else\n") is None
    assert keyfile.describe_amanat_file(b"AGE-SECRET-KEY-1QQQ\n") is None
