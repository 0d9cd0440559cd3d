"""Peak memory of `submit`, `seal` and `open` with a large attachment, against a fixed goal.

A field collector's laptop sending a 2 GiB recording must not need gigabytes of memory: an
attachment kept as it is (``--keep-metadata``) is read, sealed, sent, downloaded, decrypted
and extracted in pieces, so each command's peak resident memory stays under
``GOAL_MIB`` whatever the attachment's size. This bench starts a real server
(``amanat serve --dev``, loopback), then runs each command as its own process through
``bench.peak_rss`` (the command's own peak, not the caller's) with a ``SIZE_MIB``
attachment:

* ``submit --keep-metadata FILE`` (sealed as it is sent to the server);
* ``seal --keep-metadata FILE -o OUT`` (offline, into a file);
* ``open ID -o CASE`` of the submission (download, check, decrypt, extract).

`open` first unlocks the investigator's identity file with Argon2id, whose memory cost is
recorded in the file (256 MiB by default, `keys.keyfile.DEFAULT_KDF`): a fixed cost of the
passphrase's protection, the same for any submission, which no streaming can remove. The
judged rows use the dev identity (8 MiB); a reference line shows `open` with the same
identity sealed at the default cost.

`measure_commands` is also what the constant-memory test runs (tests/workflows). Run with
`python -m bench` (every bench) or `python -m bench.memory_bench` (this one).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.peak_rss import Measured, ProbedProcess
from keys.identity import InvestigatorIdentity
from keys.keyfile import DEFAULT_KDF, KdfParams

MIB = 1024 * 1024
SIZE_MIB = 1024
GOAL_MIB = 150
COMMAND_TIMEOUT = 600.0
_EVENT_ID = re.compile(r"^id ([0-9a-f]{32})$", re.MULTILINE)


@dataclass(frozen=True)
class Vault:
    """Where the commands go and what they need: the server, the pinned organization key,
    its signed roster (for `seal`) and an investigator identity on it (for `open`), and the
    environment (with the identity's passphrase) to run them in."""

    url: str
    org_vkey: str
    roster: Path
    identity: Path
    env: Mapping[str, str]


@dataclass(frozen=True)
class Run:
    """One measured command: how it went, and what it printed."""

    measured: Measured
    stdout: str
    stderr: str

    @property
    def peak_mib(self) -> float:
        return self.measured.max_rss_bytes / MIB


def write_recording(path: Path, size: int) -> str:
    """Write ``size`` bytes that do not compress or repeat at 64 KiB; return their SHA-256."""
    digest = hashlib.sha256()
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as out:
        for index in range(-(-size // MIB)):
            block[:8] = index.to_bytes(8, "big")
            piece = memoryview(block)[: min(MIB, size - index * MIB)]
            digest.update(piece)
            out.write(piece)
    return digest.hexdigest()


def run_command(vault: Vault, args: list[str], *, stdin: bytes = b"") -> Run:
    """Run ``amanat ARGS`` as its own measured process; raise with its stderr if it fails."""
    probed = ProbedProcess([sys.executable, "-m", "vault.cli", *args], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=vault.env)
    out, err = probed.process.communicate(stdin, timeout=COMMAND_TIMEOUT)
    measured = probed.wait(timeout=10)
    run = Run(measured, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    if measured.returncode != 0:
        raise RuntimeError(f"amanat {args[0]} exited {measured.returncode}: {run.stderr}")
    return run


def measure_commands(vault: Vault, recording: Path, workdir: Path) -> dict[str, Run]:
    """Run `submit`, `seal` and `open` with ``recording`` kept as it is; return each run.

    The sealed file goes to ``workdir/sealed.age``, the case folder to ``workdir/case``;
    both are left for the caller to check (and remove)."""
    content = ["--statement", "-", "--no-reply", "--keep-metadata", str(recording)]
    statement = b"A long recording.\n"
    runs: dict[str, Run] = {}
    runs["submit"] = run_command(
        vault, ["submit", "--server", vault.url, "--org", vault.org_vkey, "--receipt", "-",
                *content], stdin=statement)
    runs["seal"] = run_command(
        vault, ["seal", "--roster", str(vault.roster), "--org", vault.org_vkey, *content,
                "-o", str(workdir / "sealed.age")], stdin=statement)
    runs["open"] = measure_open(vault, submitted_id(runs["submit"]), workdir / "case")
    return runs


def submitted_id(submit: Run) -> str:
    """The submission id in the receipt a `submit --receipt -` run printed (in its log
    entry, the receipt's ``extra`` line)."""
    for line in submit.stdout.splitlines():
        if line.startswith("extra "):
            match = _EVENT_ID.search(base64.b64decode(line[6:]).decode("utf-8", "replace"))
            if match is not None:
                return match.group(1)
    raise RuntimeError(f"submit printed no receipt naming a submission: {submit.stderr}")


def measure_open(vault: Vault, submission_id: str, case: Path,
                 identity: Path | None = None) -> Run:
    """`open` a submission into ``case`` with the vault's identity (or ``identity``)."""
    return run_command(
        vault, ["open", "--server", vault.url, "-i", str(identity or vault.identity), "--org",
                vault.org_vkey, submission_id, "-o", str(case)])


def identity_at_cost(identity: Path, passphrase: str, params: KdfParams, copy: Path) -> Path:
    """A copy of an identity file sealed again, under the same passphrase, with other
    Argon2id costs: unlocking it takes ``params.memory_kib`` of memory whatever it opens."""
    unsealed = InvestigatorIdentity.unseal(identity.read_bytes(), passphrase)
    copy.write_bytes(unsealed.seal(passphrase, params))
    return copy


def _dev_vault(workdir: Path) -> tuple[subprocess.Popen[bytes], Vault]:
    from bench.service_bench import _org_vkey, _start_server

    process, url, data = _start_server(workdir)
    dev = data / "dev"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMANAT_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env["AMANAT_PASSPHRASE"] = (dev / "passphrase.txt").read_text("utf-8").strip()
    return process, Vault(url, _org_vkey(data), dev / "roster.txt",
                          dev / "investigator.identity", env)


def main() -> int:
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="amanat-bench-"))
    try:
        process, vault = _dev_vault(workdir)
        with process:  # waits for the server to stop on leaving
            try:
                recording = workdir / "recording.bin"
                write_recording(recording, SIZE_MIB * MIB)
                runs = measure_commands(vault, recording, workdir)
                default_cost = identity_at_cost(vault.identity, vault.env["AMANAT_PASSPHRASE"],
                                                DEFAULT_KDF, workdir / "default-cost.identity")
                shutil.rmtree(workdir / "case")
                reference = measure_open(vault, submitted_id(runs["submit"]),
                                         workdir / "case", default_cost)
            finally:
                process.terminate()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"memory: one {SIZE_MIB} MiB attachment kept with --keep-metadata, each command "
          f"its own process; goal: peak under {GOAL_MIB} MiB whatever the size")
    print(f"  {'command':<8}  {'peak RSS':>10}  {'goal':>10}  {'time':>8}  verdict")
    for name, run in runs.items():
        ok = run.peak_mib < GOAL_MIB
        print(f"  {name:<8}  {run.peak_mib:6.1f} MiB  <{GOAL_MIB:4d} MiB  "
              f"{run.measured.seconds:7.1f}s  {'ok' if ok else 'ABOVE GOAL'}")
    kdf_mib = DEFAULT_KDF.memory_kib // 1024
    print(f"  {'open *':<8}  {reference.peak_mib:6.1f} MiB  {'':>10}  "
          f"{reference.measured.seconds:7.1f}s  reference")
    print(f"  * open with the identity sealed at the default Argon2id cost (m = {kdf_mib} MiB): "
          "a fixed cost\n    of unlocking it, the same for any submission; the rows above "
          "use the dev identity (m = 8 MiB)")
    print(f"\nmemory bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
