"""A real world for the workflow tests, built once per module with the real commands.

An organization key, two investigators (A and B), a signed roster naming the server's log
key, and an ``amanat serve`` process on a free loopback port. Every step runs
``python -m vault.cli`` as a separate process with secrets in the environment
(AMANAT_PASSPHRASE / AMANAT_CODENAME), as a person would; Argon2 costs are the real ones,
so key files are made once per session. Tests that change the roster (removing B) come
last in their module and every test reads the roster the server serves at the time.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import ServerProcess
from tests.e2e.conftest import start_server as start_e2e_server
from vault.cli.witness_cmd import framed_codename

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple, workflow tests"
ORIGIN = "workflows.example/amanat"
COMMAND_TIMEOUT = 60.0


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def amanat(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
           stdin: str | bytes | None = None, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    """Run ``amanat ARGS`` in a new process; fail the test (showing stderr) if ``check``."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    result = subprocess.run([sys.executable, "-m", "vault.cli", *args], cwd=cwd,
                            env=dict(env) if env is not None else base_env(), input=data,
                            capture_output=True, timeout=COMMAND_TIMEOUT, check=False)
    completed = subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"))
    if check and completed.returncode != 0:
        raise AssertionError(f"amanat {' '.join(args[:2])} exited {completed.returncode}:\n"
                             f"{completed.stderr}")
    return completed


def start_server(directory: Path, org_vkey: str) -> ServerProcess:
    """A real ``amanat serve`` for ``org_vkey`` on a free loopback port, data in directory/data."""
    return start_e2e_server(directory, dev=False, data_dir=directory / "data",
                            extra_args=("--host", "127.0.0.1", "--org", org_vkey))


@dataclass
class World:
    """The organization, its investigators and its server, with paths for each role."""

    root: Path
    admin: Path  # org.key, roster.txt, cards
    server: ServerProcess
    org_vkey: str
    log_vkey: str
    key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def investigator_env(self) -> dict[str, str]:
        return base_env(AMANAT_PASSPHRASE=PASSPHRASE)

    def identity(self, who: str) -> str:
        return str(self.admin / f"{who}.identity")

    def admin_run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return amanat(args, cwd=self.admin, env=self.investigator_env())

    def publish_roster(self) -> int:
        """Publish admin/roster.txt with `amanat roster publish`; returns the version."""
        done = amanat(["roster", "publish", "--server", self.url, "--roster", "roster.txt",
                       "--org", self.org_vkey], cwd=self.admin)
        match = re.search(r"published roster version (\d+) ", done.stdout)
        assert match, done.stdout
        return int(match.group(1))

    def investigator(self, who: str, args: Sequence[str], *, check: bool = True,
                     cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        command, *rest = args
        full = [command, "--server", self.url, "-i", self.identity(who), "--org", self.org_vkey,
                *rest]
        return amanat(full, cwd=cwd or self.root, env=self.investigator_env(), check=check)

    def inbox(self, who: str = "a") -> list[list[str]]:
        return [line.split() for line in
                self.investigator(who, ["inbox"]).stdout.splitlines() if line.strip()]


def build_world(root: Path) -> Iterator[World]:
    admin = root / "admin"
    admin.mkdir()
    env = base_env(AMANAT_PASSPHRASE=PASSPHRASE)
    org_vkey = amanat(["org", "init", "--name", ORIGIN, "-o", "org.key"], cwd=admin,
                      env=env).stdout.strip()
    key_ids: dict[str, str] = {}
    for who, name in (("a", "Investigator A"), ("b", "Investigator B")):
        card = amanat(["keys", "new", "--name", name, "-o", f"{who}.identity"], cwd=admin,
                      env=env).stdout
        (admin / f"{who}.card").write_text(card, "utf-8")
    amanat(["roster", "add", "--org", "org.key", "--roster", "roster.txt", "a.card", "b.card"],
           cwd=admin, env=env)
    shown = amanat(["roster", "show", "roster.txt"], cwd=admin, env=env).stdout
    for who, name in (("a", "Investigator A"), ("b", "Investigator B")):
        match = re.search(rf"([0-9a-f]{{16}}) .*{name}", shown)
        assert match is not None, shown
        key_ids[who] = match.group(1)
    server_dir = root / "server"
    server_dir.mkdir()
    server = start_server(server_dir, org_vkey)
    try:
        match = re.search(r"log verifier key[^\n]*\n\s+(\S+(?: \S+)?)", server.output_text())
        assert match is not None, server.output_text()
        log_vkey = match.group(1)
        amanat(["roster", "set-log", "--org", "org.key", "--roster", "roster.txt", log_vkey],
               cwd=admin, env=env)
        world = World(root, admin, server, org_vkey, log_vkey, key_ids)
        world.publish_roster()
        yield world
    finally:
        server.stop()


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from build_world(tmp_path_factory.mktemp("world"))


def receipt_entry(receipt: str) -> str:
    """The log entry a receipt carries (its ``extra`` line), as text."""
    extra = next(line for line in receipt.splitlines() if line.startswith("extra "))
    return base64.b64decode(extra.removeprefix("extra ")).decode("ascii")


def submission_id_from_receipt(receipt: str) -> str:
    """The submission id in the log entry a receipt carries."""
    return next(line.split()[1] for line in receipt_entry(receipt).splitlines()
                if line.startswith("id "))


def codename_from(stderr: str) -> str:
    """The 12 words of the codename framed on ``submit``'s stderr."""
    codename = framed_codename(stderr)
    assert codename is not None, f"no codename shown:\n{stderr}"
    return codename


def with_bad_checksum(codename: str) -> str:
    """The codename with its last word replaced by another list word that breaks the
    checksum (15 of 16 replacements do)."""
    from mnemonic import Mnemonic

    bip39 = Mnemonic("english")
    words = codename.split()
    for candidate in bip39.wordlist:
        attempt = " ".join([*words[:-1], candidate])
        if candidate != words[-1] and not bip39.check(attempt):
            return attempt
    raise AssertionError("unreachable: most replacements break the checksum")
