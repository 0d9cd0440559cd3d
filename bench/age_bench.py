"""How fast amanat seals and opens, against OpenSSL and the reference `age` tool.

A witness uploading video from a slow laptop and an investigator opening a large archive
should not wait on amanat's Python: the sealed format's cost is one ChaCha20-Poly1305 pass.
For one 256 MiB input, in the same run on the same machine, this measures:

(a) the anchor: `openssl speed -evp chacha20-poly1305` on 64 KiB blocks, one core;
(b) `vault.age.encrypt` / `decrypt` from memory into a discarding sink, as a ratio to (a)
    (goal >= 0.8), with the default thread count (judged) and with one thread (reference);
(c) file to file: the `amanat` CLI against the `age` CLI on the same file, X25519 recipients
    for both, reported as age_time / amanat_time (goal >= 1.0, no slower). `amanat
    encrypt/decrypt -o` write like `age -o` (renamed into place, no fsync); for reference
    also amanat with the durable output every other amanat command uses (fsync before the
    rename) and amanat with its default post-quantum recipients;
(d) the peak resident memory of each sealing and opening process (constant memory is what
    lets a 4 GiB video open on a small machine).

Run with `python -m bench` (every bench) or `python -m bench.age_bench` (this one).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.peak_rss import Measured, run_measured
from vault import age
from vault.age.stream import BATCH_CHUNKS, default_threads

MIB = 1024 * 1024
SIZE = 256 * MIB
REPEATS = 3  # best of: the least disturbed run is the one that says most about the code
MEMORY_REPEATS = 5  # in-memory passes take a fraction of a second each
MEMORY_GOAL = 0.8  # amanat in memory / OpenSSL ChaCha20-Poly1305
FILE_GOAL = 1.0  # age time / amanat time, file to file
AMANAT = (sys.executable, "-m", "vault.cli")
# The same CLI with the fsync of durable outputs (key files, sealed testimony) turned on.
AMANAT_DURABLE = (
    sys.executable,
    "-c",
    "import sys\n"
    "import vault.cli.age_cmd as cmd\n"
    "atomic = cmd.atomic_output\n"
    "cmd.atomic_output = lambda path, mode=0o600, durable=True: atomic(path, mode)\n"
    "from vault.cli import main\n"
    "sys.exit(main(sys.argv[1:]))",
)


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    what: str
    value: str
    ratio: float | None = None
    goal: float | None = None

    @property
    def verdict(self) -> str:
        if self.ratio is None or self.goal is None:
            return ""
        return "ok" if self.ratio >= self.goal else "BELOW GOAL"


class DiscardingSink(io.BytesIO):
    """A binary stream that accepts and forgets everything (measures the crypto, not I/O)."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int:  # type: ignore[override]
        return memoryview(data).nbytes


def megabytes_per_second(size: int, seconds: float) -> float:
    """Throughput in MB/s (10**6 bytes), the unit `openssl speed` reports."""
    return size / seconds / 1e6


def openssl_anchor() -> float | None:
    """OpenSSL's ChaCha20-Poly1305 throughput on 64 KiB blocks, MB/s; None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cmd = [openssl, "speed", "-mr", "-evp", "chacha20-poly1305", "-bytes", "65536", "-seconds", "3"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    # Machine-readable result line: +F:<n>:<algorithm>:<bytes per second for each block size>
    for line in out.splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[3]) / 1e6
    # Older or newer formats: the human table, in 1000s of bytes per second.
    match = re.search(r"(?im)^chacha20-poly1305\s+([\d.]+)k", out)
    if match is None:
        raise RuntimeError(f"cannot read the throughput from `{' '.join(cmd)}`")
    return float(match.group(1)) / 1e3


def best_time(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def run_checked(argv: Sequence[str | os.PathLike[str]], stdout_to: Path | None) -> Measured:
    """Run a command to completion, measuring it; raise with its stderr if it fails."""
    with contextlib.ExitStack() as stack:
        stdout = None if stdout_to is None else stack.enter_context(stdout_to.open("wb"))
        measured, err = run_measured(argv, stdout=stdout, timeout=300)
    if measured.returncode != 0:
        raise RuntimeError(
            f"{Path(os.fspath(argv[0])).name} exited {measured.returncode}: "
            f"{err.decode('utf-8', 'replace').strip()}"
        )
    return measured


def best_run(
    argv: Sequence[str | os.PathLike[str]], source: Path, output: Path, *, via_stdout: bool
) -> Measured:
    """Best time and highest peak RSS over REPEATS runs of ``argv ... source``, each into a
    fresh output file (named with -o, or standard output redirected into it)."""
    runs = []
    for _ in range(REPEATS):
        output.unlink(missing_ok=True)
        if via_stdout:
            runs.append(run_checked([*argv, source], output))
        else:
            runs.append(run_checked([*argv, "-o", output, source], None))
    return Measured(0, min(r.seconds for r in runs), max(r.max_rss_bytes for r in runs))


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_identity(path: Path, identity: object) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{identity}\n")


def in_memory(data: bytes, rows: list[Row], anchor: float | None) -> None:
    """(b) seal and open from memory into a discarding sink, as a ratio to OpenSSL."""
    identity = age.X25519Identity.generate()
    recipients = [identity.recipient()]
    sealed = io.BytesIO()
    age.encrypt(io.BytesIO(data), sealed, recipients)
    ciphertext = sealed.getvalue()
    del sealed
    default = default_threads()
    for threads in dict.fromkeys((default, 1)):

        def seal_once(threads: int = threads) -> None:
            age.encrypt(io.BytesIO(data), DiscardingSink(), recipients, threads=threads)

        def open_once(threads: int = threads) -> None:
            age.decrypt(io.BytesIO(ciphertext), DiscardingSink(), [identity], threads=threads)

        seal = best_time(seal_once, MEMORY_REPEATS)
        opened = best_time(open_once, MEMORY_REPEATS)
        for label, seconds in (("seal", seal), ("open", opened)):
            speed = megabytes_per_second(len(data), seconds)
            rows.append(
                Row(
                    f"amanat {label}, in memory, {threads} thread{'s' * (threads > 1)}",
                    f"{speed:7.0f} MB/s",
                    None if anchor is None else speed / anchor,
                    MEMORY_GOAL if threads == default else None,
                )
            )


@dataclass(frozen=True)
class Contender:
    """One way of sealing and opening the bench file from the command line."""

    name: str
    seal: Sequence[str | os.PathLike[str]]
    open: Sequence[str | os.PathLike[str]]
    via_stdout: bool = False  # redirect stdout instead of -o
    judged: bool = False  # its ratio to age is held to FILE_GOAL


def file_to_file(workdir: Path, plaintext: Path, rows: list[Row], rss: list[Row]) -> None:
    """(c) and (d): amanat CLI against the age CLI on the same file, with peak RSS."""
    want = sha256_file(plaintext)
    x25519 = age.X25519Identity.generate()
    pq = age.MLKEM768X25519Identity.generate()
    x25519_key, pq_key = workdir / "x25519.key", workdir / "pq.key"
    write_identity(x25519_key, x25519)
    write_identity(pq_key, pq)
    sealed, opened = workdir / "sealed.age", workdir / "opened"

    seal_x25519 = [*AMANAT, "encrypt", "-r", str(x25519.recipient())]
    open_x25519 = [*AMANAT, "decrypt", "-i", str(x25519_key)]
    contenders = [
        Contender("amanat (X25519)", seal_x25519, open_x25519, judged=True),
        Contender(
            "amanat (X25519, durable: fsync)",
            [*AMANAT_DURABLE, "encrypt", "-r", str(x25519.recipient())],
            [*AMANAT_DURABLE, "decrypt", "-i", str(x25519_key)],
        ),
        Contender("amanat (X25519, > file)", seal_x25519, open_x25519, via_stdout=True),
        Contender(
            "amanat (post-quantum)",
            [*AMANAT, "encrypt", "-r", str(pq.recipient())],
            [*AMANAT, "decrypt", "-i", pq_key],
        ),
    ]
    age_tool = shutil.which("age")
    if age_tool is None:
        rows.append(Row("age CLI (reference)", "not installed: no file-to-file ratios"))
    else:
        reference = Contender(
            "age (X25519)",
            [age_tool, "-r", str(x25519.recipient())],
            [age_tool, "-d", "-i", x25519_key],
        )
        contenders.insert(0, reference)

    results: dict[str, tuple[Measured, Measured]] = {}
    for c in contenders:
        sealing = best_run(c.seal, plaintext, sealed, via_stdout=c.via_stdout)
        opening = best_run(c.open, sealed, opened, via_stdout=c.via_stdout)
        if sha256_file(opened) != want:
            raise RuntimeError(f"{c.name}: the opened file differs from the input")
        sealed.unlink()
        opened.unlink()
        results[c.name] = (sealing, opening)

    reference_runs = results.get("age (X25519)")
    for i, verb in enumerate(("encrypt", "decrypt")):
        for c in contenders:
            seconds = results[c.name][i].seconds
            ratio = None
            if reference_runs is not None and c.name != "age (X25519)":
                ratio = reference_runs[i].seconds / seconds
            goal = FILE_GOAL if c.judged else None
            rows.append(Row(f"{verb} file to file: {c.name}", f"{seconds:7.2f} s", ratio, goal))
    for c in contenders:
        for i, verb in enumerate(("seal", "open")):
            peak = results[c.name][i].max_rss_bytes / MIB
            rss.append(Row(f"{verb}: {c.name}", f"{peak:7.1f} MiB"))
    true = shutil.which("true")
    if true is not None:  # the measuring probe's own footprint: no figure can be lower
        floor = run_checked([true], None).max_rss_bytes / MIB
        rss.append(Row("floor of this measurement (`true`)", f"{floor:7.1f} MiB"))


def print_table(title: str, rows: Sequence[Row]) -> None:
    width = max(len(r.what) for r in rows)
    judged = any(r.goal is not None for r in rows)
    print(f"\n{title}")
    header = f"  {'measurement':<{width}}  {'result':>12}"
    print(header + (f"  {'ratio':>6}  {'goal':>6}  verdict" if judged else ""))
    for r in rows:
        line = f"  {r.what:<{width}}  {r.value:>12}"
        if judged:
            ratio = "" if r.ratio is None else f"{r.ratio:6.2f}"
            goal = "" if r.goal is None else f">={r.goal:.1f}"
            line += f"  {ratio:>6}  {goal:>6}  {r.verdict}"
        print(line.rstrip())


def main() -> int:
    started = time.perf_counter()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"age: {SIZE // MIB} MiB input, best of {REPEATS} (in memory {MEMORY_REPEATS}), "
        f"{os.cpu_count()} CPUs, load average {load} (busy machines lower every ratio)"
    )
    print(
        f"amanat STREAM: {default_threads()} thread(s) by default, batches of "
        f"{BATCH_CHUNKS} chunks of 64 KiB"
    )
    anchor = openssl_anchor()
    rows = [
        Row(
            "anchor: openssl chacha20-poly1305, 64 KiB",
            "n/a" if anchor is None else f"{anchor:7.0f} MB/s",
        )
    ]
    data = os.urandom(SIZE)
    in_memory(data, rows, anchor)
    rss: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="amanat-bench-") as tmp:
        workdir = Path(tmp)
        plaintext = workdir / "plaintext"
        plaintext.write_bytes(data)
        del data
        file_to_file(workdir, plaintext, rows, rss)
    print_table("throughput (ratio >= goal is good)", rows)
    print_table("peak resident memory per process", rss)
    print(f"\nage bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
