"""Helpers shared by the CLI commands: errors, secret prompts, atomic output files, text
from a server made safe for a terminal (``one_line``), and a progress bar for transfers."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO


class CLIError(Exception):
    """An error whose message is printed as one line, with a non-zero exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


_JOINERS = "\u200c\u200d"  # zero-width (non-)joiners: part of how some scripts are written


def one_line(text: str) -> str:
    """``text`` with every control or other non-printable character escaped (``\\x1b``).

    Messages may quote what a server sent; a hostile server must not be able to put terminal
    escape sequences (which can rewrite the screen or answer with keystrokes) or extra lines
    on the user's terminal.
    """
    return "".join(ch if ch.isprintable() or ch in _JOINERS else
                   (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
                   for ch in text)


def _has_terminal() -> bool:
    """Whether this process has a controlling terminal (``/dev/tty``) to ask on."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def read_secret(
    prompt: str,
    env: str = "AMANAT_PASSPHRASE",
    *,
    confirm: bool = False,
    stdin_is_data: bool = False,
) -> str:
    """Read a passphrase or codename from ``env`` (automation) or from the terminal.

    Never from argv: command lines are visible to every user of the machine and are kept in
    shell history. ``stdin_is_data``: standard input may carry the data (``amanat decrypt <
    FILE``), so ask on the controlling terminal even when standard input is not one, as
    ``age`` does.
    """
    value = os.environ.get(env)
    if value is not None:
        return value
    if not sys.stdin.isatty() and not (stdin_is_data and _has_terminal()):
        raise CLIError(f"{prompt.rstrip(': ')} needed: run in a terminal or set {env}")
    first = getpass.getpass(prompt)
    if confirm:
        second = getpass.getpass("Again: ")
        if first != second:
            raise CLIError("the two entries differ")
    return first


@contextlib.contextmanager
def atomic_output(
    path: str | None, mode: int = 0o600, *, durable: bool = True
) -> Iterator[BinaryIO]:
    """Yield a binary stream for ``path`` (stdout when None or '-').

    A file is written to a temporary name in the same directory and renamed into place only
    when the block finishes without error; on error the temporary file is removed, so a
    failed command leaves no partial output, whatever ``durable`` says.

    ``durable=True`` (the default, for key files, sealed testimony, case folders, logs):
    the file is fsynced before the rename and the directory after it, so once the command
    has succeeded the output survives a crash or power loss. ``durable=False`` skips both
    fsyncs: the output is complete or absent for every other process, as with ``age -o``,
    but a crash of the machine shortly after the command may lose it (or, on some file
    systems, leave it empty). Only the age-compatible ``encrypt`` and ``decrypt`` commands
    use it, where the input is still at hand to run the command again.
    """
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise CLIError(f"cannot write {path}: the folder {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, target)
        if durable:
            with contextlib.suppress(OSError):
                dfd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_input(path: str | None) -> Iterator[BinaryIO]:
    """Yield a binary stream for ``path`` (stdin when None or '-')."""
    if path is None or path == "-":
        yield sys.stdin.buffer
        return
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    with f:
        yield f


def refuse_other_file(path: str, data: bytes, header: str, wanted: str) -> None:
    """Refuse, naming what it is, an amanat file given where one starting with ``header``
    (``wanted``, in words) is expected: an org key for a roster, an identity for a card."""
    if data.startswith(header.encode("ascii")):
        return
    from keys.keyfile import describe_amanat_file

    found = describe_amanat_file(data)
    if found is not None:
        raise CLIError(f"{path} is {found.split(', which')[0]}, not {wanted}")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        # Compared as shown: 1023.96 KiB would read "1024.0 KiB", so it is "1.0 MiB".
        if round(count, 0 if unit == "B" else 1) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def clock_text(seconds: float) -> str:
    """``seconds`` as M:SS (H:MM:SS from an hour on)."""
    whole = max(0, int(seconds + 0.5))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Transfer progress on stderr: bytes so far, rate, time left, after ``verb``. Redrawn
    in place on a terminal; elsewhere (logs, tests) one line at most every two seconds and
    at the end.

    The rate is measured over the last ``WINDOW`` seconds, not since the start: after an
    outage, or a rerun that resumes at the server's offset, the time left follows what the
    connection does now. While nothing moves, the line says so instead of a time left."""

    WINDOW = 10.0

    def __init__(self, total: int, stream: TextIO | None = None, *,
                 verb: str = "uploading") -> None:
        self.total = total
        self.verb = verb
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.samples: deque[tuple[float, int]] = deque([(self.started, 0)])

    def _rate(self, done: int, now: float) -> float:
        if done < self.samples[-1][1]:  # started again from an earlier offset
            self.samples.clear()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.WINDOW:
            self.samples.popleft()
        then, before = self.samples[0]
        return (done - before) / (now - then) if now > then else 0.0

    def line(self, done: int, now: float) -> str:
        rate = self._rate(done, now)
        percent = 100 * done // self.total if self.total else 100
        if done >= self.total:
            tail = f"in {clock_text(now - self.started)}"
        elif rate > 0:
            tail = f"{clock_text((self.total - done) / rate)} left"
        else:
            tail = "waiting for the connection"
        return (f"{self.verb} {_size(done)} of {_size(self.total)} ({percent}%), "
                f"{_size(rate)}/s, {tail}")

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        finished = done >= self.total
        if not finished and now - self.last < (0.2 if self.tty else 2.0):
            return
        self.last = now
        if self.tty:
            end = "\n" if finished else ""
            self.stream.write("\r" + self.line(done, now).ljust(72) + end)
        else:
            self.stream.write(self.line(done, now) + "\n")
        self.stream.flush()
