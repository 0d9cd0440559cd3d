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
