"""Settings from flags and environment, and `amanat serve` refusing unsafe combinations."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from api.app import uvicorn_options
from api.server import _url
from api.settings import Settings, SettingsError
from keys.org import OrgKey
from tests.e2e.conftest import free_port
from vault.cli import main
from vault.cli.serve_cmd import is_loopback


def test_settings_from_env_and_overrides(tmp_path: Path) -> None:
    env = {"AMANAT_DATA_DIR": str(tmp_path), "AMANAT_PORT": "9000",
           "AMANAT_MAX_SUBMISSION_BYTES": "1234", "AMANAT_DEV": "yes",
           "AMANAT_TOKEN_TTL_SECONDS": "30.5", "AMANAT_HOST": ""}
    settings = Settings.from_env(env, port=9001, host=None)
    assert settings.data_dir == tmp_path and settings.port == 9001
    assert settings.max_submission_bytes == 1234 and settings.dev is True
    assert settings.token_ttl_seconds == 30.5 and settings.host == "127.0.0.1"
    assert settings.limits().max_submission_bytes == 1234
    assert Settings().max_submission_bytes == 2 * 1024**3
    for bad in ({"AMANAT_PORT": "eighty"}, {"AMANAT_DEV": "maybe"},
                {"AMANAT_MAX_REPLY_BYTES": "0"}, {"AMANAT_PORT": "70000"},
                {"AMANAT_SWEEP_INTERVAL_SECONDS": "-1"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


def test_classical_logins_are_off_unless_asked_for() -> None:
    assert Settings().classical_logins is False
    assert Settings.from_env({}).classical_logins is False
    assert Settings.from_env({"AMANAT_CLASSICAL_LOGINS": "1"}).classical_logins is True
    assert Settings.from_env({"AMANAT_CLASSICAL_LOGINS": "0"}, classical_logins=None
                             ).classical_logins is False


def test_uvicorn_keeps_no_access_log_or_identifying_headers() -> None:
    options = uvicorn_options(Settings())
    assert options["access_log"] is False
    assert options["server_header"] is False and options["date_header"] is False
    assert options["proxy_headers"] is False


def test_loopback_detection() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host)
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""):
        assert not is_loopback(host)


def test_dev_refuses_public_addresses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["serve", "--dev", "--host", "0.0.0.0", "--data", str(tmp_path / "d")])
    assert status != 0
    assert "loopback" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_bad_org_key_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    status = main(["serve", "--org", "nonsense", "--data", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert status != 0 and err.startswith("amanat: ") and err.count("\n") == 1
    # One wrong character: the key is named as mistyped before the data directory is touched.
    vkey = OrgKey.generate("example.org/amanat").vkey()
    typo = vkey.replace("+", "x+", 1)
    status = main(["serve", "--org", typo, "--data", str(tmp_path / "e")])
    assert status == 1
    assert capsys.readouterr().err == (
        "amanat: --org: the organization key is mistyped: its checksum (the 8 hex digits after "
        "the name) does not match the rest, so a character is wrong, missing or extra; copy it "
        "again, whole, from where the organization published it\n")
    assert not (tmp_path / "e").exists()


def test_login_addresses_default_to_loopback_and_follow_the_public_urls() -> None:
    assert Settings(port=8123).login_servers() == (
        "http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123")
    env = {"AMANAT_PUBLIC_URLS": "http://ABCDEF.onion  https://vault.example.org/amanat/",
           "AMANAT_HOST": "0.0.0.0"}
    assert Settings.from_env(env).login_servers() == (
        "http://abcdef.onion:80", "https://vault.example.org:443")
    # Configured addresses replace the loopback ones; the Host header is never consulted.
    assert Settings(public_urls=("http://abcdef.onion",)).login_servers() == (
        "http://abcdef.onion:80",)
    with pytest.raises(SettingsError, match=r"--public-url: 'abcdef\.onion' is not an address"):
        Settings(public_urls=("abcdef.onion",))


def test_a_public_listen_address_needs_the_public_urls(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d")])
    assert status == 1
    assert capsys.readouterr().err == (
        "amanat: --host 0.0.0.0 is not loopback: give --public-url URL (or AMANAT_PUBLIC_URLS), "
        "each address investigators reach this server at, for example "
        "http://<address>.onion; logins made for any other address are refused\n")
    assert not (tmp_path / "d").exists()
    status = main(["serve", "--public-url", "ftp://x.onion", "--data", str(tmp_path / "d")])
    assert status == 1
    assert capsys.readouterr().err == (
        "amanat: --public-url: 'ftp://x.onion' is not an address like http://HOST[:PORT]\n")
    assert not (tmp_path / "d").exists()


def test_a_port_in_use_is_refused_before_anything_is_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        status = main(["serve", "--dev", "--port", str(port), "--data", str(tmp_path / "d")])
    assert status == 1
    assert capsys.readouterr() == ("", f"amanat: port {port} on 127.0.0.1 is already in use, "
                                       "by another server: stop it, or choose another --port\n")
    assert not (tmp_path / "d").exists()


def test_an_address_of_another_machine_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["serve", "--host", "192.0.2.7", "--public-url", "http://abc.onion",
                   "--data", str(tmp_path / "d")])
    assert status == 1
    assert capsys.readouterr().err == ("amanat: --host 192.0.2.7 is not an address of this "
                                       "machine\n")
    assert not (tmp_path / "d").exists()


def test_a_data_path_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "notes.txt"
    data.write_text("mine\n")
    port = str(free_port())
    status = main(["serve", "--dev", "--port", port, "--data", str(data)])
    assert status == 1
    assert capsys.readouterr().err == (f"amanat: --data {data} is a file, not a folder: give a "
                                       "folder for the server's data\n")
    assert data.read_text() == "mine\n"


def test_an_ipv6_address_is_written_in_brackets() -> None:
    assert _url("::1", 8000) == "http://[::1]:8000"
    assert _url("127.0.0.1", 8000) == "http://127.0.0.1:8000"


def test_the_pinned_org_key_may_become_hybrid_but_not_another_organization(
        tmp_path: Path) -> None:
    from keys.org import CLASSICAL_PREFIX
    from vault.service.setup import SetupError, pin_org_vkey

    old = OrgKey("example.org/amanat", b"\x21" * 32)
    assert pin_org_vkey(tmp_path, old.vkey()) == CLASSICAL_PREFIX + old.vkey()
    assert pin_org_vkey(tmp_path, None) == CLASSICAL_PREFIX + old.vkey()
    upgraded = old.with_post_quantum_half()
    assert pin_org_vkey(tmp_path, upgraded.vkey()) == upgraded.vkey()
    assert pin_org_vkey(tmp_path, None) == upgraded.vkey()
    with pytest.raises(SetupError, match="switch organizations"):
        pin_org_vkey(tmp_path, OrgKey.generate("example.org/amanat").vkey())
