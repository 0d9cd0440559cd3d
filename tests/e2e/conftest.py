"""A real server process: ``python -m vault.cli serve --data TMP --port <free> --dev``.

The fixture waits until the server answers, captures its stdout and stderr to files (the
privacy tests grep them) and kills it at teardown.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> bytes:
        return self.stdout_path.read_bytes() + self.stderr_path.read_bytes()

    def output_text(self) -> str:
        return self.output().decode("utf-8", "replace")

    def peak_rss_kib(self) -> int:
        """VmHWM (peak resident set size) of the server process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(tmp_path: Path, *, dev: bool = True, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, data_dir: Path | None = None,
                 port: int | None = None) -> ServerProcess:
    """``port``: a given one (a restart where the last server was), else a free one."""
    data_dir = data_dir or tmp_path / "data"
    port = port or free_port()
    stdout_path = tmp_path / "server.stdout"
    stderr_path = tmp_path / "server.stderr"
    command = [sys.executable, "-m", "vault.cli", "serve", "--data", str(data_dir),
               "--port", str(port), *(["--dev"] if dev else []), *extra_args]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    child_env.update(env or {})
    child_env["PYTHONPATH"] = str(ROOT)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=child_env)
    server = ServerProcess(data_dir, port, process, stdout_path, stderr_path)
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {server.output().decode(errors='replace')}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.url + "/api/v1/log/checkpoint", timeout=2).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError("server did not become ready")
        time.sleep(0.1)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def factory(**kwargs: object) -> ServerProcess:
        sub = tmp_path / f"server{len(started)}"
        sub.mkdir()
        server = start_server(sub, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory()
