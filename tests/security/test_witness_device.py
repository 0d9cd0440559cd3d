"""Guarantee 3: `amanat submit` and `amanat replies` write nothing on the witness's device.

A check of TMPDIR and HOME after the fact cannot see a temporary file that was created and
deleted again, nor one written by C code (Pillow, qpdf) or outside those directories. So the
commands run under ``strace -f``, which reports every file-system call of the process and its
children, and the test fails on any call that creates, writes, renames, links or removes a
file, compiled-bytecode caches (``__pycache__/*.pyc``) included: their times say when amanat
ran and which modules it used. The witness attaches a JPEG and a PDF (both cleaned in memory)
and reads a reply with the codename from the environment. The commands run as a newcomer
runs them, from the editable install that ``make`` builds, with ``PYTHONDONTWRITEBYTECODE``
unset; and once more from a copy of the sources with no bytecode but that of
``vault/__init__.py`` (the one module Python compiles before amanat can stop it), so that a
run that would write a cache is seen whatever the state of the source tree.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
from PIL import Image

from tests.api.vaultkit import read_dev_keys
from tests.e2e.conftest import ServerProcess
from tests.support import require_tool
from tests.workflows.conftest import codename_from
from vault import age
from vault.client import VaultClient
from vault.codename import derive

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CANARY-witness-device-9c41"
# Calls that change the file system. memfd_create makes anonymous memory, not a file.
MUTATING_CALLS = ("creat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "unlink",
                  "unlinkat", "link", "linkat", "symlink", "symlinkat", "truncate", "rmdir",
                  "mknod", "mknodat")
OPEN_CALLS = ("open", "openat", "openat2")
_CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\((.*)$")
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_TMPFILE", "O_APPEND")
# Terminals, the null device and the process's own descriptors are not files on a disk.
_HARMLESS = re.compile(r'"(/dev/(null|tty|pts/\d+)|/proc/self/.*)"')


def file_writes(trace: str) -> list[str]:
    """The lines of an ``strace -f`` log that create, change or remove a file."""
    found = []
    for line in trace.splitlines():
        match = _CALL.match(line.strip())
        if match is None:
            continue
        call, rest = match.groups()
        if call in OPEN_CALLS:
            if any(flag in rest for flag in _WRITE_FLAGS) and not _HARMLESS.search(rest):
                found.append(line)
        elif call in MUTATING_CALLS:
            found.append(line)
    return found


def test_the_trace_parser_sees_writes() -> None:
    """The detector itself: a write, a temporary file and a rename are all reported."""
    trace = (
        '123 openat(AT_FDCWD, "/tmp/x", O_RDONLY|O_CLOEXEC) = 3\n'
        '123 openat(AT_FDCWD, "/tmp/tmpab12", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 3\n'
        '[pid 124] openat(AT_FDCWD, "/home/w/receipt", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4\n'
        '123 unlink("/tmp/tmpab12") = 0\n'
        '123 rename("/a", "/b") = 0\n'
        '123 openat(AT_FDCWD, "/dev/tty", O_RDWR) = 5\n'
        '123 openat(AT_FDCWD, "/w/vault/__pycache__/x.cpython-311.pyc.1", O_WRONLY|O_CREAT'
        "|O_EXCL, 0644) = 3\n"
    )
    assert len(file_writes(trace)) == 5  # the .pyc cache too


def _photo() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    Image.new("RGB", (64, 48), (10, 120, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Witness Name"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def amanat_command() -> list[str]:
    """The `amanat` that `make` installs (the editable install's console script), or this
    Python running the sources when the tests run without one."""
    script = Path(sys.executable).with_name("amanat")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vault.cli"]


def compile_as_make_does(root: Path, *packages: str) -> None:
    """The Makefile's step after the editable install (test_make_compiles_...)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], cwd=root,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                   check=True, capture_output=True)


def witness_env(home: Path, tmpdir: Path, sources: Path) -> dict[str, str]:
    """A witness's environment: nothing that quiets Python (no PYTHONDONTWRITEBYTECODE)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "TMPDIR": str(tmpdir), "PYTHONPATH": str(sources), "LANG": "C.UTF-8"}


def _traced(strace: str, args: list[str], *, cwd: Path, env: dict[str, str],
            stdin: bytes | None, log: Path, command: list[str] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    assert "PYTHONDONTWRITEBYTECODE" not in env
    traced = [strace, "-f", "-qq", "-o", str(log), "-e",
              "trace=" + ",".join(OPEN_CALLS + MUTATING_CALLS),
              *(command or amanat_command()), *args]
    return subprocess.run(traced, cwd=cwd, env=env, input=stdin, capture_output=True,
                          timeout=120, check=False)


def _witness_folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    files, home, tmpdir = tmp_path / "files", tmp_path / "home", tmp_path / "tmp"
    for folder in (files, home, tmpdir):
        folder.mkdir()
    (files / "IMG_20180312_101010.jpg").write_bytes(_photo())
    (files / "notice.pdf").write_bytes(_pdf())
    return files, home, tmpdir


def _submit_args(server: ServerProcess, files: Path) -> list[str]:
    return ["submit", "--server", server.url, "--org", read_dev_keys(server.data_dir).org_vkey,
            "--statement", "-", "--attach", str(files / "IMG_20180312_101010.jpg"),
            "--attach", str(files / "notice.pdf")]


def test_submit_and_replies_write_no_file(server: ServerProcess, tmp_path: Path) -> None:
    strace = require_tool("strace")
    dev = read_dev_keys(server.data_dir)
    files, home, tmpdir = _witness_folders(tmp_path)
    env = witness_env(home, tmpdir, ROOT)
    compile_as_make_does(ROOT, "vault", "keys", "api")  # the tree as `make` leaves it

    submit_log = tmp_path / "submit.strace"
    submitted = _traced(strace, _submit_args(server, files), cwd=home, env=env,
                        stdin=f"They took my father. {CANARY}\n".encode(), log=submit_log)
    stderr = submitted.stderr.decode("utf-8", "replace")
    assert submitted.returncode == 0, stderr
    assert "receipt checked: entry" in stderr
    # The trace must have recorded the command's own reads, or it proves nothing.
    trace = submit_log.read_text("utf-8", "replace")
    assert "notice.pdf" in trace and "IMG_20180312_101010.jpg" in trace
    assert file_writes(trace) == []

    # An investigator answers; the witness reads the reply with the codename.
    codename = codename_from(stderr)
    keys = derive(codename)
    with VaultClient(server.url) as investigator:
        roster = dev.roster()
        investigator.login(dev.investigator.key_id, dev.sign, roster.log_vkey or "")
        sealed = age.encrypt_bytes(b"We read your testimony.", [keys.reply_identity.recipient()])
        investigator.post_reply(keys.mailbox_id, sealed)
    replies_log = tmp_path / "replies.strace"
    replied = _traced(strace, ["replies", "--server", server.url], cwd=home,
                      env={**env, "AMANAT_CODENAME": codename}, stdin=None, log=replies_log)
    assert replied.returncode == 0, replied.stderr.decode("utf-8", "replace")
    assert b"We read your testimony." in replied.stdout
    assert file_writes(replies_log.read_text("utf-8", "replace")) == []
    assert sorted(p.name for p in (*home.rglob("*"), *tmpdir.rglob("*"))) == []


def test_submit_writes_no_bytecode_even_where_none_was_compiled(
        server: ServerProcess, tmp_path: Path) -> None:
    """From sources with no bytecode but vault/__init__.py's (Python compiles that one before
    it runs), `submit` still writes nothing: importing vault stopped the caches."""
    strace = require_tool("strace")
    sources = tmp_path / "sources"
    for package in ("vault", "keys", "api"):
        shutil.copytree(ROOT / package, sources / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    compile_as_make_does(sources, "vault/__init__.py")
    only = [f"vault/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"]
    assert sorted(str(p.relative_to(sources)) for p in sources.rglob("*.pyc")) == only
    files, home, tmpdir = _witness_folders(tmp_path)
    log = tmp_path / "submit.strace"
    submitted = _traced(strace, _submit_args(server, files), cwd=home,
                        env=witness_env(home, tmpdir, sources), stdin=b"They took him.\n",
                        log=log, command=[sys.executable, "-m", "vault.cli"])
    assert submitted.returncode == 0, submitted.stderr.decode("utf-8", "replace")
    trace = log.read_text("utf-8", "replace")
    assert str(sources / "vault" / "scrub.py") in trace  # ran from the copy
    assert file_writes(trace) == []
    assert sorted(str(p.relative_to(sources)) for p in sources.rglob("*.pyc")) == only


def test_make_compiles_the_sources_after_the_editable_install() -> None:
    """What the test above cannot cover (vault/__init__.py itself) is compiled by make."""
    recipe = (ROOT / "Makefile").read_text("utf-8")
    install = recipe.index("pip install --quiet --no-deps --no-build-isolation -e .")
    compile_step = recipe.index("$(PY) -m compileall -q vault keys api")
    assert install < compile_step < recipe.index("touch $(STAMP)")
