"""A command on a real pseudo-terminal, and the screen a person would see.

`TerminalProcess` runs ``python -m vault.cli ...`` with a pty of a given size as its
controlling terminal and standard input, output and error, so ``isatty()``, echo, Ctrl-D and
line wrapping behave as in a terminal window. `Screen` keeps what a terminal of that size
shows: carriage returns redraw a line, text wraps at the last column, and only the last
``rows`` lines stay visible. It understands what amanat writes (text, ``\\r``, ``\\n``,
backspace, tab); an escape sequence (which amanat never writes) is a test failure.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class Screen:
    """The visible text of a ``columns`` x ``rows`` terminal fed with output."""

    def __init__(self, columns: int = 80, rows: int = 24) -> None:
        self.columns = columns
        self.rows = rows
        self.lines: list[list[str]] = [[]]
        self.column = 0

    def feed(self, text: str) -> None:
        for char in text:
            if char == "\r":
                self.column = 0
            elif char == "\n":  # the pty turns "\n" into "\r\n" (onlcr); "\r" came first
                self.lines.append([])
            elif char == "\b":
                self.column = max(0, self.column - 1)
            elif char == "\t":
                self.column = min(self.columns - 1, (self.column // 8 + 1) * 8)
            elif char == "\x1b":
                raise AssertionError("an escape sequence reached the terminal")
            elif char.isprintable():
                if self.column == self.columns:  # autowrap before the 81st character
                    self.lines.append([])
                    self.column = 0
                line = self.lines[-1]
                line.extend(" " * (self.column + 1 - len(line)))
                line[self.column] = char
                self.column += 1

    def visible(self) -> list[str]:
        """The ``rows`` lines on screen now, top to bottom, without trailing blanks."""
        return ["".join(line).rstrip() for line in self.lines[-self.rows :]]

    def text(self) -> str:
        return "\n".join(self.visible())


class TerminalProcess:
    """``amanat ARGS`` on a fresh pty of ``columns`` x ``rows``; type into it, read it.
    ``stderr``, a file descriptor, sends standard error elsewhere."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                 columns: int = 80, rows: int = 24, stderr: int | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.master = master
        self.screen = Screen(columns, rows)
        self.transcript = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vault.cli", *args], cwd=cwd,
            env={**env, "TERM": "dumb", "COLUMNS": str(columns), "LINES": str(rows)},
            stdin=slave, stdout=slave, stderr=slave if stderr is None else stderr,
            start_new_session=True,
            preexec_fn=_take_controlling_terminal)
        os.close(slave)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the pty has ended
            data = b""
        if not data:
            return False
        text = self._decoder.decode(data)
        self.transcript += text
        self.screen.feed(text)
        return True

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        """Read until ``needle`` has been written, failing after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while needle not in self.transcript:
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{needle!r} never appeared:\n{self.transcript}")

    def stays_running(self, seconds: float) -> bool:
        """Read for ``seconds``; True if the command is still running then."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(0.1)
            if self.process.poll() is not None:
                return False
        return True

    def finish(self, timeout: float = 60.0) -> int:
        """Read everything until the command ends; its exit status."""
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the command did not end:\n{self.transcript}")
        return self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self.master)


def _take_controlling_terminal() -> None:
    """In the child, after setsid: the pty on standard input becomes its terminal, so
    /dev/tty (getpass) is the pty too. Ctrl-C interrupts as at a person's terminal, even when
    the tests run as a background job of a shell without job control (which starts them
    with SIGINT ignored, and Python keeps an ignored SIGINT ignored)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
