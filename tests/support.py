"""Shared test helpers (import as `from tests.support import ...`).

Tests that need the outside vectors (../shared/vectors) or external tools (age, node,
chromium) skip with a reason when those are absent, unless AMANAT_REQUIRE_VECTORS=1 /
AMANAT_REQUIRE_INTEROP=1 (set by .ci/run), in which case a missing piece fails the run.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = Path(os.environ.get("AMANAT_VECTORS", ROOT.parent / "shared" / "vectors"))


def _missing(what: str, env: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} is missing and {env}=1", pytrace=False)
    pytest.skip(f"{what} is missing (set {env}=1 to make this a failure)")


def vectors_dir(sub: str) -> Path:
    """Return ../shared/vectors/<sub>, or skip/fail when absent."""
    path = VECTORS / sub
    if not path.is_dir():
        _missing(f"test vectors {path}", "AMANAT_REQUIRE_VECTORS")
    return path


def require_tool(name: str) -> str:
    """Return the path of an external tool, or skip/fail when absent."""
    found = shutil.which(name)
    if found is None:
        _missing(f"the `{name}` tool", "AMANAT_REQUIRE_INTEROP")
    assert found is not None
    return found


def require_path(path: Path, what: str) -> Path:
    if not path.exists():
        _missing(what, "AMANAT_REQUIRE_INTEROP")
    return path


def run_in_terminal(
    argv: Sequence[str | os.PathLike[str]],
    answers: Sequence[tuple[str, str]],
    *,
    env: Mapping[str, str] | None = None,
    stdin: Path | None = None,
    timeout: float = 60,
) -> tuple[int, str]:
    """Run ``argv`` with a new pseudo-terminal as its controlling terminal, and type answers.

    For commands that read a passphrase from the terminal (``age -p``, ``age -d``, a
    prompt of ours): for each ``(prompt, answer)`` the answer and Enter are typed once
    ``prompt`` has appeared. The terminal is also standard error, and standard input unless
    ``stdin`` names a file to read instead (then prompts come through ``/dev/tty``).
    Returns the exit status and everything written to the terminal.
    """
    master, slave = pty.openpty()
    data = open(stdin, "rb") if stdin is not None else None  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [os.fspath(a) for a in argv],
            stdin=data if data is not None else slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            # The new session's leader takes the terminal (its stderr) as controlling tty.
            preexec_fn=lambda: fcntl.ioctl(2, termios.TIOCSCTTY, 0),
        )
    finally:
        os.close(slave)
        if data is not None:
            data.close()
    output = b""
    searched = 0  # where to look for the next prompt: after the previous one
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if pending and (found := output.find(pending[0][0].encode(), searched)) >= 0:
                prompt, answer = pending.pop(0)
                searched = found + len(prompt.encode())
                os.write(master, answer.encode() + b"\r")
                continue
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{argv[0]}: no prompt {pending[:1]} in {output!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every process holding the terminal has exited
                chunk = b""
            if not chunk:
                break
            output += chunk
        assert not pending, f"{argv[0]} exited before the prompts {pending}: {output!r}"
        status = proc.wait(timeout=max(1, deadline - time.monotonic()))
        return status, output.decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- PostgreSQL -------------------------------------------------------------------------------
# Tests of the scaled-out store run against a real server: AMANAT_TEST_POSTGRES_DSN (a role
# allowed to CREATE DATABASE) if set, else a throwaway cluster initdb'd in a temp directory
# and reached on a Unix socket only; else they skip, and with AMANAT_REQUIRE_POSTGRES=1 fail.
POSTGRES_BIN = Path(os.environ.get("AMANAT_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresCluster:
    """A throwaway PostgreSQL cluster in ``root`` (initdb, then pg_ctl start), listening on a
    Unix socket in ``root`` and on no TCP port. As root, it runs as the ``postgres`` user
    (initdb refuses root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(root / "server.log"), "-w",
                  "-o", f"-c listen_addresses='' -k {root} -c max_connections=300"
                        " -c fsync=on -c synchronous_commit=on", "start")
        self.dsn = f"postgresql://postgres@/postgres?host={root}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(POSTGRES_BIN / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def postgres_missing(reason: str) -> None:
    _missing(f"PostgreSQL ({reason})", "AMANAT_REQUIRE_POSTGRES")


def database_dsn(server_dsn: str, name: str) -> str:
    """The DSN (a ``postgresql://`` URL, as ``--store`` takes) of database ``name`` on the
    server of ``server_dsn`` (a URL too)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(server_dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        pytest.fail("AMANAT_TEST_POSTGRES_DSN must be a postgresql:// URL", pytrace=False)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def create_database(server_dsn: str) -> str:
    """A new empty database on ``server_dsn``; returns its DSN."""
    import secrets as _secrets

    import psycopg

    name = "amanat_test_" + _secrets.token_hex(6)
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")  # type: ignore[arg-type]
    return database_dsn(server_dsn, name)


def drop_database(server_dsn: str, dsn: str) -> None:
    import psycopg
    import psycopg.conninfo

    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
