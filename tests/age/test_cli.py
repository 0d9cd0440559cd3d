"""`amanat keygen | encrypt | decrypt`: age-compatible behaviour and clean failures."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

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
        (["encrypt", "-r", "age1nope", "in"], "invalid recipient"),
        (["encrypt", "-r", "{pq}", "-r", "{x}", "in"], "mix post-quantum"),
        (["encrypt", "-R", "{missing}", "in"], "cannot read"),
        (["encrypt", "-R", "{binary}", "in"], "not a text key file"),
        (["encrypt", "-R", "{pq_key}", "in"], "invalid recipients file"),
        (["encrypt", "-r", "{pq}", "{missing}"], "cannot read"),
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
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)
    values = {
        "pq": _public_key(pq_key),
        "x": _public_key(x_key),
        "missing": str(tmp_path / "missing"),
        "binary": str(tmp_path / "binary"),
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


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "vault.cli", *args],
        input=stdin,
        capture_output=True,
        env=env,
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
