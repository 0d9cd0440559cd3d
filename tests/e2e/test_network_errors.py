"""What the commands say when the network or the addresses are wrong: one line a person can
act on, never the name of a Python exception, and a non-zero exit status.

Real processes throughout: `amanat` in process (``vault.cli.main``) or as a subprocess,
servers as real ``amanat serve`` processes.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.vaultkit import FAST_KDF, read_dev_keys
from tests.audit.fakes import Org
from tests.e2e.conftest import ROOT, ServerProcess, free_port
from tests.workflows.conftest import amanat, base_env
from vault import age
from vault.cli import main

EXCEPTION_NAMES = re.compile(r"Error\b|Exception|UnsupportedProtocol|Timeout\b")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(list(args))
    err = capsys.readouterr().err
    return status, err


def one_reason(err: str, notices: int = 0) -> str:
    """The ``amanat:`` line of a refusal after ``notices`` lines, checked to name no
    exception."""
    lines = err.splitlines()
    assert len(lines) == notices + 1 and lines[-1].startswith("amanat: "), err
    assert not EXCEPTION_NAMES.search(err), err
    return lines[-1]


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    path = tmp_path / "t.age"
    path.write_bytes(age.encrypt_bytes(b"x", [age.MLKEM768X25519Identity.generate().recipient()]))
    return path


# --- addresses ---


def test_a_server_address_without_scheme(capsys: pytest.CaptureFixture[str],
                                         sealed: Path) -> None:
    status, err = run(capsys, "upload", "--server", "127.0.0.1:8000", str(sealed))
    assert status == 1
    assert one_reason(err) == ("amanat: the server address 127.0.0.1:8000 has no http:// or "
                               "https://: write it as http://127.0.0.1:8000")
    status, err = run(capsys, "audit", "verify", "--server", "localhost:8000", "--org",
                      Org().vkey)
    assert status == 2  # audit verify: nothing could be checked
    assert one_reason(err) == ("amanat: the server address localhost:8000 has no http:// or "
                               "https://: write it as http://localhost:8000")


@pytest.mark.parametrize(("address", "reason"), [
    ("", "the server address is empty: give --server http://HOST:PORT"),
    ("http:/127.0.0.1:8000", "the server address http:/127.0.0.1:8000 needs two slashes: "
                             "write it as http://127.0.0.1:8000"),
    ("https:vault.example", "the server address https:vault.example needs two slashes: write "
                            "it as https://vault.example"),
    ("http://", "the server address http:// has no host name: write it as http://HOST:PORT"),
])
def test_a_malformed_server_address(capsys: pytest.CaptureFixture[str], sealed: Path,
                                    address: str, reason: str) -> None:
    status, err = run(capsys, "upload", "--server", address, str(sealed))
    assert status == 1
    assert one_reason(err) == f"amanat: {reason}"


def test_a_pasted_address_with_spaces_around_it(server: ServerProcess, tmp_path: Path) -> None:
    sealed = _seal_to(server, tmp_path / "ok.age", [])
    done = amanat(["upload", "--server", f" {server.url}\n", str(sealed)], cwd=tmp_path)
    assert "amanat: delivered " in done.stderr


def test_an_onion_without_tor_is_refused(capsys: pytest.CaptureFixture[str],
                                         sealed: Path) -> None:
    onion = "http://" + "a" * 56 + ".onion"
    status, err = run(capsys, "upload", "--server", onion, str(sealed))
    assert status == 1
    assert one_reason(err) == (f"amanat: {onion} is an onion address, reachable only through "
                               "Tor: add --proxy socks5h://127.0.0.1:9050 (Tor Browser: "
                               "socks5h://127.0.0.1:9150)")


@pytest.mark.parametrize("scheme", ["socks5", "socks4"])
def test_an_onion_through_local_dns_is_refused(capsys: pytest.CaptureFixture[str],
                                               sealed: Path, scheme: str) -> None:
    onion = "http://" + "b" * 56 + ".onion"
    status, err = run(capsys, "upload", "--server", onion, "--proxy",
                      f"{scheme}://127.0.0.1:9050", str(sealed))
    assert status == 1
    assert one_reason(err) == (f"amanat: --proxy {scheme}:// looks up names on this machine, "
                               "which would show the onion address to the local network: use "
                               "socks5h:// (for example --proxy socks5h://127.0.0.1:9050)")


ONION = "http://" + "c" * 56 + ".onion"


@pytest.mark.parametrize(("server", "scheme", "reason"), [
    (ONION, "socks5h", "Tor is not running (nothing answers at the proxy 127.0.0.1:{port}); "
                       "start Tor, or Tor Browser and give --proxy socks5h://127.0.0.1:9150"),
    ("http://vault.example", "http", "nothing answers at the proxy 127.0.0.1:{port} "
                                     "(connection refused); check --proxy, and that the proxy "
                                     "is running"),
])
def test_a_proxy_that_is_not_running(capsys: pytest.CaptureFixture[str], sealed: Path,
                                     server: str, scheme: str, reason: str) -> None:
    port = free_port()  # nothing listens there
    status, err = run(capsys, "upload", "--server", server, "--proxy",
                      f"{scheme}://127.0.0.1:{port}", "--retry-for", "0", str(sealed))
    assert status == 1
    assert one_reason(err) == (f"amanat: gave up: cannot reach {server}: "
                               f"{reason.format(port=port)}; nothing was sent yet: run the "
                               "same command again")


def test_a_proxy_address_without_scheme(capsys: pytest.CaptureFixture[str],
                                        sealed: Path) -> None:
    status, err = run(capsys, "upload", "--server", "http://vault.example", "--proxy",
                      "127.0.0.1:9050", str(sealed))
    assert status == 1
    assert one_reason(err) == ("amanat: the proxy address 127.0.0.1:9050 has no scheme: for "
                               "Tor write socks5h://127.0.0.1:9050")
    status, err = run(capsys, "upload", "--server", "http://vault.example", "--proxy",
                      "socks5h://127.0.0.1", str(sealed))
    assert status == 1
    assert one_reason(err) == ("amanat: the proxy address socks5h://127.0.0.1 has no port: for "
                               "Tor write socks5h://127.0.0.1:9050 (Tor Browser: :9150)")


@pytest.mark.parametrize("value", ["-5", "nan", "ten"])
def test_a_retry_time_that_is_not_seconds(capsys: pytest.CaptureFixture[str], sealed: Path,
                                          value: str) -> None:
    for command in (["upload", "--server", "http://127.0.0.1:1", str(sealed)],
                    ["submit", "--server", "http://127.0.0.1:1", "--org", Org().vkey,
                     "--statement", str(sealed)]):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--retry-for", value])
        assert exited.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"amanat {command[0]}: error: argument --retry-for: '{value}' is not a number of "
            "seconds from 0 to 604800 (a week)")


# --- nobody there ---


def test_submit_gives_up_and_says_nothing_was_delivered(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = amanat(["submit", "--server", url, "--org", Org().vkey, "--statement", "-",
                   "--no-reply", "--retry-for", "2"], cwd=tmp_path, stdin="I saw it.\n",
                  check=False)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert re.fullmatch(r"amanat: server unreachable; retrying in 1 s \(gives up in 0:02\)",
                        lines[0]), done.stderr
    assert lines[-1] == (
        f"amanat: gave up after 0:02: cannot reach {url}: nothing is listening there "
        "(connection refused); check the address, and that the server is running; nothing "
        "was delivered, and nothing was stored on this device: running the same command "
        "again is safe")
    assert not EXCEPTION_NAMES.search(done.stderr)
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_a_server_that_never_answers_is_given_up_on_near_the_bound(tmp_path: Path) -> None:
    """A listener that takes connections and never answers held each attempt for the whole
    request timeout (120 s): `--retry-for 1` gave up after minutes. An attempt now waits no
    longer than what is left of the bound (at least 10 s)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshakes; nobody ever reads
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        done = amanat(["submit", "--server", url, "--org", Org().vkey, "--statement", "-",
                       "--no-reply", "--retry-for", "1"], cwd=tmp_path, stdin="I saw it.\n",
                      check=False)
        took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert took < 45, f"gave up after {took:.0f} s"
    assert done.stderr.splitlines()[-1].startswith("amanat: gave up after "), done.stderr
    assert "nothing was delivered" in done.stderr
    assert not EXCEPTION_NAMES.search(done.stderr)


def test_upload_gives_up_before_sending_anything(capsys: pytest.CaptureFixture[str],
                                                 sealed: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status, err = run(capsys, "upload", "--server", url, "--retry-for", "0", str(sealed))
    assert status == 1
    assert one_reason(err) == (
        f"amanat: gave up: cannot reach {url}: nothing is listening there (connection "
        "refused); check the address, and that the server is running; nothing was sent yet: "
        "run the same command again")
    assert not Path(f"{sealed}.amanat-upload").exists()


def test_investigator_commands_say_it_too(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from keys.identity import InvestigatorIdentity

    identity = tmp_path / "me.identity"
    identity.write_bytes(InvestigatorIdentity.generate("Me").seal("pass words", FAST_KDF))
    monkeypatch.setenv("AMANAT_PASSPHRASE", "pass words")
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["inbox"], ["open", "0" * 32, "-o", str(tmp_path / "case")]):
        status, err = run(capsys, command[0], "--server", url, "-i", str(identity),
                          *command[1:])
        assert status == 1
        assert one_reason(err, notices=1) == (
            f"amanat: cannot reach {url}: nothing is listening there (connection refused); "
            "check the address, and that the server is running"), err
    status, err = run(capsys, "inbox", "--server", "127.0.0.1:1", "-i", str(identity))
    assert status == 1 and "write it as http://127.0.0.1:1" in one_reason(err, notices=1)


def test_a_malformed_submission_id_is_named_first(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    """Before the identity is unlocked or the server contacted: here neither exists."""
    for command in (["open", "deadbeef", "-o", str(tmp_path / "case")],
                    ["reply", "deadbeef", "--message", "thank you"],
                    ["delete", "deadbeef", "--yes"]):
        status, err = run(capsys, command[0], "--server", "http://127.0.0.1:1", "-i",
                          str(tmp_path / "absent.identity"), *command[1:])
        assert (status, err) == (1, "amanat: 'deadbeef' is not a submission id (32 hex "
                                    "digits, from `amanat inbox`)\n")


# --- something else answers ---


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A plain web server that is not amanat (``python -m http.server``), as a URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                "127.0.0.1"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)


def _every_client_command(url: str, identity: Path, sealed: Path, case: Path,
                          ) -> list[list[str]]:
    org = Org().vkey
    some_id = "0" * 32
    statement = sealed.parent / "statement.txt"
    statement.write_text("I saw it.\n")
    return [
        ["submit", "--server", url, "--org", org, "--statement", str(statement), "--no-reply"],
        ["upload", "--server", url, str(sealed)],
        ["inbox", "--server", url, "-i", str(identity)],
        ["open", "--server", url, "-i", str(identity), some_id, "-o", str(case)],
        # (`reply` needs the case folder `open` made, and says so before any server is asked.)
        ["delete", "--server", url, "-i", str(identity), some_id, "--yes"],
        ["audit", "verify", "--server", url, "--org", org],
    ]


@pytest.fixture
def identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from keys.identity import InvestigatorIdentity

    path = tmp_path / "me.identity"
    path.write_bytes(InvestigatorIdentity.generate("Me").seal("pass words", FAST_KDF))
    monkeypatch.setenv("AMANAT_PASSPHRASE", "pass words")
    return path


def _says_for_every_command(capsys: pytest.CaptureFixture[str], url: str, identity: Path,
                            sealed: Path, expected: str) -> None:
    """Every command that talks to a server refuses ``url`` at once with ``expected``
    (no retrying: waiting cannot help)."""
    for command in _every_client_command(url, identity, sealed, sealed.parent / "case"):
        status, err = run(capsys, *command)
        assert status == (2 if command[0] == "audit" else 1), (command, err)
        assert "retrying" not in err, (command, err)
        assert err.splitlines()[-1] == f"amanat: {expected}", (command, err)
        assert not EXCEPTION_NAMES.search(err), err
    assert not (sealed.parent / "case").exists()
    assert not Path(f"{sealed}.amanat-upload").exists()


def test_an_address_where_no_amanat_server_answers(
        capsys: pytest.CaptureFixture[str], web_server: str, server: ServerProcess,
        identity: Path, sealed: Path) -> None:
    """Another web server, or a path under which no amanat server is mounted."""
    for url, named in ((web_server, web_server), (f"{server.url}/vault", f"{server.url}/vault"),
                       (f"{server.url}/vault/", f"{server.url}/vault")):
        _says_for_every_command(
            capsys, url, identity, sealed,
            f"no amanat server answers at {named} (nothing at /api/v1/roster there): check "
            "the address, the port and any path after the host name")


def test_https_to_a_server_without_tls(capsys: pytest.CaptureFixture[str],
                                       server: ServerProcess, identity: Path,
                                       sealed: Path) -> None:
    https = server.url.replace("http://", "https://")
    _says_for_every_command(
        capsys, https, identity, sealed,
        f"cannot reach {https}: no https there (the TLS handshake failed); if the server runs "
        f"without TLS, write {server.url}")


def test_an_amanat_refusal_is_still_quoted(capsys: pytest.CaptureFixture[str],
                                           server: ServerProcess, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A 404 the server means (an unknown submission) is not taken for a wrong address."""
    monkeypatch.setenv("AMANAT_PASSPHRASE", read_dev_keys(server.data_dir).passphrase)
    identity = server.data_dir / "dev" / "investigator.identity"
    for command in (["open", "0" * 32, "-o", str(tmp_path / "case")],
                    ["delete", "0" * 32, "--yes"]):
        status, err = run(capsys, command[0], "--server", server.url, "-i", str(identity),
                          *command[1:])
        assert status == 1
        assert "no amanat server" not in err and not EXCEPTION_NAMES.search(err), err
        assert err.splitlines()[-1].startswith("amanat: "), err


# --- a file sealed to another roster ---


def _seal_to(server: ServerProcess, path: Path, extra: list[age.Recipient]) -> Path:
    recipients = read_dev_keys(server.data_dir).recipients()
    path.write_bytes(age.encrypt_bytes(b"testimony", [*recipients, *extra]))
    return path


def _staged(server: ServerProcess) -> list[Path]:
    return list((server.data_dir / "uploads").glob("*"))


def refused_upload(server: ServerProcess, sealed: Path) -> str:
    """The last line of an `amanat upload` that must fail with status 1."""
    done = amanat(["upload", "--server", server.url, str(sealed)], cwd=sealed.parent,
                  check=False)
    assert done.returncode == 1, done.stderr
    return done.stderr.splitlines()[-1]


def test_a_file_sealed_to_an_older_roster_is_refused_before_sending(
        server: ServerProcess, tmp_path: Path) -> None:
    extra = age.MLKEM768X25519Identity.generate().recipient()
    sealed = _seal_to(server, tmp_path / "old.age", [extra])
    assert refused_upload(server, sealed) == (
        f"amanat: {sealed} was sealed to an older roster, not the server's current one "
        "(version 2: it is sealed to 2 investigator(s), the roster lists 1); seal it again "
        "from the original with `amanat seal` and the current roster")
    assert _staged(server) == []  # no upload was even opened
    assert not Path(f"{sealed}.amanat-upload").exists()


def test_a_file_of_the_wrong_recipient_type_is_refused(server: ServerProcess,
                                                       tmp_path: Path) -> None:
    sealed = tmp_path / "classic.age"
    sealed.write_bytes(age.encrypt_bytes(b"x", [age.X25519Identity.generate().recipient()]))
    assert refused_upload(server, sealed) == (
        f"amanat: {sealed} was sealed to an older roster, not the server's current one "
        "(version 2: its recipients are of type X25519, the roster's of type mlkem768x25519); "
        "seal it again from the original with `amanat seal` and the current roster")
    not_sealed = tmp_path / "notes.txt"
    not_sealed.write_text("just notes\n")
    assert refused_upload(server, not_sealed) == (
        f"amanat: {not_sealed} is not a sealed file from `amanat seal` (not a well-formed age "
        "v1 file)")
    assert _staged(server) == []


def test_a_matching_file_still_goes(server: ServerProcess, tmp_path: Path) -> None:
    sealed = _seal_to(server, tmp_path / "ok.age", [])
    done = amanat(["upload", "--server", server.url, str(sealed)], cwd=tmp_path)
    assert "amanat: delivered " in done.stderr


# --- one server per data directory ---


def test_a_second_server_on_the_same_data_directory_refuses_to_start(
        server: ServerProcess, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vault.cli", "serve", "--data", str(server.data_dir),
         "--port", str(free_port()), "--dev"],
        cwd=ROOT, env=base_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr == (f"amanat: another amanat server is already using "
                           f"{server.data_dir}: stop it first, or give this one another "
                           "--data directory\n")
    # The first one is untouched and still serves.
    sealed = _seal_to(server, tmp_path / "ok.age", [])
    assert amanat(["upload", "--server", server.url, str(sealed)], cwd=tmp_path).returncode == 0
    assert server.alive()



def test_a_planted_resume_record_cannot_write_to_the_terminal(server: ServerProcess,
                                                              tmp_path: Path) -> None:
    """The record's server address is quoted when it is not this server's: escaped, so a
    record planted beside the file cannot clear the screen or add lines."""
    import hashlib
    import json

    sealed = _seal_to(server, tmp_path / "t.age", [])
    data = sealed.read_bytes()
    planted = "http://elsewhere.example\x1b[2J\nfake line"
    (tmp_path / "t.age.amanat-upload").write_text(json.dumps({
        "format": "amanat/upload-resume/v1", "server": planted, "upload_id": "a" * 32,
        "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}))
    done = amanat(["upload", "--server", server.url, str(sealed)], cwd=tmp_path)
    assert "\x1b" not in done.stderr
    assert (r"amanat: the last attempt went to http://elsewhere.example\x1b[2J\x0afake line, "
            f"not {server.url}; starting the upload from the beginning") in done.stderr
    assert "amanat: delivered " in done.stderr
