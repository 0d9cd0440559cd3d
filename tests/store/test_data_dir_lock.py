"""The data directory's lock (`vault.store.sqlite.lock_data_dir`): held by the kernel for
the process, so a server that crashed leaves nothing behind that blocks its restart, and no
file is added to the directory; a file system without locks is named as such."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vault.store import DataDirBusyError
from vault.store.sqlite import EmbeddedStore, lock_data_dir


def test_a_crashed_holder_leaves_no_stale_lock_and_no_file(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from vault.store.sqlite import lock_data_dir; lock_data_dir(Path(sys.argv[1])); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(DataDirBusyError, match="another amanat server"):
            lock_data_dir(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    os.close(lock_data_dir(tmp_path))  # SIGKILL released it
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("number", [errno.ENOLCK, errno.EBADF, errno.EOPNOTSUPP])
def test_a_file_system_without_locks_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """NFS without its lock service answers ENOLCK (or EBADF for a directory opened to
    read): a sentence saying so, not an errno, and nothing left open."""
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(DataDirBusyError) as refused:
        EmbeddedStore(tmp_path / "data")
    assert str(refused.value) == (
        f"cannot lock {tmp_path / 'data'}: its file system does not support locks (a network "
        "file system?); put the data directory on a local disk")
    assert len(os.listdir("/proc/self/fd")) == before
