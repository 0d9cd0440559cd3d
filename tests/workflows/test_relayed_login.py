"""A look-alike server cannot log in as an investigator by relaying her login.

The look-alike listens at another address and passes every request on to the real server.
Investigator A runs `amanat inbox` against it: the real server's challenge comes back through
it and A signs it, but what A signs names the address A connected to (the look-alike's), so
the real server refuses the signature and the look-alike never holds a token. A server
reachable at an onion address accepts logins made for that address once it is configured
with ``--public-url``, and then only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess, start_server
from tests.workflows.conftest import World, amanat, base_env
from tests.workflows.relay import DroppingRelay, ForwardProxy

ONION = "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion"


@pytest.fixture
def look_alike(world: World) -> Iterator[DroppingRelay]:
    relay = DroppingRelay(("127.0.0.1", world.server.port))
    relay.start()
    yield relay
    relay.close()


def test_a_relayed_login_is_refused_and_yields_no_token(
        world: World, look_alike: DroppingRelay, tmp_path: Path) -> None:
    sealed = tmp_path / "sealed.age"
    amanat(["seal", "--roster", str(world.admin / "roster.txt"), "--org", world.org_vkey,
            "--statement", "-", "--no-reply", "-o", str(sealed)], cwd=tmp_path,
           stdin="Seen at the checkpoint.\n")
    amanat(["upload", "--server", world.url, str(sealed)], cwd=tmp_path)
    log_size = httpx.get(f"{world.url}/api/v1/log/checkpoint").text.splitlines()[1]

    relay_url = f"http://127.0.0.1:{look_alike.port}"
    done = amanat(["inbox", "--server", relay_url, "-i", world.identity("a"), "--org",
                   world.org_vkey], cwd=tmp_path, env=world.investigator_env(), check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"amanat: server refused (403): a login signed for {relay_url}, the address you "
        "connected to, was refused: this server is not reachable at the address the login "
        "was signed for: you may be talking to a look-alike server that passes challenges "
        "on; check the address with your organization (if it is this server's own, its "
        "admin must add it with --public-url)\n")
    # Everything the real server answered went through the look-alike: no token among it.
    answers = bytes(look_alike.answers)
    assert b"HTTP/1.1 403" in answers
    assert b'"token"' not in answers
    # Nothing was listed or downloaded in A's name: the log did not grow.
    assert httpx.get(f"{world.url}/api/v1/log/checkpoint").text.splitlines()[1] == log_size

    # Connected to the real server directly, the same investigator logs in and sees it.
    assert world.inbox("a")


@pytest.fixture
def onion_server(tmp_path: Path) -> Iterator[ServerProcess]:
    (tmp_path / "onion").mkdir()
    server = start_server(tmp_path / "onion", extra_args=("--public-url", ONION))
    yield server
    server.stop()


def test_a_server_configured_with_its_onion_address_accepts_logins_made_for_it(
        onion_server: ServerProcess, tmp_path: Path) -> None:
    output = onion_server.output_text()
    assert (f"amanat: investigators log in at {ONION}:80 (--public-url names the addresses "
            "they use)\n") in output
    org_vkey = re.search(r"organization key : (\S+(?: \S+)?)", output)
    assert org_vkey is not None, output
    dev = read_dev_keys(onion_server.data_dir)
    assert httpx.post(f"{onion_server.url}/api/v1/submissions",
                      content=dev.seal(b"testimony")).status_code == 201
    env = base_env(AMANAT_PASSPHRASE=dev.passphrase)
    identity = str(onion_server.data_dir / "dev" / "investigator.identity")

    with ForwardProxy(("127.0.0.1", onion_server.port)) as proxy:
        done = amanat(["inbox", "--server", ONION, "--proxy", proxy.url, "-i", identity,
                       "--org", org_vkey.group(1)], cwd=tmp_path, env=env)
    assert len(done.stdout.splitlines()) == 1
    assert all(url.startswith(f"{ONION}/api/v1/") for url in proxy.requested)
    assert f"{ONION}/api/v1/auth/token" in proxy.requested

    # The configured address replaces the loopback default: a login made for the
    # server's loopback address is now one made for an address it does not claim.
    direct = amanat(["inbox", "--server", onion_server.url, "-i", identity,
                     "--org", org_vkey.group(1)], cwd=tmp_path, env=env, check=False)
    assert direct.returncode == 1
    assert direct.stderr.startswith(
        f"amanat: server refused (403): a login signed for {onion_server.url}, the address "
        "you connected to, was refused: this server is not reachable at the address")
