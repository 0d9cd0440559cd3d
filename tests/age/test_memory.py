"""Constant memory: sealing and opening through a pipe does not grow with the data.

Each workload runs in a fresh interpreter started through ``bench.peak_rss``, so the peak
resident set size measured is the workload's own (not pytest's, which exec() would carry
into a direct child's figure). The input is generated on the fly and the output hashed on
the fly; neither is stored. Two sizes are run: the peak must stay under an absolute cap and
must not grow between them beyond a few MiB (the parallel STREAM's batch buffers are a
fixed 8 MiB per direction).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.peak_rss import ProbedProcess

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
SMALL_MIB = 16
LARGE_MIB = 256
MAX_PEAK_MIB = 100  # the design's bound for opening a file of any size
MAX_GROWTH_MIB = 8  # from 16 MiB to 256 MiB of data: allocator noise only

SCRIPT = textwrap.dedent(
    """
    import hashlib, io, os, sys, threading
    from vault import age

    size = int(sys.argv[1]) * 1024 * 1024
    threads = int(sys.argv[2])
    block = hashlib.shake_256(b"amanat").digest(65536 + 123)  # not chunk-aligned on purpose

    class Generated(io.RawIOBase):
        # The block repeated forever, cut at `size`, whatever the read sizes.
        def __init__(self):
            self.position = 0
        def readable(self):
            return True
        def readinto(self, buf):
            offset = self.position % len(block)
            n = min(len(buf), size - self.position, len(block) - offset)
            buf[:n] = block[offset : offset + n]
            self.position += n
            return n

    class Hashing(io.RawIOBase):
        def __init__(self):
            self.hash = hashlib.sha256()
            self.count = 0
        def writable(self):
            return True
        def write(self, data):
            self.hash.update(data)
            self.count += len(data)
            return len(data)

    expected = hashlib.sha256()
    source = Generated()
    buf = bytearray(1 << 20)
    while n := source.readinto(memoryview(buf)):
        expected.update(memoryview(buf)[:n])

    identity = age.MLKEM768X25519Identity.generate()
    read_fd, write_fd = os.pipe()
    errors = []

    def seal():
        try:
            with open(write_fd, "wb") as sink:
                age.encrypt(Generated(), sink, [identity.recipient()], threads=threads)
        except BaseException as exc:
            errors.append(exc)

    sealer = threading.Thread(target=seal)
    sealer.start()
    sink = Hashing()
    with open(read_fd, "rb") as sealed:
        age.decrypt(sealed, sink, [identity], threads=threads)
    sealer.join()
    if errors or sink.hash.digest() != expected.digest() or sink.count != size:
        sys.exit(f"round trip failed: {errors!r}")
    """
)


def _peak_mib(size_mib: int, threads: int) -> float:
    probed = ProbedProcess(
        [sys.executable, "-c", SCRIPT, str(size_mib), str(threads)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert probed.stderr is not None
    with probed.stderr:
        err = probed.stderr.read()
    measured = probed.wait(timeout=120)
    assert measured.returncode == 0, err.decode("utf-8", "replace")
    return measured.max_rss_bytes / MIB


@pytest.mark.parametrize("threads", [1, 2])
def test_seal_and_open_in_constant_memory(threads: int) -> None:
    small = _peak_mib(SMALL_MIB, threads)
    large = _peak_mib(LARGE_MIB, threads)
    assert large < MAX_PEAK_MIB, f"peak {large:.1f} MiB for {LARGE_MIB} MiB of data"
    assert large - small < MAX_GROWTH_MIB, (
        f"peak grew from {small:.1f} MiB ({SMALL_MIB} MiB of data) "
        f"to {large:.1f} MiB ({LARGE_MIB} MiB)"
    )
