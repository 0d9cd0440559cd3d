"""What a genuine witness and investigator still get done while a real server is flooded.

Each flood test starts a real ``amanat serve --dev`` (tests/e2e/conftest.py), floods it from
threads of this process, and meanwhile runs a genuine ``amanat submit`` and ``amanat inbox``
as separate processes, each of which must succeed within ``GENUINE_SECONDS``. The server's
resident memory is read from /proc.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ROOT, ServerProcess
from tests.workflows.conftest import base_env
from vault.service.setup import DEV_DIR

GENUINE_SECONDS = 60.0


def rss_kib(server: ServerProcess) -> int:
    """VmRSS (current resident set size) of the server process, in KiB."""
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc status")


def open_fds(server: ServerProcess) -> int:
    return len(list(Path(f"/proc/{server.pid}/fd").iterdir()))


def _run(args: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "vault.cli", *args], cwd=ROOT,
                          env=env or base_env(), input=stdin, capture_output=True, text=True,
                          timeout=GENUINE_SECONDS, check=False)
    took = time.monotonic() - started
    assert done.returncode == 0 or not check, f"amanat {args[0]} exited {done.returncode} after " \
                                 f"{took:.1f} s:\n{done.stderr}"
    return done


def submit(server: ServerProcess, statement: str = "what I saw at the camp",
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """A witness's `amanat submit` (must succeed if ``check``)."""
    org = read_dev_keys(server.data_dir).org_vkey
    return _run(["submit", "--server", server.url, "--org", org, "--statement", "-",
                 "--receipt", "-"], stdin=statement, check=check)


def genuine_submit(server: ServerProcess, statement: str = "what I saw at the camp") -> str:
    """A witness's `amanat submit`; returns its receipt (stdout)."""
    return submit(server, statement).stdout


def _investigator(server: ServerProcess, command: str, *args: str) -> list[str]:
    keys = read_dev_keys(server.data_dir)
    identity = server.data_dir / DEV_DIR / "investigator.identity"
    done = _run([command, "--server", server.url, "-i", str(identity), "--org", keys.org_vkey,
                 *args], env=base_env(AMANAT_PASSPHRASE=keys.passphrase))
    return [line for line in done.stdout.splitlines() if line.strip()]


def genuine_inbox(server: ServerProcess) -> list[str]:
    """An investigator's `amanat inbox`; returns its lines."""
    return _investigator(server, "inbox")


def genuine_open(server: ServerProcess, submission_id: str, case: Path) -> None:
    """An investigator's `amanat open` of a submission into ``case``."""
    _investigator(server, "open", submission_id, "-o", str(case))


def genuine_reply(server: ServerProcess, submission_id: str, case: Path) -> None:
    """An investigator's `amanat reply` to a submission opened into ``case``."""
    _investigator(server, "reply", submission_id, "--case", str(case), "--message",
                  "we received it, thank you")


class Flood:
    """``attack()`` run over and over in ``threads`` threads until stopped, ``pause``
    seconds apart in each."""

    def __init__(self, attack: Callable[[], None], threads: int = 4,
                 pause: float = 0.0) -> None:
        self._attack = attack
        self._pause = pause
        self._stop = threading.Event()
        self.rounds = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, daemon=True)
                         for _ in range(threads)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._attack()
            except Exception:
                continue
            with self._lock:
                self.rounds += 1
            if self._pause:
                time.sleep(self._pause)

    def __enter__(self) -> Flood:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


class ConnectionFlood:
    """Keeps ``count`` raw connections open against ``server`` from a thread of its own,
    each playing ``behaviour(reader, writer)`` and reopened ``pause`` seconds after the
    server closes it; records how long the server let each connection live."""

    def __init__(self, server: ServerProcess, count: int,
                 behaviour: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                     Awaitable[None]], pause: float = 1.0) -> None:
        self._server = server
        self._pause = pause
        self._count = count
        self._behaviour = behaviour
        self._stop = threading.Event()
        self.lifetimes: list[float] = []
        self.opened = 0
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _one(self) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self._server.port)
            except OSError:
                await asyncio.sleep(self._pause)
                continue
            self.opened += 1
            started = time.monotonic()
            try:
                await self._behaviour(reader, writer)
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()
            self.lifetimes.append(time.monotonic() - started)
            await asyncio.sleep(self._pause)

    async def _main(self) -> None:
        tasks = [asyncio.create_task(self._one()) for _ in range(self._count)]
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> ConnectionFlood:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


async def until_closed(reader: asyncio.StreamReader) -> None:
    """Read (and ignore) what the server says until it closes the connection."""
    while await reader.read(65536):
        pass


def drip(first: bytes, byte: bytes, every: float
         ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """Send ``first``, then ``byte`` every ``every`` seconds until the server hangs up."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(first)
        await writer.drain()
        closed = asyncio.ensure_future(until_closed(reader))
        try:
            while not closed.done():
                await asyncio.wait([closed], timeout=every)
                if not closed.done():
                    writer.write(byte)
                    await writer.drain()
        finally:
            closed.cancel()

    return behaviour
