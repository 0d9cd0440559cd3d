"""Constant memory: 256 MiB sealed and opened through a pipe without growing the process.

Runs in a fresh interpreter so the peak RSS (ru_maxrss) belongs to this workload alone.
The input is generated on the fly and the output hashed on the fly; neither is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
SIZE_MIB = 256
MAX_GROWTH_MIB = 50

SCRIPT = textwrap.dedent(
    """
    import hashlib, io, json, os, resource, sys, threading
    from vault import age

    size = int(sys.argv[1]) * 1024 * 1024
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

    identity = age.MLKEM768X25519Identity.generate()
    age.decrypt_bytes(age.encrypt_bytes(b"warm up", [identity.recipient()]), [identity])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    expected = hashlib.sha256()
    source = Generated()
    buf = bytearray(1 << 20)
    while n := source.readinto(memoryview(buf)):
        expected.update(memoryview(buf)[:n])

    read_fd, write_fd = os.pipe()
    errors = []

    def seal():
        try:
            with open(write_fd, "wb") as sink:
                age.encrypt(Generated(), sink, [identity.recipient()])
        except BaseException as exc:
            errors.append(exc)

    sealer = threading.Thread(target=seal)
    sealer.start()
    sink = Hashing()
    with open(read_fd, "rb") as sealed:
        age.decrypt(sealed, sink, [identity])
    sealer.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "growth_kib": peak - baseline,
        "ok": not errors and sink.hash.digest() == expected.digest() and sink.count == size,
    }))
    """
)


def test_seal_and_open_256_mib_in_constant_memory() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SIZE_MIB)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"], "the opened output differs from the generated input"
    assert report["growth_kib"] * 1024 < MAX_GROWTH_MIB * MIB, report
