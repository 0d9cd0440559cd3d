"""`amanat keygen | encrypt | decrypt`: age-compatible behaviour and clean failures."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from keys.identity import InvestigatorIdentity
from tests.support import run_in_terminal
from vault import age
from vault.cli import main
from vault.cli.age_cmd import load_identities
from vault.cli.common import CLIError

ROOT = Path(__file__).resolve().parents[2]


def _public_key(key_file: Path) -> str:
    match = re.search(r"^# public key: (age1\S+)$", key_file.read_text(), re.MULTILINE)
    assert match is not None
    return match.group(1)


@pytest.fixture
def pq_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "pq.key"
    assert main(["keygen", "-o", str(path)]) == 0
    capsys.readouterr()
    return path


@pytest.fixture
def x_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "x.key"
    assert main(["keygen", "--x25519", "-o", str(path)]) == 0
    capsys.readouterr()
    return path


def test_keygen_file_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "id.key"
    assert main(["keygen", "-o", str(path)]) == 0
    err = capsys.readouterr().err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert re.fullmatch(r"# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[0])
    assert lines[1].startswith("# public key: age1pq1")
    assert lines[2].startswith("AGE-SECRET-KEY-PQ-1")
    assert len(lines) == 3
    assert err == f"Public key: {lines[1].removeprefix('# public key: ')}\n"
    (identity,) = age.parse_identities_file(path.read_text())
    assert str(identity.recipient()) == _public_key(path)  # type: ignore[attr-defined]


def test_keygen_x25519_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["keygen", "--x25519"]) == 0
    out = capsysbinary.readouterr()
    lines = out.out.decode().splitlines()
    assert lines[1].startswith("# public key: age1")
    assert not lines[1].startswith("# public key: age1pq")
    assert lines[2].startswith("AGE-SECRET-KEY-1")
    assert out.err == b""


def test_keygen_refuses_to_overwrite(pq_key: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = pq_key.read_bytes()
    assert main(["keygen", "-o", str(pq_key)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert pq_key.read_bytes() == before


def test_keygen_unwritable_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen", "-o", str(tmp_path / "missing" / "k")]) == 1
    assert "cannot create" in capsys.readouterr().err


@pytest.mark.parametrize("armor", [False, True])
def test_encrypt_decrypt_files(
    tmp_path: Path, pq_key: Path, armor: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(os.urandom(70_000))
    sealed, opened = tmp_path / "sealed.age", tmp_path / "opened"
    args = ["encrypt", "-r", _public_key(pq_key), "-o", str(sealed), str(plain)]
    assert main(args + (["-a"] if armor else [])) == 0
    assert sealed.read_bytes().startswith(
        b"-----BEGIN AGE ENCRYPTED FILE-----" if armor else b"age-encryption.org/v1\n"
    )
    assert main(["decrypt", "-i", str(pq_key), "-o", str(opened), str(sealed)]) == 0
    assert opened.read_bytes() == plain.read_bytes()
    assert stat.S_IMODE(opened.stat().st_mode) == 0o600
    assert stat.S_IMODE(sealed.stat().st_mode) == 0o600
    assert capsys.readouterr().err == ""


def test_recipients_file_and_several_identities(
    tmp_path: Path, pq_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = age.MLKEM768X25519Identity.generate()
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"# investigators\n{_public_key(pq_key)}\n\n{other.recipient()}\n")
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(b"statement")
    assert main(["encrypt", "-R", str(recipients), "-o", str(sealed), str(plain)]) == 0
    other_key = tmp_path / "other.key"
    other_key.write_text(f"{other}\n")
    assert main(["decrypt", "-i", str(other_key), "-o", str(opened), str(sealed)]) == 0
    assert opened.read_bytes() == b"statement"
    assert age.decrypt_bytes(sealed.read_bytes(), load_identities(str(pq_key))) == b"statement"


def test_wrong_key_is_one_line_and_leaves_no_file(
    tmp_path: Path, pq_key: Path, x_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(b"x" * 100_000)
    assert main(["encrypt", "-r", _public_key(pq_key), "-o", str(sealed), str(plain)]) == 0
    assert main(["decrypt", "-i", str(x_key), "-o", str(opened), str(sealed)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("amanat: ") and "no identity matched" in err
    assert not opened.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p", "s", "pq.key", "x.key"])


def test_damaged_file_leaves_no_partial_output(
    tmp_path: Path, pq_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(os.urandom(3 * 65536))
    assert main(["encrypt", "-r", _public_key(pq_key), "-o", str(sealed), str(plain)]) == 0
    data = bytearray(sealed.read_bytes())
    data[-5] ^= 1  # last chunk: the first two chunks would authenticate
    sealed.write_bytes(bytes(data))
    assert main(["decrypt", "-i", str(pq_key), "-o", str(opened), str(sealed)]) == 1
    assert "damaged or truncated" in capsys.readouterr().err
    assert not opened.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encrypt", "in"], "no recipients"),
        (["encrypt", "-r", "age1nope", "in"], "invalid recipient 'age1nope': "),
        (["encrypt", "-R", "{card}", "in"], "card is an investigator's public card, not an age "
                                            "recipients file: give -R a file of age1pq1… or "
                                            "age1… lines (a public card's age line is one), or "
                                            "-r with the key itself"),
        (["encrypt", "-r", "{pq}", "-r", "{x}", "in"], "mix post-quantum"),
        (["encrypt", "-R", "{missing}", "in"], "cannot read"),
        (["encrypt", "-R", "{binary}", "in"], "not a text key file"),
        (["encrypt", "-R", "{pq_key}", "in"], "invalid recipients file"),
        (["encrypt", "-r", "{pq}", "{missing}"], "cannot read"),
        (["encrypt", "-r", "{pq}", "-o", "{missing}/out", "in"], "missing does not exist"),
        (["decrypt", "-i", "{missing}", "in"], "cannot read"),
        (["decrypt", "-i", "{plain}", "in"], "not an age identity file"),
        (["decrypt", "-i", "{pq_key}", "{plain}"], "malformed header"),
        (["decrypt", "-i", "{huge}", "in"], "too large"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path,
    pq_key: Path,
    x_key: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "in").write_bytes(b"data")
    (tmp_path / "plain").write_text("hello\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    (tmp_path / "card").write_text(InvestigatorIdentity.generate("Aygul").card().format())
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)
    values = {
        "pq": _public_key(pq_key),
        "x": _public_key(x_key),
        "missing": str(tmp_path / "missing"),
        "binary": str(tmp_path / "binary"),
        "card": str(tmp_path / "card"),
        "pq_key": str(pq_key),
        "plain": str(tmp_path / "plain"),
        "huge": str(tmp_path / "huge"),
    }
    argv = [a.format(**values) if a.startswith("{") else a for a in args]
    argv = [str(tmp_path / a) if a == "in" else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("amanat: "), err
    assert message in err
    secret_lines = [line for line in pq_key.read_text().splitlines() if line.startswith("AGE-")]
    assert not any(line in err for line in secret_lines)


def test_load_identities_rejects_other_files(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text('{"kind": "something else"}\n')
    with pytest.raises(CLIError, match="not an age identity file"):
        load_identities(str(path))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _run(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        input=stdin,
        capture_output=True,
        env=env if env is not None else _env(),
        start_new_session=True,  # no controlling terminal: a prompt fails instead of waiting
        check=False,
        timeout=60,
    )


def test_stdin_stdout_pipeline(x_key: Path) -> None:
    sealed = _run("encrypt", "-a", "-r", _public_key(x_key), stdin=b"through a pipe")
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    opened = _run("decrypt", "-i", str(x_key), stdin=sealed.stdout)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == b"through a pipe"
    binary = _run("encrypt", "-r", _public_key(x_key), stdin=b"bin")
    assert binary.returncode == 0 and binary.stdout.startswith(b"age-encryption.org/v1\n")
    assert _run("decrypt", "-i", str(x_key), "-", stdin=binary.stdout).stdout == b"bin"


def test_binary_output_to_a_terminal_is_refused(
    x_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["encrypt", "-r", _public_key(x_key), str(x_key)]) == 1
    assert "terminal" in capsys.readouterr().err


def test_keygen_failure_leaves_no_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    path = tmp_path / "k"
    assert main(["keygen", "-o", str(path)]) == 1
    assert "Input/output error" in capsys.readouterr().err
    assert not path.exists()


# Passphrase-encrypted files (scrypt), as `age -p` writes and `age -d` reads them.

PASSPHRASE = "correct horse battery staple"


def _sealed_with_passphrase(path: Path, passphrase: str, work_factor: int = 2) -> Path:
    recipient = age.ScryptRecipient(passphrase.encode(), work_factor)
    path.write_bytes(age.encrypt_bytes(b"passphrase-protected statement", [recipient]))
    return path


@pytest.mark.parametrize("armor", [False, True])
def test_passphrase_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], armor: bool
) -> None:
    monkeypatch.setenv("AMANAT_PASSPHRASE", PASSPHRASE)
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(os.urandom(70_000))
    assert main(["encrypt", "-p", "-o", str(sealed), str(plain)] + (["-a"] if armor else [])) == 0
    data = sealed.read_bytes()
    if armor:
        data = age.armor.unarmor(data)
    header = data.split(b"\n")
    # One scrypt stanza, alone, at age's default work factor (log2 N = 18).
    assert re.fullmatch(rb"-> scrypt [A-Za-z0-9+/]{22} 18", header[1]), header[1]
    assert header[3].startswith(b"--- ")
    assert main(["decrypt", "-o", str(opened), str(sealed)]) == 0
    assert opened.read_bytes() == plain.read_bytes()
    assert capsys.readouterr().err == ""
    assert age.decrypt_bytes(sealed.read_bytes(), [age.ScryptIdentity(PASSPHRASE.encode())])


def test_wrong_passphrase_is_one_line_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sealed = _sealed_with_passphrase(tmp_path / "s", PASSPHRASE)
    monkeypatch.setenv("AMANAT_PASSPHRASE", "correct horse battery stapler")
    assert main(["decrypt", "-o", str(tmp_path / "o"), str(sealed)]) == 1
    assert capsys.readouterr().err == (
        "amanat: cannot decrypt: wrong passphrase (or the file was altered)\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


@pytest.mark.parametrize(
    ("args", "passphrase", "message"),
    [
        (
            ["encrypt", "-p", "-r", "{x}", "{plain}"],
            PASSPHRASE,
            "-p cannot be combined with -r or -R: a passphrase must be the only way to open a "
            "file",
        ),
        (
            ["encrypt", "-p", "-R", "{x_key}", "{plain}"],
            PASSPHRASE,
            "-p cannot be combined with -r or -R",
        ),
        (
            ["encrypt", "-p", "{plain}"],
            "",
            "the passphrase is empty: type a passphrase, or encrypt to a key with -r",
        ),
        (["encrypt", "-p", "{missing}"], PASSPHRASE, "cannot read"),
        (
            ["decrypt", "{by_key}"],
            PASSPHRASE,
            "cannot decrypt: the file is not encrypted with a passphrase: give the identity "
            "file it was encrypted to with -i FILE",
        ),
        (
            ["decrypt", "-i", "{x_key}", "{by_passphrase}"],
            PASSPHRASE,
            "cannot decrypt: the file is encrypted with a passphrase: run without -i to be "
            "asked for it",
        ),
    ],
)
def test_passphrase_errors(
    tmp_path: Path,
    x_key: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    passphrase: str,
    message: str,
) -> None:
    (tmp_path / "plain").write_bytes(b"data")
    by_key = tmp_path / "by_key"
    by_key.write_bytes(age.encrypt_bytes(b"data", [age.parse_recipient(_public_key(x_key))]))
    values = {
        "x": _public_key(x_key),
        "x_key": str(x_key),
        "plain": str(tmp_path / "plain"),
        "missing": str(tmp_path / "missing"),
        "by_key": str(by_key),
        "by_passphrase": str(_sealed_with_passphrase(tmp_path / "by_passphrase", PASSPHRASE)),
    }
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setenv("AMANAT_PASSPHRASE", passphrase)
    argv = [a.format(**values) if a.startswith("{") else a for a in args]
    assert main([*argv[:1], "-o", str(tmp_path / "out"), *argv[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"amanat: {message}") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert PASSPHRASE not in err


def test_work_factor_above_the_cap_is_refused_before_asking(tmp_path: Path) -> None:
    sealed = _sealed_with_passphrase(tmp_path / "s", PASSPHRASE, work_factor=3)
    data = sealed.read_bytes()
    line = data.split(b"\n")[1]
    assert line.endswith(b" 3")
    sealed.write_bytes(data.replace(line, line[:-1] + b"23", 1))
    # No AMANAT_PASSPHRASE and no terminal: had it asked, it would say so.
    result = _run("decrypt", "-o", str(tmp_path / "o"), str(sealed))
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "amanat: cannot decrypt: the scrypt work factor 23 is above the limit of 22: opening "
        "the file would take too much time and memory\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


@pytest.mark.parametrize("command", ["decrypt", "encrypt -p"])
def test_passphrase_without_terminal_or_environment(tmp_path: Path, command: str) -> None:
    sealed = _sealed_with_passphrase(tmp_path / "s", PASSPHRASE)
    result = _run(*command.split(), "-o", str(tmp_path / "o"), stdin=sealed.read_bytes())
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "amanat: Passphrase needed: run in a terminal or set AMANAT_PASSPHRASE\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["s"]


def test_passphrase_prompts_at_the_terminal(tmp_path: Path) -> None:
    """Typed at the terminal, not echoed, even when standard input carries the data."""
    plain, sealed, opened = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(b"typed, never echoed")
    cli = [sys.executable, "-m", "vault.cli"]
    status, screen = run_in_terminal(
        [*cli, "encrypt", "-p", "-o", sealed],
        [("Passphrase: ", PASSPHRASE), ("Again: ", PASSPHRASE)],
        env=_env(),
        stdin=plain,
    )
    assert status == 0, screen
    assert PASSPHRASE not in screen
    status, screen = run_in_terminal(
        [*cli, "decrypt", "-o", opened], [("Passphrase: ", PASSPHRASE)], env=_env(), stdin=sealed
    )
    assert status == 0, screen
    assert opened.read_bytes() == plain.read_bytes()
    assert PASSPHRASE not in screen


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (PASSPHRASE, PASSPHRASE + "!", "amanat: the two entries differ"),
        ("", "", "amanat: the passphrase is empty: type a passphrase, or encrypt to a key with -r"),
    ],
)
def test_passphrase_typed_wrong_at_the_terminal(
    tmp_path: Path, first: str, second: str, message: str
) -> None:
    (tmp_path / "p").write_bytes(b"x")
    status, screen = run_in_terminal(
        [sys.executable, "-m", "vault.cli", "encrypt", "-p", "-o", tmp_path / "s", tmp_path / "p"],
        [("Passphrase: ", first), ("Again: ", second)],
        env=_env(),
    )
    assert status == 1
    assert screen.endswith(f"Again: \r\n{message}\r\n"), screen
    assert [p.name for p in tmp_path.iterdir()] == ["p"]
