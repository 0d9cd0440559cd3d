"""Helpers for the audit tests that run real servers (``tests.e2e.conftest.start_server``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess, start_server
from vault.cli import main
from vault.client import SubmissionReceipt, VaultClient


class Servers:
    """Starts servers in sub-directories (``<dir>/data`` is the data directory) and stops
    every one of them at teardown. A directory can be started again after `stop`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[ServerProcess] = []

    def directory(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def start(self, name: str, *extra_args: str) -> ServerProcess:
        server = start_server(self.directory(name), extra_args=extra_args)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    yield started
    started.stop_all()


def org_vkey(server: ServerProcess) -> str:
    return read_dev_keys(server.data_dir).org_vkey


def submit(server: ServerProcess, count: int) -> list[SubmissionReceipt]:
    """Submit ``count`` small sealed testimonies; each adds one log entry."""
    dev = read_dev_keys(server.data_dir)
    with VaultClient(server.url) as client:
        return [client.submit(dev.seal(f"testimony {i}\n".encode())) for i in range(count)]


def copy_data(source: Path, target: Path) -> None:
    """Copy a (stopped) server's data directory, keeping file modes."""
    shutil.copytree(source, target)


def amanat(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process; return (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err
