"""Helpers for the interop tests: run the `amanat`, `age` and npm `age-encryption` tools.

The interop tests protect guarantee 7 of DESIGN.md ("evidence outlives this software"): a
file amanat seals opens with implementations nobody here wrote, and theirs open with amanat.
Everything crosses a process boundary, exactly as a user would run it, so these helpers only
build command lines, feed bytes in and read bytes out. Secrets travel in files, never in argv.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT, require_path, require_tool

KIB = 1024
MIB = 1024 * KIB
CHUNK = 64 * KIB  # age STREAM chunk size: the boundaries around it are where bugs hide

# Sizes every round trip is tried at: empty, one byte, around one chunk, several chunks.
SIZES = (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * MIB)

AMANAT = (sys.executable, "-m", "vault.cli")
NODE_DIR = ROOT / "tests" / "interop" / "node"
ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
BINARY_MAGIC = b"age-encryption.org/v1\n"
TIMEOUT = 300  # seconds any one tool may take; a hung tool fails the test, not the suite


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic pseudo-random bytes, so a failure reproduces with the same input."""
    return random.Random(f"amanat-interop-{seed}-{size}").randbytes(size)


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for child tools: ours, without anything that changes their output,
    plus ``extra`` (a passphrase in AMANAT_PASSPHRASE: secrets never go in argv)."""
    env = dict(os.environ)
    for name in ("AMANAT_DEBUG", "AMANAT_PASSPHRASE", "AMANAT_CODENAME"):
        env.pop(name, None)
    # `python -m vault.cli` must import this checkout even when it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    return {**env, **(extra or {})}


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    stdin: bytes | None = None,
    expect_ok: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a tool to completion; fail the test with its stderr when its status is unexpected.

    ``env``: variables to add to :func:`tool_env`. The tool gets no controlling terminal,
    so a tool that would prompt fails instead of waiting.
    """
    proc = subprocess.run(
        [os.fspath(a) for a in argv],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=TIMEOUT,
        env=tool_env(env),
        start_new_session=True,
        check=False,
    )
    if expect_ok and proc.returncode != 0:
        pytest.fail(
            f"{describe(argv)} exited {proc.returncode}: "
            f"{proc.stderr.decode('utf-8', 'replace').strip()}",
            pytrace=False,
        )
    if not expect_ok and proc.returncode == 0:
        pytest.fail(f"{describe(argv)} succeeded but should have failed", pytrace=False)
    return proc


def describe(argv: Sequence[str | os.PathLike[str]]) -> str:
    """A short name for a command line in failure messages (recipients are long)."""
    words = [os.fspath(a) for a in argv]
    if words[: len(AMANAT)] == list(AMANAT):
        words = ["amanat", *words[len(AMANAT) :]]
    shown = [w if len(w) <= 80 else w[:24] + "…" for w in words]
    return " ".join(shown)


@dataclass(frozen=True)
class KeyPair:
    """An identity file on disk (age -i format) and the recipient string it belongs to."""

    identity_file: Path
    recipient: str
    origin: str  # which tool generated it, for test ids and failure messages

    def __str__(self) -> str:
        return f"{self.origin} key {self.recipient[:16]}…"


def public_key_comment(text: str) -> str:
    """The recipient from a key file's `# public key: ...` comment, as age-keygen writes it."""
    for line in text.splitlines():
        if line.startswith("# public key: "):
            return line.removeprefix("# public key: ").strip()
    raise AssertionError("the key file has no '# public key:' comment line")


def secret_key_lines(text: str) -> list[str]:
    """The identity lines of an age identities file (comments and blank lines dropped)."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def amanat_keygen(directory: Path, name: str, *, post_quantum: bool) -> KeyPair:
    """`amanat keygen --pq|--x25519 -o FILE`, returning the file and its recipient."""
    path = directory / f"{name}.key"
    run([*AMANAT, "keygen", "--pq" if post_quantum else "--x25519", "-o", path])
    text = path.read_text()
    lines = secret_key_lines(text)
    assert len(lines) == 1, "amanat keygen wrote more than one identity"
    prefix = "AGE-SECRET-KEY-PQ-1" if post_quantum else "AGE-SECRET-KEY-1"
    assert lines[0].startswith(prefix)
    assert path.stat().st_mode & 0o077 == 0, "an identity file must be readable by its owner only"
    return KeyPair(path, public_key_comment(text), "amanat")


def age_keygen(directory: Path, name: str) -> KeyPair:
    """`age-keygen -o FILE` (Debian age), returning the file and its recipient."""
    path = directory / f"{name}.key"
    run([require_tool("age-keygen"), "-o", path])
    return KeyPair(path, public_key_comment(path.read_text()), "age-keygen")


def require_typage() -> Path:
    """The node helper directory, after checking node and `npm ci` have been run there."""
    require_tool("node")
    require_path(
        NODE_DIR / "node_modules" / "age-encryption" / "package.json",
        "npm age-encryption in tests/interop/node/node_modules (run `make interop-deps`)",
    )
    return NODE_DIR


def node_script(name: str) -> list[str]:
    return [require_tool("node"), str(require_typage() / name)]


def typage_keygen(directory: Path, name: str, *, post_quantum: bool) -> KeyPair:
    """A new identity from npm age-encryption (generateHybridIdentity / X25519)."""
    path = directory / f"{name}.key"
    out = run([*node_script("keygen.mjs"), "pq" if post_quantum else "x25519"]).stdout
    path.write_bytes(out)
    path.chmod(0o600)
    return KeyPair(path, public_key_comment(out.decode()), "typage")


def write_recipients_file(path: Path, keys: Sequence[KeyPair]) -> Path:
    """An age -R file: a comment and a blank line around each recipient, as people write them."""
    lines = ["# recipients for the interop tests", ""]
    for key in keys:
        lines += [f"# {key.origin}", key.recipient, ""]
    path.write_text("\n".join(lines))
    return path


def write_identities_file(path: Path, keys: Sequence[KeyPair]) -> Path:
    """Several identity files concatenated, which both age and amanat accept with one -i."""
    path.write_text("".join(k.identity_file.read_text() for k in keys))
    path.chmod(0o600)
    return path


def check_encoding(ciphertext: bytes, *, armored: bool) -> None:
    """The ciphertext is armored or binary as asked, never the other way."""
    if armored:
        assert ciphertext.startswith(ARMOR_BEGIN), ciphertext[:40]
        assert ciphertext.rstrip().endswith(b"-----END AGE ENCRYPTED FILE-----")
    else:
        assert ciphertext.startswith(BINARY_MAGIC), ciphertext[:40]
