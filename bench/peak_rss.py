"""Run a command and learn its own peak resident memory (ru_maxrss) and wall time.

Used by the benchmarks and by the constant-memory test (a 4 GiB file must seal and open in
well under 100 MiB). Reading ru_maxrss of a direct child is not enough: on Linux, exec()
carries the spawning process's own peak RSS into the child's figure, so a test process
holding 500 MiB would see every child "use" 500 MiB. The command is therefore started by a
small probe interpreter, whose peak (a few MiB) is the only one inherited; the probe reaps
the command with wait4 and reports its status, peak RSS and wall time on a private pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

# Runs in `python -I -S -c`: spawn argv[2:], wait for it, report on the fd in argv[1].
_PROBE = """\
import os, sys, time
report = int(sys.argv[1])
os.set_inheritable(report, False)
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
os.close(0)  # the command alone holds its pipes: end of file and EPIPE arrive on time
os.close(1)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
os.write(report, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {seconds!r}".encode())
"""


@dataclass(frozen=True)
class Measured:
    """How a finished command went: exit status (negative: killed by that signal), wall
    time from spawn to exit, and its peak resident set size."""

    returncode: int
    seconds: float
    max_rss_bytes: int


class ProbedProcess:
    """A running command (like ``subprocess.Popen``) whose peak RSS is measured.

    ``stdin``, ``stdout`` and ``stderr`` take the same values as for Popen and are handed
    through to the command; ``wait()`` returns a :class:`Measured`.
    """

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        stdin: int | IO[Any] | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._name = os.path.basename(os.fspath(argv[0]))
        self._report, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _PROBE, str(write_end)]
                + [os.fspath(a) for a in argv],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                env=env,
                pass_fds=(write_end,),
            )
        except BaseException:
            os.close(self._report)
            raise
        finally:
            os.close(write_end)
        self.stdin = self.process.stdin
        self.stdout = self.process.stdout
        self.stderr = self.process.stderr

    def wait(self, timeout: float | None = None) -> Measured:
        probe_status = self.process.wait(timeout)
        with os.fdopen(self._report, "rb") as report:
            words = report.read().split()
        if probe_status != 0 or len(words) != 3:
            raise RuntimeError(
                f"could not run {self._name} (the measuring probe exited {probe_status})"
            )
        returncode, max_rss_kib, seconds = int(words[0]), int(words[1]), float(words[2])
        return Measured(returncode, seconds, max_rss_kib * 1024)  # Linux reports KiB


def run_measured(
    argv: Sequence[str | os.PathLike[str]],
    *,
    stdout: int | IO[Any] | None = None,
    timeout: float | None = None,
) -> tuple[Measured, bytes]:
    """Run a command to completion (no stdin; stdout inherited unless given); return how it
    went and what it wrote to stderr."""
    probed = ProbedProcess(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    assert probed.stderr is not None
    with probed.stderr:
        err = probed.stderr.read()
    return probed.wait(timeout), err
